"""Credentials typed into git URLs (https://user:token@host/…) before Chorus refused them are
removed: from the component's URL, and from build logs, build errors and deploy-log messages
that repeated them. A private repository behind such a URL fails its next fetch with git's
"authentication required"; connect the account under GitHub connections instead."""

from __future__ import annotations

import re

from django.db import migrations

from components.sources.git import strip_credentials

# scheme://<userinfo>@ anywhere in a text: the userinfo is replaced.
USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)([^/@\s]+)@")


def _credentials(url: str) -> list[str]:
    """The secret parts of the URL's userinfo (what strip_credentials removes)."""
    stripped = strip_credentials(url)
    if stripped == url:
        return []
    m = USERINFO.search(url)
    return [m.group(2)] if m else []


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "••••")
    return text


def forwards(apps, schema_editor):
    Component = apps.get_model("components", "Component")
    Build = apps.get_model("deployments", "Build")
    BuildLogLine = apps.get_model("deployments", "BuildLogLine")
    DeploymentEvent = apps.get_model("deployments", "DeploymentEvent")
    for component in Component.objects.exclude(git_url="").filter(git_url__contains="@"):
        secrets = _credentials(component.git_url)
        if not secrets:
            continue
        component.git_url = strip_credentials(component.git_url)
        component.save(update_fields=["git_url"])
        for build in Build.objects.filter(component=component):
            if any(s in build.error for s in secrets):
                build.error = _scrub(build.error, secrets)
                build.save(update_fields=["error"])
            for secret in secrets:
                for line in BuildLogLine.objects.filter(build=build, text__contains=secret):
                    line.text = _scrub(line.text, secrets)
                    line.save(update_fields=["text"])
        for secret in secrets:
            for event in DeploymentEvent.objects.filter(
                component=component, message__contains=secret
            ):
                event.message = _scrub(event.message, secrets)
                event.save(update_fields=["message"])


class Migration(migrations.Migration):
    dependencies = [
        ("components", "0002_component_run_as_root"),
        ("deployments", "0006_config_snapshot"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
