from __future__ import annotations

import os
import sqlite3
import sys
import urllib.parse
import uuid

import psycopg
import pytest
from psycopg import sql

from ._support import run_sample

TICK = "2024-05-01T00:00:00+00:00"  # with CLEANUP_DAYS=30 the cutoff is 2024-04-01T00:00Z
CONTEXT = {"CHORUS_EXECUTION_ID": "31", "CHORUS_ATTEMPT": "1", "CHORUS_SCHEDULED_AT": TICK}

# (id, created_at) in the formats SQLite applications really store.
SQLITE_ROWS = [
    (1, "2024-01-15 08:00:00"),  # old
    (2, "2024-02-01T12:00:00Z"),  # old
    (3, "2024-03-31 23:59:59.5"),  # old, just before the cutoff
    (4, "2024-04-01T01:30:00+02:00"),  # 2024-03-31T23:30Z: old despite its date
    (5, "2024-04-01 00:00:00"),  # exactly the cutoff: kept
    (6, "2024-04-20T10:00:00Z"),  # new
    (7, None),  # no timestamp: kept
    *[(100 + n, f"2023-12-{n + 1:02d} 00:00:00") for n in range(7)],  # old, for batching
]
SQLITE_OLD = {1, 2, 3, 4, *range(100, 107)}
SQLITE_KEPT = {5, 6, 7}


@pytest.fixture
def sqlite_db(tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, created_at TEXT)"
        )
        connection.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [(row_id, f"event {row_id}", created) for row_id, created in SQLITE_ROWS],
        )
    connection.close()
    return path


def sqlite_env(path, **settings: str) -> dict[str, str]:
    return {**CONTEXT, "DATABASE_URL": f"sqlite:///{path}", "CLEANUP_TABLE": "events", **settings}


def sqlite_ids(path, table: str = "events") -> set[int]:
    with sqlite3.connect(path) as connection:
        ids = {row[0] for row in connection.execute(f"SELECT id FROM {table}")}
    connection.close()
    return ids


def test_sqlite_delete_removes_old_rows_in_batches_and_a_second_run_changes_nothing(sqlite_db):
    env = sqlite_env(sqlite_db, CLEANUP_BATCH_SIZE="4")

    first = run_sample("data-cleanup", env)
    second = run_sample("data-cleanup", env)

    assert first.returncode == 0, first.output
    assert first.lines[0] == (
        f"Starting data-cleanup (execution 31, attempt 1, scheduled at {TICK})"
    )
    assert (
        "Found 11 rows in events older than 2024-04-01T00:00:00+00:00; delete in batches of 4"
        in first.lines
    )
    assert [line for line in first.lines if line.startswith("Batch")] == [
        "Batch 1: deleted 4 rows (4 so far)",
        "Batch 2: deleted 4 rows (8 so far)",
        "Batch 3: deleted 3 rows (11 so far)",
    ]
    assert first.lines[-1] == "Deleted 11 rows from events in 3 batches"
    assert second.returncode == 0, second.output
    assert second.lines[-1] == (
        "Nothing to clean up: no rows in events older than 2024-04-01T00:00:00+00:00"
    )
    assert sqlite_ids(sqlite_db) == SQLITE_KEPT


def test_sqlite_archive_moves_old_rows_to_the_archive_table(sqlite_db):
    env = sqlite_env(sqlite_db, CLEANUP_MODE="archive", CLEANUP_BATCH_SIZE="5")

    first = run_sample("data-cleanup", env)
    second = run_sample("data-cleanup", env)

    assert first.returncode == 0, first.output
    assert "Created archive table events_archive" in first.lines
    assert first.lines[-1] == "Archived 11 rows from events to events_archive in 3 batches"
    assert sqlite_ids(sqlite_db) == SQLITE_KEPT
    assert sqlite_ids(sqlite_db, "events_archive") == SQLITE_OLD
    with sqlite3.connect(sqlite_db) as connection:
        archived = connection.execute(
            "SELECT payload, created_at FROM events_archive WHERE id = 4"
        ).fetchone()
    connection.close()
    assert archived == ("event 4", "2024-04-01T01:30:00+02:00")
    assert second.returncode == 0
    assert second.lines[-1].startswith("Nothing to clean up")
    assert sqlite_ids(sqlite_db, "events_archive") == SQLITE_OLD


def test_sqlite_epoch_seconds_in_a_numeric_column(tmp_path):
    path = tmp_path / "tokens.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE tokens (id INTEGER PRIMARY KEY, issued INTEGER)")
        # 2024-03-01T00:00Z (old) and 2024-04-15T00:00Z (new)
        connection.executemany(
            "INSERT INTO tokens VALUES (?, ?)", [(1, 1709251200), (2, 1713139200)]
        )
    connection.close()

    run = run_sample(
        "data-cleanup",
        {
            **CONTEXT,
            "DATABASE_URL": f"sqlite:///{path}",
            "CLEANUP_TABLE": "tokens",
            "CLEANUP_COLUMN": "issued",
        },
    )

    assert run.returncode == 0, run.output
    assert sqlite_ids(path, "tokens") == {2}


def test_dry_run_reports_without_changing_anything(sqlite_db):
    run = run_sample(
        "data-cleanup", sqlite_env(sqlite_db, CLEANUP_DRY_RUN="true", CLEANUP_DAYS="60")
    )

    assert run.returncode == 0, run.output
    # 60 days before the tick is 2024-03-02: only the January and December rows are older.
    assert run.lines[-1] == (
        "Dry run: would delete 9 rows from events older than 2024-03-02T00:00:00+00:00"
    )
    assert sqlite_ids(sqlite_db) == SQLITE_OLD | SQLITE_KEPT


def test_names_that_are_not_plain_identifiers_are_refused(sqlite_db):
    table_injection = run_sample(
        "data-cleanup", sqlite_env(sqlite_db, CLEANUP_TABLE="events; DROP TABLE events")
    )
    column_injection = run_sample(
        "data-cleanup", sqlite_env(sqlite_db, CLEANUP_COLUMN='created_at" OR 1=1 --')
    )

    assert table_injection.returncode == column_injection.returncode == 2
    assert "CLEANUP_TABLE must be a plain SQL name" in table_injection.stderr
    assert "CLEANUP_COLUMN must be a plain SQL name" in column_injection.stderr
    assert sqlite_ids(sqlite_db) == SQLITE_OLD | SQLITE_KEPT


def test_missing_table_column_or_database_file_are_clear_errors(sqlite_db, tmp_path):
    no_table = run_sample("data-cleanup", sqlite_env(sqlite_db, CLEANUP_TABLE="audit"))
    no_column = run_sample("data-cleanup", sqlite_env(sqlite_db, CLEANUP_COLUMN="updated_at"))
    missing_file = tmp_path / "missing.db"
    no_file = run_sample("data-cleanup", sqlite_env(missing_file))

    assert [no_table.returncode, no_column.returncode, no_file.returncode] == [1, 1, 1]
    assert "Error: table audit does not exist in this database" in no_table.stderr
    assert (
        "Error: table events has no column updated_at (its columns: id, payload, created_at)"
        in no_column.stderr
    )
    assert f"Error: SQLite database file {missing_file} does not exist" in no_file.stderr
    assert not missing_file.exists()


def test_missing_or_invalid_settings_exit_2(sqlite_db):
    no_url = run_sample("data-cleanup", {**CONTEXT, "CLEANUP_TABLE": "events"})
    no_table = run_sample("data-cleanup", {**CONTEXT, "DATABASE_URL": f"sqlite:///{sqlite_db}"})
    mysql = run_sample("data-cleanup", sqlite_env(sqlite_db, DATABASE_URL="mysql://u:p@db/app"))
    bad_mode = run_sample("data-cleanup", sqlite_env(sqlite_db, CLEANUP_MODE="purge"))
    bad_days = run_sample("data-cleanup", sqlite_env(sqlite_db, CLEANUP_DAYS="-3"))

    assert [r.returncode for r in (no_url, no_table, mysql, bad_mode, bad_days)] == [2] * 5
    assert no_url.stderr.startswith("Error: DATABASE_URL is not set")
    assert no_table.stderr.startswith("Error: CLEANUP_TABLE is not set")
    assert "DATABASE_URL must start with sqlite:///, postgres:// or postgresql://" in mysql.stderr
    assert "CLEANUP_MODE must be delete or archive, got 'purge'" in bad_mode.stderr
    assert "CLEANUP_DAYS must be between 1 and" in bad_days.stderr
    assert sqlite_ids(sqlite_db) == SQLITE_OLD | SQLITE_KEPT


# --- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A database of its own on the PostgreSQL server the suite uses (created if needed)."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        configured = "postgres://chorus:chorus@127.0.0.1:5432/chorus"
    parts = urllib.parse.urlsplit(configured)
    maintenance = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'chorus_samples'"
        ).fetchone()
        if not exists:
            try:
                connection.execute("CREATE DATABASE chorus_samples")
            except psycopg.errors.DuplicateDatabase:
                pass  # a concurrent test run created it first
    return urllib.parse.urlunsplit(parts._replace(path="/chorus_samples"))


@pytest.fixture
def pg_events(postgres_url):
    """A freshly filled events table with a unique name, so concurrent runs never collide."""
    table = f"events_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        try:
            connection.execute(
                sql.SQL(
                    "CREATE TABLE {} (id bigserial PRIMARY KEY, payload text NOT NULL, "
                    "created_at timestamptz, seen_at timestamp, note text)"
                ).format(sql.Identifier(table))
            )
            # Row n is n days before the tick, both as timestamptz and as naive UTC timestamp.
            connection.execute(
                sql.SQL(
                    "INSERT INTO {} (payload, created_at, seen_at, note) "
                    "SELECT 'event ' || n, %s::timestamptz - n * interval '1 day', "
                    "(%s::timestamptz - n * interval '1 day') AT TIME ZONE 'UTC', 'n' "
                    "FROM generate_series(1, 45) AS n"
                ).format(sql.Identifier(table)),
                (TICK, TICK),
            )
            connection.execute(
                sql.SQL("INSERT INTO {} (payload, created_at) VALUES ('undated', NULL)").format(
                    sql.Identifier(table)
                )
            )
            yield connection, table
        finally:
            for name in (table, f"{table}_archive"):
                connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def payloads(connection, table: str) -> set[str]:
    rows = connection.execute(sql.SQL("SELECT payload FROM {}").format(sql.Identifier(table)))
    return {row[0] for row in rows}


KEPT = {f"event {n}" for n in range(1, 31)} | {"undated"}  # up to 30 days old, or no date
OLD = {f"event {n}" for n in range(31, 46)}


def test_postgres_delete_in_batches_is_idempotent(postgres_url, pg_events):
    connection, table = pg_events
    env = {
        **CONTEXT,
        "DATABASE_URL": postgres_url,
        "CLEANUP_TABLE": table,
        "CLEANUP_BATCH_SIZE": "4",
    }

    first = run_sample("data-cleanup", env)
    second = run_sample("data-cleanup", env)

    assert first.returncode == 0, first.output
    assert (
        f"Found 15 rows in {table} older than 2024-04-01T00:00:00+00:00; delete in batches of 4"
        in first.lines
    )
    assert first.lines[-1] == f"Deleted 15 rows from {table} in 4 batches"
    assert payloads(connection, table) == KEPT
    assert second.returncode == 0, second.output
    assert second.lines[-1] == (
        f"Nothing to clean up: no rows in {table} older than 2024-04-01T00:00:00+00:00"
    )
    assert payloads(connection, table) == KEPT


def test_postgres_archive_moves_rows_with_their_values(postgres_url, pg_events):
    connection, table = pg_events
    env = {
        **CONTEXT,
        "DATABASE_URL": postgres_url,
        "CLEANUP_TABLE": table,
        "CLEANUP_MODE": "archive",
        "CLEANUP_COLUMN": "seen_at",
        "CLEANUP_DAYS": "40",
        # A session time zone far from UTC: the sample must still read naive timestamps as UTC.
        "PGTZ": "Pacific/Auckland",
    }

    first = run_sample("data-cleanup", env)
    second = run_sample("data-cleanup", env)

    assert first.returncode == 0, first.output
    assert f"Created archive table {table}_archive" in first.lines
    assert first.lines[-1] == f"Archived 5 rows from {table} to {table}_archive in 1 batch"
    archived = {f"event {n}" for n in range(41, 46)}
    assert payloads(connection, f"{table}_archive") == archived
    # seen_at is NULL for the undated row, so it stays.
    assert payloads(connection, table) == (OLD | KEPT) - archived
    row = connection.execute(
        sql.SQL("SELECT id, created_at::text, note FROM {} WHERE payload = 'event 45'").format(
            sql.Identifier(f"{table}_archive")
        )
    ).fetchone()
    assert row == (45, "2024-03-17 00:00:00+00", "n")
    assert second.returncode == 0
    assert second.lines[-1].startswith("Nothing to clean up")
    assert len(payloads(connection, f"{table}_archive")) == 5


def test_postgres_refuses_a_column_that_is_not_a_timestamp(postgres_url, pg_events):
    connection, table = pg_events

    run = run_sample(
        "data-cleanup",
        {**CONTEXT, "DATABASE_URL": postgres_url, "CLEANUP_TABLE": table, "CLEANUP_COLUMN": "note"},
    )

    assert run.returncode == 1
    assert (
        f"Error: column note of {table} is text; it must be a timestamp or date column"
        in run.stderr
    )
    assert payloads(connection, table) == OLD | KEPT


def test_postgres_connection_failure_never_logs_the_password(postgres_url):
    parts = urllib.parse.urlsplit(postgres_url)
    wrong = urllib.parse.urlunsplit(
        parts._replace(netloc=f"{parts.username}:Wr0ngSecret@{parts.hostname}:{parts.port or 5432}")
    )

    run = run_sample("data-cleanup", {**CONTEXT, "DATABASE_URL": wrong, "CLEANUP_TABLE": "events"})

    assert run.returncode == 1
    assert f"Error: cannot connect to postgres://{parts.username}:***@" in run.stderr.replace(
        "postgresql://", "postgres://"
    )
    assert "password authentication failed" in run.stderr
    assert "Wr0ngSecret" not in run.output


def test_postgres_without_psycopg_says_what_to_install(postgres_url):
    # The same interpreter with psycopg made unimportable, as in an image built from the
    # sample's requirements.txt as shipped.
    hide_psycopg = (
        "import runpy, sys; sys.modules['psycopg'] = None; "
        "runpy.run_path('main.py', run_name='__main__')"
    )

    run = run_sample(
        "data-cleanup",
        {**CONTEXT, "DATABASE_URL": postgres_url, "CLEANUP_TABLE": "events"},
        argv=[sys.executable, "-c", hide_psycopg],
    )

    assert run.returncode == 1
    assert (
        "Error: DATABASE_URL points at PostgreSQL, but psycopg (version 3) is not installed; "
        "add psycopg[binary] to requirements.txt"
    ) in run.stderr
