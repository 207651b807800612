"""
URL configuration for django_site project.

The `urlpatterns` list routes URLs to views. For more information please see:
    https://docs.djangoproject.com/en/5.2/topics/http/urls/
Examples:
Function views
    1. Add an import:  from my_app import views
    2. Add a URL to urlpatterns:  path('', views.home, name='home')
Class-based views
    1. Add an import:  from other_app.views import Home
    2. Add a URL to urlpatterns:  path('', Home.as_view(), name='home')
Including another URLconf
    1. Import the include() function: from django.urls import include, path
    2. Add a URL to urlpatterns:  path('blog/', include('blog.urls'))
"""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

urlpatterns = [
    path('admin/', admin.site.urls),
    path('accounts/login/', auth_views.LoginView.as_view(), name='login'),
    # Django 5 logs out by POST only (the form in base.html).
    path('accounts/logout/', auth_views.LogoutView.as_view(), name='logout'),
    path('', include('uploads.urls')),
]

# With DEBUG on, the app serves static files itself (from the apps' static directories, no
# collectstatic needed); with DEBUG off this adds nothing and rsgi-server's --static-map
# serves the collected files.
urlpatterns += staticfiles_urlpatterns()
