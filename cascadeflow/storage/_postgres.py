"""The durable shared store: the ledger in PostgreSQL, shared by every worker on every host.

Each check-and-reserve, settle, release and record is one statement calling a function of the
ledger's own schema (``_postgres_schema``), committed when the call returns. Sync calls send
it alone; async ones made at the same time share a transaction (``_postgres_batch``). Amounts
are BIGINT nano-dollars.
"""

from __future__ import annotations

import threading
from asyncio import get_running_loop as _running_loop
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
from cascadeflow.storage._postgres_batch import Operation, StatementBatcher
from cascadeflow.storage._postgres_pools import (
    Params,
    PostgresPools,
    Rows,
    aexecute,
    execute,
    is_unavailable,
    pool_timeout,
    printable_dsn,
)
from cascadeflow.storage._postgres_schema import (
    counter_usage_of,
    counters_params,
    lock_names,
    migrate,
    quoted_schema,
    record_params,
    reserve_params,
    statements,
    text_array,
    usage_of,
)
from cascadeflow.storage._redis_journal import OutageJournal
from cascadeflow.storage._redis_outage import OnUnavailable, OutageState
from cascadeflow.storage._redis_outage import RedisDown as StoreDown
from cascadeflow.storage._sqlite import _entry_from_row

if TYPE_CHECKING:
    import os
    from types import TracebackType

    from psycopg_pool import AsyncConnectionPool, ConnectionPool

T = TypeVar("T")

# The settings version fail_open answers during an outage: never a real one (those start at 0).
_OUTAGE_VERSION = -2


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
    * **Batched async writes:** the ``areserve``, ``asettle``, ``arecord`` and
      ``arelease`` calls of concurrent asyncio tasks share one transaction (one round trip,
      one commit), which first locks everything its calls touch in one sorted order; each
      call returns once that commit has succeeded. A lone call is sent at once. A task
      cancelled while its call is in flight may still have had it applied.
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
        self.url = printable_dsn(self._pools.conninfo)
        self._outage = OutageState(self.url, _Probe(probe_interval), on_unavailable,
                                   journal=OutageJournal(journal_path), service="PostgreSQL")
        self._migrated = False
        self._settings_seen = 0
        self._migrate_lock = threading.Lock()
        self._sql = statements(quoted)
        self._batcher: StatementBatcher | None = None
        self._async_failures = 0

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

    def _attempt(self, sql: str, params: Params) -> Rows:
        if self._outage.is_down:
            # A direct connection says at once whether the server is back (a refused one
            # fails in microseconds); only then does a fresh pool replace the old one.
            self._pools.probe()
            self._pools.renew_sync()
        self._ensure_schema()
        pool = self._pools.sync()
        try:
            return execute(pool, sql, params)
        except Exception as exc:
            if not is_unavailable(exc) or isinstance(exc, pool_timeout()):
                raise
        # After a server restart the pool's idle connections are dead: when the server
        # answers, drop them and try once more (every statement is idempotent: see the
        # schema's functions).
        self._pools.probe()
        pool.check()
        return execute(pool, sql, params)

    async def _aattempt(self, operation: Operation, *, batched: bool = False) -> Rows:
        if self._outage.is_down:
            await self._pools.aprobe()
            await self._pools.renew_async(self._async_failures)
        if not self._migrated:
            await _in_worker_thread(self._ensure_schema)
        pool = await self._pools.async_pool()
        try:
            return await self._asend(pool, operation, batched)
        except Exception as exc:
            if not is_unavailable(exc) or isinstance(exc, pool_timeout()):
                raise
        await self._pools.aprobe()
        await pool.check()
        return await self._asend(pool, operation, batched)

    async def _asend(self, pool: AsyncConnectionPool, operation: Operation,
                     batched: bool) -> Rows:
        if not batched:
            return await aexecute(pool, operation.sql, operation.params)
        batcher = self._batcher
        if batcher is None or batcher.pool is not pool or batcher.loop is not _running_loop():
            # A pool belongs to one event loop, and so does the batcher that sends on it.
            batcher = self._batcher = StatementBatcher(pool, self._sql["apply_batch"])
        return await batcher.run(operation)

    def _run(self, name: str, params: Params) -> Rows:
        # ``name`` is a statement's name, or (a report's query made for the call) its text.
        self._outage.check_probe()
        try:
            if self._outage.journal:
                self._replay()
            rows = self._attempt(self._sql.get(name, name), params)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            raise self._outage.went_down(exc) from exc
        self._outage.came_back()
        return rows

    async def _arun(self, name: str, params: Params, *, names: tuple[str, ...] | None = None,
                    lease: str = "") -> Rows:
        # ``names`` (the advisory locks the write takes) marks a write that may share a batch.
        self._outage.check_probe()
        try:
            if self._outage.journal:
                await self._areplay()
            rows = await self._aattempt(
                Operation(self._sql[name], params, names or (), lease, kind=name),
                batched=names is not None)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self._async_failures += 1
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
            await self._aattempt(Operation(self._sql[item.script], item.args))
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

    def _read(self, name: str, params: Params = ()) -> Rows:
        # Reports and settings have no fail-open answer: an outage always raises.
        try:
            return self._run(name, params)
        except StoreDown as down:
            raise self._unavailable(down) from down.cause

    # -- writes ---------------------------------------------------------------------------
    def _record(self, args: list[Any], entry_id: str) -> bool:
        try:
            return bool(self._run("record_entry", args)[0][0])
        except StoreDown as down:
            return self._journal(down, "record_entry", args, entry_id)

    async def _arecord(self, args: list[Any], entry: CostEntry,
                       counters: Sequence[CounterAdd]) -> bool:
        names = lock_names(entry.user_id, [item.owner for item in counters])
        try:
            return bool((await self._arun("record_entry", args, names=names,
                                          lease=args[0]))[0][0])
        except StoreDown as down:
            return self._journal(down, "record_entry", args, entry.id)

    def record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
               counters: Sequence[CounterAdd] = ()) -> bool:
        return self._record(record_params("", entry, cost_nanos, periods, counters), entry.id)

    async def arecord(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
                      counters: Sequence[CounterAdd] = ()) -> bool:
        return await self._arecord(
            record_params("", entry, cost_nanos, periods, counters), entry, counters)

    def settle(self, reservation_id: str, entry: CostEntry, cost_nanos: int,
               periods: Sequence[PeriodKey], *, counters: Sequence[CounterAdd] = ()) -> bool:
        return self._record(
            record_params(reservation_id, entry, cost_nanos, periods, counters), entry.id)

    async def asettle(self, reservation_id: str, entry: CostEntry, cost_nanos: int,
                      periods: Sequence[PeriodKey], *,
                      counters: Sequence[CounterAdd] = ()) -> bool:
        return await self._arecord(
            record_params(reservation_id, entry, cost_nanos, periods, counters), entry,
            counters)

    def reserve(self, reservation_id: str, user_id: str, amount_nanos: int,
                limits: Sequence[PeriodLimit], *, now: float, expires_at: float,
                counters: Sequence[CounterLimit] = ()) -> ReserveOutcome:
        args = reserve_params(reservation_id, user_id, amount_nanos, limits, counters, now,
                                  expires_at)
        try:
            return decode_reserve_reply(self._run("reserve", args)[0][0], limits, counters)
        except StoreDown as down:
            return self._fallback(down, ReserveOutcome(granted=True))

    async def areserve(self, reservation_id: str, user_id: str, amount_nanos: int,
                       limits: Sequence[PeriodLimit], *, now: float, expires_at: float,
                       counters: Sequence[CounterLimit] = ()) -> ReserveOutcome:
        args = reserve_params(reservation_id, user_id, amount_nanos, limits, counters, now,
                                  expires_at)
        names = lock_names(user_id, [item.owner for item in counters])
        try:
            rows = await self._arun("reserve", args, names=names)
            return decode_reserve_reply(rows[0][0], limits, counters)
        except StoreDown as down:
            return self._fallback(down, ReserveOutcome(granted=True))

    def release(self, reservation_id: str) -> bool:
        try:
            return bool(self._run("release", [reservation_id]))
        except StoreDown as down:
            return self._journal(down, "release", [reservation_id])

    async def arelease(self, reservation_id: str) -> bool:
        try:
            return bool(await self._arun("release", [reservation_id], names=(),
                                         lease=reservation_id))
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

    async def asettings(self) -> tuple[int, dict[str, str]]:
        try:
            rows = await self._arun("settings", ())
        except StoreDown as down:
            return self._fallback(down, (_OUTAGE_VERSION, {}))  # as settings()
        self._settings_seen = int(rows[0][0])
        return self._settings_seen, {name: value for _, name, value in rows if name is not None}

    async def asettings_version(self) -> int:
        try:
            self._settings_seen = int((await self._arun("settings_version", ()))[0][0])
        except StoreDown as down:
            return self._fallback(down, self._settings_seen)  # as settings_version()
        return self._settings_seen

    # -- reads ----------------------------------------------------------------------------
    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        params = {"u": user_id, "k": text_array([period.key for period in periods]), "now": now}
        try:
            return usage_of(self._run("usage", params), periods)
        except StoreDown as down:
            return self._fallback(down, usage_of([], periods))

    async def ausage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        params = {"u": user_id, "k": text_array([period.key for period in periods]), "now": now}
        try:
            return usage_of(await self._arun("usage", params), periods)
        except StoreDown as down:
            return self._fallback(down, usage_of([], periods))

    def read_counters(self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *,
                      now: float) -> CounterUsage:
        try:
            rows = self._run("counters", counters_params(counters, owners, now))
        except StoreDown as down:
            rows = self._fallback(down, [])
        return counter_usage_of(rows, counters, owners)

    async def aread_counters(self, counters: Sequence[tuple[str, PeriodKey]],
                             owners: Sequence[str], *, now: float) -> CounterUsage:
        try:
            rows = await self._arun("counters", counters_params(counters, owners, now))
        except StoreDown as down:
            rows = self._fallback(down, [])
        return counter_usage_of(rows, counters, owners)

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

    async def auser_tier(self, user_id: str) -> str | None:
        try:
            rows = await self._arun("user_tier", [user_id])
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
        rows = self._read(sql, params)
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
                if not is_unavailable(exc):
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
        """Close the running loop's pool and the sync one, once its batches have been sent."""
        batcher, self._batcher = self._batcher, None
        if batcher is not None and batcher.loop is _running_loop():
            await batcher.drain()
        await self._pools.aclose()
        self._outage.journal.close()
