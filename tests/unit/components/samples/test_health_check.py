from __future__ import annotations

import re
import socket
import time

from ._support import run_sample, send

CONTEXT = {
    "CHORUS_EXECUTION_ID": "4711",
    "CHORUS_ATTEMPT": "2",
    "CHORUS_SCHEDULED_AT": "2024-05-01T10:00:00+00:00",
}


def answering(status: int, delay: float = 0.0):
    def respond(handler) -> None:
        time.sleep(delay)
        send(handler, status, b"" if status == 204 else b'{"status": "ok"}')

    return respond


def test_healthy_endpoint_logs_status_and_latency_and_exits_0(http_server):
    server = http_server(answering(200))
    url = f"{server.url}/health"

    run = run_sample("health-check", {**CONTEXT, "HEALTHCHECK_URL": url})

    assert run.returncode == 0, run.output
    assert run.lines[0] == (
        "Starting health-check (execution 4711, attempt 2, scheduled at 2024-05-01T10:00:00+00:00)"
    )
    assert re.fullmatch(rf"Healthy: {re.escape(url)} answered 200 in \d+ ms", run.lines[-1])
    assert [request["path"] for request in server.requests] == ["/health"]


def test_unexpected_status_is_unhealthy_and_exits_1(http_server):
    server = http_server(answering(503))
    url = f"{server.url}/health"

    run = run_sample("health-check", {**CONTEXT, "HEALTHCHECK_URL": url})

    assert run.returncode == 1, run.output
    assert re.fullmatch(
        rf"Unhealthy: {re.escape(url)} answered 503 in \d+ ms, expected 200", run.lines[-1]
    )


def test_expected_status_setting_decides_what_healthy_means(http_server):
    server = http_server(answering(204))
    env = {**CONTEXT, "HEALTHCHECK_URL": f"{server.url}/ping"}

    expecting_204 = run_sample("health-check", {**env, "HEALTHCHECK_EXPECT_STATUS": "204"})
    expecting_default = run_sample("health-check", env)

    assert expecting_204.returncode == 0, expecting_204.output
    assert expecting_204.lines[-1].startswith(f"Healthy: {server.url}/ping answered 204 in ")
    assert expecting_default.returncode == 1
    assert expecting_default.lines[-1].endswith("expected 200")


def test_unreachable_endpoint_is_unhealthy_and_exits_1():
    # A port that was just free and is closed again refuses connections.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/health"

    run = run_sample("health-check", {**CONTEXT, "HEALTHCHECK_URL": url})

    assert run.returncode == 1, run.output
    assert run.lines[-1] == f"Unhealthy: {url} connection refused"
    assert run.levels[-1] == "error" and set(run.levels[:-1]) == {"info"}


def test_slow_endpoint_is_unhealthy_after_the_timeout(http_server):
    server = http_server(answering(200, delay=6))
    url = f"{server.url}/slow"

    started = time.monotonic()
    run = run_sample(
        "health-check", {**CONTEXT, "HEALTHCHECK_URL": url, "HEALTHCHECK_TIMEOUT": "0.5"}
    )

    assert run.returncode == 1, run.output
    assert run.lines[-1] == f"Unhealthy: {url} no answer within 0.5 s"
    assert time.monotonic() - started < 4.5  # well before the 6 s answer


def test_missing_or_invalid_settings_exit_2_with_a_clear_error():
    bad_scheme = run_sample("health-check", {**CONTEXT, "HEALTHCHECK_URL": "ftp://example.com/"})
    bad_timeout = run_sample(
        "health-check",
        {**CONTEXT, "HEALTHCHECK_URL": "http://127.0.0.1/", "HEALTHCHECK_TIMEOUT": "soon"},
    )
    bad_status = run_sample(
        "health-check",
        {**CONTEXT, "HEALTHCHECK_URL": "http://127.0.0.1/", "HEALTHCHECK_EXPECT_STATUS": "999"},
    )

    assert (bad_scheme.returncode, bad_timeout.returncode, bad_status.returncode) == (2, 2, 2)
    assert "must be an http:// or https:// URL" in bad_scheme.stderr
    assert "HEALTHCHECK_TIMEOUT must be a number of seconds, got 'soon'" in bad_timeout.stderr
    assert "HEALTHCHECK_EXPECT_STATUS must be between 100 and 599, got 999" in bad_status.stderr
