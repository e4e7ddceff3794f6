"""The durable shared store: the ledger in PostgreSQL, shared by every worker on every host.

Each check-and-reserve, settle, release and record is one statement calling a function of the
ledger's own schema (``_postgres_schema``): one round trip, one transaction, committed when the
call returns. Amounts are BIGINT nano-dollars.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cascadeflow._entry import CostEntry
from cascadeflow._exceptions import StoreUnavailableError
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
    _in_worker_thread,
    decode_reserve_reply,
)
from cascadeflow.storage._postgres_pools import PostgresPools
from cascadeflow.storage._postgres_schema import TABLE_NAMES, migrate, quoted_schema
from cascadeflow.storage._redis_journal import OutageJournal
from cascadeflow.storage._redis_outage import OnUnavailable, OutageState
from cascadeflow.storage._redis_outage import RedisDown as StoreDown
from cascadeflow.storage._redis_outage import safe_url as _safe_url
from cascadeflow.storage._sqlite import _entry_from_row, _entry_row

if TYPE_CHECKING:
    import os
    from types import TracebackType

    from psycopg_pool import AsyncConnectionPool, ConnectionPool

T = TypeVar("T")
Rows = list[tuple[Any, ...]]

_ENTRY_COLUMNS = (
    "id, ts, utc_offset, model, provider, tokens, cost, query_id, metadata, user_id, user_tier,"
    " prompt_tokens, completion_tokens"
)
# Connection-level failures (class 08) and a server shutting down or starting (57P01-57P03)
# mean "unreachable right now"; any other error is a real error and is raised as it is.
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")
# The settings version fail_open answers during an outage: never a real one (those start at 0).
_OUTAGE_VERSION = -2


def _is_unavailable(exc: BaseException) -> bool:
    import psycopg

    if isinstance(exc, psycopg.InterfaceError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES
    return False


def _printable(conninfo: str) -> str:
    """The DSN without its password (a URL's, or a ``password=`` keyword's), for messages."""
    if "://" in conninfo:
        return _safe_url(conninfo)
    return re.sub(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", "password=***", conninfo)


def _pool_timeout() -> type[Exception]:
    from psycopg_pool import PoolTimeout

    return PoolTimeout


def _execute(pool: ConnectionPool, sql: str, params: Sequence[Any] | dict[str, Any]) -> Rows:
    with pool.connection() as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


async def _aexecute(pool: AsyncConnectionPool, sql: str,
                    params: Sequence[Any] | dict[str, Any]) -> Rows:
    async with pool.connection() as conn:
        cursor = await conn.execute(sql, params)
        return await cursor.fetchall() if cursor.description else []


@dataclass(frozen=True, slots=True)
class _Probe:
    probe_interval: float


class PostgresStore(LedgerStore):
    """The ledger in PostgreSQL: durable, and shared by every process and host that points at it.

    * **Atomic:** a check-and-reserve is one statement (a function in the ledger's schema)
      that takes advisory locks on the user and the owners it checks, in a fixed order, so
      racing workers never overspend and never deadlock. Settle and release are idempotent
      by id; leases stop counting at their ``expires_at`` (the tracker's time).
    * **Durable:** when :meth:`record` or :meth:`settle` returns, its transaction is
      committed (as durable as the server's ``synchronous_commit``).
    * **A good neighbour:** it creates and migrates its own tables in its own ``schema``
      (version recorded in ``<schema>.schema_version``; many workers may start at once
      against an empty database) and touches no other table, so it can live in the LiteLLM
      proxy's database.
    * **Outages:** ``on_unavailable="fail_closed"`` (default) raises
      :class:`~cascadeflow.StoreUnavailableError` and admits nothing; ``"fail_open"`` admits
      requests without checks and journals writes (in memory, or in ``journal_path``)
      to replay exactly once, by entry id, when the database answers again.

    Args:
        dsn_or_pool: a libpq DSN/URL, a ``psycopg_pool.ConnectionPool`` or an
            ``AsyncConnectionPool`` (the other kind is made from its settings when needed).
        schema: the PostgreSQL schema the ledger owns (a plain lower-case name).
        on_unavailable: ``"fail_closed"`` or ``"fail_open"``.
        max_connections: the size of each pool the store opens.
        timeout: seconds to wait for a connection (and to connect).
        probe_interval: after an outage is seen, calls fail at once for this long, then probe.
        journal_path: fail-open only: keep the outage journal in this SQLite file.

    Example:
        >>> from cascadeflow import CostTracker
        >>> from cascadeflow.storage import PostgresStore
        >>> store = PostgresStore("postgresql://app@db/litellm")
        >>> tracker = CostTracker(store=store)

    .. versionadded:: 0.2.0
    """

    shared = True

    def __init__(
        self,
        dsn_or_pool: str | ConnectionPool | AsyncConnectionPool,
        *,
        schema: str = "cascadeflow",
        on_unavailable: OnUnavailable = "fail_closed",
        max_connections: int = 20,
        timeout: float = 5.0,
        probe_interval: float = 0.5,
        journal_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if on_unavailable not in ("fail_closed", "fail_open"):
            raise ValueError(
                f"on_unavailable must be 'fail_closed' or 'fail_open', got {on_unavailable!r}")
        if max_connections < 1 or timeout <= 0 or probe_interval < 0:
            raise ValueError("max_connections must be >= 1, timeout > 0 and probe_interval >= 0")
        quoted = quoted_schema(schema)
        self.schema = schema
        self.on_unavailable: OnUnavailable = on_unavailable
        self._pools = PostgresPools(dsn_or_pool, max_size=max_connections, timeout=timeout)
        self.url = _printable(self._pools.conninfo)
        self._outage = OutageState(self.url, _Probe(probe_interval), on_unavailable,
                                   journal=OutageJournal(journal_path), service="PostgreSQL")
        self._migrated = False
        self._settings_seen = 0
        self._migrate_lock = threading.Lock()
        s = quoted
        self._sql = {
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
        }

    def __repr__(self) -> str:
        return (f"PostgresStore({self.url!r}, schema={self.schema!r}, "
                f"on_unavailable={self.on_unavailable!r})")

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # -- running statements: schema first, outage handling, journal replay -----------------
    def _ensure_schema(self) -> None:
        if self._migrated:
            return
        with self._migrate_lock:
            if not self._migrated:
                with self._pools.connect() as conn:
                    migrate(conn, self.schema)
                self._migrated = True

    def _attempt(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Rows:
        if self._outage.is_down:
            # A direct connection says at once whether the server is back (a refused one
            # fails in microseconds); only then does a fresh pool replace the old one.
            self._pools.probe()
            self._pools.renew_sync()
        self._ensure_schema()
        pool = self._pools.sync()
        try:
            return _execute(pool, sql, params)
        except Exception as exc:
            if not _is_unavailable(exc) or isinstance(exc, _pool_timeout()):
                raise
        # After a server restart the pool's idle connections are dead: when the server
        # answers, drop them and try once more (every statement is idempotent: see the
        # schema's functions).
        self._pools.probe()
        pool.check()
        return _execute(pool, sql, params)

    async def _aattempt(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Rows:
        if self._outage.is_down:
            await self._pools.aprobe()
            await self._pools.renew_async()
        if not self._migrated:
            await _in_worker_thread(self._ensure_schema)
        pool = await self._pools.async_pool()
        try:
            return await _aexecute(pool, sql, params)
        except Exception as exc:
            if not _is_unavailable(exc) or isinstance(exc, _pool_timeout()):
                raise
        await self._pools.aprobe()
        await pool.check()
        return await _aexecute(pool, sql, params)

    def _run(self, name: str, params: Sequence[Any] | dict[str, Any]) -> Rows:
        self._outage.check_probe()
        try:
            if self._outage.journal:
                self._replay()
            rows = self._attempt(self._sql[name], params)
        except Exception as exc:
            if not _is_unavailable(exc):
                raise
            raise self._outage.went_down(exc) from exc
        self._outage.came_back()
        return rows

    async def _arun(self, name: str, params: Sequence[Any] | dict[str, Any]) -> Rows:
        self._outage.check_probe()
        try:
            if self._outage.journal:
                await self._areplay()
            rows = await self._aattempt(self._sql[name], params)
        except Exception as exc:
            if not _is_unavailable(exc):
                raise
            raise self._outage.went_down(exc) from exc
        self._outage.came_back()
        return rows

    def _replay(self) -> int:
        items = self._outage.journal.items()
        for item in items:
            self._attempt(self._sql[item.script], item.args)
            self._outage.journal.applied(item)
        return len(items)

    async def _areplay(self) -> int:
        items = self._outage.journal.items()
        for item in items:
            await self._aattempt(self._sql[item.script], item.args)
            self._outage.journal.applied(item)
        return len(items)

    def _unavailable(self, down: StoreDown) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"PostgreSQL at {self.url} is unavailable ({down}); the store fails "
            f"{'closed' if self.on_unavailable == 'fail_closed' else 'open for requests'}")

    def _fallback(self, down: StoreDown, value: T) -> T:
        if self.on_unavailable == "fail_closed":
            raise self._unavailable(down) from down.cause
        return value

    def _journal(self, down: StoreDown, name: str, args: list[Any],
                 entry_id: str | None = None) -> bool:
        if self.on_unavailable == "fail_closed":
            raise self._unavailable(down) from down.cause
        return self._outage.journal.add(name, [], args, entry_id)

    def _read(self, name: str, params: Sequence[Any] | dict[str, Any] = ()) -> Rows:
        # Reports and settings have no fail-open answer: an outage always raises.
        try:
            return self._run(name, params)
        except StoreDown as down:
            raise self._unavailable(down) from down.cause

    # -- writes ---------------------------------------------------------------------------
    @staticmethod
    def _record_args(reservation_id: str, entry: CostEntry, cost_nanos: int,
                     periods: Sequence[PeriodKey], counters: Sequence[CounterAdd]) -> list[Any]:
        return [reservation_id, *_entry_row(entry, cost_nanos, 0)[:14],
                [period.key for period in periods], [item.owner for item in counters],
                [item.period_key.key for item in counters], [item.amount for item in counters]]

    def _record(self, args: list[Any], entry_id: str) -> bool:
        try:
            return bool(self._run("record_entry", args)[0][0])
        except StoreDown as down:
            return self._journal(down, "record_entry", args, entry_id)

    async def _arecord(self, args: list[Any], entry_id: str) -> bool:
        try:
            return bool((await self._arun("record_entry", args))[0][0])
        except StoreDown as down:
            return self._journal(down, "record_entry", args, entry_id)

    def record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
               counters: Sequence[CounterAdd] = ()) -> bool:
        return self._record(self._record_args("", entry, cost_nanos, periods, counters), entry.id)

    async def arecord(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
                      counters: Sequence[CounterAdd] = ()) -> bool:
        return await self._arecord(
            self._record_args("", entry, cost_nanos, periods, counters), entry.id)

    def settle(self, reservation_id: str, entry: CostEntry, cost_nanos: int,
               periods: Sequence[PeriodKey], *, counters: Sequence[CounterAdd] = ()) -> bool:
        return self._record(
            self._record_args(reservation_id, entry, cost_nanos, periods, counters), entry.id)

    async def asettle(self, reservation_id: str, entry: CostEntry, cost_nanos: int,
                      periods: Sequence[PeriodKey], *,
                      counters: Sequence[CounterAdd] = ()) -> bool:
        return await self._arecord(
            self._record_args(reservation_id, entry, cost_nanos, periods, counters), entry.id)

    @staticmethod
    def _reserve_args(reservation_id: str, user_id: str, amount_nanos: int,
                      limits: Sequence[PeriodLimit], counters: Sequence[CounterLimit],
                      now: float, expires_at: float) -> list[Any]:
        return [reservation_id, user_id, amount_nanos, now, expires_at,
                [item.period_key.key for item in limits], [item.limit_nanos for item in limits],
                [item.owner for item in counters], [item.period_key.key for item in counters],
                [item.limit for item in counters], [item.hold for item in counters],
                [item.add for item in counters]]

    def reserve(self, reservation_id: str, user_id: str, amount_nanos: int,
                limits: Sequence[PeriodLimit], *, now: float, expires_at: float,
                counters: Sequence[CounterLimit] = ()) -> ReserveOutcome:
        args = self._reserve_args(reservation_id, user_id, amount_nanos, limits, counters, now,
                                  expires_at)
        try:
            return decode_reserve_reply(self._run("reserve", args)[0][0], limits, counters)
        except StoreDown as down:
            return self._fallback(down, ReserveOutcome(granted=True))

    async def areserve(self, reservation_id: str, user_id: str, amount_nanos: int,
                       limits: Sequence[PeriodLimit], *, now: float, expires_at: float,
                       counters: Sequence[CounterLimit] = ()) -> ReserveOutcome:
        args = self._reserve_args(reservation_id, user_id, amount_nanos, limits, counters, now,
                                  expires_at)
        try:
            return decode_reserve_reply((await self._arun("reserve", args))[0][0], limits,
                                        counters)
        except StoreDown as down:
            return self._fallback(down, ReserveOutcome(granted=True))

    def release(self, reservation_id: str) -> bool:
        try:
            return bool(self._run("release", [reservation_id]))
        except StoreDown as down:
            return self._journal(down, "release", [reservation_id])

    async def arelease(self, reservation_id: str) -> bool:
        try:
            return bool(await self._arun("release", [reservation_id]))
        except StoreDown as down:
            return self._journal(down, "release", [reservation_id])

    def set_user_tier(self, user_id: str, tier: str | None) -> None:
        try:
            self._run("tier", [user_id, tier])
        except StoreDown as down:
            self._journal(down, "tier", [user_id, tier])

    def reset(self) -> None:
        self._read("reset")

    # -- settings -------------------------------------------------------------------------
    def put_setting(self, name: str, value: str | None) -> None:
        # Limits are not journaled: a change that did not happen must say so.
        self._read("put_setting", [name, value])

    def settings(self) -> tuple[int, dict[str, str]]:
        try:
            rows = self._run("settings", ())
        except StoreDown as down:
            # fail_open: no stored limits while the database is away, under a version no
            # database has (-2), so a tracker reads them again as soon as it answers.
            return self._fallback(down, (_OUTAGE_VERSION, {}))
        self._settings_seen = int(rows[0][0])
        return self._settings_seen, {name: value for _, name, value in rows if name is not None}

    def settings_version(self) -> int:
        try:
            self._settings_seen = int(self._run("settings_version", ())[0][0])
        except StoreDown as down:
            # fail_open: the last version seen, so trackers keep the limits they hold.
            return self._fallback(down, self._settings_seen)
        return self._settings_seen

    # -- reads ----------------------------------------------------------------------------
    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        params = {"u": user_id, "k": [period.key for period in periods], "now": now}
        try:
            return _usage(self._run("usage", params), periods)
        except StoreDown as down:
            return self._fallback(down, _usage([], periods))

    async def ausage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        params = {"u": user_id, "k": [period.key for period in periods], "now": now}
        try:
            return _usage(await self._arun("usage", params), periods)
        except StoreDown as down:
            return self._fallback(down, _usage([], periods))

    def read_counters(self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *,
                      now: float) -> CounterUsage:
        try:
            rows = self._run("counters", _counters_params(counters, owners, now))
        except StoreDown as down:
            rows = self._fallback(down, [])
        return _counter_usage(rows, counters, owners)

    async def aread_counters(self, counters: Sequence[tuple[str, PeriodKey]],
                             owners: Sequence[str], *, now: float) -> CounterUsage:
        try:
            rows = await self._arun("counters", _counters_params(counters, owners, now))
        except StoreDown as down:
            rows = self._fallback(down, [])
        return _counter_usage(rows, counters, owners)

    def user_tiers(self) -> dict[str, str | None]:
        # A tracker reads the tiers when it is created; fail_open lets it start in an outage.
        try:
            return dict(self._run("tiers", ()))
        except StoreDown as down:
            return self._fallback(down, {})

    def user_tier(self, user_id: str) -> str | None:
        try:
            rows = self._run("user_tier", [user_id])
        except StoreDown as down:
            return self._fallback(down, None)
        return None if not rows else rows[0][0]

    def totals(self) -> Totals:
        total = count = 0
        by: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
        for grouping, model, provider, user_id, nanos, entries in self._read("totals"):
            # GROUPING bits: 4 model, 2 provider, 1 user_id (1 = not grouped by it).
            if grouping == 7:
                total, count = int(nanos), int(entries)
            elif grouping == 3:
                by[0][model] = int(nanos)
            elif grouping == 5:
                by[1][provider] = int(nanos)
            elif user_id is not None:
                by[2][user_id] = int(nanos)
        return Totals(total_nanos=total, entry_count=count, by_model=by[0], by_provider=by[1],
                      by_user=by[2])

    def entries(self, *, user_id: str | None = None, model: str | None = None,
                provider: str | None = None, last: int | None = None) -> list[CostEntry]:
        if last is not None and last <= 0:
            return []
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (("user_id", user_id), ("model", model), ("provider", provider)):
            if value is not None:
                conditions.append(f"{column} = %s")
                params.append(value)
        sql = self._sql["entries"]
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if last is None:
            sql += " ORDER BY seq"
        else:
            sql += " ORDER BY seq DESC LIMIT %s"
            params.append(last)
        try:
            self._outage.check_probe()
            try:
                rows = self._attempt(sql, params)
            except Exception as exc:
                if not _is_unavailable(exc):
                    raise
                raise self._outage.went_down(exc) from exc
        except StoreDown as down:
            raise self._unavailable(down) from down.cause
        if last is not None:
            rows.reverse()
        return [_entry_from_row(row) for row in rows]

    # -- beyond the interface -----------------------------------------------------------
    @property
    def pending_writes(self) -> int:
        """Writes journaled in this process during an outage (fail-open), not yet applied."""
        return len(self._outage.journal)

    def reconcile(self) -> int:
        """Replay the fail-open journal now; returns how many writes it replayed.

        Replaying is idempotent by entry id. Raises :class:`~cascadeflow.StoreUnavailableError`
        if the database is still unreachable. Any successful call also reconciles first.

        Example:
            >>> replayed = store.reconcile()
        """
        try:
            self._outage.check_probe()
            try:
                count = self._replay()
            except Exception as exc:
                if not _is_unavailable(exc):
                    raise
                raise self._outage.went_down(exc) from exc
        except StoreDown as down:
            raise self._unavailable(down) from down.cause
        self._outage.came_back()
        return count

    def close(self) -> None:
        """Close the pools the store opened (use :meth:`aclose` in async code)."""
        self._pools.close()
        self._outage.journal.close()

    async def aclose(self) -> None:
        """Close the running loop's pool and the sync one."""
        await self._pools.aclose()
        self._outage.journal.close()


# -- decoding replies -------------------------------------------------------------------------
def _usage(rows: Rows, periods: Sequence[PeriodKey]) -> Usage:
    spent = {period.key: 0 for period in periods}
    reserved = 0
    for key, nanos in rows:
        if key is None:
            reserved = int(nanos)
        else:
            spent[key] = int(nanos)
    return Usage(spent_nanos=spent, reserved_nanos=reserved)


def _counters_params(counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str],
                     now: float) -> dict[str, Any]:
    return {"o": [owner for owner, _ in counters], "k": [period.key for _, period in counters],
            "h": list(owners), "now": now}


def _counter_usage(rows: Rows, counters: Sequence[tuple[str, PeriodKey]],
                   owners: Sequence[str]) -> CounterUsage:
    values = {(owner, period.key): 0 for owner, period in counters}
    held = dict.fromkeys(owners, 0)
    for owner, key, value in rows:
        if key is None:
            held[owner] = int(value)
        else:
            values[(owner, key)] = int(value)
    return CounterUsage(values=values, held=held)
