"""Chorus sample: call an HTTP endpoint and report whether it is healthy.

Settings come from environment variables (see README.md). Without HEALTHCHECK_URL the run
checks a demo endpoint it serves itself on 127.0.0.1, and its log says so: a first deploy with
no configuration runs successfully and shows what a check looks like. Exit codes:
0 healthy, 1 unhealthy, 2 missing or invalid settings.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SAMPLE = "health-check"
USER_AGENT = "chorus-sample-health-check/1.0"
# Read at most this much of the body: enough to keep the connection polite, small enough
# that a huge response cannot exhaust the task's memory limit.
MAX_BODY_BYTES = 64 * 1024


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


def log(message: str, level: str = "info") -> None:
    """Info as plain text; other levels as a JSON line, which Chorus stores with its level."""
    if level == "info":
        print(message, flush=True)
    else:
        print(json.dumps({"level": level, "message": message}), flush=True)


def announce_start() -> None:
    execution = os.environ.get("CHORUS_EXECUTION_ID") or "manual"
    attempt = os.environ.get("CHORUS_ATTEMPT") or "1"
    scheduled = os.environ.get("CHORUS_SCHEDULED_AT") or "not scheduled"
    log(f"Starting {SAMPLE} (execution {execution}, attempt {attempt}, scheduled at {scheduled})")


def read_settings(env: dict[str, str]) -> tuple[str, float, int]:
    url = env.get("HEALTHCHECK_URL", "").strip()
    if not url:
        raise SettingsError("HEALTHCHECK_URL is not set; set it to the http(s) URL to check")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"HEALTHCHECK_URL must be an http:// or https:// URL, got {url!r}")

    raw_timeout = env.get("HEALTHCHECK_TIMEOUT", "").strip() or "10"
    try:
        timeout = float(raw_timeout)
    except ValueError:
        raise SettingsError(
            f"HEALTHCHECK_TIMEOUT must be a number of seconds, got {raw_timeout!r}"
        ) from None
    if not 0 < timeout <= 3600:
        raise SettingsError(
            f"HEALTHCHECK_TIMEOUT must be between 0 and 3600 seconds, got {raw_timeout}"
        )

    raw_status = env.get("HEALTHCHECK_EXPECT_STATUS", "").strip() or "200"
    try:
        expect_status = int(raw_status)
    except ValueError:
        raise SettingsError(
            f"HEALTHCHECK_EXPECT_STATUS must be an HTTP status code, got {raw_status!r}"
        ) from None
    if not 100 <= expect_status <= 599:
        raise SettingsError(
            f"HEALTHCHECK_EXPECT_STATUS must be between 100 and 599, got {expect_status}"
        )
    return url, timeout, expect_status


def probe(url: str, timeout: float) -> tuple[int, float]:
    """Return (status, elapsed milliseconds); raise OSError when there is no answer."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(MAX_BODY_BYTES)
            status = response.status
    except urllib.error.HTTPError as error:
        # 4xx/5xx still mean the server answered; whether that is healthy depends on
        # HEALTHCHECK_EXPECT_STATUS, so report the status instead of failing here.
        status = error.code
        error.close()
    return status, (time.monotonic() - started) * 1000


def describe_failure(error: BaseException, timeout: float) -> str:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve host ({reason.strerror})"
    if isinstance(reason, http.client.HTTPException):
        return f"sent an invalid HTTP answer ({type(reason).__name__}: {reason})"
    return f"cannot reach the endpoint ({reason})"


class DemoHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def demo_endpoint() -> str:
    """Serve a tiny healthy endpoint on loopback for this run; return its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DemoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/health"
    log(
        f"HEALTHCHECK_URL is not set: checking a demo endpoint this task serves itself ({url}). "
        "Set HEALTHCHECK_URL to the http(s) URL of your service to check it."
    )
    return url


def main() -> int:
    announce_start()
    env = dict(os.environ)
    if not env.get("HEALTHCHECK_URL", "").strip():
        env["HEALTHCHECK_URL"] = demo_endpoint()
    try:
        url, timeout, expect_status = read_settings(env)
    except SettingsError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 2

    log(f"Checking {url} (timeout {timeout:g} s, expecting HTTP {expect_status})")
    try:
        status, elapsed_ms = probe(url, timeout)
    except (OSError, http.client.HTTPException) as error:
        log(f"Unhealthy: {url} {describe_failure(error, timeout)}", "error")
        return 1

    if status != expect_status:
        log(
            f"Unhealthy: {url} answered {status} in {elapsed_ms:.0f} ms, expected {expect_status}",
            "error",
        )
        return 1
    log(f"Healthy: {url} answered {status} in {elapsed_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
