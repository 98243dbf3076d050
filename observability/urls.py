from __future__ import annotations

from django.urls import path

from .views import alerts, dashboard, executions, metrics, pileup

urlpatterns = [
    path("metrics", metrics.metrics, name="obs_metrics"),
    path(
        "p/<slug:project_slug>/executions/",
        executions.executions_explorer,
        name="obs_executions",
    ),
    path("p/<slug:project_slug>/schedule-load/", pileup.schedule_load, name="obs_schedule_load"),
    path(
        "p/<slug:project_slug>/c/<str:name>/dashboard/",
        dashboard.component_dashboard,
        name="obs_dashboard",
    ),
    path("p/<slug:project_slug>/c/<str:name>/alerts/", alerts.alerts_page, name="obs_alerts"),
    path(
        "p/<slug:project_slug>/c/<str:name>/alerts/rules/",
        alerts.rule_create,
        name="obs_rule_create",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/alerts/rules/<int:rule_id>/delete/",
        alerts.rule_delete,
        name="obs_rule_delete",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/alerts/rules/<int:rule_id>/toggle/",
        alerts.rule_toggle,
        name="obs_rule_toggle",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/alerts/channels/",
        alerts.channel_create,
        name="obs_channel_create",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/alerts/channels/<int:channel_id>/delete/",
        alerts.channel_delete,
        name="obs_channel_delete",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/alerts/channels/<int:channel_id>/test/",
        alerts.channel_test,
        name="obs_channel_test",
    ),
]
