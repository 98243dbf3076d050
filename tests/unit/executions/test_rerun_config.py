"""A re-run runs "this exact image and config again": the configuration a run started with is
kept per config revision (encrypted), and a re-run uses it even after the config changed."""

from __future__ import annotations

import pytest

from deployments.deploy.services.config import config_set
from deployments.executions.actions import execution_rerun, execution_run_now
from deployments.executions.retention import executions_cleanup
from deployments.models import ConfigSnapshot, Execution

from .conftest import log_text
from .test_run import env_of

pytestmark = pytest.mark.django_db

SECRET = "first-S3cret-value-771"


def change(d, key, value, *, secret=False, actor=None):
    config_set(
        component=d.component, environment=d.environment, key=key, value=value,
        is_secret=secret, actor=actor,
    )  # fmt: skip
    d.refresh_from_db()


def test_a_rerun_uses_the_config_its_run_had(deploy, tick, run, bob):
    d = deploy(config={"RECORD_PRINT_ENV": "1", "REGION": "eu"}, secrets={"TOKEN": SECRET})
    first = run(tick(d, seconds_ago=20))
    assert env_of(first)["REGION"] == "eu"
    snapshot = ConfigSnapshot.objects.get(deployment=d, revision=first.config_revision)
    # Encrypted as a whole (a Fernet token), nothing of it readable.
    assert snapshot.data_encrypted.startswith("gAAAAA")
    assert SECRET not in snapshot.data_encrypted and "REGION" not in snapshot.data_encrypted

    change(d, "REGION", "us", actor=bob)
    change(d, "TOKEN", "second-S3cret-value-882", secret=True, actor=bob)
    assert d.config_revision > first.config_revision
    assert env_of(run(tick(d, seconds_ago=10)))["REGION"] == "us"  # a scheduled run: current

    again = run(execution_rerun(execution=first, actor=bob))
    assert again.status == "succeeded"
    assert again.config_revision == first.config_revision
    env = env_of(again)
    assert env["REGION"] == "eu" and env["TOKEN"] == "••••"
    assert SECRET not in log_text(again)
    assert f"config revision {first.config_revision}" in log_text(again)


def test_a_rerun_without_a_stored_config_uses_the_current_one_and_says_so(
    deploy, run, bob, client_for
):
    d = deploy(config={"RECORD_PRINT_ENV": "1", "REGION": "eu"})
    first = run(execution_run_now(deployment=d, actor=bob))
    ConfigSnapshot.objects.filter(deployment=d).delete()  # e.g. ran before snapshots existed
    change(d, "REGION", "us", actor=bob)

    page = client_for(bob).get(f"/p/{d.component.project.slug}/executions/{first.pk}/rerun/")
    assert "is not stored: the re-run uses the current one" in page.content.decode()
    again = run(execution_rerun(execution=first, actor=bob))
    assert env_of(again)["REGION"] == "us"
    assert again.config_revision == d.config_revision


def test_the_rerun_page_says_which_config_is_used(deploy, run, bob, client_for):
    d = deploy(config={"REGION": "eu"})
    first = run(execution_run_now(deployment=d, actor=bob))
    change(d, "REGION", "us", actor=bob)
    page = client_for(bob).get(f"/p/{d.component.project.slug}/executions/{first.pk}/rerun/")
    text = page.content.decode()
    assert f"the re-run uses revision {first.config_revision}, the configuration this run had" in (
        text
    )


def test_retention_drops_snapshots_no_execution_uses(deploy, tick, run, bob):
    d = deploy(config={"REGION": "eu"})
    old = run(tick(d, seconds_ago=20))
    change(d, "REGION", "us", actor=bob)
    run(tick(d, seconds_ago=10))
    assert ConfigSnapshot.objects.filter(deployment=d).count() == 2
    Execution.objects.filter(pk=old.pk).delete()
    executions_cleanup(deployment=d)
    assert list(ConfigSnapshot.objects.filter(deployment=d).values_list("revision", flat=True)) == [
        d.config_revision
    ]


@pytest.mark.django_db(transaction=True)
def test_a_long_run_keeps_its_config_while_it_runs(deploy, tick, run):
    """Stored with the first heartbeat: re-runnable with its config even if its worker dies."""
    import threading
    import time

    from django.db import connection

    d = deploy(config={"RECORD_SLEEP": "8", "REGION": "eu"})
    e = tick(d)
    worker = threading.Thread(target=lambda: (run(e), connection.close()))
    worker.start()
    try:
        deadline = time.monotonic() + 7
        while not ConfigSnapshot.objects.filter(deployment=d).exists():
            assert time.monotonic() < deadline, "no snapshot while the run was going"
            time.sleep(0.2)
        assert Execution.objects.get(pk=e.pk).status == "running"
    finally:
        worker.join(timeout=20)
    assert Execution.objects.get(pk=e.pk).status == "succeeded"
