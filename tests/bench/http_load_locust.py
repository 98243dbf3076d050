"""The locustfile of tests/bench/http_load.py (run by it: `locust --headless -f <this>`).

Two kinds of users, both with a logged-in session made by the benchmark (BENCH_HTTP_TARGETS,
a JSON file of projects, components, cursors and session keys):

- PageClient (BENCH_HTTP_CLIENTS of them, no think time): a cycle of the pages a member
  opens, each in a project picked at random: the project overview, a component dashboard
  (24 h, 7 d or 30 d), the executions list (first page, a filter, or a page deep in the
  history), a log search, and one poll of a running execution's live log.
- LogPoller (BENCH_HTTP_POLLERS of them): an open execution page whose live log htmx polls
  (`hx-trigger="every 1s"` on the poller: one request a second after the last answer) at the
  URL of the poller it last received, as htmx does (the `after` of the last line it has and
  the page's `state`); when its run finishes (HTTP 286) it opens another running one.

Running executions change every minute: the benchmark writes their ids to BENCH_HTTP_RUNNING
every second. Every response time is recorded with its page name and wall-clock time and
written to BENCH_HTTP_OUT when locust stops.
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import time

from locust import FastHttpUser, constant, events, task

TARGETS = json.loads(open(os.environ["BENCH_HTTP_TARGETS"]).read())
PROJECTS = TARGETS["projects"]
SESSIONS = list(TARGETS["sessions"])
RUNNING_FILE = os.environ["BENCH_HTTP_RUNNING"]
AFTER = re.compile(rb'id="execution-log-poller" data-after="(\d+)"')
NEXT = re.compile(rb'id="execution-log-poller"[^>]* hx-get="([^"]+)"')
SAMPLES: list[tuple[float, str, float, bool]] = []


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kw):
    SAMPLES.append((time.time(), name, response_time, exception is None))


@events.quitting.add_listener
def _dump(environment, **kw):
    with open(os.environ["BENCH_HTTP_OUT"], "w") as f:
        json.dump(SAMPLES, f)


_running: tuple[float, list] = (0.0, [])


def running() -> list:
    """[[execution id, project slug], …] of the runs in progress, re-read once a second."""
    global _running
    if time.monotonic() - _running[0] > 1.0:
        try:
            with open(RUNNING_FILE) as f:
                _running = (time.monotonic(), json.load(f))
        except (OSError, ValueError):
            pass
    return _running[1]


class _Session(FastHttpUser):
    abstract = True

    def on_start(self) -> None:
        key = SESSIONS.pop() if SESSIONS else TARGETS["sessions"][0]
        self.headers = {"Cookie": f"sessionid={key}"}
        self.after: dict[int, int] = {}
        self.next_url: dict[int, str] = {}

    def get(self, url: str, name: str, *, htmx: bool = False, ok=(200,)):
        headers = dict(self.headers)
        if htmx:
            headers["HX-Request"] = "true"
        with self.client.get(url, name=name, headers=headers, catch_response=True) as resp:
            if resp.status_code in ok:
                resp.success()  # 286 (htmx: stop polling) is an answer, not an error
            else:
                resp.failure(f"HTTP {resp.status_code}")
            return resp

    def poll_log(self, execution_id: int, slug: str, name: str):
        after = self.after.get(execution_id, 0)
        url = self.next_url.get(
            execution_id, f"/p/{slug}/executions/{execution_id}/log/?after={after}"
        )
        resp = self.get(url, name, htmx=True, ok=(200, 286))
        m = AFTER.search(resp.content or b"")
        if m:
            self.after[execution_id] = int(m.group(1))
        m = NEXT.search(resp.content or b"")
        if m:
            self.next_url[execution_id] = html.unescape(m.group(1).decode())
        return resp


class PageClient(_Session):
    fixed_count = int(os.environ.get("BENCH_HTTP_CLIENTS", "8"))
    wait_time = constant(0)

    @task
    def cycle(self) -> None:
        p = random.choice(PROJECTS)
        slug = p["slug"]
        comp = random.choice(p["components"])
        self.get(f"/p/{slug}/", "overview")
        env = random.choice(("dev", "prod"))
        rng = random.choice(("24h", "7d", "30d"))
        self.get(f"/p/{slug}/c/{comp}/dashboard/?env={env}&range={rng}", "dashboard")
        listing = random.choice(
            (
                "",
                "?status=failed",
                f"?component={comp}&env=prod",
                f"?after={random.choice(p['cursors'])}",
                f"?status=missed&after={random.choice(p['cursors'])}",
            )
        )
        self.get(f"/p/{slug}/executions/{listing}", "executions_list")
        search = random.choice(
            ("?q=quota+exhausted", f"?q=quota+exhausted&component={comp}", "?q=processed")
        )
        self.get(f"/p/{slug}/executions/{search}", "log_search")
        live = [r for r in running() if r[1] == slug] or running()
        if live:
            execution_id, live_slug = random.choice(live)
            self.poll_log(execution_id, live_slug, "livelog")


class LogPoller(_Session):
    fixed_count = int(os.environ.get("BENCH_HTTP_POLLERS", "0"))
    wait_time = constant(1)

    def on_start(self) -> None:
        super().on_start()
        self.watching: list | None = None

    @task
    def poll(self) -> None:
        if self.watching is None:
            live = running()
            if not live:
                return
            self.watching = random.choice(live)
        resp = self.poll_log(self.watching[0], self.watching[1], "livelog_poller")
        if resp.status_code != 200:  # 286: the run finished, htmx stops; open another
            self.watching = None
