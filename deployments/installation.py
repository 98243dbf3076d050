"""Which Chorus installation this is: the `chorus.installation` label on every task it starts.

One Docker engine (or one local runs directory) may serve several Chorus installations, or a
developer's portal next to a test run. Each labels its tasks with its own installation id, and
every finder (the reconciler, its orphan clean-up) asks only for tasks with that label, so one
installation never stops another's tasks.

The id is `CHORUS_INSTALLATION` when set; otherwise the first 16 hex digits of a SHA-256 over
SECRET_KEY and the default database's engine, host, port and name. That is stable across
restarts and the same in every process of one installation (they share the settings and the
database), and differs between installations sharing a database server (other database name)
or a machine (other SECRET_KEY). It is computed when asked, not at import: the test runner
renames the database after the settings load. Rotating SECRET_KEY changes the derived id, and
the reconciler then leaves tasks started before the rotation alone: set CHORUS_INSTALLATION to
keep the id across a rotation.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import connections

LABEL = "chorus.installation"


def installation_id() -> str:
    explicit = getattr(settings, "CHORUS_INSTALLATION", "")
    if explicit:
        return explicit
    db = connections["default"].settings_dict
    parts = [
        settings.SECRET_KEY,
        str(db.get("ENGINE") or ""),
        str(db.get("HOST") or ""),
        str(db.get("PORT") or ""),
        str(db.get("NAME") or ""),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def installation_labels() -> dict[str, str]:
    """The labels that scope a find to this installation's tasks."""
    return {LABEL: installation_id()}


__all__ = ["LABEL", "installation_id", "installation_labels"]
