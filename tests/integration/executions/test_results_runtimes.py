"""A task writes its result to CHORUS_RESULT_FILE in a real container; the execution shows it,
secrets masked (the local runtime's side is in tests/integration/builds/test_local_runtime.py;
statuses, graphs, /metrics and alerts in tests/unit/executions/test_results.py)."""

from __future__ import annotations

import pytest

from .live import task_image

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

WRITE_PARTIAL = (
    'echo "working"; '
    'printf \'{"status": "partial", "summary": "%s", "stats": {"rows": 118}}\' "$SUMMARY" '
    '> "$CHORUS_RESULT_FILE"'
)


def test_a_container_writes_its_result(deploy, dev, make_build):
    from django.utils import timezone

    from deployments.executions.run import execution_run
    from deployments.executions.ticks import TickTarget, fire_tick

    dev.runtime_kind = "docker"
    dev.save()
    image = task_image(WRITE_PARTIAL)
    d = deploy(
        build=make_build(image_ref=image),
        config={"SUMMARY": "synced with token hunter22"},
        secrets={"TOKEN": "hunter22"},
    )
    at = timezone.now().replace(microsecond=0)
    fire_tick(scheduled_for=at, targets=[TickTarget.of(d)])
    e = d.executions.get()
    execution_run(execution_id=e.pk, worker="test@host", due=at.timestamp())
    e.refresh_from_db()
    assert (e.status, e.exit_code) == ("partial", 0)
    assert e.result == {
        "status": "partial",
        "summary": "synced with token ••••",
        "stats": {"rows": 118},
    }


def test_a_container_without_a_result_file_has_none(deploy, dev, make_build):
    from django.utils import timezone

    from deployments.executions.run import execution_run
    from deployments.executions.ticks import TickTarget, fire_tick

    dev.runtime_kind = "docker"
    dev.save()
    d = deploy(build=make_build(image_ref=task_image('echo "no result"')))
    at = timezone.now().replace(microsecond=0)
    fire_tick(scheduled_for=at, targets=[TickTarget.of(d)])
    e = d.executions.get()
    execution_run(execution_id=e.pk, worker="test@host", due=at.timestamp())
    e.refresh_from_db()
    assert (e.status, e.result) == ("succeeded", None)
