"""The Redis store on a Redis Cluster: each operation split by hash slot (``_redis_tenants``).

An operation whose keys all live in the user's bucket (the common case: the user's own
limits, caps, quotas and the rollups) is one script call, as on standalone Redis. One that
also checks or counts a scope shared by tenants runs in two steps, in the order that never
under-counts a limit; reads gather the buckets' parts.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from cascadeflow._entry import CostEntry
from cascadeflow._exceptions import StoreUnavailableError
from cascadeflow.storage._base import (
    CounterAdd,
    CounterLimit,
    CounterUsage,
    PeriodKey,
    PeriodLimit,
    ReserveOutcome,
    Totals,
    Usage,
    decode_reserve_reply,
)
from cascadeflow.storage._redis import RedisStore, _counter_usage, _int_map, _text, _usage
from cascadeflow.storage._redis_clients import SyncRedis
from cascadeflow.storage._redis_layout import (
    RedisLayout,
    decode_tier,
    entry_order,
    new_nonce,
)
from cascadeflow.storage._redis_outage import RedisDown
from cascadeflow.storage._redis_tenants import TenantLayout

logger = logging.getLogger("cascadeflow.storage")
Call = tuple[str, list[str], list[str]]
#: One step of a reserve: the slot, the user's limits, the counters and the amount checked.
Step = tuple[RedisLayout, Sequence[PeriodLimit], list[CounterLimit], int]


class ClusterRedisStore(RedisStore):
    """:class:`RedisStore` on a Redis Cluster (made by ``RedisStore(...)`` for a cluster)."""

    tenants: TenantLayout

    def _setup_cluster(self, name: str) -> dict[str, RedisLayout]:
        self.tenants = TenantLayout(self.layout, name)
        self._order_lock = threading.Lock()
        self._last_order = 0
        return self.tenants.by_prefix

    def _next_order(self) -> int:
        # The history is one stream per bucket: entries are merged by this clock, which
        # follows each store's recording order (and, across hosts, their clocks).
        with self._order_lock:
            self._last_order = max(time.time_ns(), self._last_order + 1)
            return self._last_order

    # -- writes -------------------------------------------------------------------------
    def _record_parts(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey],
                      reservation_id: str, counters: Sequence[CounterAdd]) -> list[Call]:
        """The entry's calls: other slots' parts first, the user's bucket (the answer) last."""
        tenants = self.tenants
        nonce = new_nonce()
        mine = tenants.of_user(entry.user_id)
        local, elsewhere = tenants.split_adds(entry.user_id, counters)
        assert self._calls.leases is not None
        known = self._calls.leases.homes(reservation_id) if reservation_id else ()
        # A lease this store did not make may have a part in the shared slot.
        ending = set(known if known is not None else (tenants.shared.prefix,))
        ending.discard(mine.prefix)
        ref = entry.timestamp.timestamp()
        parts: list[Call] = []
        for layout, adds in elsewhere:
            rid = reservation_id if layout.prefix in ending else ""
            ending.discard(layout.prefix)
            parts.append(("add_counted", *layout.add_counted_call(
                entry.id, adds, ref, reservation_id=rid, nonce=nonce)))
        for prefix in sorted(ending):
            parts.append(("release", *tenants.by_prefix[prefix].release_call(reservation_id)))
        keys, args = mine.record_call(entry, cost_nanos, periods, reservation_id=reservation_id,
                                      nonce=nonce, counters=local, order=self._next_order())
        parts.append(("record_counted" if local else "record", keys, args))
        return parts

    def _journal_parts(self, down: RedisDown, parts: Sequence[Call], entry_id: str | None
                       ) -> bool:
        kept = True
        for index, (script, keys, args) in enumerate(parts):
            last = index == len(parts) - 1
            kept = self._journal(down, script, keys, args, entry_id if last else None)
        return kept

    def _record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
                reservation_id: str, counters: Sequence[CounterAdd]) -> bool:
        parts = self._record_parts(entry, cost_nanos, periods, reservation_id, counters)
        result: Any = None
        for index, (script, keys, args) in enumerate(parts):
            try:
                result = self._run(script, keys, args)
            except RedisDown as down:
                return self._journal_parts(down, parts[index:], entry.id)
        return bool(result)

    async def _arecord(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey],
                       *, reservation_id: str, counters: Sequence[CounterAdd]) -> bool:
        parts = self._record_parts(entry, cost_nanos, periods, reservation_id, counters)
        result: Any = None
        for index, (script, keys, args) in enumerate(parts):
            try:
                result = await self._arun(script, keys, args)
            except RedisDown as down:
                return self._journal_parts(down, parts[index:], entry.id)
        return bool(result)

    def _steps(self, user_id: str, amount_nanos: int, limits: Sequence[PeriodLimit],
               counters: Sequence[CounterLimit]) -> list[Step]:
        (mine, local), *rest = self.tenants.split_limits(user_id, counters)
        steps: list[Step] = [(layout, (), items, 0) for layout, items in rest]
        if limits or local or amount_nanos or not steps:
            steps.insert(0, (mine, limits, local, amount_nanos))
        return steps

    def _step_call(self, step: Step, reservation_id: str, user_id: str, now: float,
                   expires_at: float) -> Call:
        layout, limits, counters, amount = step
        if counters:
            return ("reserve_counted", *layout.reserve_counted_call(
                reservation_id, user_id, amount, limits, counters, now, expires_at))
        return ("reserve", *layout.reserve_call(reservation_id, user_id, amount, limits, now,
                                                expires_at))

    def reserve(
        self, reservation_id: str, user_id: str, amount_nanos: int,
        limits: Sequence[PeriodLimit], *, now: float, expires_at: float,
        counters: Sequence[CounterLimit] = (),
    ) -> ReserveOutcome:
        granted: list[tuple[RedisLayout, Sequence[CounterLimit]]] = []
        try:
            for step in self._steps(user_id, amount_nanos, limits, counters):
                outcome = decode_reserve_reply(
                    self._run(*self._step_call(step, reservation_id, user_id, now, expires_at)),
                    step[1], step[2])
                if not outcome.granted:
                    self._undo(granted, reservation_id, user_id)
                    return outcome
                granted.append((step[0], step[2]))
        except RedisDown as down:
            if self.on_unavailable == "fail_closed":
                self._undo(granted, reservation_id, user_id)
            return self._fallback(down, ReserveOutcome(granted=True))
        self._calls.lease_granted(granted, reservation_id, user_id)
        return ReserveOutcome(granted=True)

    async def areserve(
        self, reservation_id: str, user_id: str, amount_nanos: int,
        limits: Sequence[PeriodLimit], *, now: float, expires_at: float,
        counters: Sequence[CounterLimit] = (),
    ) -> ReserveOutcome:
        granted: list[tuple[RedisLayout, Sequence[CounterLimit]]] = []
        try:
            for step in self._steps(user_id, amount_nanos, limits, counters):
                outcome = decode_reserve_reply(
                    await self._arun(*self._step_call(step, reservation_id, user_id, now,
                                                      expires_at)),
                    step[1], step[2])
                if not outcome.granted:
                    await self._aundo(granted, reservation_id, user_id)
                    return outcome
                granted.append((step[0], step[2]))
        except RedisDown as down:
            if self.on_unavailable == "fail_closed":
                await self._aundo(granted, reservation_id, user_id)
            return self._fallback(down, ReserveOutcome(granted=True))
        self._calls.lease_granted(granted, reservation_id, user_id)
        return ReserveOutcome(granted=True)

    def _undo(self, granted: list[tuple[RedisLayout, Sequence[CounterLimit]]],
              reservation_id: str, user_id: str) -> None:
        # The steps granted before one refused (or failed) give back what they hold and what
        # their admission counted (rate-limit windows): the request counts nowhere.
        if not granted:
            return
        self._calls.lease_granted(granted, reservation_id, user_id)
        for layout, counters in granted:
            try:
                self._run("withdraw", *layout.withdraw_call(reservation_id, counters))
            except RedisDown as down:
                logger.warning("could not release the first step of reservation %s (%s); "
                               "it holds until it expires", reservation_id, down)

    async def _aundo(self, granted: list[tuple[RedisLayout, Sequence[CounterLimit]]],
                     reservation_id: str, user_id: str) -> None:
        if not granted:
            return
        self._calls.lease_granted(granted, reservation_id, user_id)
        for layout, counters in granted:
            try:
                await self._arun("withdraw", *layout.withdraw_call(reservation_id, counters))
            except RedisDown as down:
                logger.warning("could not release the first step of reservation %s (%s); "
                               "it holds until it expires", reservation_id, down)

    def _release_calls(self, reservation_id: str, homes: Sequence[str]) -> list[Call]:
        return [("release", *self.tenants.by_prefix[prefix].release_call(reservation_id))
                for prefix in homes]

    def _lease_homes_known(self, reservation_id: str) -> tuple[str, ...] | None:
        assert self._calls.leases is not None
        return self._calls.leases.homes(reservation_id)

    def _owner_keys(self, reservation_id: str) -> list[tuple[str, str]]:
        return [(layout.prefix, layout.lease_owner(reservation_id))
                for layout in (self.tenants.shared, *self.tenants.buckets)]

    def _find_homes(self, reservation_id: str) -> tuple[str, ...]:
        # A lease another store made: the slots where its owner key exists.
        found = self._owner_keys(reservation_id)

        def look(client: SyncRedis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for _, key in found:
                pipe.exists(key)
            return pipe.execute()

        exists = self._read(look)
        return tuple(prefix for (prefix, _), hit in zip(found, exists, strict=True) if hit)

    def _every_slot(self) -> tuple[str, ...]:
        return tuple(self.tenants.by_prefix)

    def release(self, reservation_id: str) -> bool:
        homes = self._lease_homes_known(reservation_id)
        if homes is None:
            try:
                homes = self._find_homes(reservation_id)
            except StoreUnavailableError:
                # Down: every slot's release is tried (or journaled); each is a no-op where
                # the lease has no part.
                homes = self._every_slot()
        calls = self._release_calls(reservation_id, homes)
        released = False
        for index, (script, keys, args) in enumerate(calls):
            try:
                released = bool(self._run(script, keys, args)) or released
            except RedisDown as down:
                return self._journal_parts(down, calls[index:], None)
        return released

    async def arelease(self, reservation_id: str) -> bool:
        homes = self._lease_homes_known(reservation_id)
        if homes is None:
            try:
                homes = await asyncio.to_thread(self._find_homes, reservation_id)
            except StoreUnavailableError:
                homes = self._every_slot()
        calls = self._release_calls(reservation_id, homes)
        released = False
        for index, (script, keys, args) in enumerate(calls):
            try:
                released = bool(await self._arun(script, keys, args)) or released
            except RedisDown as down:
                return self._journal_parts(down, calls[index:], None)
        return released

    def set_user_tier(self, user_id: str, tier: str | None) -> None:
        keys, args = self.tenants.of_user(user_id).tier_call(user_id, tier)
        try:
            self._run("tier", keys, args)
        except RedisDown as down:
            self._journal(down, "tier", keys, args)

    # -- reads --------------------------------------------------------------------------
    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        keys, args = self.tenants.of_user(user_id).usage_call(user_id, periods, now)
        try:
            return _usage(self._run("usage", keys, args), periods)
        except RedisDown as down:
            return self._fallback(down, Usage({p.key: 0 for p in periods}, 0))

    async def ausage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        keys, args = self.tenants.of_user(user_id).usage_call(user_id, periods, now)
        try:
            return _usage(await self._arun("usage", keys, args), periods)
        except RedisDown as down:
            return self._fallback(down, Usage({p.key: 0 for p in periods}, 0))

    def _counter_reads(self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str],
                       now: float) -> list[tuple[list[tuple[str, PeriodKey]], list[str], Call]]:
        """One ``counters`` call per slot holding (a part of) what is read."""
        groups: dict[str, tuple[RedisLayout, list[tuple[str, PeriodKey]], list[str]]] = {}
        for item in counters:
            for layout in self.tenants.owner_layouts(item[0]):
                groups.setdefault(layout.prefix, (layout, [], []))[1].append(item)
        for owner in owners:
            for layout in self.tenants.owner_layouts(owner):
                groups.setdefault(layout.prefix, (layout, [], []))[2].append(owner)
        return [(wanted, held, ("counters", *layout.counters_call(wanted, held, now)))
                for layout, wanted, held in groups.values()]

    @staticmethod
    def _merge_counters(parts: Sequence[CounterUsage], counters: Sequence[tuple[str, PeriodKey]],
                        owners: Sequence[str]) -> CounterUsage:
        values = {(owner, period.key): 0 for owner, period in counters}
        held = dict.fromkeys(owners, 0)
        for part in parts:
            for key, value in part.values.items():
                values[key] += value
            for owner, value in part.held.items():
                held[owner] += value
        return CounterUsage(values=values, held=held)

    def read_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        parts = []
        for wanted, held, (script, keys, args) in self._counter_reads(counters, owners, now):
            try:
                raw = self._run(script, keys, args)
            except RedisDown as down:
                raw = self._fallback(down, [0] * (len(wanted) + len(held)))
            parts.append(_counter_usage(raw, wanted, held))
        return self._merge_counters(parts, counters, owners)

    async def aread_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        async def one(wanted: list[tuple[str, PeriodKey]], held: list[str], call: Call
                      ) -> CounterUsage:
            script, keys, args = call
            try:
                raw = await self._arun(script, keys, args)
            except RedisDown as down:
                raw = self._fallback(down, [0] * (len(wanted) + len(held)))
            return _counter_usage(raw, wanted, held)

        reads = self._counter_reads(counters, owners, now)
        parts = await asyncio.gather(*(one(*read) for read in reads))
        return self._merge_counters(parts, counters, owners)

    def user_tiers(self) -> dict[str, str | None]:
        buckets = self.tenants.buckets

        def every(client: SyncRedis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for layout in buckets:
                pipe.hgetall(layout.tiers)
            return pipe.execute()

        merged: dict[str, str | None] = {}
        nothing: list[Any] = []
        for raw in self._tiers_read(every, nothing):
            merged.update({_text(user): decode_tier(tier) for user, tier in raw.items()})
        return merged

    def user_tier(self, user_id: str) -> str | None:
        tiers = self.tenants.of_user(user_id).tiers
        raw: Any = self._tiers_read(lambda client: client.hget(tiers, user_id), None)
        return None if raw is None else decode_tier(raw)

    async def auser_tier(self, user_id: str) -> str | None:
        return await self._atier_of(self.tenants.of_user(user_id).tiers, user_id)

    def totals(self) -> Totals:
        buckets = self.tenants.buckets

        def every(client: SyncRedis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for layout in buckets:
                for key in (layout.totals, layout.by_model, layout.by_provider, layout.by_user):
                    pipe.hgetall(key)
            return pipe.execute()

        raw = self._read(every)
        total = count = 0
        maps: list[dict[str, int]] = [{}, {}, {}]
        for index in range(0, len(raw), 4):
            sums = raw[index]
            total += int(sums.get(b"total", sums.get("total", 0)))
            count += int(sums.get(b"count", sums.get("count", 0)))
            for into, part in zip(maps, raw[index + 1:index + 4], strict=True):
                for name, value in _int_map(part).items():
                    into[name] = into.get(name, 0) + value
        return Totals(total_nanos=total, entry_count=count, by_model=maps[0],
                      by_provider=maps[1], by_user=maps[2])

    def _history(self, client: SyncRedis, newest: int | None,
                 user_id: str | None) -> list[bytes | str]:
        if user_id is not None:
            # One user's entries are all in its bucket.
            return self._read_history_of(client, self.tenants.of_user(user_id), None)
        # Each bucket's stream is in its recording order; the buckets merge by order stamp.
        streams = [self._read_history_of(client, layout, newest)
                   for layout in self.tenants.buckets]
        keyed = [[(entry_order(raw), raw) for raw in stream] for stream in streams]
        merged = [raw for _, raw in heapq.merge(*keyed, key=lambda item: item[0])]
        return merged[-newest:] if newest is not None else merged

    def _reset_pattern(self) -> str:
        return self.tenants.pattern

