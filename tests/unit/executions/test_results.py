"""Results beyond an exit code: what a task writes to CHORUS_RESULT_FILE.

Runs go through the worker's own code with the record runtime (RECORD_RESULT is what the task
"writes"); the real runtimes' side (the file in a container, in the local sandbox) is in
tests/integration/executions/test_results_runtimes.py.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from deployments.executions.results import MAX_RESULT_BYTES, read_result
from tests.unit.executions.conftest import log_text

pytestmark = pytest.mark.django_db

PARTIAL = json.dumps(
    {"status": "partial", "summary": "synced 118 of 120 rows", "stats": {"rows": 118, "skipped": 2}}
)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (None, None),
        (PARTIAL.encode(), json.loads(PARTIAL)),
        (b'{"status": "succeeded"}', {"status": "succeeded", "summary": "", "stats": {}}),
        (b"rows=3", {"error": "malformed: the result file is not JSON (Expecting value: line 1 column 1 (char 0))"}),
        (b"[1, 2]", {"error": "malformed: the result must be a JSON object"}),
        (b'{"status": "great"}', {"error": "malformed: status must be one of succeeded, partial, failed"}),
        (b'{"status": "failed", "stats": {"x": [1]}}', {"error": 'malformed: stat "x" must be a number, text or boolean'}),
        (b" " * (MAX_RESULT_BYTES + 1), {"error": f"oversized: the result file is over {MAX_RESULT_BYTES} bytes"}),
    ],
)  # fmt: skip
def test_reading_a_result(raw, kept):
    assert read_result(raw) == kept


def test_secrets_are_masked_and_text_is_capped():
    raw = json.dumps(
        {"status": "failed", "summary": "login hunter22 refused " + "x" * 2000,
         "stats": {"token": "hunter22", "hunter22": 1}}
    ).encode()  # fmt: skip
    kept = read_result(raw, ["hunter22"])
    assert kept["summary"].startswith("login •••• refused")
    assert len(kept["summary"]) == 1000
    assert "hunter22" not in json.dumps(kept)


def test_a_partial_result_is_its_own_status_everywhere(deploy, tick, run, settings, project):
    from deployments.executions.api import ExecutionOut
    from observability.models import HourlyRollup
    from observability.selectors.dashboard import dashboard_for, parse_range
    from observability.tasks import execution_finished_task
    from observability.views.dashboard import chart_payload

    d = deploy(config={"RECORD_RESULT": PARTIAL}, secrets={"API_KEY": "hunter22"})
    e = run(tick(d))
    assert (e.status, e.exit_code, e.reason) == ("partial", 0, "the task reported a partial result")
    assert e.result == json.loads(PARTIAL)
    out = ExecutionOut(e).data
    assert out["status"] == "partial" and out["result"]["stats"] == {"rows": 118, "skipped": 2}
    assert "[chorus] partial (exit code 0)" in log_text(e)
    # The hour's rollup, the dashboard's series and /metrics count it as partial.
    execution_finished_task(e.pk)
    assert HourlyRollup.objects.get(deployment=d).partial == 1
    data = dashboard_for(deployment=d, time_range=parse_range("24h"))
    series = chart_payload(data=data, project=project, component=d.component, env_slug="dev")
    assert sum(series["series"]["partial"]) == 1 and sum(series["series"]["succeeded"]) == 0
    assert series["seriesLabels"]["partial"] == "Partial"
    settings.CHORUS_METRICS_TOKEN = "t0ken-for-metrics"
    body = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-for-metrics").content.decode()
    assert 'chorus_executions_total{component="nightly",environment="dev",' in body
    assert [
        line for line in body.splitlines()
        if line.startswith("chorus_executions_total") and 'status="partial"' in line
    ] == [f'chorus_executions_total{{component="nightly",environment="dev",project="{project.slug}",status="partial"}} 1.0']  # fmt: skip


def test_the_exit_code_still_decides(deploy, tick, run):
    failing = deploy(config={"RECORD_RESULT": PARTIAL, "RECORD_EXIT_CODE": "2"})
    e = run(tick(failing))
    assert (e.status, e.exit_code) == ("failed", 2)
    assert e.result["status"] == "partial"  # kept and shown, not obeyed


def test_a_result_saying_failed_with_exit_code_0_is_succeeded(deploy, tick, run):
    d = deploy(config={"RECORD_RESULT": '{"status": "failed", "summary": "nothing to do"}'})
    e = run(tick(d))
    assert e.status == "succeeded" and e.result["summary"] == "nothing to do"


def test_a_malformed_result_is_recorded_as_such(deploy, tick, run):
    d = deploy(config={"RECORD_RESULT": "{oops"})
    e = run(tick(d))
    assert e.status == "succeeded"
    assert e.result["error"].startswith("malformed: the result file is not JSON")
    assert "[chorus] result file ignored: malformed" in log_text(e)


def test_no_result_file_leaves_nothing(deploy, tick, run):
    e = run(tick(deploy()))
    assert e.status == "succeeded" and e.result is None


def test_the_execution_page_shows_summary_and_stats(
    deploy, tick, run, alice, client, make_component
):
    d = deploy(config={"RECORD_RESULT": PARTIAL})
    e = run(tick(d))
    plain = run(tick(deploy(component=make_component("plain"))))
    assert plain.status == "succeeded"
    client.force_login(alice)
    # The explorer's status filter knows partial.
    slug = d.component.project.slug
    listed = client.get(f"/p/{slug}/executions/?status=partial").content.decode()
    assert f"/executions/{e.pk}/" in listed and f"/executions/{plain.pk}/" not in listed
    page = client.get(f"/p/{d.component.project.slug}/executions/{e.pk}/").content.decode()
    assert 'class="badge badge-partial" data-status="partial">Partial</span>' in page
    assert "synced 118 of 120 rows" in page
    assert '<th scope="row">rows</th><td class="num">118</td>' in page


def test_an_alert_on_partial_is_opt_in(deploy, tick, run, alice):
    from observability.models import AlertChannel, AlertRule, Incident
    from observability.services.alerts import alerts_evaluate_execution

    d = deploy(config={"RECORD_RESULT": PARTIAL})
    channel = AlertChannel.objects.create(
        project=d.component.project, name="ops", kind="email", email_addresses="ops@example.com"
    )
    AlertRule.objects.create(component=d.component, kind="on_failure", channel=channel)
    e = run(tick(d))
    alerts_evaluate_execution(execution_id=e.pk)
    assert not Incident.objects.exists()  # a failure rule does not fire on partial
    AlertRule.objects.create(component=d.component, kind="on_partial", channel=channel)
    alerts_evaluate_execution(execution_id=e.pk)
    incident = Incident.objects.get()
    assert incident.rule.kind == "on_partial"
    assert incident.summary == "partial result: synced 118 of 120 rows"
