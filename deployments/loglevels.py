"""Log levels of execution log lines: what a line says about itself, or where it came from.

A line that is a JSON object with a `level` field (`{"level": "warning", "message": "…"}`, the
shape structured loggers write) is stored with that level; otherwise a line on stderr is an
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


def level_of(stream: str, text: str) -> int:
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}") and '"level"' in stripped:
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("level"), str):
            level = _BY_NAME.get(data["level"].strip().lower())
            if level is not None:
                return level
    return ERROR if stream == "stderr" else INFO


def parse_level(name: str | None) -> int | None:
    """`?level=warning` → 30; None for no filter or a name nobody knows."""
    return _BY_NAME.get((name or "").strip().lower())
