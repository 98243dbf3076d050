"""`make run` from a fresh clone: serves the login page; a second start reuses the database and
the first user. Runs the real Makefile with its embedded defaults (SQLite + filesystem broker),
starting web (gunicorn), worker and beat under scripts/supervise.py.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.makerun import WEB_READY, MakeRun, free_port, fresh_clone

pytestmark = pytest.mark.integration


def _log_in(base: str, username: str, password: str) -> requests.Response:
    s = requests.Session()
    # The first answer waits for a gunicorn worker to import Django (seconds on a busy machine).
    page = s.get(f"{base}/login/", timeout=60)
    assert page.status_code == 200 and "Log in to Chorus" in page.text
    token = s.cookies["csrftoken"]
    return s.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=60,
    )


def test_make_run_from_fresh_clone_and_restart(tmp_path):
    clone = fresh_clone(tmp_path / "chorus")
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    first = MakeRun(clone, port, tmp_path / "first.log")
    try:
        m = first.wait_for(r"log in as (\S+) / (\S+)")
        username, password = m.group(1), m.group(2)
        assert "Created admin user" in first.text()
        first.wait_for(WEB_READY, 60)
        # Both workers (builds and executions), on the embedded broker.
        first.wait_for(r"worker@\S+ ready\.", 90)
        first.wait_for(r"executions@\S+ ready\.", 90)
        first.wait_for(r"beat: Starting", 60)
        deadline = time.monotonic() + 30
        while True:
            try:
                r = _log_in(base, username, password)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert r.status_code == 200 and "Demo" in r.text
    finally:
        first.stop()

    assert (clone / "var" / "chorus.sqlite3").exists()
    second = MakeRun(clone, port, tmp_path / "second.log")
    try:
        m = second.wait_for(r"log in as (\S+) / (\S+)")
        assert "Created admin user" not in second.text()
        assert "Created the Demo project" not in second.text()
        assert (m.group(1), m.group(2)) == (username, password)
        second.wait_for(WEB_READY, 60)
        deadline = time.monotonic() + 30
        while True:
            try:
                r = _log_in(base, username, password)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert r.status_code == 200 and r.text.count(">Demo<") >= 1
    finally:
        second.stop()
