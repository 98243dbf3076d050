"""`[config.KEY]` tables of chorus.toml: the settings a task declares (its config contract).

Filled in by the config-contract work; until then any `[config]` table is accepted as empty.
"""

from __future__ import annotations

from typing import Any


def parse_config(data: Any, where) -> dict[str, dict[str, Any]]:
    """Validated declarations, keyed by setting name; ManifestError on a bad one."""
    from components.manifest import ManifestError

    if not isinstance(data, dict):
        raise ManifestError("“config” must be a table of settings", where.key("config"))
    return {}
