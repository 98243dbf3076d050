"""A trigram index for searching inside execution logs (PostgreSQL only).

Django spells `text__icontains` on PostgreSQL as `UPPER(text::text) LIKE UPPER('%needle%')`;
a GIN index with gin_trgm_ops on that same expression answers it, so log search stays an
index lookup at millions of lines. pg_trgm ships with PostgreSQL; creating the extension needs a
role allowed to (superuser or database owner on PG 13+). When it cannot be created the index
is skipped with a warning and search falls back to scanning lines of the filtered time window.
On SQLite (`make run`) this migration does nothing.
"""

from __future__ import annotations

import logging

from django.db import migrations

log = logging.getLogger(__name__)

INDEX = "obs_execlog_upper_text_trgm"


def create(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cur:
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # noqa: BLE001 - lacking the privilege is not fatal
            log.warning("pg_trgm unavailable (%s); log search will not use an index", exc)
            return
        # CONCURRENTLY: an upgrade of a busy install does not block log writes meanwhile.
        cur.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
            "ON deployments_executionlogline USING gin ((UPPER(text::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cur:
            cur.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("observability", "0001_rollups_and_alerts"),
        ("deployments", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]
