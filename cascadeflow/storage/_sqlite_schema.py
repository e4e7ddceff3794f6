"""The SQLite ledger's schema, its version, and opening a connection ready to use it.

The version lives in ``PRAGMA user_version`` so that a later release can migrate a file
written by this one, and so that this release refuses a file written by a newer one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from cascadeflow._exceptions import StoreUnavailableError

#: The schema version this module creates and understands.
SCHEMA_VERSION = 3

# entries is clustered on its id (WITHOUT ROWID): one B-tree, and since generated ids start
# with the time they append at its right edge, so a commit dirties one page of it. It has
# no other index on purpose: every index is one more page written by every commit, while
# the queries filtering on user, model or provider are reports that may scan. Spend per
# user and period, the hot read, lives in `counters`, kept by the trigger below so that a
# record is a single INSERT (one statement, one implicit transaction).
# The instant is POSIX seconds (exact to the microsecond in a double) plus the UTC offset it
# was written with; `timestamp` is computed on read, for people looking at the file.
_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS entries (
        id TEXT PRIMARY KEY,
        ts REAL NOT NULL,
        utc_offset INTEGER NOT NULL,
        timestamp TEXT GENERATED ALWAYS AS
            (strftime('%Y-%m-%dT%H:%M:%fZ', ts, 'unixepoch')) VIRTUAL,
        user_id TEXT,
        user_tier TEXT,
        model TEXT NOT NULL,
        provider TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cost REAL NOT NULL,
        cost_nanos INTEGER NOT NULL,
        query_id TEXT,
        metadata TEXT NOT NULL,
        period_set INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID
    """,
    # The period keys an entry counts toward, stored once per distinct set (a new set a
    # day) so that each entry row carries a small integer instead of the keys' text.
    """
    CREATE TABLE IF NOT EXISTS period_sets (
        id INTEGER PRIMARY KEY,
        period_keys TEXT NOT NULL UNIQUE
    )
    """,
    "INSERT OR IGNORE INTO period_sets (id, period_keys) VALUES (0, '[]')",
    """
    CREATE TABLE IF NOT EXISTS counters (
        user_id TEXT NOT NULL,
        period_key TEXT NOT NULL,
        spent_nanos INTEGER NOT NULL,
        PRIMARY KEY (user_id, period_key)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS leases (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        amount_nanos INTEGER NOT NULL,
        expires_at REAL NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS leases_user_id ON leases (user_id, expires_at)",
    """
    CREATE TABLE IF NOT EXISTS users (
        user_id TEXT PRIMARY KEY,
        tier TEXT
    ) WITHOUT ROWID
    """,
    # Recording an entry adds its cost to the user's counters for each of its period keys,
    # remembers the tier (rewriting the row only when it changed: one WAL frame less) and
    # ends the reservation whose id it carries (a settlement), all in the INSERT's own
    # transaction. A repeated id inserts nothing, so none of this runs twice.
    """
    CREATE TRIGGER IF NOT EXISTS entries_recorded AFTER INSERT ON entries
    WHEN NEW.user_id IS NOT NULL
    BEGIN
        INSERT INTO counters (user_id, period_key, spent_nanos)
            SELECT NEW.user_id, value, NEW.cost_nanos FROM json_each(
                (SELECT period_keys FROM period_sets WHERE id = NEW.period_set))
            WHERE true
            ON CONFLICT (user_id, period_key)
            DO UPDATE SET spent_nanos = spent_nanos + excluded.spent_nanos;
        INSERT INTO users (user_id, tier)
            SELECT NEW.user_id, NEW.user_tier
            WHERE NEW.user_tier IS NOT NULL OR NEW.period_set = 0
            ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier
            WHERE excluded.tier IS NOT NULL AND tier IS NOT excluded.tier;
        DELETE FROM leases WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS anonymous_entry_recorded AFTER INSERT ON entries
    WHEN NEW.user_id IS NULL
    BEGIN
        DELETE FROM leases WHERE id = NEW.id;
    END
    """,
    # Version 3: counters and holds of owners other than users (scopes, model caps, quotas,
    # rate limits), kept apart from users' so the two namespaces never mix, and settings
    # (stored limits, as text the tracker encodes) with a version readers poll.
    """
    CREATE TABLE IF NOT EXISTS owner_counters (
        owner TEXT NOT NULL,
        period_key TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (owner, period_key)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS holds (
        owner TEXT NOT NULL,
        lease_id TEXT NOT NULL,
        amount INTEGER NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (owner, lease_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS settings_version (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        version INTEGER NOT NULL
    )
    """,
    "INSERT OR IGNORE INTO settings_version (id, version) VALUES (0, 0)",
)

# Run once by a file older than version 3 (a fresh file too, after _TABLES). A lease that
# holds on owners lists them in `holds` (JSON); however it ends (settle, release, expiry
# purge, the record trigger all delete its row) its holds go with it, found by primary
# key. A user-only lease has none and fires no trigger.
_TO_VERSION_3 = (
    "ALTER TABLE leases ADD COLUMN holds TEXT",
    """
    CREATE TRIGGER IF NOT EXISTS lease_dropped AFTER DELETE ON leases
    WHEN OLD.holds IS NOT NULL
    BEGIN
        DELETE FROM holds WHERE lease_id = OLD.id
            AND owner IN (SELECT value FROM json_each(OLD.holds));
    END
    """,
)

#: The tables a reset empties.
TABLE_NAMES = ("entries", "counters", "leases", "users", "owner_counters", "holds")

SYNCHRONOUS_MODES = ("NORMAL", "FULL")
MINIMUM_SQLITE = (3, 31, 0)
PAGE_SIZE = 1024
WAL_AUTOCHECKPOINT_PAGES = 8000
WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024


def connect(
    path: str | os.PathLike[str], *, timeout: float, synchronous: str
) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with the ledger's schema in place.

    The connection runs in autocommit mode (``isolation_level=None``): the store issues
    ``BEGIN IMMEDIATE`` / ``COMMIT`` itself, so a returned call is a committed one.
    """
    if synchronous not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, got {synchronous!r}")
    if sqlite3.sqlite_version_info < MINIMUM_SQLITE:
        raise StoreUnavailableError(
            f"SQLiteStore needs SQLite {'.'.join(map(str, MINIMUM_SQLITE))} or newer (upserts,"
            f" aggregate filters, generated columns); this Python has {sqlite3.sqlite_version}"
        )
    conn = sqlite3.connect(
        path, timeout=timeout, isolation_level=None, check_same_thread=False,
        cached_statements=256,
    )
    try:
        # Only takes effect on a fresh file. Small pages make each commit's WAL frames
        # cheaper to write; a commit touches a few pages, each rewritten whole.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        _retry_while_locked(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone(), timeout)
        conn.execute(f"PRAGMA synchronous={synchronous}")
        # Checkpoint less often than the default 1,000 pages: a checkpoint writes each
        # distinct page once, so a longer WAL folds many commits of the same hot pages.
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        _ensure_schema(conn, timeout)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection, timeout: float) -> None:
    version = _user_version(conn)
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreUnavailableError(
            f"the ledger file has schema version {version}, newer than the {SCHEMA_VERSION} "
            "this cascadeflow understands; upgrade cascadeflow to open it"
        )
    # Several processes may open a fresh file at once: the first one to get the write
    # lock creates the schema, the others find it done.
    _retry_while_locked(lambda: conn.execute("BEGIN IMMEDIATE"), timeout)
    try:
        if _user_version(conn) < SCHEMA_VERSION:
            version = _user_version(conn)
            for statement in _TABLES:
                conn.execute(statement)
            if version < 3:
                for statement in _TO_VERSION_3:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _retry_while_locked(step: Callable[[], object], timeout: float) -> None:
    # Switching a fresh file to WAL can report "locked" without consulting the busy
    # handler while another process does the same; retry for as long as the timeout.
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
