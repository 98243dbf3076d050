"""Links from the charts to the executions behind them (one place, so the query parameters
agreed with the executions list are spelled once)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def executions_url(
    *,
    project_slug: str,
    component_name: str,
    env: str = "",
    status: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> str:
    """The component's executions list filtered to one bucket (and status).

    Parameters: status, env, from, to (ISO 8601 UTC) - the explorer reads the same ones.
    """
    params = {"env": env, "status": status}
    if start is not None:
        params["from"] = _iso(start)
    if end is not None:
        params["to"] = _iso(end)
    query = urlencode({k: v for k, v in params.items() if v})
    base = f"/p/{project_slug}/c/{component_name}/executions/"
    return f"{base}?{query}" if query else base
