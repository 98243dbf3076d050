"""Delivery errors stored before Chorus named the webhook's host only repeated the whole URL
(its credential) and the receiver's answer; they are rewritten the way new ones are written."""

from __future__ import annotations

import re

from django.db import migrations

UNREACHABLE = re.compile(r"^webhook unreachable: (\w+)")
ANSWERED = re.compile(r"^webhook answered HTTP (\d+)")


def forwards(apps, schema_editor):
    AlertDelivery = apps.get_model("observability", "AlertDelivery")
    rows = AlertDelivery.objects.filter(error__startswith="webhook ").select_related("channel")
    for delivery in rows.iterator():
        host = delivery.channel.webhook_host or "its host"
        if m := UNREACHABLE.match(delivery.error):
            error = f"webhook at {host} unreachable ({m.group(1)})"
        elif m := ANSWERED.match(delivery.error):
            error = f"webhook at {host} answered HTTP {m.group(1)}"
        else:
            continue
        AlertDelivery.objects.filter(pk=delivery.pk).update(error=error)


class Migration(migrations.Migration):
    dependencies = [("observability", "0003_process_heartbeat")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
