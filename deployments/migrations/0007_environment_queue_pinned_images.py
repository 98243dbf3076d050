"""Environment.queue (runs routed to an environment's own workers); the deploy log's "Image
pull" entries; and Docker builds made before runs were pinned: their image_ref was the mutable
tag, it becomes the image id."""

from django.db import migrations, models
from django.db.models import F


def pin_docker_refs(apps, schema_editor):
    Build = apps.get_model("deployments", "Build")
    Execution = apps.get_model("deployments", "Execution")
    tagged = Build.objects.filter(
        runtime_kind="docker", image_digest__startswith="sha256:"
    ).exclude(image_ref__contains="@")
    tagged.exclude(image_ref=F("image_digest")).update(image_ref=F("image_digest"))
    Execution.objects.filter(
        status="pending", build__runtime_kind="docker", image_digest__startswith="sha256:"
    ).exclude(image_ref__contains="@").update(image_ref=F("image_digest"))


class Migration(migrations.Migration):
    dependencies = [("deployments", "0006_config_snapshot")]

    operations = [
        migrations.AddField(
            model_name="environment",
            name="queue",
            field=models.CharField(blank=True, help_text="Empty: executions", max_length=100),
        ),
        migrations.AlterField(
            model_name="deploymentevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("deploy", "Deploy"),
                    ("promote", "Promote"),
                    ("rollback", "Rollback"),
                    ("config", "Config change"),
                    ("secret", "Secret change"),
                    ("suspend", "Suspend"),
                    ("resume", "Resume"),
                    ("undeploy", "Undeploy"),
                    ("run", "Manual run"),
                    ("schedule", "Schedule change"),
                    ("policy", "Policy change"),
                    ("pull", "Image pull"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(pin_docker_refs, migrations.RunPython.noop),
    ]
