"""Log levels of execution log lines: what a line says about itself, or where it came from.

A line that is a JSON object with a `level` field (`{"level": "warning", "message": "…"}`, the
shape structured loggers write) is stored with that level, as its message (any other fields
follow it as compact JSON); otherwise a line on stderr is an
error and any other line is info. Levels are Python's logging numbers, so "warning and above"
is one comparison (the execution log's level filter, the explorer's errors-only search).
"""

from __future__ import annotations

import json

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50
NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error", CRITICAL: "critical"}
_BY_NAME = {name: level for level, name in NAMES.items()} | {
    "trace": DEBUG,
    "notice": INFO,
    "information": INFO,
    "warn": WARNING,
    "err": ERROR,
    "fatal": CRITICAL,
    "panic": CRITICAL,
}
# What the execution log's filter offers: ?level=<name> shows that level and above.
FILTERS = (("", "All"), ("warning", "Warnings and errors"), ("error", "Errors"))


def read_line(stream: str, text: str) -> tuple[int, str]:
    """The line's level and the text to store: a JSON line's `message`, followed by its other
    fields (compact JSON) if it has any; any other line as it is."""
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}") and '"level"' in stripped:
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("level"), str):
            level = _BY_NAME.get(data["level"].strip().lower())
            if level is not None:
                message = data.get("message", data.get("msg"))
                if not isinstance(message, str):
                    return level, text
                rest = {k: v for k, v in data.items() if k not in ("level", "message", "msg")}
                return level, message + (f" {json.dumps(rest)}" if rest else "")
    return (ERROR if stream == "stderr" else INFO), text


def parse_level(name: str | None) -> int | None:
    """`?level=warning` → 30; None for no filter or a name nobody knows."""
    return _BY_NAME.get((name or "").strip().lower())
