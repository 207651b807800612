"""URLs of the benchmark's Django page."""

from django.urls import path

from . import views

urlpatterns = [path("", views.items)]
