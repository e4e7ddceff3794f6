"""The PostgreSQL ledger's schema: its tables and functions, in a schema of its own, and migrations.

Everything lives under one PostgreSQL schema (``cascadeflow`` by default), so the ledger can share
a database (e.g. the LiteLLM proxy's) without touching a table it does not own. The version it
is at is recorded in ``<schema>.schema_version``; many workers starting at once against an empty
database serialize on an advisory lock, the first migrates and the others find it done. The
statements the store sends to these tables and functions are here too, with their parameters
and the decoding of their replies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cascadeflow._exceptions import StoreUnavailableError
from cascadeflow.storage._base import (
    ADD_ONLY_OWNER,
    CounterUsage,
    Usage,
    refuse_add_only_limits,
)
from cascadeflow.storage._sqlite import _entry_row

if TYPE_CHECKING:
    from cascadeflow._entry import CostEntry
    from cascadeflow.storage._base import CounterAdd, CounterLimit, PeriodKey, PeriodLimit

Rows = list[tuple[Any, ...]]

#: The schema version this module creates and understands.
SCHEMA_VERSION = 2

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Version 1. Amounts are BIGINT nano-dollars. `entries.seq` keeps the order of recording.
# Leases are the user's reservations; `holds` what a lease holds on other owners (scopes,
# caps, rate limits), deleted with it (ON DELETE CASCADE), so every way a lease ends (settle,
# release, expiry purge) frees its holds in the same statement.
_VERSION_1 = """
CREATE TABLE {s}.entries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    utc_offset INTEGER NOT NULL,
    user_id TEXT,
    user_tier TEXT,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    tokens BIGINT NOT NULL,
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    cost DOUBLE PRECISION NOT NULL,
    cost_nanos BIGINT NOT NULL,
    query_id TEXT,
    metadata TEXT NOT NULL
);
CREATE TABLE {s}.counters (
    user_id TEXT NOT NULL,
    period_key TEXT NOT NULL,
    spent_nanos BIGINT NOT NULL,
    PRIMARY KEY (user_id, period_key)
);
CREATE TABLE {s}.leases (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    amount_nanos BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX leases_user_id ON {s}.leases (user_id, expires_at);
CREATE TABLE {s}.users (
    user_id TEXT PRIMARY KEY,
    tier TEXT
);
CREATE TABLE {s}.owner_counters (
    owner TEXT NOT NULL,
    period_key TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (owner, period_key)
);
CREATE TABLE {s}.holds (
    owner TEXT NOT NULL,
    lease_id TEXT NOT NULL REFERENCES {s}.leases (id) ON DELETE CASCADE,
    amount BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (owner, lease_id)
);
CREATE INDEX holds_lease_id ON {s}.holds (lease_id);
CREATE TABLE {s}.settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE {s}.settings_version (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    version BIGINT NOT NULL
);
INSERT INTO {s}.settings_version (id, version) VALUES (0, 0);

-- Advisory locks on the user and owners a call checks or changes, taken in ascending key order
-- so that two calls sharing some of them can never deadlock. Keys are hashes of the schema
-- and the name: a collision only serializes two unrelated calls.
CREATE FUNCTION {s}.lock_names(p_names TEXT[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k BIGINT;
BEGIN
    FOR k IN SELECT DISTINCT hashtextextended({q} || '/' || n, 0) FROM unnest(p_names) AS n
             WHERE n IS NOT NULL ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
END $$;

-- Check-and-reserve, one statement (its own transaction). Under the locks, each query of the
-- function sees every call that held them before (READ COMMITTED takes a snapshot per query).
-- Answers {{1}} when granted, else {{0, index (1-based: user limits, then counters), counted,
-- held}}. A lease id that is already open answers granted: a retried call changes nothing.
CREATE FUNCTION {s}.reserve(
    p_id TEXT, p_user TEXT, p_amount BIGINT, p_now DOUBLE PRECISION,
    p_expires DOUBLE PRECISION, p_keys TEXT[], p_limits BIGINT[], p_owners TEXT[],
    p_owner_keys TEXT[], p_owner_limits BIGINT[], p_holds BIGINT[], p_adds BIGINT[]
) RETURNS BIGINT[] LANGUAGE plpgsql AS $$
DECLARE
    v_reserved BIGINT;
    v_spent BIGINT;
    v_used BIGINT;
    v_held BIGINT;
    v_index BIGINT;
    n_keys INTEGER := COALESCE(array_length(p_keys, 1), 0);
    n_owners INTEGER := COALESCE(array_length(p_owners, 1), 0);
BEGIN
    IF EXISTS (SELECT 1 FROM {s}.leases WHERE id = p_id) THEN
        RETURN ARRAY[1];
    END IF;
    IF n_owners = 0 THEN
        PERFORM pg_advisory_xact_lock(hashtextextended({q} || '/u/' || p_user, 0));
    ELSE
        PERFORM {s}.lock_names(array_prepend('u/' || p_user,
            ARRAY(SELECT 'o/' || o FROM unnest(p_owners) AS o)));
    END IF;
    DELETE FROM {s}.leases WHERE user_id = p_user AND expires_at <= p_now;
    SELECT COALESCE(SUM(amount_nanos), 0) INTO v_reserved FROM {s}.leases
        WHERE user_id = p_user;
    -- Every user limit in one query: the first that refuses, if any.
    SELECT t.i, COALESCE(c.spent_nanos, 0) INTO v_index, v_spent
        FROM unnest(p_keys, p_limits) WITH ORDINALITY AS t (k, lim, i)
        LEFT JOIN {s}.counters AS c ON c.user_id = p_user AND c.period_key = t.k
        WHERE COALESCE(c.spent_nanos, 0) + v_reserved >= t.lim
           OR COALESCE(c.spent_nanos, 0) + v_reserved + p_amount > t.lim
        ORDER BY t.i LIMIT 1;
    IF v_index IS NOT NULL THEN
        RETURN ARRAY[0, v_index, v_spent, v_reserved];
    END IF;
    IF n_owners > 0 THEN
        DELETE FROM {s}.leases WHERE id IN (SELECT lease_id FROM {s}.holds
            WHERE owner = ANY(p_owners) AND expires_at <= p_now);
        FOR i IN 1 .. n_owners LOOP
            v_held := (SELECT COALESCE(SUM(amount), 0) FROM {s}.holds
                       WHERE owner = p_owners[i]);
            v_spent := COALESCE((SELECT value FROM {s}.owner_counters
                                 WHERE owner = p_owners[i] AND period_key = p_owner_keys[i]), 0);
            v_used := v_spent + v_held;
            IF v_used >= p_owner_limits[i]
                    OR v_used + p_holds[i] + p_adds[i] > p_owner_limits[i] THEN
                RETURN ARRAY[0, n_keys + i, v_spent, v_held];
            END IF;
        END LOOP;
    END IF;
    INSERT INTO {s}.leases (id, user_id, amount_nanos, expires_at)
        VALUES (p_id, p_user, p_amount, p_expires);
    IF n_owners > 0 THEN
        -- One hold per owner: the last non-zero hold given for it.
        INSERT INTO {s}.holds (owner, lease_id, amount, expires_at)
            SELECT DISTINCT ON (o) o, p_id, h, p_expires
            FROM unnest(p_owners, p_holds) WITH ORDINALITY AS t (o, h, ord)
            WHERE h <> 0 ORDER BY o, ord DESC;
        INSERT INTO {s}.owner_counters (owner, period_key, value)
            SELECT o, k, SUM(a) FROM unnest(p_owners, p_owner_keys, p_adds) AS t (o, k, a)
            WHERE a <> 0 GROUP BY o, k ORDER BY o, k
            ON CONFLICT (owner, period_key)
            DO UPDATE SET value = {s}.owner_counters.value + excluded.value;
    END IF;
    RETURN ARRAY[1];
END $$;

-- Record an entry (and, for a settle, end its lease first), one statement. A repeated entry id
-- records nothing. Rows are changed in one fixed order (lease, entry, user counters by key,
-- user, owner counters by owner and key) so concurrent writers cannot deadlock.
CREATE FUNCTION {s}.record_entry(
    p_lease TEXT, p_id TEXT, p_ts DOUBLE PRECISION, p_offset INTEGER, p_user TEXT,
    p_tier TEXT, p_model TEXT, p_provider TEXT, p_tokens BIGINT, p_prompt BIGINT,
    p_completion BIGINT, p_cost DOUBLE PRECISION, p_nanos BIGINT, p_query TEXT,
    p_metadata TEXT, p_keys TEXT[], p_owners TEXT[], p_owner_keys TEXT[], p_amounts BIGINT[]
) RETURNS BOOLEAN LANGUAGE plpgsql AS $$
DECLARE
    v_lease_user TEXT;
BEGIN
    IF p_lease <> '' THEN
        -- A reserve reads counters and holds in several queries: ending a lease while adding
        -- the cost must look like one step to it, so take the locks it takes. A lease that
        -- is gone (released, expired, or this is a retry) is not ended here: a plain record.
        SELECT user_id INTO v_lease_user FROM {s}.leases WHERE id = p_lease;
        IF v_lease_user IS NOT NULL THEN
            IF v_lease_user = p_user AND COALESCE(array_length(p_owners, 1), 0) = 0
                    AND NOT EXISTS (SELECT 1 FROM {s}.holds WHERE lease_id = p_lease) THEN
                PERFORM pg_advisory_xact_lock(hashtextextended({q} || '/u/' || p_user, 0));
            ELSE
                PERFORM {s}.lock_names(ARRAY['u/' || p_user, 'u/' || v_lease_user]
                    || ARRAY(SELECT 'o/' || owner FROM {s}.holds WHERE lease_id = p_lease)
                    || ARRAY(SELECT 'o/' || o FROM unnest(p_owners) AS o));
            END IF;
            DELETE FROM {s}.leases WHERE id = p_lease;
        END IF;
    END IF;
    INSERT INTO {s}.entries (id, ts, utc_offset, user_id, user_tier, model, provider, tokens,
                             prompt_tokens, completion_tokens, cost, cost_nanos, query_id,
                             metadata)
        VALUES (p_id, p_ts, p_offset, p_user, p_tier, p_model, p_provider, p_tokens, p_prompt,
                p_completion, p_cost, p_nanos, p_query, p_metadata)
        ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_user IS NOT NULL THEN
        INSERT INTO {s}.counters (user_id, period_key, spent_nanos)
            SELECT p_user, k, p_nanos * COUNT(*) FROM unnest(p_keys) AS k
            GROUP BY k ORDER BY k
            ON CONFLICT (user_id, period_key)
            DO UPDATE SET spent_nanos = {s}.counters.spent_nanos + excluded.spent_nanos;
        INSERT INTO {s}.users (user_id, tier) VALUES (p_user, p_tier)
            ON CONFLICT (user_id) DO UPDATE SET tier = excluded.tier
            WHERE excluded.tier IS NOT NULL AND {s}.users.tier IS DISTINCT FROM excluded.tier;
    END IF;
    IF COALESCE(array_length(p_owners, 1), 0) > 0 THEN
        INSERT INTO {s}.owner_counters (owner, period_key, value)
            SELECT o, k, SUM(a) FROM unnest(p_owners, p_owner_keys, p_amounts) AS t (o, k, a)
            GROUP BY o, k ORDER BY o, k
            ON CONFLICT (owner, period_key)
            DO UPDATE SET value = {s}.owner_counters.value + excluded.value;
    END IF;
    RETURN true;
END $$;

CREATE FUNCTION {s}.put_setting(p_name TEXT, p_value TEXT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_value IS NULL THEN
        DELETE FROM {s}.settings WHERE name = p_name;
    ELSE
        INSERT INTO {s}.settings (name, value) VALUES (p_name, p_value)
            ON CONFLICT (name) DO UPDATE SET value = excluded.value;
    END IF;
    UPDATE {s}.settings_version SET version = version + 1;
END $$;
"""

# Version 2: the locks of a batch of async writes sent as one transaction (_postgres_batch).
# Taken first, in one sorted order, they are every lock its operations take (their users and
# owners, and for a settle or release the lease's user and the owners of its holds, which
# record_entry would look up under no lock), so the functions that follow find them held
# and no two batches can wait on each other's advisory locks in a cycle. A batch holds its
# row locks until it commits, so a write sent alone must not change those rows unlocked:
# record_entry now locks the user and owners of a plain record too (version 1 took no lock
# for one: as one statement, its rows in one fixed order, it could not deadlock then).
_V1_RECORD_INSERT = """    END IF;
    INSERT INTO {s}.entries ("""
_V2_RECORD_INSERT = """    END IF;
    IF v_lease_user IS NULL
            AND current_setting('cascadeflow.batch_locked', true) IS DISTINCT FROM {q} THEN
        -- A plain record (or a lease already gone): its user's and owners' locks.
        PERFORM {s}.lock_names(ARRAY['u/' || p_user]
            || ARRAY(SELECT 'o/' || o FROM unnest(p_owners) AS o));
    END IF;
    INSERT INTO {s}.entries ("""
# In a batch (lock_batch took every lock first) a settle skips looking up what to lock.
_V1_LEASE_LOCKS = ("            IF v_lease_user = p_user"
                   " AND COALESCE(array_length(p_owners, 1), 0) = 0")
_V2_LEASE_LOCKS = """            IF current_setting('cascadeflow.batch_locked', true) = {q} THEN
                NULL;
            ELSIF v_lease_user = p_user AND COALESCE(array_length(p_owners, 1), 0) = 0"""
_V1_RECORD = _VERSION_1[_VERSION_1.index("CREATE FUNCTION {s}.record_entry("):
                        _VERSION_1.index("CREATE FUNCTION {s}.put_setting(")]
_VERSION_2 = """
CREATE FUNCTION {s}.lock_batch(p_names TEXT[], p_leases TEXT[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM {s}.lock_names(p_names
        || ARRAY(SELECT 'u/' || user_id FROM {s}.leases WHERE id = ANY(p_leases))
        || ARRAY(SELECT 'o/' || owner FROM {s}.holds WHERE lease_id = ANY(p_leases)));
    -- Until this transaction ends, lock_names finds every lock it would take held already.
    PERFORM set_config('cascadeflow.batch_locked', {q}, true);
END $$;

-- A whole batch in one statement: its locks, then each operation (given as a JSON array of
-- its parameters, as text) through the same functions a lone call runs. Answers one text per
-- operation: reserve's array, record_entry's boolean, release's "was the lease open".
CREATE FUNCTION {s}.apply_batch(p_names TEXT[], p_leases TEXT[], p_ops JSONB)
RETURNS TEXT[] LANGUAGE plpgsql AS $$
DECLARE
    op JSONB;
    results TEXT[] := '{{}}';
BEGIN
    PERFORM {s}.lock_batch(p_names, p_leases);
    FOR op IN SELECT value FROM jsonb_array_elements(p_ops) LOOP
        CASE op->>0
        WHEN 'reserve' THEN
            results := results || {s}.reserve(op->>1, op->>2, (op->>3)::BIGINT,
                (op->>4)::DOUBLE PRECISION, (op->>5)::DOUBLE PRECISION, (op->>6)::TEXT[],
                (op->>7)::BIGINT[], (op->>8)::TEXT[], (op->>9)::TEXT[], (op->>10)::BIGINT[],
                (op->>11)::BIGINT[], (op->>12)::BIGINT[])::TEXT;
        WHEN 'record_entry' THEN
            results := results || {s}.record_entry(op->>1, op->>2, (op->>3)::DOUBLE PRECISION,
                (op->>4)::INTEGER, op->>5, op->>6, op->>7, op->>8, (op->>9)::BIGINT,
                (op->>10)::BIGINT, (op->>11)::BIGINT, (op->>12)::DOUBLE PRECISION,
                (op->>13)::BIGINT, op->>14, op->>15, (op->>16)::TEXT[], (op->>17)::TEXT[],
                (op->>18)::TEXT[], (op->>19)::BIGINT[])::TEXT;
        WHEN 'release' THEN
            DELETE FROM {s}.leases WHERE id = op->>1;
            results := results || FOUND::TEXT;
        ELSE
            RAISE EXCEPTION 'apply_batch: unknown operation %', op->>0;
        END CASE;
    END LOOP;
    RETURN results;
END $$;

CREATE OR REPLACE FUNCTION {s}.lock_names(p_names TEXT[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k BIGINT;
BEGIN
    IF current_setting('cascadeflow.batch_locked', true) = {q} THEN
        RETURN;
    END IF;
    FOR k IN SELECT DISTINCT hashtextextended({q} || '/' || n, 0) FROM unnest(p_names) AS n
             WHERE n IS NOT NULL ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(k);
    END LOOP;
END $$;
""" + _V1_RECORD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1).replace(
    _V1_RECORD_INSERT, _V2_RECORD_INSERT, 1).replace(_V1_LEASE_LOCKS, _V2_LEASE_LOCKS, 1)
# Version 1's text is frozen: the edits always apply.
assert _V2_RECORD_INSERT in _VERSION_2 and _V2_LEASE_LOCKS in _VERSION_2

#: Each migration brings the schema from the version before it to its own version.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _VERSION_1), (2, _VERSION_2))

#: The tables a reset empties (settings stay: they are configuration).
TABLE_NAMES = ("entries", "counters", "holds", "leases", "users", "owner_counters")


def quoted_schema(schema: str) -> str:
    """``schema`` as a quoted identifier, after checking it is a plain lower-case name."""
    if not _NAME.fullmatch(schema):
        raise ValueError(
            f"schema must be a lower-case PostgreSQL name (letters, digits, _), got {schema!r}")
    return f'"{schema}"'


_ENTRY_COLUMNS = (
    "id, ts, utc_offset, model, provider, tokens, cost, query_id, metadata, user_id, user_tier,"
    " prompt_tokens, completion_tokens"
)


def statements(quoted: str) -> dict[str, str]:
    """The statements the store sends, by name, for the schema ``quoted`` (a quoted name)."""
    s = quoted
    return {
        "reserve": f"SELECT {s}.reserve(%s, %s, %s, %s, %s, %s::text[], %s::bigint[],"
                   " %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[])",
        "record_entry": f"SELECT {s}.record_entry(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                        " %s, %s, %s, %s, %s, %s::text[], %s::text[], %s::text[],"
                        " %s::bigint[])",
        "release": f"DELETE FROM {s}.leases WHERE id = %s RETURNING true",
        "tier": f"INSERT INTO {s}.users (user_id, tier) VALUES (%s, %s) ON CONFLICT"
                " (user_id) DO UPDATE SET tier = excluded.tier RETURNING true",
        "usage": f"SELECT period_key, spent_nanos FROM {s}.counters WHERE user_id = %(u)s"
                 " AND period_key = ANY(%(k)s::text[]) UNION ALL SELECT NULL,"
                 f" COALESCE(SUM(amount_nanos), 0)::bigint FROM {s}.leases"
                 " WHERE user_id = %(u)s AND expires_at > %(now)s",
        "counters": f"SELECT owner, period_key, value FROM {s}.owner_counters"
                    " WHERE (owner, period_key) IN (SELECT * FROM unnest(%(o)s::text[],"
                    " %(k)s::text[])) UNION ALL SELECT owner, NULL, SUM(amount)::bigint"
                    f" FROM {s}.holds WHERE owner = ANY(%(h)s::text[])"
                    " AND expires_at > %(now)s GROUP BY owner",
        "put_setting": f"SELECT {s}.put_setting(%s, %s)",
        "settings": f"SELECT v.version, t.name, t.value FROM {s}.settings_version AS v"
                    f" LEFT JOIN {s}.settings AS t ON true",
        "settings_version": f"SELECT version FROM {s}.settings_version",
        "tiers": f"SELECT user_id, tier FROM {s}.users",
        "user_tier": f"SELECT tier FROM {s}.users WHERE user_id = %s",
        "totals": "SELECT GROUPING(model, provider, user_id), model, provider, user_id,"
                  f" COALESCE(SUM(cost_nanos), 0)::bigint, COUNT(*) FROM {s}.entries"
                  " GROUP BY GROUPING SETS ((), (model), (provider), (user_id))",
        "reset": "TRUNCATE " + ", ".join(f"{s}.{table}" for table in TABLE_NAMES),
        "entries": f"SELECT {_ENTRY_COLUMNS} FROM {s}.entries",
        "apply_batch": f"SELECT {s}.apply_batch(%s::text[], %s::text[], %s::jsonb)",
    }


def text_array(items: Iterable[str]) -> str:
    """``items`` as a PostgreSQL array literal, for a ``%s::text[]`` parameter.

    psycopg adapts a Python list element by element in Python, which costs more than
    the statement itself for the few short keys a call sends; a literal is one string.
    """
    quoted = ['"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items]
    return "{" + ",".join(quoted) + "}"


def bigint_array(items: Iterable[int]) -> str:
    """``items`` as a PostgreSQL array literal, for a ``%s::bigint[]`` parameter."""
    return "{" + ",".join([str(int(item)) for item in items]) + "}"


def migrate(conn: Any, schema: str) -> int:
    """Bring ``schema`` to :data:`SCHEMA_VERSION` on ``conn`` (a psycopg connection); the version.

    Safe to run from many processes at once: an advisory lock (per schema name) lets one
    migrate while the others wait, then find the version recorded.
    """
    quoted = quoted_schema(schema)
    found = _recorded_version(conn, schema)
    if found == SCHEMA_VERSION:
        return found
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                     (f"cascadeflow-migrate/{schema}",))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {quoted}.schema_version ("
                     "id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL)")
        row = conn.execute(f"SELECT version FROM {quoted}.schema_version").fetchone()
        version = 0 if row is None else int(row[0])
        _refuse_newer(version, schema)
        for target, script in MIGRATIONS:
            if target > version:
                conn.execute(script.format(s=quoted, q=_literal(schema)))
        if version < SCHEMA_VERSION:
            conn.execute(
                f"INSERT INTO {quoted}.schema_version (id, version) VALUES (0, %s)"
                " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                (SCHEMA_VERSION,))
    return SCHEMA_VERSION


def _recorded_version(conn: Any, schema: str) -> int | None:
    row = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".schema_version',)).fetchone()
    if row is None or row[0] is None:
        return None
    found = conn.execute(f'SELECT version FROM "{schema}".schema_version').fetchone()
    version = None if found is None else int(found[0])
    if version is not None:
        _refuse_newer(version, schema)
    return version


def _refuse_newer(version: int, schema: str) -> None:
    if version > SCHEMA_VERSION:
        raise StoreUnavailableError(
            f"the ledger schema {schema!r} is at version {version}, newer than the "
            f"{SCHEMA_VERSION} this cascadeflow understands; upgrade cascadeflow to use it")


def _literal(text: str) -> str:
    # Only ever called with a name checked by quoted_schema: no quote can occur in it.
    return f"'{text}'"


# -- the parameters and replies of the statements ---------------------------------------
def record_params(reservation_id: str, entry: CostEntry, cost_nanos: int,
                  periods: Sequence[PeriodKey], counters: Sequence[CounterAdd]) -> list[Any]:
    """The parameters of ``record_entry`` (``reservation_id`` ``""`` for a plain record)."""
    return [reservation_id, *_entry_row(entry, cost_nanos, 0)[:14],
            text_array([period.key for period in periods]),
            text_array([item.owner for item in counters]),
            text_array([item.period_key.key for item in counters]),
            bigint_array([item.amount for item in counters])]


def reserve_params(reservation_id: str, user_id: str, amount_nanos: int,
                   limits: Sequence[PeriodLimit], counters: Sequence[CounterLimit],
                   now: float, expires_at: float) -> list[Any]:
    """The parameters of ``reserve``."""
    refuse_add_only_limits(counters)
    return [reservation_id, user_id, amount_nanos, now, expires_at,
            text_array([item.period_key.key for item in limits]),
            bigint_array([item.limit_nanos for item in limits]),
            text_array([item.owner for item in counters]),
            text_array([item.period_key.key for item in counters]),
            bigint_array([item.limit for item in counters]),
            bigint_array([item.hold for item in counters]),
            bigint_array([item.add for item in counters])]


def lock_names(user_id: str | None, owners: Sequence[str]) -> tuple[str, ...]:
    """The advisory lock names of a write in a batch (the schema's ``lock_names`` scheme).

    Add-only owners (rollups) need none: no check reads them, and each increment is one
    atomic upsert. Every batch would otherwise wait for every other at ``rollup:global``.
    """
    users = () if user_id is None else (f"u/{user_id}",)
    return (*users, *(f"o/{owner}" for owner in owners
                      if not owner.startswith(ADD_ONLY_OWNER)))


def usage_of(rows: Rows, periods: Sequence[PeriodKey]) -> Usage:
    """The reply of the ``usage`` statement."""
    spent = {period.key: 0 for period in periods}
    reserved = 0
    for key, nanos in rows:
        if key is None:
            reserved = int(nanos)
        else:
            spent[key] = int(nanos)
    return Usage(spent_nanos=spent, reserved_nanos=reserved)


def counters_params(counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str],
                    now: float) -> dict[str, Any]:
    """The parameters of the ``counters`` statement."""
    return {"o": [owner for owner, _ in counters], "k": [period.key for _, period in counters],
            "h": list(owners), "now": now}


def counter_usage_of(rows: Rows, counters: Sequence[tuple[str, PeriodKey]],
                     owners: Sequence[str]) -> CounterUsage:
    """The reply of the ``counters`` statement."""
    values = {(owner, period.key): 0 for owner, period in counters}
    held = dict.fromkeys(owners, 0)
    for owner, key, value in rows:
        if key is None:
            held[owner] = int(value)
        else:
            values[(owner, key)] = int(value)
    return CounterUsage(values=values, held=held)
