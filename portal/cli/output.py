"""Human output: aligned tables and key/value blocks; --json prints the API's own JSON."""

from __future__ import annotations

import json
import sys
from datetime import datetime


def emit_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def when(value: str | None) -> str:
    """ISO timestamps shortened to local-ish readable form (UTC, to the second)."""
    if not value:
        return "-"
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return dt.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if dt.utcoffset() is not None else "")


def cell(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("\n", " ")


def table(rows: list[dict], columns: list[tuple[str, str]], *, empty: str = "(none)") -> None:
    """columns: (header, key); a key may be a callable(row) -> value."""
    if not rows:
        print(empty)
        return
    matrix = [[h.upper() for h, _ in columns]]
    for row in rows:
        matrix.append([cell(key(row) if callable(key) else row.get(key)) for _, key in columns])
    widths = [max(len(r[i]) for r in matrix) for i in range(len(columns))]
    for r in matrix:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def details(pairs: list[tuple[str, object]]) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        print(f"{key + ':':<{width + 1}} {cell(value)}")
