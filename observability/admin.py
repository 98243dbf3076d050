from __future__ import annotations

from django.contrib import admin

from .models import AlertChannel, AlertDelivery, AlertRule, HourlyRollup, Incident


@admin.register(HourlyRollup)
class HourlyRollupAdmin(admin.ModelAdmin):
    list_display = ("deployment", "hour", "succeeded", "failed", "timed_out", "missed", "skipped")
    list_filter = ("deployment__environment",)
    date_hierarchy = "hour"
    raw_id_fields = ("deployment",)


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "kind", "target_display")
    # The webhook URL is a credential: never shown or edited here (use the alerts page).
    exclude = ("webhook_url_encrypted",)
    readonly_fields = ("webhook_host",)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("component", "environment", "kind", "threshold", "channel", "enabled")
    list_filter = ("kind", "enabled")


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("rule", "deployment", "status", "opened_at", "closed_at", "summary")
    list_filter = ("status",)
    raw_id_fields = ("opened_by", "closed_by", "deployment")


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "channel", "kind", "status", "status_code", "attempts")
    list_filter = ("status", "kind")
    raw_id_fields = ("incident",)
