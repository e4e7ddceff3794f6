"""The shared store: one budget per user across processes and hosts, kept in Redis.

Every check-and-reserve, settle, release and record is one Lua script (see
``_redis_scripts``) over integer nano-dollar counters, so racing workers never overspend.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

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
    decode_reserve_reply,
    refuse_add_only_limits,
)
from cascadeflow.storage._redis_batch import as_outage
from cascadeflow.storage._redis_calls import ScriptCaller
from cascadeflow.storage._redis_clients import AsyncRedis, RedisClients, SyncRedis, is_cluster
from cascadeflow.storage._redis_journal import OutageJournal
from cascadeflow.storage._redis_layout import (
    RedisLayout,
    decode_entry,
    decode_tier,
    new_nonce,
)
from cascadeflow.storage._redis_outage import (
    UNAVAILABLE,
    OnUnavailable,
    OutageState,
    RedisDown,
    RedisRetryPolicy,
)

T = TypeVar("T")
_DAY = 86400.0
_PAGE = 1000


class RedisStore(LedgerStore):
    """A ledger store in Redis, shared by every process and host that points at it.

    Counters (the source of truth for enforcement) are integer nano-dollars, one key per
    user and period; daily, weekly and monthly keys expire ``period_margin`` seconds after
    their period ends, ``total`` never. Reservations are leases that stop counting at their
    expiry even if the worker holding them died. Writes are idempotent by entry id for
    ``marker_ttl`` seconds (default 8 days), so a retried settle counts once. The history
    (``entries()``) is a bounded Redis stream per day: at most ``history_max_per_day``
    entries per day (approximately), kept ``history_days`` days; use :meth:`drain_to` to
    copy it into a durable store.

    When Redis cannot be reached, ``on_unavailable="fail_closed"`` (the default) raises
    :class:`~cascadeflow.StoreUnavailableError` naming the URL. ``"fail_open"`` is an
    explicit opt-in: requests are allowed *without any budget check*, the failure is logged
    once per outage, and writes are journaled in this process and replayed when Redis is
    back. Reports (``totals``, ``entries``) always raise during an outage; ``user_tiers``
    answers ``{}`` in fail-open so a tracker can start.

    Args:
        url_or_client: a ``redis://`` URL, a ``redis.Redis`` or a ``redis.asyncio.Redis``
            (for a cluster: a ``redis+cluster://`` URL of any node, or a ``RedisCluster``).
            From a URL the store creates a sync and an asyncio client (lazily); from one
            client it derives the other from its connection settings, or asks for a URL.
        prefix: the first part of every key, so several ledgers can share one Redis.
        on_unavailable: ``"fail_closed"`` or ``"fail_open"``.
        retry: retries, backoff and timeouts (:class:`RedisRetryPolicy`).
        period_margin: seconds a period's counter lives after the period ends.
        marker_ttl: seconds an entry id is remembered, so a retried write counts once.
        history_max_per_day: about how many entries each day's stream keeps (0: none).
        history_days: how many days of history are kept.
        journal_path: fail-open only: keep the outage journal in this SQLite file instead
            of memory, so writes journaled by a process that dies during an outage are
            replayed by the next store opened on the same file.
        cluster: talk to a Redis Cluster (also implied by a ``redis+cluster://`` URL or a
            ``RedisCluster`` client). Users are spread over 16 buckets, each a hash tag
            (``{cascadeflow#07}``) holding its users' keys, so the ledger spreads over the
            masters and a request on the user's own limits is one script, as on standalone
            Redis. Scopes shared by tenants (team, org, key, tag, global) live in the
            shared slot (``{cascadeflow}``, with the stored limits): a request that must
            pass one is reserved in two steps (the user's bucket, then the shared slot,
            the first released when the second refuses), which never lets two requests
            pass on the same remaining budget. Each call declares every key it touches, so
            slots can be resharded while in use (a call whose keys are split between two
            masters is retried by the cluster client, or fails as an outage, with nothing
            applied).

    Example:
        >>> from cascadeflow import CostTracker, BudgetConfig
        >>> from cascadeflow.storage import RedisStore
        >>> tracker = CostTracker(user_budgets={"free": BudgetConfig(daily=1.0)},
        ...                       store=RedisStore("redis://localhost:6379/0"))

    .. versionadded:: 0.1.0
    """

    shared = True
    counters_expire = True

    def __new__(cls, url_or_client: str | SyncRedis | AsyncRedis, *args: Any,
                cluster: bool = False, **kwargs: Any) -> RedisStore:
        # A cluster gets the store that splits operations by hash slot.
        if cls is RedisStore and (cluster or is_cluster(url_or_client)):
            from cascadeflow.storage._redis_cluster import ClusterRedisStore

            return super().__new__(ClusterRedisStore)
        return super().__new__(cls)

    def __init__(
        self,
        url_or_client: str | SyncRedis | AsyncRedis,
        *,
        prefix: str = "cascadeflow",
        on_unavailable: OnUnavailable = "fail_closed",
        retry: RedisRetryPolicy | None = None,
        period_margin: float = 2 * _DAY,
        marker_ttl: float = 8 * _DAY,
        history_max_per_day: int = 100_000,
        history_days: int = 31,
        journal_path: str | os.PathLike[str] | None = None,
        cluster: bool = False,
    ) -> None:
        if on_unavailable not in ("fail_closed", "fail_open"):
            raise ValueError(
                f"on_unavailable must be 'fail_closed' or 'fail_open', got {on_unavailable!r}"
            )
        if not prefix:
            raise ValueError("prefix must not be empty")
        if history_max_per_day < 0 or history_days < 1:
            raise ValueError("history_max_per_day must be >= 0 and history_days >= 1")
        self.policy = retry or RedisRetryPolicy()
        self.on_unavailable: OnUnavailable = on_unavailable
        clustered = cluster or is_cluster(url_or_client)
        if clustered and any(mark in prefix for mark in "{}#"):
            raise ValueError(f"in cluster mode the prefix must not contain braces or '#' "
                             f"(they place keys in hash slots), got {prefix!r}")
        self.layout = RedisLayout(
            # On a cluster the prefix is the shared slot's hash tag (users have buckets).
            prefix=f"{{{prefix}}}" if clustered else prefix, period_margin=period_margin,
            marker_ttl=marker_ttl, history_max_per_day=history_max_per_day,
            history_days=history_days,
        )
        self._clients = RedisClients(url_or_client, self.policy,
                                     route_key=self.layout.settings_version, cluster=clustered)
        self.url = self._clients.url
        layouts = self._setup_cluster(prefix) if clustered else None
        self._calls = ScriptCaller(self._clients, self.layout, layouts)
        self._outage = OutageState(self.url, self.policy, on_unavailable,
                                   journal=OutageJournal(journal_path))

    def _setup_cluster(self, name: str) -> dict[str, RedisLayout]:
        raise TypeError("RedisStore was made for standalone Redis; a cluster needs cluster=True")

    def __repr__(self) -> str:
        return (f"RedisStore({self.url!r}, prefix={self.layout.prefix!r}, "
                f"on_unavailable={self.on_unavailable!r})")

    # -- running scripts, with retry, outage handling and journal replay ----------------
    def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        self._outage.check_probe()

        def attempt() -> Any:
            if self._outage.journal:
                self._replay()
            return self._calls.call(script, keys, args)

        try:
            result = self.policy.call(attempt)
        except UNAVAILABLE as exc:
            raise self._outage.went_down(exc) from exc
        self._outage.came_back()
        return result

    async def _arun(self, script: str, keys: list[str], args: list[Any]) -> Any:
        tried = False
        if not self._outage.is_down and not self._outage.journal:
            # The hot path: Redis answered last time. A failure continues with the retries.
            try:
                return await self._calls.acall(script, keys, args)
            except UNAVAILABLE as exc:
                if self.policy.attempts == 1:
                    raise self._outage.went_down(exc) from exc
                tried = True
        else:
            self._outage.check_probe()

        async def attempt() -> Any:
            if self._outage.journal:
                await self._areplay()
            return await self._calls.acall(script, keys, args)

        try:
            result = await self.policy.acall(attempt, tried=tried)
        except UNAVAILABLE as exc:
            raise self._outage.went_down(exc) from exc
        self._outage.came_back()
        return result

    def _replay(self) -> int:
        items = self._outage.journal.items()
        for item in items:
            self._calls.call(item.script, item.keys, item.args)
            self._outage.journal.applied(item)
        return len(items)

    async def _areplay(self) -> int:
        items = self._outage.journal.items()
        for item in items:
            await self._calls.acall(item.script, item.keys, item.args)
            self._outage.journal.applied(item)
        return len(items)

    def _read(self, fn: Callable[[SyncRedis], T]) -> T:
        # Reports have no fail-open answer: an outage always raises.
        try:
            self._outage.check_probe()
            try:
                result = self.policy.call(lambda: fn(self._clients.sync()))
            except UNAVAILABLE as exc:
                raise self._outage.went_down(exc) from exc
        except RedisDown as down:
            raise self._unavailable(down) from down.cause
        self._outage.came_back()
        return result

    async def _aread(self, fn: Callable[[AsyncRedis], Awaitable[T]]) -> T:
        """Async :meth:`_read`."""
        async def attempt() -> T:
            try:
                return await fn(self._clients.aclient())
            except AttributeError as error:
                lost = as_outage(error)  # a connection redis-py closed under the call?
                if lost is error:
                    raise
                raise lost from error

        try:
            self._outage.check_probe()
            try:
                result = await self.policy.acall(attempt)
            except UNAVAILABLE as exc:
                raise self._outage.went_down(exc) from exc
        except RedisDown as down:
            raise self._unavailable(down) from down.cause
        self._outage.came_back()
        return result

    def _unavailable(self, down: RedisDown) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Redis at {self.url} is unavailable ({down}); the store fails "
            f"{'closed' if self.on_unavailable == 'fail_closed' else 'open for requests'}"
        )

    def _fallback(self, down: RedisDown, value: T) -> T:
        if self.on_unavailable == "fail_closed":
            raise self._unavailable(down) from down.cause
        return value

    def _journal(self, down: RedisDown, script: str, keys: list[str], args: list[Any],
                 entry_id: str | None = None) -> bool:
        # fail_open: keep the write for replay; False only for an entry id kept already.
        if self.on_unavailable == "fail_closed":
            raise self._unavailable(down) from down.cause
        return self._outage.journal.add(script, keys, args, entry_id)

    # -- LedgerStore: writes ------------------------------------------------------------
    def record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
               counters: Sequence[CounterAdd] = ()) -> bool:
        return self._record(entry, cost_nanos, periods, reservation_id="", counters=counters)

    async def arecord(
        self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
        counters: Sequence[CounterAdd] = (),
    ) -> bool:
        return await self._arecord(entry, cost_nanos, periods, reservation_id="",
                                   counters=counters)

    def settle(
        self, reservation_id: str, entry: CostEntry, cost_nanos: int,
        periods: Sequence[PeriodKey], *, counters: Sequence[CounterAdd] = (),
    ) -> bool:
        return self._record(entry, cost_nanos, periods, reservation_id=reservation_id,
                            counters=counters)

    async def asettle(
        self, reservation_id: str, entry: CostEntry, cost_nanos: int,
        periods: Sequence[PeriodKey], *, counters: Sequence[CounterAdd] = (),
    ) -> bool:
        return await self._arecord(entry, cost_nanos, periods, reservation_id=reservation_id,
                                   counters=counters)

    def _record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
                reservation_id: str, counters: Sequence[CounterAdd]) -> bool:
        # A settle is a record that also drops the lease; the nonce tells a retry of this
        # very call (counted, answer True) from an earlier record of the same id (False).
        keys, args = self.layout.record_call(
            entry, cost_nanos, periods, reservation_id=reservation_id, nonce=new_nonce(),
            counters=counters)
        script = "record_counted" if counters else "record"
        try:
            return bool(self._run(script, keys, args))
        except RedisDown as down:
            return self._journal(down, script, keys, args, entry.id)

    async def _arecord(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey],
                       *, reservation_id: str, counters: Sequence[CounterAdd]) -> bool:
        keys, args = self.layout.record_call(
            entry, cost_nanos, periods, reservation_id=reservation_id, nonce=new_nonce(),
            counters=counters)
        script = "record_counted" if counters else "record"
        try:
            return bool(await self._arun(script, keys, args))
        except RedisDown as down:
            return self._journal(down, script, keys, args, entry.id)

    def _reserve_call(
        self, reservation_id: str, user_id: str, amount_nanos: int,
        limits: Sequence[PeriodLimit], counters: Sequence[CounterLimit], now: float,
        expires_at: float,
    ) -> tuple[str, list[str], list[str]]:
        if counters:
            refuse_add_only_limits(counters)
            keys, args = self.layout.reserve_counted_call(
                reservation_id, user_id, amount_nanos, limits, counters, now, expires_at)
            return "reserve_counted", keys, args
        keys, args = self.layout.reserve_call(
            reservation_id, user_id, amount_nanos, limits, now, expires_at)
        return "reserve", keys, args

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
        script, keys, args = self._reserve_call(
            reservation_id, user_id, amount_nanos, limits, counters, now, expires_at)
        try:
            outcome = decode_reserve_reply(self._run(script, keys, args), limits, counters)
        except RedisDown as down:
            return self._fallback(down, ReserveOutcome(granted=True))
        return outcome

    async def areserve(
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
        script, keys, args = self._reserve_call(
            reservation_id, user_id, amount_nanos, limits, counters, now, expires_at)
        try:
            outcome = decode_reserve_reply(await self._arun(script, keys, args), limits,
                                           counters)
        except RedisDown as down:
            return self._fallback(down, ReserveOutcome(granted=True))
        return outcome

    def release(self, reservation_id: str) -> bool:
        keys, args = self.layout.release_call(reservation_id)
        try:
            return bool(self._run("release", keys, args))
        except RedisDown as down:
            return self._journal(down, "release", keys, args)

    async def arelease(self, reservation_id: str) -> bool:
        keys, args = self.layout.release_call(reservation_id)
        try:
            return bool(await self._arun("release", keys, args))
        except RedisDown as down:
            return self._journal(down, "release", keys, args)

    def set_user_tier(self, user_id: str, tier: str | None) -> None:
        keys, args = self.layout.tier_call(user_id, tier)
        try:
            self._run("tier", keys, args)
        except RedisDown as down:
            self._journal(down, "tier", keys, args)

    def put_setting(self, name: str, value: str | None) -> None:
        keys, args = self.layout.setting_call(name, value)
        try:
            self._run("setting", keys, args)
        except RedisDown as down:
            # Limits are not journaled: a change that did not happen must say so.
            raise self._unavailable(down) from down.cause

    def settings(self) -> tuple[int, dict[str, str]]:
        layout = self.layout

        def snapshot(client: SyncRedis) -> list[Any]:
            pipe = client.pipeline(transaction=True)
            pipe.get(layout.settings_version)
            pipe.hgetall(layout.settings)
            return pipe.execute()

        version, raw = self._read(snapshot)
        return int(version or 0), {_text(k): _text(v) for k, v in raw.items()}

    def settings_version(self) -> int:
        return int(self._read(lambda client: client.get(self.layout.settings_version)) or 0)

    async def asettings(self) -> tuple[int, dict[str, str]]:
        layout = self.layout

        async def snapshot(client: AsyncRedis) -> tuple[Any, Any]:
            # The version first: settings newer than it are read again at the next check.
            version = await client.get(layout.settings_version)
            return version, await client.hgetall(layout.settings)

        version, raw = await self._aread(snapshot)
        return int(version or 0), {_text(k): _text(v) for k, v in raw.items()}

    async def asettings_version(self) -> int:
        key = self.layout.settings_version
        return int(await self._aread(lambda client: client.get(key)) or 0)

    def read_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        keys, args = self.layout.counters_call(counters, owners, now)
        try:
            raw = self._run("counters", keys, args)
        except RedisDown as down:
            raw = self._fallback(down, [0] * (len(counters) + len(owners)))
        return _counter_usage(raw, counters, owners)

    async def aread_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        keys, args = self.layout.counters_call(counters, owners, now)
        try:
            raw = await self._arun("counters", keys, args)
        except RedisDown as down:
            raw = self._fallback(down, [0] * (len(counters) + len(owners)))
        return _counter_usage(raw, counters, owners)

    def reset(self) -> None:
        pattern = self._reset_pattern()
        kept = {self.layout.settings.encode(), self.layout.settings_version.encode()}

        def wipe(client: SyncRedis) -> None:
            batch: list[Any] = []
            for key in client.scan_iter(match=pattern, count=1000):
                if (key.encode() if isinstance(key, str) else key) in kept:
                    continue  # settings are configuration: reset keeps them
                batch.append(key)
                if len(batch) >= 1000:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)

        self._read(wipe)

    def _reset_pattern(self) -> str:
        return self.layout.pattern

    # -- LedgerStore: reads -------------------------------------------------------------
    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        keys, args = self.layout.usage_call(user_id, periods, now)
        try:
            return _usage(self._run("usage", keys, args), periods)
        except RedisDown as down:
            return self._fallback(down, _open_usage(periods))

    async def ausage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        keys, args = self.layout.usage_call(user_id, periods, now)
        try:
            return _usage(await self._arun("usage", keys, args), periods)
        except RedisDown as down:
            return self._fallback(down, _open_usage(periods))

    def _tiers_read(self, fn: Callable[[SyncRedis], T], fail_open_value: T) -> T:
        # A tracker reads the tiers when it is created; fail_open lets it start in an outage.
        try:
            return self._read(fn)
        except StoreUnavailableError as error:
            if self.on_unavailable == "fail_open":
                return fail_open_value
            raise error

    def user_tiers(self) -> dict[str, str | None]:
        empty: dict[Any, Any] = {}
        raw = self._tiers_read(lambda client: client.hgetall(self.layout.tiers), empty)
        return {_text(user): decode_tier(tier) for user, tier in raw.items()}

    def user_tier(self, user_id: str) -> str | None:
        raw = self._tiers_read(lambda client: client.hget(self.layout.tiers, user_id), None)
        return None if raw is None else decode_tier(raw)

    async def auser_tier(self, user_id: str) -> str | None:
        return await self._atier_of(self.layout.tiers, user_id)

    async def _atier_of(self, tiers: str, user_id: str) -> str | None:
        try:
            raw = await self._aread(lambda client: client.hget(tiers, user_id))
        except StoreUnavailableError as error:
            if self.on_unavailable == "fail_open":  # as _tiers_read
                return None
            raise error
        return None if raw is None else decode_tier(raw)

    def totals(self) -> Totals:
        layout = self.layout

        def snapshot(client: SyncRedis) -> list[Any]:
            pipe = client.pipeline(transaction=True)
            for key in (layout.totals, layout.by_model, layout.by_provider, layout.by_user):
                pipe.hgetall(key)
            return pipe.execute()

        totals, by_model, by_provider, by_user = self._read(snapshot)
        return Totals(
            total_nanos=int(totals.get(b"total", totals.get("total", 0))),
            entry_count=int(totals.get(b"count", totals.get("count", 0))),
            by_model=_int_map(by_model),
            by_provider=_int_map(by_provider),
            by_user=_int_map(by_user),
        )

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
        filtered = not (user_id is None and model is None and provider is None)
        # Without filters, `last` reads only the newest days backwards.
        newest_only = last if not filtered else None
        raw = self._read(lambda client: self._history(client, newest_only, user_id))
        selected = [
            e for e in (decode_entry(item) for item in raw)
            if (user_id is None or e.user_id == user_id)
            and (model is None or e.model == model)
            and (provider is None or e.provider == provider)
        ]
        return selected[-last:] if last is not None else selected

    def _history(self, client: SyncRedis, newest: int | None,
                 user_id: str | None) -> list[bytes | str]:
        """The history in recording order (``user_id``: a store may read only that user's)."""
        return self._read_history_of(client, self.layout, newest)

    @staticmethod
    def _read_history_of(client: SyncRedis, layout: RedisLayout,
                         newest: int | None) -> list[bytes | str]:
        """One stream set's entries in recording order (``newest``: only that many, last)."""
        days = [_text(d) for d in cast("list[Any]", client.zrange(layout.days, 0, -1))]
        if newest is None:
            out: list[bytes | str] = []
            for day in days:
                start = "-"
                while True:
                    page = cast("list[Any]", client.xrange(
                        layout.stream(day), min=start, count=_PAGE))
                    out += [_entry_json(fields) for _, fields in page]
                    if len(page) < _PAGE:
                        break
                    start = "(" + _text(page[-1][0])
            return out
        backwards: list[bytes | str] = []
        for day in reversed(days):
            want = newest - len(backwards)
            if want <= 0:
                break
            page = cast("list[Any]", client.xrevrange(layout.stream(day), count=want))
            backwards += [_entry_json(fields) for _, fields in page]
        return list(reversed(backwards))

    # -- beyond the interface -----------------------------------------------------------
    @property
    def pending_writes(self) -> int:
        """Writes journaled in this process during an outage (fail-open), not yet in Redis."""
        return len(self._outage.journal)

    def reconcile(self) -> int:
        """Replay the fail-open journal into Redis now; returns how many writes it replayed.

        Replaying is idempotent by entry id, so an entry that reached Redis before the outage
        is not counted twice. Raises :class:`~cascadeflow.StoreUnavailableError` if Redis is
        still unreachable. Any successful operation also reconciles first.
        """
        try:
            self._outage.check_probe()
            try:
                count = self.policy.call(self._replay)
            except UNAVAILABLE as exc:
                raise self._outage.went_down(exc) from exc
        except RedisDown as down:
            raise self._unavailable(down) from down.cause
        self._outage.came_back()
        return count

    async def areconcile(self) -> int:
        """Async :meth:`reconcile`."""
        try:
            self._outage.check_probe()
            try:
                count = await self.policy.acall(self._areplay)
            except UNAVAILABLE as exc:
                raise self._outage.went_down(exc) from exc
        except RedisDown as down:
            raise self._unavailable(down) from down.cause
        self._outage.came_back()
        return count

    def drain_to(
        self,
        store: LedgerStore,
        *,
        periods: Callable[[CostEntry], Sequence[PeriodKey]] | None = None,
    ) -> int:
        """Copy the history kept in Redis into ``store`` (e.g. a ``SQLiteStore``).

        Idempotent: entries already in ``store`` (same id) are skipped, so draining every
        night copies each entry once. ``periods`` maps an entry to the period keys whose
        counters the target should update (``None``: history and totals only). Returns the
        number of entries newly copied.

        Example:
            >>> copied = redis_store.drain_to(SQLiteStore("archive.db"))
        """
        from cascadeflow._money import to_nanos

        copied = 0
        for entry in self.entries():
            keys = periods(entry) if periods is not None else ()
            if store.record(entry, to_nanos(entry.cost), keys):
                copied += 1
        return copied

    def close(self) -> None:
        """Close the connections the store made (use :meth:`aclose` in async code)."""
        self._clients.close()
        self._outage.journal.close()

    async def aclose(self) -> None:
        """Close the running event loop's connections and the sync ones."""
        await self._clients.aclose()
        self._outage.journal.close()


# -- decoding script replies ------------------------------------------------------------
def _counter_usage(raw: list[Any], counters: Sequence[tuple[str, PeriodKey]],
                   owners: Sequence[str]) -> CounterUsage:
    values = {(owner, period.key): int(value)
              for (owner, period), value in zip(counters, raw, strict=False)}
    held = {owner: int(value) for owner, value in zip(owners, raw[len(counters):], strict=True)}
    return CounterUsage(values=values, held=held)


def _usage(raw: list[Any], periods: Sequence[PeriodKey]) -> Usage:
    return Usage(
        spent_nanos={p.key: int(v) for p, v in zip(periods, raw[1:], strict=True)},
        reserved_nanos=int(raw[0]),
    )


def _open_usage(periods: Sequence[PeriodKey]) -> Usage:
    # fail_open during an outage: nothing is known to be spent, every check allows.
    return Usage(spent_nanos={p.key: 0 for p in periods}, reserved_nanos=0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry_json(fields: dict[Any, Any]) -> bytes | str:
    value: bytes | str = fields[b"e"] if b"e" in fields else fields["e"]
    return value


def _int_map(raw: dict[Any, Any]) -> dict[str, int]:
    return {_text(k): int(v) for k, v in raw.items()}
