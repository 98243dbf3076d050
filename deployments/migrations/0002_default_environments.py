from __future__ import annotations

from django.db import migrations


def create_defaults(apps, schema_editor):
    Environment = apps.get_model("deployments", "Environment")
    Environment.objects.get_or_create(
        slug="dev", defaults={"name": "Development", "order": 10, "is_production": False}
    )
    Environment.objects.get_or_create(
        slug="prod", defaults={"name": "Production", "order": 20, "is_production": True}
    )


class Migration(migrations.Migration):
    dependencies = [("deployments", "0001_initial")]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
