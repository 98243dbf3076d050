from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ._support import run_sample, send

TICK = "2024-05-01T10:00:00+00:00"
CONTEXT = {"CHORUS_EXECUTION_ID": "7", "CHORUS_ATTEMPT": "1", "CHORUS_SCHEDULED_AT": TICK}
SESSIONS = [
    {"id": "s-1", "user": "alice", "last_seen": "2024-05-01T09:15:00Z"},  # idle 45 min
    {"id": "s-2", "user": "bob", "last_seen": "2024-05-01T11:50:00+02:00"},  # idle 10 min
    {"id": "s-3", "user": "carol", "last_seen": "2024-05-01T09:30:00Z"},  # idle exactly 30
    {"id": 4, "user": "dave", "last_seen": "2024-05-01T07:59:30"},  # no offset: UTC, 120.5 min
]


def write_sessions(tmp_path, sessions) -> str:
    path = tmp_path / "sessions.json"
    path.write_text(json.dumps(sessions))
    return str(path)


def test_logs_sessions_idle_longer_than_the_timeout_relative_to_the_tick(tmp_path):
    run = run_sample(
        "session-timeout-logger", {**CONTEXT, "SESSIONS_URL": write_sessions(tmp_path, SESSIONS)}
    )

    assert run.returncode == 0, run.output
    assert run.lines == [
        f"Starting session-timeout-logger (execution 7, attempt 1, scheduled at {TICK})",
        "Session s-1 of alice timed out (idle 45 min)",
        "Session 4 of dave timed out (idle 120 min)",
        f"Checked 4 sessions at {TICK}: 2 timed out, 2 active (timeout 30 min)",
    ]


def test_retry_of_the_same_tick_reports_the_same_sessions(tmp_path):
    env = {**CONTEXT, "SESSIONS_URL": write_sessions(tmp_path, SESSIONS)}

    first = run_sample("session-timeout-logger", env)
    retry = run_sample("session-timeout-logger", {**env, "CHORUS_ATTEMPT": "2"})

    assert first.returncode == retry.returncode == 0
    assert retry.lines[0].endswith(f"(execution 7, attempt 2, scheduled at {TICK})")
    assert first.lines[1:] == retry.lines[1:]


def test_timeout_setting_changes_which_sessions_time_out(tmp_path):
    run = run_sample(
        "session-timeout-logger",
        {
            **CONTEXT,
            "SESSIONS_URL": write_sessions(tmp_path, SESSIONS),
            "SESSION_TIMEOUT_MINUTES": "5",
        },
    )

    assert run.returncode == 0, run.output
    assert run.lines[1:] == [
        "Session s-1 of alice timed out (idle 45 min)",
        "Session s-2 of bob timed out (idle 10 min)",
        "Session s-3 of carol timed out (idle 30 min)",
        "Session 4 of dave timed out (idle 120 min)",
        f"Checked 4 sessions at {TICK}: 4 timed out, 0 active (timeout 5 min)",
    ]


def test_reads_sessions_over_http_and_from_file_urls(tmp_path, http_server):
    server = http_server(lambda handler: send(handler, 200, json.dumps(SESSIONS).encode()))
    path = write_sessions(tmp_path, SESSIONS)

    over_http = run_sample(
        "session-timeout-logger", {**CONTEXT, "SESSIONS_URL": f"{server.url}/api/sessions"}
    )
    from_file_url = run_sample(
        "session-timeout-logger", {**CONTEXT, "SESSIONS_URL": f"file://{path}"}
    )

    assert over_http.returncode == from_file_url.returncode == 0, (
        over_http.output + from_file_url.output
    )
    assert [r["path"] for r in server.requests] == ["/api/sessions"]
    summary = f"Checked 4 sessions at {TICK}: 2 timed out, 2 active (timeout 30 min)"
    assert over_http.lines[-1] == from_file_url.lines[-1] == summary


def test_without_a_tick_idle_time_is_measured_from_now(tmp_path):
    now = datetime.now(UTC)
    sessions = [
        {"id": "old", "user": "erin", "last_seen": (now - timedelta(hours=2)).isoformat()},
        {"id": "fresh", "user": "frank", "last_seen": (now - timedelta(minutes=1)).isoformat()},
    ]

    run = run_sample("session-timeout-logger", {"SESSIONS_URL": write_sessions(tmp_path, sessions)})

    assert run.returncode == 0, run.output
    assert run.lines[0] == (
        "Starting session-timeout-logger (execution manual, attempt 1, scheduled at not scheduled)"
    )
    assert run.lines[1] == "Session old of erin timed out (idle 120 min)"
    assert "1 timed out, 1 active" in run.lines[2]


def test_malformed_entries_are_skipped_and_counted(tmp_path):
    sessions = [
        "not-an-object",
        {"id": "s-9", "user": "gina"},
        {"id": "s-10", "user": "hank", "last_seen": "yesterday"},
        SESSIONS[0],
    ]

    run = run_sample(
        "session-timeout-logger", {**CONTEXT, "SESSIONS_URL": write_sessions(tmp_path, sessions)}
    )

    assert run.returncode == 0, run.output
    assert run.lines[1:] == [
        "Skipping entry #1: not a JSON object",
        "Skipping entry #2: missing last_seen",
        "Skipping entry #3: last_seen 'yesterday' is not an ISO 8601 timestamp",
        "Session s-1 of alice timed out (idle 45 min)",
        f"Checked 1 session at {TICK}: 1 timed out, 0 active (timeout 30 min), 3 skipped as malformed",
    ]
    assert run.levels[1:] == ["warning"] * 3 + ["info"] * 2


def test_unreadable_source_fails_with_the_reason(tmp_path, http_server):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "s-1",')
    not_a_list = tmp_path / "object.json"
    not_a_list.write_text('{"sessions": []}')
    server = http_server(lambda handler: send(handler, 500, b"boom", "text/plain"))

    invalid = run_sample("session-timeout-logger", {**CONTEXT, "SESSIONS_URL": str(broken)})
    wrong_shape = run_sample("session-timeout-logger", {**CONTEXT, "SESSIONS_URL": str(not_a_list)})
    missing = run_sample(
        "session-timeout-logger", {**CONTEXT, "SESSIONS_URL": str(tmp_path / "nope.json")}
    )
    server_error = run_sample("session-timeout-logger", {**CONTEXT, "SESSIONS_URL": server.url})

    assert [
        invalid.returncode,
        wrong_shape.returncode,
        missing.returncode,
        server_error.returncode,
    ] == [1, 1, 1, 1]
    assert f"Error: {broken} is not valid JSON" in invalid.stderr
    assert "must hold a JSON list of sessions, got a JSON dict" in wrong_shape.stderr
    assert f"cannot read {tmp_path / 'nope.json'}: No such file or directory" in missing.stderr
    assert f"Error: {server.url} answered HTTP 500" in server_error.stderr


def test_missing_or_invalid_settings_exit_2(tmp_path):
    path = write_sessions(tmp_path, SESSIONS)

    bad_timeout = run_sample(
        "session-timeout-logger", {**CONTEXT, "SESSIONS_URL": path, "SESSION_TIMEOUT_MINUTES": "0"}
    )
    bad_tick = run_sample(
        "session-timeout-logger",
        {**CONTEXT, "SESSIONS_URL": path, "CHORUS_SCHEDULED_AT": "tomorrow"},
    )

    assert [bad_timeout.returncode, bad_tick.returncode] == [2, 2]
    assert "SESSION_TIMEOUT_MINUTES must be at least 1, got 0" in bad_timeout.stderr
    assert "CHORUS_SCHEDULED_AT must be an ISO 8601 timestamp, got 'tomorrow'" in bad_tick.stderr


def test_long_idle_times_are_told_in_hours_and_days(tmp_path):
    sessions = [
        {"id": "h", "user": "erin", "last_seen": "2024-05-01T04:20:00Z"},  # 5 h 40 min
        {"id": "d", "user": "frank", "last_seen": "2021-10-30T17:00:00Z"},  # 913 days 17 h
    ]
    run = run_sample(
        "session-timeout-logger", {**CONTEXT, "SESSIONS_URL": write_sessions(tmp_path, sessions)}
    )
    assert run.returncode == 0, run.output
    assert "Session h of erin timed out (idle 5 h 40 min)" in run.lines
    assert "Session d of frank timed out (idle 913 days 17 h)" in run.lines
