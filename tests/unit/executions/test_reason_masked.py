"""An execution's reason goes to the API, the pages and alert messages: it is stored masked."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from deployments.executions.finish import execution_finish
from deployments.logs import LogWriter
from deployments.models import Execution, ExecutionLogLine
from tests.unit.api.conftest import Api

pytestmark = pytest.mark.django_db

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


def test_a_failure_reason_quoting_a_secret_is_stored_masked(deploy, tick, carol):
    d = deploy(secrets={"TLS_KEY": PEM, "API_TOKEN": "tok-Quokka-4411"})
    e = tick(d)
    Execution.objects.filter(pk=e.pk).update(status="running", started_at=timezone.now())
    e.refresh_from_db()
    log = LogWriter(
        owner=e,
        line_model=ExecutionLogLine,
        fk_name="execution",
        secrets=[PEM, "tok-Quokka-4411"],
    )
    # What a runtime error quoting the task's environment looks like: JSON-escaped values.
    reason = (
        f"engine refused the config {json.dumps({'TLS_KEY': PEM, 'API_TOKEN': 'tok-Quokka-4411'})}"
    )
    assert execution_finish(execution=e, status="failed", reason=reason, log=log)
    e.refresh_from_db()
    assert e.reason.startswith("engine refused the config")
    assert "MIIEvQIBADAN" not in e.reason and "Quokka" not in e.reason
    assert e.reason.count("••••") == 2
    body = Api(carol).get(f"executions/{e.pk}/").content.decode()
    assert "engine refused the config" in body
    assert "MIIEvQIBADAN" not in body and "Quokka" not in body
    last = e.log_lines.order_by("-seq").first().text
    assert last.startswith("[chorus] failed") and "Quokka" not in last
