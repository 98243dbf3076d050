"""`[environments.<slug>]` tables of chorus.toml: schedule, timezone and policies per
environment (schedules kept in the repository).

Filled in by the schedules-as-code work; until then any `[environments]` table is accepted as
empty.
"""

from __future__ import annotations

from typing import Any


def parse_environments(data: Any, where) -> dict[str, dict[str, Any]]:
    """Validated settings per environment slug; ManifestError on a bad one."""
    from components.manifest import ManifestError

    if not isinstance(data, dict):
        raise ManifestError("“environments” must be a table", where.key("environments"))
    return {}
