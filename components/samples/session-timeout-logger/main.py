"""Chorus sample: log every session that has been idle longer than the timeout.

Sessions are a JSON list of {"id", "user", "last_seen"} read from SESSIONS_URL (an http(s)
URL, a file:// URL or a plain file path). Without SESSIONS_URL the bundled demo list
(demo-sessions.json, beside this file) is checked, and the log says so: a first deploy with
no configuration runs successfully. Idle time is measured against the tick Chorus
scheduled (CHORUS_SCHEDULED_AT), so a retried or late run reports exactly what the
on-time run would have; without it, against the current time.

Exit codes: 0 checked (whether or not sessions timed out), 1 the sessions could not be
read, 2 missing or invalid settings.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

SAMPLE = "session-timeout-logger"
USER_AGENT = "chorus-sample-session-timeout-logger/1.0"
REQUEST_TIMEOUT = 30
# A session list bigger than this is almost certainly the wrong URL; refuse rather than
# exhaust the task's memory limit.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
DEMO_SESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo-sessions.json")


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


class SourceError(Exception):
    """The sessions document could not be fetched or parsed; the message says why."""


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


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 with or without an offset; a value without one is taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_settings(env: dict[str, str]) -> tuple[str, int, datetime]:
    source = env.get("SESSIONS_URL", "").strip()
    if not source:
        log(
            "SESSIONS_URL is not set: checking the bundled demo session list "
            "(demo-sessions.json). Set SESSIONS_URL to an http(s) URL or a file path of a JSON "
            "session list to check your own sessions."
        )
        source = DEMO_SESSIONS

    raw_timeout = env.get("SESSION_TIMEOUT_MINUTES", "").strip() or "30"
    try:
        timeout = int(raw_timeout)
    except ValueError:
        raise SettingsError(
            f"SESSION_TIMEOUT_MINUTES must be a whole number of minutes, got {raw_timeout!r}"
        ) from None
    if timeout < 1:
        raise SettingsError(f"SESSION_TIMEOUT_MINUTES must be at least 1, got {timeout}")

    raw_reference = env.get("CHORUS_SCHEDULED_AT", "").strip()
    if raw_reference:
        try:
            reference = parse_timestamp(raw_reference)
        except ValueError:
            raise SettingsError(
                f"CHORUS_SCHEDULED_AT must be an ISO 8601 timestamp, got {raw_reference!r}"
            ) from None
    else:
        reference = datetime.now(UTC)
    return source, timeout, reference


def fetch(source: str) -> bytes:
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme in ("http", "https"):
        request = urllib.request.Request(
            source, headers={"Accept": "application/json", "User-Agent": USER_AGENT}
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                data = response.read(MAX_DOCUMENT_BYTES + 1)
        except urllib.error.HTTPError as error:
            error.close()
            raise SourceError(f"{source} answered HTTP {error.code}") from None
        except (OSError, http.client.HTTPException) as error:
            raise SourceError(f"cannot fetch {source}: {getattr(error, 'reason', error)}") from None
    else:
        path = (
            urllib.request.url2pathname(urllib.parse.urlsplit(source).path)
            if scheme == "file"
            else source
        )
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as error:
            raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SourceError(f"{source} is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    return data


def load_sessions(data: bytes, source: str) -> list[object]:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise SourceError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(document, list):
        raise SourceError(
            f"{source} must hold a JSON list of sessions, got a JSON {type(document).__name__}"
        )
    return document


def check_session(entry: object) -> tuple[str, str, datetime]:
    """Return (id, user, last_seen) or raise ValueError saying what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    missing = [key for key in ("id", "user", "last_seen") if entry.get(key) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if not isinstance(entry["last_seen"], str):
        raise ValueError("last_seen is not a string")
    try:
        last_seen = parse_timestamp(entry["last_seen"])
    except ValueError:
        raise ValueError(f"last_seen {entry['last_seen']!r} is not an ISO 8601 timestamp") from None
    return str(entry["id"]), str(entry["user"]), last_seen


def idle_words(idle: timedelta) -> str:
    """How long a session has been idle, in the unit a reader takes in at a glance."""
    minutes = int(idle.total_seconds() // 60)
    if minutes < 180:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h"


def main() -> int:
    announce_start()
    try:
        source, timeout, reference = read_settings(dict(os.environ))
    except SettingsError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 2

    try:
        sessions = load_sessions(fetch(source), source)
    except SourceError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 1

    limit = timedelta(minutes=timeout)
    timed_out = active = skipped = 0
    for position, entry in enumerate(sessions, start=1):
        try:
            session_id, user, last_seen = check_session(entry)
        except ValueError as problem:
            # One malformed row should not hide the timed-out sessions after it.
            log(f"Skipping entry #{position}: {problem}", "warning")
            skipped += 1
            continue
        idle = reference - last_seen
        if idle > limit:
            log(
                f"Session {session_id} of {user} timed out (idle {idle_words(idle)})"
            )
            timed_out += 1
        else:
            active += 1

    checked = timed_out + active
    summary = (
        f"Checked {checked} session{'' if checked == 1 else 's'} at {reference.isoformat()}: "
        f"{timed_out} timed out, {active} active (timeout {timeout} min)"
    )
    if skipped:
        summary += f", {skipped} skipped as malformed"
    log(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
