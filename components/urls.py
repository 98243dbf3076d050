from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("hooks/github/", views.github_webhook_view, name="github_webhook"),
    path("p/<slug:project_slug>/components/", views.component_list_view, name="component_list"),
    path(
        "p/<slug:project_slug>/components/new/",
        views.component_create_view,
        name="component_create",
    ),
    path("p/<slug:project_slug>/github/", views.github_connections_view, name="github_connections"),
    path(
        "p/<slug:project_slug>/github/<int:connection_id>/delete/",
        views.github_connection_delete_view,
        name="github_connection_delete",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/", views.component_detail_view, name="component_detail"
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/edit/", views.component_edit_view, name="component_edit"
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/delete/",
        views.component_delete_view,
        name="component_delete",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/webhook-secret/",
        views.component_webhook_secret_view,
        name="component_webhook_secret",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/webhook-secret/rotate/",
        views.component_webhook_secret_rotate_view,
        name="component_webhook_secret_rotate",
    ),
]
