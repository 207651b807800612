from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("documents/", views.document_list, name="document-list"),
    path("documents/upload/", views.document_upload, name="document-upload"),
    path("documents/<int:pk>/download/", views.document_download, name="document-download"),
    path("stream/", views.stream, name="stream"),
    path("session/", views.session_counter, name="session"),
    path("whoami/", views.whoami, name="whoami"),
]
