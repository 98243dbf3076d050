"""Chorus sample: delete (or archive) rows older than N days, in batches.

Works on SQLite (`sqlite:///relative.db`, `sqlite:////absolute.db`, standard library) and
PostgreSQL (`postgres://` / `postgresql://`, needs psycopg 3). Every batch is its own
transaction, so a long cleanup never holds locks for long and an interrupted run keeps
the batches it finished; archive mode copies and deletes a batch in one transaction, so
a row is never both archived and kept, nor deleted without being archived. The cutoff is
measured from the tick Chorus scheduled (CHORUS_SCHEDULED_AT), so a retry cleans exactly
what the on-time run would have, and a second run finds nothing left to do.

With neither DATABASE_URL nor CLEANUP_TABLE set, the run cleans a demo SQLite database it
creates for itself (a few old and recent rows in a table `events`) and its log says so: a first
deploy with no configuration runs successfully and shows what a cleanup looks like.

Exit codes: 0 done (including "nothing to clean up"), 1 database error,
2 missing or invalid settings.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SAMPLE = "data-cleanup"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# PostgreSQL truncates longer names silently (NAMEDATALEN - 1); refuse instead.
MAX_IDENTIFIER_LENGTH = 63
ARCHIVE_SUFFIX = "_archive"
POSTGRES_TIME_TYPES = {"timestamp with time zone", "timestamp without time zone", "date"}


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


class CleanupError(Exception):
    """The database refused or lacks what the cleanup needs; the message says what."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    table: str
    column: str
    days: int
    batch_size: int
    mode: str
    dry_run: bool
    reference: datetime

    @property
    def cutoff(self) -> datetime:
        return self.reference - timedelta(days=self.days)

    @property
    def archive_table(self) -> str:
        return self.table + ARCHIVE_SUFFIX


def log(message: str) -> None:
    print(message, flush=True)


def announce_start() -> None:
    execution = os.environ.get("CHORUS_EXECUTION_ID") or "manual"
    attempt = os.environ.get("CHORUS_ATTEMPT") or "1"
    scheduled = os.environ.get("CHORUS_SCHEDULED_AT") or "not scheduled"
    log(f"Starting {SAMPLE} (execution {execution}, attempt {attempt}, scheduled at {scheduled})")


def count(number: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("ch") else "s")
    return f"{number} {noun if number == 1 else plural}"


def quote(identifier: str) -> str:
    """Quote a name for SQL. Names from settings are validated first; names read from the
    database's own catalog may hold anything, so quotes inside are doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def redact(url: str) -> str:
    """The URL with its password hidden, fit for logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def parse_timestamp(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def positive_int(env: dict[str, str], name: str, default: int, maximum: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not 1 <= value <= maximum:
        raise SettingsError(f"{name} must be between 1 and {maximum}, got {value}")
    return value


def identifier(env: dict[str, str], name: str, default: str | None) -> str:
    value = env.get(name, "").strip() or default
    if not value:
        raise SettingsError(f"{name} is not set; set it to the table to clean up")
    # Names are interpolated into SQL (placeholders cannot stand for names), so only plain
    # identifiers are accepted: letters, digits and underscores.
    if not IDENTIFIER.match(value) or len(value) > MAX_IDENTIFIER_LENGTH:
        raise SettingsError(
            f"{name} must be a plain SQL name (letters, digits, underscores; at most "
            f"{MAX_IDENTIFIER_LENGTH} characters), got {value!r}"
        )
    return value


def read_settings(env: dict[str, str]) -> Settings:
    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url:
        raise SettingsError(
            "DATABASE_URL is not set; use sqlite:///path/to.db or postgres://user:pass@host/db"
        )
    scheme = urllib.parse.urlsplit(database_url).scheme.lower()
    if scheme not in ("sqlite", "postgres", "postgresql"):
        raise SettingsError(
            f"DATABASE_URL must start with sqlite:///, postgres:// or postgresql://, "
            f"got a {scheme or 'schemeless'} URL"
        )
    if scheme == "sqlite" and not sqlite_path(database_url):
        raise SettingsError(
            "DATABASE_URL sqlite:/// needs a file path, e.g. sqlite:////data/app.db"
        )

    table = identifier(env, "CLEANUP_TABLE", None)
    if len(table) + len(ARCHIVE_SUFFIX) > MAX_IDENTIFIER_LENGTH:
        raise SettingsError(
            f"CLEANUP_TABLE {table!r} is too long to name its archive table {table}{ARCHIVE_SUFFIX}"
        )
    column = identifier(env, "CLEANUP_COLUMN", "created_at")

    mode = (env.get("CLEANUP_MODE", "").strip() or "delete").lower()
    if mode not in ("delete", "archive"):
        raise SettingsError(f"CLEANUP_MODE must be delete or archive, got {mode!r}")

    dry_run_raw = env.get("CLEANUP_DRY_RUN", "").strip().lower()
    if dry_run_raw not in ("", "0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"CLEANUP_DRY_RUN must be true or false, got {dry_run_raw!r}")

    raw_reference = env.get("CHORUS_SCHEDULED_AT", "").strip()
    try:
        reference = parse_timestamp(raw_reference) if raw_reference else datetime.now(UTC)
    except ValueError:
        raise SettingsError(
            f"CHORUS_SCHEDULED_AT must be an ISO 8601 timestamp, got {raw_reference!r}"
        ) from None

    return Settings(
        database_url=database_url,
        table=table,
        column=column,
        days=positive_int(env, "CLEANUP_DAYS", 30, 365_000),
        batch_size=positive_int(env, "CLEANUP_BATCH_SIZE", 500, 1_000_000),
        mode=mode,
        dry_run=dry_run_raw in ("1", "true", "yes"),
        reference=reference,
    )


def sqlite_path(database_url: str) -> str:
    # sqlite:///app.db is relative, sqlite:////data/app.db absolute (SQLAlchemy and
    # dj-database-url spell it the same way).
    return urllib.parse.unquote(database_url.split(":///", 1)[1]) if ":///" in database_url else ""


class SQLiteTarget:
    """Rows are addressed by rowid; timestamps may be ISO text (any of SQLite's date
    formats, with or without an offset) or Unix epoch numbers."""

    def __init__(self, settings: Settings) -> None:
        path = sqlite_path(settings.database_url)
        if not os.path.exists(path):
            # sqlite3.connect would quietly create an empty database and then report a
            # missing table; name the real problem instead.
            raise CleanupError(f"SQLite database file {path} does not exist")
        try:
            # Autocommit mode: every batch opens its own explicit transaction.
            self.connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            raise CleanupError(f"cannot open SQLite database {path}: {error}") from None
        self.settings = settings

    def columns(self, table: str) -> list[str]:
        rows = self.connection.execute("SELECT name FROM pragma_table_info(?)", (table,))
        return [row[0] for row in rows]

    def check_column_type(self) -> None:
        """SQLite columns have no strict type; condition() copes with text and numbers."""

    def condition(self) -> tuple[str, tuple[object, ...]]:
        column = quote(self.settings.column)
        cutoff = self.settings.cutoff
        # julianday() understands every SQLite date format and normalises offsets to UTC,
        # which a plain text comparison would not ('2024-01-01 10:00' > '2024-01-01T09:00'
        # is false). NULL or unparseable values compare as NULL, so they are kept.
        sql = (
            f"(CASE WHEN typeof({column}) IN ('integer', 'real') THEN {column} < ? "
            f"ELSE julianday({column}) < julianday(?) END)"
        )
        return sql, (cutoff.timestamp(), cutoff.strftime("%Y-%m-%d %H:%M:%S.%f"))

    def count(self) -> int:
        where, params = self.condition()
        sql = f"SELECT count(*) FROM {quote(self.settings.table)} WHERE {where}"
        return int(self.connection.execute(sql, params).fetchone()[0])

    def create_archive(self) -> bool:
        if self.columns(self.settings.archive_table):
            return False
        self.connection.execute(
            f"CREATE TABLE {quote(self.settings.archive_table)} AS "
            f"SELECT * FROM {quote(self.settings.table)} WHERE 0"
        )
        return True

    def run_batch(self, columns: list[str]) -> int:
        table = quote(self.settings.table)
        where, params = self.condition()
        batch = f"SELECT rowid FROM {table} WHERE {where} ORDER BY rowid LIMIT ?"
        batch_params = (*params, self.settings.batch_size)
        # IMMEDIATE takes the write lock up front, so the rows chosen for the archive copy
        # are exactly the rows the delete removes.
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            if self.settings.mode == "archive":
                names = ", ".join(quote(name) for name in columns)
                self.connection.execute(
                    f"INSERT INTO {quote(self.settings.archive_table)} ({names}) "
                    f"SELECT {names} FROM {table} WHERE rowid IN ({batch})",
                    batch_params,
                )
            deleted = self.connection.execute(
                f"DELETE FROM {table} WHERE rowid IN ({batch})", batch_params
            ).rowcount
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        return deleted

    def close(self) -> None:
        self.connection.close()


class PostgresTarget:
    """Rows are addressed by ctid within a batch; the session runs in UTC so that
    `timestamp without time zone` columns are read as UTC."""

    def __init__(self, settings: Settings) -> None:
        if importlib.util.find_spec("psycopg") is None:
            raise CleanupError(
                "DATABASE_URL points at PostgreSQL, but psycopg (version 3) is not installed; "
                "add psycopg[binary] to requirements.txt"
            )
        import psycopg

        try:
            # Autocommit: catalog reads take no lasting snapshot, and each batch opens its
            # own transaction below.
            self.connection = psycopg.connect(
                settings.database_url, autocommit=True, connect_timeout=30
            )
        except psycopg.Error as error:
            raise CleanupError(
                f"cannot connect to {redact(settings.database_url)}: {str(error).strip()}"
            ) from None
        self.connection.execute("SET TIME ZONE 'UTC'")
        self.settings = settings

    def _column_rows(self, table: str) -> list[tuple[str, str]]:
        rows = self.connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def columns(self, table: str) -> list[str]:
        return [name for name, _ in self._column_rows(table)]

    def check_column_type(self) -> None:
        types = dict(self._column_rows(self.settings.table))
        column_type = types.get(self.settings.column)
        if column_type not in POSTGRES_TIME_TYPES:
            raise CleanupError(
                f"column {self.settings.column} of {self.settings.table} is {column_type}; "
                "it must be a timestamp or date column"
            )

    def condition(self) -> tuple[str, tuple[object, ...]]:
        return f"{quote(self.settings.column)} < %s", (self.settings.cutoff,)

    def count(self) -> int:
        where, params = self.condition()
        sql = f"SELECT count(*) FROM {quote(self.settings.table)} WHERE {where}"
        return int(self.connection.execute(sql, params).fetchone()[0])

    def create_archive(self) -> bool:
        if self.columns(self.settings.archive_table):
            return False
        # LIKE copies names, types and NOT NULL; not defaults or keys, so archived rows
        # keep their original ids and never collide with each other.
        self.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(self.settings.archive_table)} "
            f"(LIKE {quote(self.settings.table)})"
        )
        return True

    def run_batch(self, columns: list[str]) -> int:
        table = quote(self.settings.table)
        where, params = self.condition()
        batch = f"ARRAY(SELECT ctid FROM {table} WHERE {where} LIMIT %s FOR UPDATE SKIP LOCKED)"
        batch_params = (*params, self.settings.batch_size)
        with self.connection.transaction():
            if self.settings.mode == "archive":
                names = ", ".join(quote(name) for name in columns)
                # One statement moves the batch: the rows deleted are the rows archived.
                cursor = self.connection.execute(
                    f"WITH moved AS (DELETE FROM {table} WHERE ctid = ANY({batch}) "
                    f"RETURNING {names}) "
                    f"INSERT INTO {quote(self.settings.archive_table)} ({names}) "
                    f"SELECT {names} FROM moved",
                    batch_params,
                )
            else:
                cursor = self.connection.execute(
                    f"DELETE FROM {table} WHERE ctid = ANY({batch})", batch_params
                )
            return cursor.rowcount

    def close(self) -> None:
        self.connection.close()


def open_target(settings: Settings) -> SQLiteTarget | PostgresTarget:
    if urllib.parse.urlsplit(settings.database_url).scheme.lower() == "sqlite":
        return SQLiteTarget(settings)
    return PostgresTarget(settings)


def clean(settings: Settings) -> None:
    target = open_target(settings)
    try:
        columns = target.columns(settings.table)
        if not columns:
            raise CleanupError(f"table {settings.table} does not exist in this database")
        if settings.column not in columns:
            raise CleanupError(
                f"table {settings.table} has no column {settings.column} "
                f"(its columns: {', '.join(columns)})"
            )
        target.check_column_type()

        cutoff = settings.cutoff.isoformat()
        pending = target.count()
        if pending == 0:
            log(f"Nothing to clean up: no rows in {settings.table} older than {cutoff}")
            return
        verb = "archive" if settings.mode == "archive" else "delete"
        if settings.dry_run:
            log(
                f"Dry run: would {verb} {count(pending, 'row')} from {settings.table} older than {cutoff}"
            )
            return
        log(
            f"Found {count(pending, 'row')} in {settings.table} older than {cutoff}; {verb} in batches of {settings.batch_size}"
        )

        if settings.mode == "archive":
            if target.create_archive():
                log(f"Created archive table {settings.archive_table}")
            archive_columns = target.columns(settings.archive_table)
            missing = [name for name in columns if name not in archive_columns]
            if missing:
                raise CleanupError(
                    f"archive table {settings.archive_table} lacks column(s) {', '.join(missing)} "
                    f"of {settings.table}"
                )

        done = batches = 0
        while True:
            moved = target.run_batch(columns)
            if moved == 0:
                break
            batches += 1
            done += moved
            past = "archived" if settings.mode == "archive" else "deleted"
            log(f"Batch {batches}: {past} {count(moved, 'row')} ({done} so far)")

        if settings.mode == "archive":
            log(
                f"Archived {count(done, 'row')} from {settings.table} to {settings.archive_table} "
                f"in {count(batches, 'batch')}"
            )
        else:
            log(f"Deleted {count(done, 'row')} from {settings.table} in {count(batches, 'batch')}")
    finally:
        target.close()


def demo_database(env: dict[str, str]) -> dict[str, str]:
    """A throwaway SQLite database with old and recent rows; settings that clean it."""
    raw_reference = env.get("CHORUS_SCHEDULED_AT", "").strip()
    try:
        reference = parse_timestamp(raw_reference) if raw_reference else datetime.now(UTC)
    except ValueError:
        reference = datetime.now(UTC)  # read_settings names the bad value
    folder = tempfile.mkdtemp(prefix="chorus-demo-")
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, "demo.db")
    ages = [400, 120, 45, 31, 10, 1]  # days before the tick: the first four are past 30 days
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, created_at TEXT)"
        )
        connection.executemany(
            "INSERT INTO events VALUES (?, ?, ?)",
            [
                (n, f"demo event {n}", (reference - timedelta(days=age)).isoformat())
                for n, age in enumerate(ages, start=1)
            ],
        )
    connection.close()
    log(
        "DATABASE_URL and CLEANUP_TABLE are not set: cleaning a demo SQLite database made for "
        f"this run ({count(len(ages), 'row')} in table events). Set DATABASE_URL and "
        "CLEANUP_TABLE to clean your own table."
    )
    return {**env, "DATABASE_URL": f"sqlite:///{path}", "CLEANUP_TABLE": "events"}


def main() -> int:
    announce_start()
    env = dict(os.environ)
    if not env.get("DATABASE_URL", "").strip() and not env.get("CLEANUP_TABLE", "").strip():
        env = demo_database(env)
    try:
        settings = read_settings(env)
    except SettingsError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 2

    log(
        f"Cleaning {settings.table} in {redact(settings.database_url)}: rows with "
        f"{settings.column} older than {settings.days} days (mode {settings.mode})"
    )
    try:
        clean(settings)
    except CleanupError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 1
    except sqlite3.Error as error:
        print(f"Error: SQLite failed: {error}", file=sys.stderr, flush=True)
        return 1
    except Exception as error:
        # psycopg is imported lazily, so its errors are recognised by module name here.
        if type(error).__module__.startswith("psycopg"):
            print(f"Error: PostgreSQL failed: {str(error).strip()}", file=sys.stderr, flush=True)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
