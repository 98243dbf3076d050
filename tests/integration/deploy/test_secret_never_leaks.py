"""A secret's value never appears in any HTML page, API response or stored row.

A real task that prints its secret (stdout and stderr, whole and inside other text) is built
from a real git repository and run with the local runtime through the executions service.
Then every page and every API endpoint of Chorus is requested, as an owner and as a viewer,
and every text column of every table is searched.
"""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver

from deployments.deploy.services.config import config_set
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.models import Execution
from tests.support.gitrepos import BareRepo

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SECRET = "Zq8-secret-Valkyrie-31337"
MAIN = """\
import os, sys
token = os.environ["API_TOKEN"]
print("token is", token)
print("prefix" + token + "suffix")
print(token, file=sys.stderr)
print("region", os.environ["REGION"])
"""


@pytest.fixture
def local_runtime(settings, tmp_path):
    from deployments.models import Environment

    settings.CHORUS_DEFAULT_RUNTIME = "local"
    settings.CHORUS_BUILD_DIR = tmp_path / "builds"
    settings.CHORUS_LOCAL_IMAGES_DIR = tmp_path / "local-images"
    Environment.objects.update(runtime_kind="local")


@pytest.fixture
def leaky_component(project, alice, tmp_path):
    return _task_component(project, alice, tmp_path, "leaky", MAIN)


def _task_component(project, alice, tmp_path, name: str, main: str):
    from components.models import Component

    repo = BareRepo.create(tmp_path / f"{name}.git")
    repo.commit({"main.py": main, "requirements.txt": ""}, message="print the secret")
    return Component.objects.create(
        project=project,
        name=name,
        source_kind=Component.SourceKind.GIT,
        git_url=repo.url,
        branch="main",
        preset=Component.Preset.PYTHON,
        entry_command="python3 main.py",
        created_by=alice,
    )


def _build(component, actor, capture):
    from deployments.builds.execute import build_execute
    from deployments.builds.services import build_queue

    with capture(execute=False):
        build = build_queue(component=component, actor=actor)
    build_execute(build_id=build.pk)
    build.refresh_from_db()
    assert build.status == "succeeded", build.error
    return build


# --- walking every URL ------------------------------------------------------------------------
def _piece(pattern) -> str:
    text = str(pattern)
    # A re_path without groups ("^v1/") is a plain prefix.
    return text.lstrip("^").rstrip("$") if "(?" not in text else text


def _routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + _piece(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + _piece(p.pattern)


_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def _concrete(route: str, values: dict[str, str]) -> str | None:
    if route.startswith(("admin/", "logout/", "hooks/")) or "(?" in route:
        return None
    missing = [m["name"] for m in _PARAM.finditer(route) if m["name"] not in values]
    if missing:
        return None
    return "/" + _PARAM.sub(lambda m: str(values[m["name"]]), route)


def _all_get_urls(values: dict[str, str]) -> tuple[list[str], list[str]]:
    urls, skipped = [], []
    for route in sorted(set(_routes(get_resolver().url_patterns))):
        url = _concrete(route, values)
        (urls if url else skipped).append(url or route)
    return urls, skipped


def _text_columns():
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.CharField | models.TextField | models.JSONField):
                yield model, f


def test_secret_never_leaks(
    local_runtime,
    leaky_component,
    project,
    alice,
    carol,
    dev,
    client_for,
    django_capture_on_commit_callbacks,
):
    from deployments.executions.actions import execution_run_now
    from deployments.executions.run import execution_run

    component = leaky_component
    build = _build(component, alice, django_capture_on_commit_callbacks)
    deployment = deployment_deploy(
        component=component,
        environment=dev,
        build=build,
        schedule="@every 1h",
        timezone="UTC",
        actor=alice,
    )
    config_set(
        component=component,
        environment=dev,
        key="API_TOKEN",
        value=SECRET,
        is_secret=True,
        actor=alice,
    )
    config_set(
        component=component, environment=dev, key="REGION", value="eu", is_secret=False, actor=alice
    )
    with django_capture_on_commit_callbacks(execute=False):
        execution = execution_run_now(deployment=deployment, actor=alice, payload={"dry": True})
    execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.reason
    lines = list(execution.log_lines.order_by("seq").values_list("stream", "text"))
    texts = [t for _, t in lines]
    # The task really printed it (masked), on both streams, and the plain value is there.
    assert any(t.startswith("token is ") for t in texts), texts
    assert any(s == "stderr" for s, _ in lines), lines
    assert "region eu" in texts
    assert not any(SECRET in t for t in texts)

    # Every stored text column of every table.
    for model, field in _text_columns():
        lookup = f"{field.name}__icontains"
        if isinstance(field, models.JSONField):
            found = [
                row
                for row in model.objects.values_list(field.name, flat=True)
                if row is not None and SECRET in str(row)
            ]
            assert not found, f"{model.__name__}.{field.name}"
        else:
            assert not model.objects.filter(**{lookup: SECRET}).exists(), (
                f"{model.__name__}.{field.name} holds the secret"
            )

    # Every page and API endpoint, as the owner and as a viewer.
    values = {
        "project_slug": project.slug,
        "project": project.slug,
        "slug": project.slug,
        "name": component.name,
        "component": component.name,
        "env_slug": dev.slug,
        "environment": dev.slug,
        "env": dev.slug,
        "build_id": build.pk,
        "execution_id": execution.pk,
        "deployment_id": deployment.pk,
        "key": "API_TOKEN",
    }
    urls, skipped = _all_get_urls(values)
    must_cover = [
        f"/p/{project.slug}/c/{component.name}/deploy/",
        f"/p/{project.slug}/c/{component.name}/env/dev/config/",
        f"/api/v1/executions/{execution.pk}/logs/",
        f"/p/{project.slug}/executions/{execution.pk}/",
        f"/p/{project.slug}/executions/{execution.pk}/log/",
        f"/p/{project.slug}/c/{component.name}/executions/",
    ]
    for url in must_cover:
        assert url in urls, (url, skipped)
    # The execution page really shows the task's (masked) output.
    page = client_for(alice).get(f"/p/{project.slug}/executions/{execution.pk}/").content.decode()
    assert "token is " in page and "region eu" in page
    # The API really serves the (masked) output, so the walk below checks real log text.
    api_log = client_for(alice).get(f"/api/v1/executions/{execution.pk}/logs/").content.decode()
    assert "token is " in api_log and "region eu" in api_log
    ok = 0
    for user in (alice, carol):
        client = client_for(user)
        for url in urls:
            response = client.get(url, {"after": 0})
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert SECRET.encode() not in body, (user.username, url)
            ok += response.status_code == 200
    assert ok > 40  # the walk really rendered pages, not just errors


# --- the forms a task prints a secret in ------------------------------------------------------
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----\n"
)
CREDENTIALS = (
    '{\n  "type": "service_account",\n  "private_key_id": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",\n'
    '  "client_email": "nightly@tasks.iam.example"\n}'
)
ODD_TOKEN = "tok'en\"$Wraith\\value 31337"  # quotes, $, a backslash and a space
FORMS = """\
import json, os, shlex, subprocess, sys
pem, cred, token = os.environ["TLS_KEY"], os.environ["GCP_CREDENTIALS"], os.environ["ODD_TOKEN"]
print(pem)
sys.stdout.write("key follows:" + pem + "end of key\\n")
print(cred)
print(json.dumps(dict(os.environ)))
print(json.dumps({"credentials": cred, "token": token}, indent=1))
print(os.environ)
print(repr(pem), repr(token))
print("export ODD_TOKEN=" + shlex.quote(token))
sys.stdout.flush()
subprocess.run(["bash", "-c", 'declare -p ODD_TOKEN TLS_KEY; printf "%q\\n" "$ODD_TOKEN"'])
print("done printing")
"""
# Pieces that must never be stored, whatever the form: each is unique to one secret.
NEVER = [
    "MIIEvQIBADANBgkqhkiG9w0",
    "bS1GB4t7NXp98C3SC6dVMvDu",
    "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "nightly@tasks.iam.example",
    "Wraith",
]


def test_secrets_are_masked_in_every_form_a_task_prints(
    local_runtime, project, alice, dev, tmp_path, django_capture_on_commit_callbacks
):
    """PEM keys and pretty JSON span lines (and runtimes hand the log one line at a time);
    json.dumps, print(os.environ), shlex.quote, `declare -p` and `printf %q` escape a value.
    A real task prints each; no piece of any secret reaches the stored log."""
    from deployments.executions.actions import execution_run_now
    from deployments.executions.run import execution_run

    component = _task_component(project, alice, tmp_path, "printer", FORMS)
    build = _build(component, alice, django_capture_on_commit_callbacks)
    deployment = deployment_deploy(
        component=component, environment=dev, build=build, schedule="@every 1h", actor=alice
    )
    for key, value in [
        ("TLS_KEY", PEM),
        ("GCP_CREDENTIALS", CREDENTIALS),
        ("ODD_TOKEN", ODD_TOKEN),
    ]:
        config_set(
            component=component,
            environment=dev,
            key=key,
            value=value,
            is_secret=True,
            actor=alice,
        )
    with django_capture_on_commit_callbacks(execute=False):
        execution = execution_run_now(deployment=deployment, actor=alice)
    execution_run(execution_id=execution.pk)
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.reason
    texts = list(execution.log_lines.order_by("seq").values_list("text", flat=True))
    log = "\n".join(texts)
    # The task really printed every form (masked): the lines around them are there.
    assert "done printing" in texts
    assert any(t.startswith("key follows:") for t in texts), texts
    assert any(t.startswith("environ({") for t in texts), texts
    assert any(t.startswith("declare -x ODD_TOKEN=") for t in texts), texts
    assert any(t.startswith("export ODD_TOKEN=") for t in texts), texts
    assert log.count("••••") >= 12, log
    leaked = [(piece, t) for piece in NEVER for t in texts if piece in t]
    assert not leaked, leaked
