"""The durable store: one SQLite file in WAL mode, shareable by several processes.

Every write is one ``BEGIN IMMEDIATE`` transaction committed before the call returns, so
the check-and-reserve is atomic across processes and an acknowledged entry is on disk.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import orjson

from cascadeflow._entry import CostEntry
from cascadeflow.storage._base import (
    CounterAdd,
    CounterLimit,
    CounterUsage,
    LedgerStore,
    PeriodKey,
    PeriodLimit,
    ReserveOutcome,
    Totals,
    Usage,
    counter_refusal,
    holds_of,
    refusal,
    refuse_add_only_limits,
)
from cascadeflow.storage._sqlite_schema import TABLE_NAMES, connect

_UTC = timezone.utc
_SECOND = timedelta(seconds=1)

# The entries_recorded trigger keeps counters, tiers and leases: see _sqlite_schema.
_INSERT_ENTRY = (
    "INSERT INTO entries (id, ts, utc_offset, user_id, user_tier, model, provider, tokens,"
    " prompt_tokens, completion_tokens, cost, cost_nanos, query_id, metadata, period_set)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)
# `users` holds remembered tiers; a user who has only spent is known by their counters.
# The WHERE keeps an unchanged tier from rewriting its page (one more WAL frame).
_REMEMBER_TIER = (
    "INSERT INTO users (user_id, tier) VALUES (?, ?) ON CONFLICT (user_id)"
    " DO UPDATE SET tier = excluded.tier WHERE tier IS NOT excluded.tier"
)
_USER_TIERS = (
    "SELECT user_id, tier FROM users UNION ALL SELECT DISTINCT user_id, NULL FROM counters"
    " WHERE user_id NOT IN (SELECT user_id FROM users)"
)
_PURGE_EXPIRED = "DELETE FROM leases WHERE user_id = ? AND expires_at <= ?"
_INSERT_LEASE = (
    "INSERT OR REPLACE INTO leases (id, user_id, amount_nanos, expires_at) VALUES (?, ?, ?, ?)"
)
_DROP_LEASE = "DELETE FROM leases WHERE id = ?"
_ADD_TO_COUNTER = (
    "INSERT INTO owner_counters (owner, period_key, value) VALUES (?, ?, ?)"
    " ON CONFLICT (owner, period_key) DO UPDATE SET value = value + excluded.value"
)
_INSERT_HOLDING_LEASE = (
    "INSERT INTO leases (id, user_id, amount_nanos, expires_at, holds) VALUES (?, ?, ?, ?, ?)"
)
_INSERT_HOLD = "INSERT INTO holds (owner, lease_id, amount, expires_at) VALUES (?, ?, ?, ?)"
_DROP_FINISHED_WINDOWS = "DELETE FROM owner_counters WHERE owner = ? AND period_key < ?"
_PURGE_EXPIRED_HOLDS = (
    "DELETE FROM leases WHERE id IN (SELECT lease_id FROM holds WHERE owner = ?"
    " AND expires_at <= ?)"
)
_PUT_SETTING = (
    "INSERT INTO settings (name, value) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)
_BUMP_SETTINGS = "UPDATE settings_version SET version = version + 1"
_ENTRY_COLUMNS = (
    "id, ts, utc_offset, model, provider, tokens, cost, query_id, metadata, user_id, user_tier,"
    " prompt_tokens, completion_tokens"
)


@lru_cache(maxsize=16)
def _usage_sql(count: int) -> str:
    # Counters and the user's leases in one statement, hence one snapshot and one step:
    # rows (period_key, spent_nanos, NULL), then (NULL, open lease nanos, expired leases).
    leases = (
        "SELECT NULL, COALESCE(SUM(amount_nanos) FILTER (WHERE expires_at > ?1), 0),"
        " COUNT(*) FILTER (WHERE expires_at <= ?1) FROM leases WHERE user_id = ?2"
    )
    if not count:
        return leases
    marks = ", ".join(f"?{number}" for number in range(3, count + 3))
    return (
        "SELECT period_key, spent_nanos, NULL FROM counters"
        f" WHERE user_id = ?2 AND period_key IN ({marks}) UNION ALL {leases}"
    )


@lru_cache(maxsize=64)
def _counted_sql(user_keys: int | None, owners: int, pairs: int) -> str:
    """One statement reading everything a counted reservation checks (one snapshot).

    Parameters: ?1 now, ?2 the user, then the user's period keys, the owners, and the
    (owner, period key) pairs flattened. Rows: (0, period key, NULL, spent, NULL),
    (1, NULL, NULL, open lease nanos, expired leases), (2, owner, NULL, open holds,
    expired holds), (3, owner, period key, value, NULL). ``user_keys=None``: no user rows.
    """
    number = 2
    parts: list[str] = []

    def marks(count: int) -> str:
        nonlocal number
        first, number = number + 1, number + count
        return ", ".join(f"?{index}" for index in range(first, number + 1))

    if user_keys is not None:
        if user_keys:
            parts.append("SELECT 0, period_key, NULL, spent_nanos, NULL FROM counters"
                         f" WHERE user_id = ?2 AND period_key IN ({marks(user_keys)})")
        parts.append("SELECT 1, NULL, NULL, COALESCE(SUM(amount_nanos) FILTER"
                     " (WHERE expires_at > ?1), 0), COUNT(*) FILTER (WHERE expires_at <= ?1)"
                     " FROM leases WHERE user_id = ?2")
    if owners:
        parts.append("SELECT 2, owner, NULL, COALESCE(SUM(amount) FILTER (WHERE expires_at"
                     " > ?1), 0), COUNT(*) FILTER (WHERE expires_at <= ?1) FROM holds"
                     f" WHERE owner IN ({marks(owners)}) GROUP BY owner")
    if pairs:
        # Joined from the wanted pairs, so that each is one primary-key lookup.
        wanted = ", ".join(f"({marks(1)}, {marks(1)})" for _ in range(pairs))
        parts.append(f"SELECT 3, owner, period_key, value, NULL FROM (VALUES {wanted})"
                     " AS wanted JOIN owner_counters ON owner = wanted.column1"
                     " AND period_key = wanted.column2")
    return " UNION ALL ".join(parts)


class _Counted(NamedTuple):
    """What :func:`_read_counted` found."""

    spent: dict[str, int]
    reserved: int
    expired_leases: int
    values: dict[tuple[str, str], int]
    held: dict[str, int]
    expired_owners: list[str]


def _read_counted(
    conn: sqlite3.Connection, user_id: str | None, keys: Sequence[str],
    owners: Sequence[str], pairs: Sequence[tuple[str, str]], now: float,
) -> _Counted:
    found = _Counted({}, 0, 0, {}, {}, [])
    if user_id is None and not owners and not pairs:
        return found
    params: list[Any] = [now, user_id or "", *keys, *owners]
    params += [part for pair in pairs for part in pair]
    sql = _counted_sql(None if user_id is None else len(keys), len(owners), len(pairs))
    reserved = expired_leases = 0
    for kind, name, key, value, stale in conn.execute(sql, params):
        if kind == 0:
            found.spent[name] = value
        elif kind == 1:
            reserved, expired_leases = value, stale
        elif kind == 2:
            found.held[name] = value
            if stale:
                found.expired_owners.append(name)
        else:
            found.values[(name, key)] = value
    return found._replace(reserved=reserved, expired_leases=expired_leases)


def _metadata_json(metadata: dict[str, Any]) -> str:
    if not metadata:
        return "{}"
    # Values JSON cannot carry are kept as their text rather than failing the record.
    return orjson.dumps(metadata, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _entry_row(entry: CostEntry, cost_nanos: int, period_set: int) -> tuple[Any, ...]:
    stamp = entry.timestamp
    offset = stamp.utcoffset()
    return (
        entry.id, stamp.timestamp(), 0 if not offset else offset // _SECOND, entry.user_id,
        entry.user_tier, entry.model, entry.provider, entry.tokens, entry.prompt_tokens,
        entry.completion_tokens, entry.cost, cost_nanos, entry.query_id,
        _metadata_json(entry.metadata), period_set,
    )


def _entry_from_row(row: tuple[Any, ...]) -> CostEntry:
    (entry_id, stamp, offset, model, provider, tokens, cost, query_id, metadata, user_id,
     user_tier, prompt_tokens, completion_tokens) = row
    zone = _UTC if offset == 0 else timezone(timedelta(seconds=offset))
    return CostEntry(
        timestamp=datetime.fromtimestamp(stamp, zone), model=model, provider=provider,
        tokens=tokens, cost=cost, query_id=query_id, metadata=orjson.loads(metadata),
        user_id=user_id, user_tier=user_tier, prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens, id=entry_id,
    )


class SQLiteStore(LedgerStore):
    """Keeps the ledger in one SQLite file (WAL mode); survives restarts and crashes.

    * **Durable:** when :meth:`record` or :meth:`settle` returns, its transaction is
      committed. With the default ``synchronous="NORMAL"`` (WAL) a committed transaction
      survives a crash or kill of the process; pass ``synchronous="FULL"`` to also survive
      a power loss or OS crash, at the price of one fsync per write.
    * **Shared:** several processes (and threads) may open the same file. Each write is
      one ``BEGIN IMMEDIATE`` transaction, so totals stay exact and the check-and-reserve
      of :meth:`reserve` is atomic: processes never overspend a budget together. A writer
      waits up to ``timeout`` seconds for the file's write lock.
    * **Reopenable:** a new store on the same path sees every acknowledged entry, spend
      counter, open reservation and remembered tier.

    Amounts are integer nano-dollars, as in every store.

    Example:
        >>> from cascadeflow import CostTracker
        >>> from cascadeflow.storage import SQLiteStore
        >>> store = SQLiteStore("ledger.db")
        >>> tracker = CostTracker(store=store)
        >>> store.close()

    .. versionadded:: 0.1.0
    """

    shared = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.synchronous = synchronous.upper()
        self._lock = threading.Lock()
        self._conn = connect(path, timeout=timeout, synchronous=self.synchronous)
        self._period_sets: dict[tuple[str, ...], int] = {}
        self._windows: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r}, synchronous={self.synchronous!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- transactions (call with the lock held) ---------------------------------
    def _begin(self) -> sqlite3.Connection:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        return conn

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _period_set(self, periods: Sequence[PeriodKey]) -> int:
        """The id of the row of ``period_sets`` holding these keys; call with the lock."""
        keys = tuple(period.key for period in periods)
        found = self._period_sets.get(keys)
        if found is None:
            text = orjson.dumps(list(keys)).decode()
            self._conn.execute(
                "INSERT INTO period_sets (period_keys) VALUES (?) ON CONFLICT DO NOTHING",
                (text,))
            found = int(self._conn.execute(
                "SELECT id FROM period_sets WHERE period_keys = ?", (text,)).fetchone()[0])
            if len(self._period_sets) > 1024:  # a long-lived store sees a new set each day
                self._period_sets.clear()
            self._period_sets[keys] = found
        return found

    def _insert_entry(self, row: tuple[Any, ...]) -> bool:
        """One INSERT, its own transaction (the trigger does the rest); call with the lock."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return bool(self._conn.execute(_INSERT_ENTRY, row).rowcount)
            except sqlite3.OperationalError as exc:
                # In WAL mode a writer whose snapshot went stale gets "locked" without the
                # busy handler; nothing was written, and the insert is idempotent by id.
                if ("locked" not in str(exc) and "busy" not in str(exc)) or (
                        time.monotonic() >= deadline):
                    raise
                time.sleep(0.0005)

    # -- writes -------------------------------------------------------------------
    def record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
               counters: Sequence[CounterAdd] = ()) -> bool:
        with self._lock:
            row = _entry_row(entry, cost_nanos, self._period_set(periods))
            if not counters:
                return self._insert_entry(row)
            return self._insert_with_counters(row, counters, drop_lease=None)

    def _insert_with_counters(self, row: tuple[Any, ...], counters: Sequence[CounterAdd],
                              drop_lease: str | None) -> bool:
        """The entry and its owners' increments in one transaction; call with the lock."""
        conn = self._begin()
        try:
            if drop_lease is not None:
                conn.execute(_DROP_LEASE, (drop_lease,))
            recorded = bool(conn.execute(_INSERT_ENTRY, row).rowcount)
            if recorded:
                conn.executemany(_ADD_TO_COUNTER, [
                    (item.owner, item.period_key.key, item.amount) for item in counters])
            conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return recorded

    def reserve(
        self,
        reservation_id: str,
        user_id: str,
        amount_nanos: int,
        limits: Sequence[PeriodLimit],
        *,
        now: float,
        expires_at: float,
        counters: Sequence[CounterLimit] = (),
    ) -> ReserveOutcome:
        keys = [item.period_key.key for item in limits]
        if counters:
            refuse_add_only_limits(counters)
            return self._reserve_counted(reservation_id, user_id, amount_nanos, limits, keys,
                                         now=now, expires_at=expires_at, counters=counters)
        with self._lock:
            conn = self._begin()
            try:
                spent, reserved, expired = self._read_usage(conn, user_id, keys, now)
                if expired:
                    conn.execute(_PURGE_EXPIRED, (user_id, now))
                outcome = refusal(limits, spent, reserved, amount_nanos)
                if outcome is None:
                    conn.execute(_INSERT_LEASE, (reservation_id, user_id, amount_nanos, expires_at))
                    outcome = ReserveOutcome(granted=True)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return outcome

    def _reserve_counted(
        self, reservation_id: str, user_id: str, amount_nanos: int,
        limits: Sequence[PeriodLimit], keys: list[str], *, now: float, expires_at: float,
        counters: Sequence[CounterLimit],
    ) -> ReserveOutcome:
        """:meth:`reserve` with owners' counters: one read, one insert, one transaction."""
        owners = list(dict.fromkeys(item.owner for item in counters))
        pairs = list(dict.fromkeys((item.owner, item.period_key.key) for item in counters))
        with self._lock:
            conn = self._begin()
            try:
                found = _read_counted(conn, user_id, keys, owners, pairs, now)
                if found.expired_leases:
                    conn.execute(_PURGE_EXPIRED, (user_id, now))
                for owner in found.expired_owners:
                    conn.execute(_PURGE_EXPIRED_HOLDS, (owner, now))
                outcome = refusal(limits, found.spent, found.reserved, amount_nanos)
                if outcome is None:
                    outcome = counter_refusal(counters, found.values, found.held)
                if outcome is None:
                    self._grant_counted(conn, reservation_id, user_id, amount_nanos,
                                        expires_at, counters)
                    outcome = ReserveOutcome(granted=True)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return outcome

    def _grant_counted(self, conn: sqlite3.Connection, reservation_id: str, user_id: str,
                       amount_nanos: int, expires_at: float,
                       counters: Sequence[CounterLimit]) -> None:
        """Store the lease and its holds, apply the adds (inside reserve's transaction)."""
        holds = holds_of(counters)
        conn.execute(_INSERT_HOLDING_LEASE, (
            reservation_id, user_id, amount_nanos, expires_at,
            orjson.dumps(list(holds)).decode() if holds else None))
        if holds:
            conn.executemany(_INSERT_HOLD, [(owner, reservation_id, amount, expires_at)
                                            for owner, amount in holds.items()])
        adds = [(item.owner, item.period_key.key, item.add) for item in counters if item.add]
        if adds:
            conn.executemany(_ADD_TO_COUNTER, adds)
            for owner, key, _ in adds:
                # Counters that get adds are windows: drop the owner's finished ones, once
                # per new window seen by this store.
                if self._windows.get(owner) != key:
                    conn.execute(_DROP_FINISHED_WINDOWS, (owner, key))
                    if len(self._windows) > 4096:
                        self._windows.clear()
                    self._windows[owner] = key

    def settle(
        self,
        reservation_id: str,
        entry: CostEntry,
        cost_nanos: int,
        periods: Sequence[PeriodKey],
        *,
        counters: Sequence[CounterAdd] = (),
    ) -> bool:
        with self._lock:
            row = _entry_row(entry, cost_nanos, self._period_set(periods))
            if counters:
                return self._insert_with_counters(row, counters, drop_lease=reservation_id)
            if entry.id == reservation_id:
                # The trigger ends the lease named by the entry's id in the same step.
                recorded = self._insert_entry(row)
                if not recorded:
                    self._conn.execute(_DROP_LEASE, (reservation_id,))
                return recorded
            conn = self._begin()
            try:
                conn.execute(_DROP_LEASE, (reservation_id,))
                recorded = bool(conn.execute(_INSERT_ENTRY, row).rowcount)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return recorded

    def release(self, reservation_id: str) -> bool:
        with self._lock:
            # A single statement is its own transaction in autocommit mode.
            return bool(self._conn.execute(_DROP_LEASE, (reservation_id,)).rowcount)

    def set_user_tier(self, user_id: str, tier: str | None) -> None:
        with self._lock:
            self._conn.execute(_REMEMBER_TIER, (user_id, tier))

    def reset(self) -> None:
        with self._lock:
            conn = self._begin()
            try:
                for table in TABLE_NAMES:
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def put_setting(self, name: str, value: str | None) -> None:
        with self._lock:
            conn = self._begin()
            try:
                if value is None:
                    conn.execute("DELETE FROM settings WHERE name = ?", (name,))
                else:
                    conn.execute(_PUT_SETTING, (name, value))
                conn.execute(_BUMP_SETTINGS)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def settings(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")  # the version and the rows from one snapshot
            try:
                version = int(conn.execute(
                    "SELECT version FROM settings_version").fetchone()[0])
                rows = dict(conn.execute("SELECT name, value FROM settings").fetchall())
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return version, rows

    def settings_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT version FROM settings_version").fetchone()[0])

    # -- reads --------------------------------------------------------------------
    def read_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        pairs = list(dict.fromkeys((owner, period.key) for owner, period in counters))
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                found = _read_counted(conn, None, (), list(dict.fromkeys(owners)), pairs, now)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return CounterUsage(values={pair: found.values.get(pair, 0) for pair in pairs},
                            held={owner: found.held.get(owner, 0) for owner in owners})

    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        keys = [period.key for period in periods]
        with self._lock:
            found, reserved, _ = self._read_usage(self._conn, user_id, keys, now)
        return Usage(spent_nanos={key: found.get(key, 0) for key in keys}, reserved_nanos=reserved)

    @staticmethod
    def _read_usage(
        conn: sqlite3.Connection, user_id: str, keys: list[str], now: float
    ) -> tuple[dict[str, int], int, int]:
        """Spend per known key, open lease nanos, and how many of the user's leases expired."""
        spent: dict[str, int] = {}
        reserved = expired = 0
        for key, nanos, expired_count in conn.execute(
            _usage_sql(len(keys)), (now, user_id, *keys)
        ):
            if key is None:
                reserved, expired = nanos, expired_count
            else:
                spent[key] = nanos
        return spent, reserved, expired

    def user_tiers(self) -> dict[str, str | None]:
        with self._lock:
            return dict(self._conn.execute(_USER_TIERS).fetchall())

    def user_tier(self, user_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT tier FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
        return None if row is None else row[0]

    def totals(self) -> Totals:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")  # one snapshot for all four queries
            try:
                total, count = conn.execute(
                    "SELECT COALESCE(SUM(cost_nanos), 0), COUNT(*) FROM entries"
                ).fetchone()
                by_model = self._sums_by(conn, "model")
                by_provider = self._sums_by(conn, "provider")
                by_user = self._sums_by(conn, "user_id")
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return Totals(total_nanos=total, entry_count=count, by_model=by_model,
                      by_provider=by_provider, by_user=by_user)

    @staticmethod
    def _sums_by(conn: sqlite3.Connection, column: str) -> dict[str, int]:
        rows = conn.execute(
            f"SELECT {column}, SUM(cost_nanos) FROM entries"
            f" WHERE {column} IS NOT NULL GROUP BY {column}"
        ).fetchall()
        return dict(rows)

    def entries(
        self,
        *,
        user_id: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        last: int | None = None,
    ) -> list[CostEntry]:
        if last is not None and last <= 0:
            return []
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (("user_id", user_id), ("model", model), ("provider", provider)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {_ENTRY_COLUMNS} FROM entries"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        # By id: the table's own order (no sort), which for ids made by cascadeflow is the
        # order they were created in (see cascadeflow._entry.new_entry_id).
        if last is None:
            sql += " ORDER BY id"
        else:
            sql += " ORDER BY id DESC LIMIT ?"
            params.append(last)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        if last is not None:
            rows.reverse()
        return [_entry_from_row(row) for row in rows]

    def close(self) -> None:
        """Close the connection; the file keeps everything that was acknowledged."""
        with self._lock:
            self._conn.close()
