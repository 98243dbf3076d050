from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("account/tokens/", views.api_tokens, name="api_tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("projects/new/", views.project_create, name="project_create"),
    path("p/<slug:project_slug>/", views.project_detail, name="project_detail"),
    path("p/<slug:project_slug>/settings/", views.project_settings, name="project_settings"),
    path("p/<slug:project_slug>/delete/", views.project_delete, name="project_delete"),
    path("p/<slug:project_slug>/members/", views.project_members_view, name="project_members"),
    path(
        "p/<slug:project_slug>/members/<int:membership_id>/",
        views.project_member_update,
        name="project_member_update",
    ),
    # App URLs (each app owns its urls.py; see components/, deployments/, observability/).
    path("", include("components.urls")),
    path("", include("deployments.urls")),
    path("", include("observability.urls")),
    path("api/", include("portal.api_urls")),
]
