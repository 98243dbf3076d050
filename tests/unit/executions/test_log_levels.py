"""Log levels: stderr lines are errors, a JSON line with a `level` has that level (stored as
its message); the execution log filters by level, the API says each line's level, and the
explorer's search can be limited to error lines."""

from __future__ import annotations

import pytest

from tests.support.obs import make_execution
from tests.unit.executions.conftest import log_text

pytestmark = pytest.mark.django_db

JSON_WARNING = '{"level": "warn", "message": "disk almost full", "free_mb": 12}'


def levels(execution) -> list[tuple[str, str, int]]:
    return [
        (line.stream, line.text, line.level)
        for line in execution.log_lines.exclude(stream="chorus").order_by("seq")
    ]


def test_a_run_stores_each_line_with_its_level(deploy, tick, run):
    d = deploy(
        config={
            "RECORD_ECHO": f"plain output\n{JSON_WARNING}\n"
            '{"level": "error", "msg": "upstream said 500"}\n{"level": "loud"}',
            "RECORD_STDERR": "Traceback (most recent call last):",
        }
    )
    e = run(tick(d))
    assert levels(e)[1:] == [
        ("stdout", "plain output", 20),
        ("stdout", 'disk almost full {"free_mb": 12}', 30),
        ("stdout", "upstream said 500", 40),
        ("stdout", '{"level": "loud"}', 20),  # not a level anyone knows: as written, info
        ("stderr", "Traceback (most recent call last):", 40),
    ]
    assert "disk almost full" in log_text(e)


def test_the_execution_log_filters_by_level(deploy, tick, run, alice, client):
    d = deploy(config={"RECORD_ECHO": f"plain output\n{JSON_WARNING}", "RECORD_STDERR": "boom"})
    e = run(tick(d))
    client.force_login(alice)
    url = f"/p/{d.component.project.slug}/executions/{e.pk}/"
    page = client.get(url + "?level=error").content.decode()
    assert '<strong aria-current="true">Errors</strong>' in page
    assert "boom" in page and "plain output" not in page and "disk almost full" not in page
    warnings = client.get(url + "?level=warning").content.decode()
    assert "boom" in warnings and "disk almost full" in warnings and "plain output" not in warnings
    every = client.get(url).content.decode()
    assert all(t in every for t in ("boom", "disk almost full", "plain output"))
    # The live fragment keeps the filter in its next poll.
    fragment = client.get(url + "log/?after=0&level=error").content.decode()
    assert "boom" in fragment and "plain output" not in fragment


def test_the_api_gives_levels_and_filters(deploy, tick, run, alice):
    from tests.unit.api.conftest import Api

    d = deploy(config={"RECORD_ECHO": JSON_WARNING, "RECORD_STDERR": "boom"})
    e = run(tick(d))
    api = Api(alice)
    body = api.get(f"executions/{e.pk}/logs/", {"level": "warning"}).json()
    assert [(x["text"], x["level"]) for x in body["lines"]] == [
        ('disk almost full {"free_mb": 12}', "warning"),
        ("boom", "error"),
    ]
    assert api.get(f"executions/{e.pk}/logs/", {"level": "loud"}).status_code == 400


def test_the_explorer_search_can_be_limited_to_errors(deploy, project, alice, client):
    d = deploy()
    quiet = make_execution(d, "succeeded", logs=("retrying after timeout",))
    loud = make_execution(d, "failed", logs=(("stderr", "gave up after timeout"),))
    other = make_execution(d, "failed", logs=(("stderr", "disk full"),))
    client.force_login(alice)
    base = f"/p/{project.slug}/executions/"

    def found(query: str) -> set[int]:
        page = client.get(base + query).content.decode()
        return {e.pk for e in (quiet, loud, other) if f"/executions/{e.pk}/" in page}

    assert found("?q=timeout") == {quiet.pk, loud.pk}
    assert found("?q=timeout&errors=1") == {loud.pk}
    assert found("?errors=1") == {loud.pk, other.pk}


def test_a_secret_spelled_with_json_escapes_is_masked_in_the_message(deploy, tick, run):
    d = deploy(
        config={"RECORD_ECHO": '{"level": "warning", "message": "token \\u0068unter22 refused"}'},
        secrets={"API_KEY": "hunter22"},
    )
    e = run(tick(d))
    assert ("stdout", "token •••• refused", 30) in levels(e)
    assert "hunter22" not in log_text(e)
