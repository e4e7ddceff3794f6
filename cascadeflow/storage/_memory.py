"""The in-process store: dictionaries behind one lock. The library's default."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

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
    refuses,
)


@dataclass(slots=True)
class _Lease:
    user_id: str
    amount_nanos: int
    expires_at: float
    holds: dict[str, int] | None = None


class MemoryStore(LedgerStore):
    """Keeps the ledger in this process's memory; every operation is O(1) in the history size.

    Nothing survives the process: use :class:`~cascadeflow.storage.SQLiteStore` to persist.
    The history (what :meth:`entries` returns) is bounded: beyond ``max_entries`` the
    oldest entries are dropped (``None`` keeps all). Counters, totals, daily rollups and
    every budget decision stay exact beyond it; only queries that list entries see the
    newest ``max_entries``, and a replayed entry id older than them is not recognised.

    Example:
        >>> from cascadeflow import CostTracker
        >>> from cascadeflow.storage import MemoryStore
        >>> tracker = CostTracker(store=MemoryStore(max_entries=10_000))
    """

    def __init__(self, max_entries: int | None = 100_000) -> None:
        if max_entries is not None and (
                isinstance(max_entries, bool) or not isinstance(max_entries, int)
                or max_entries < 0):
            raise ValueError(f"max_entries must be an int >= 0 or None, got {max_entries!r}")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        # Settings are configuration, not ledger data: reset() keeps them.
        self._settings: dict[str, str] = {}
        self._settings_version = 0
        self._init_state()

    def _init_state(self) -> None:
        self._entries: deque[CostEntry] = deque()
        self._entry_ids: set[str] = set()
        self._entry_count = 0
        self._spent: dict[tuple[str, str], int] = defaultdict(int)
        self._leases: dict[str, _Lease] = {}
        self._user_leases: dict[str, set[str]] = defaultdict(set)
        self._tiers: dict[str, str | None] = {}
        # Owners' counters and holds live apart from users': the namespaces never mix.
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        self._owner_leases: dict[str, set[str]] = defaultdict(set)
        self._windows: dict[str, str] = {}  # the current window of owners counted at admission
        self._total = 0
        self._by_model: dict[str, int] = defaultdict(int)
        self._by_provider: dict[str, int] = defaultdict(int)
        self._by_user: dict[str, int] = defaultdict(int)

    # -- helpers (call with the lock held) -----------------------------------
    def _record_locked(
        self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey],
        counters: Sequence[CounterAdd],
    ) -> bool:
        if entry.id in self._entry_ids:
            return False
        if counters:
            counts = self._counts
            for owner, period_key, amount in counters:
                counts[(owner, period_key.key)] += amount
        self._entry_ids.add(entry.id)
        self._entries.append(entry)
        self._entry_count += 1
        if self.max_entries is not None and len(self._entries) > self.max_entries:
            self._entry_ids.discard(self._entries.popleft().id)
        self._total += cost_nanos
        self._by_model[entry.model] += cost_nanos
        self._by_provider[entry.provider] += cost_nanos
        if entry.user_id is not None:
            self._by_user[entry.user_id] += cost_nanos
            self._tiers.setdefault(entry.user_id, entry.user_tier)
            if entry.user_tier is not None:
                self._tiers[entry.user_id] = entry.user_tier
            for period in periods:
                self._spent[(entry.user_id, period.key)] += cost_nanos
        return True

    def _drop_lease_locked(self, reservation_id: str) -> bool:
        lease = self._leases.pop(reservation_id, None)
        if lease is None:
            return False
        self._user_leases[lease.user_id].discard(reservation_id)
        if lease.holds:
            for owner in lease.holds:
                self._owner_leases[owner].discard(reservation_id)
        return True

    def _open_locked(self, ids: set[str] | None, now: float, owner: str | None) -> int:
        """What the open leases among ``ids`` hold (for ``owner``, else their own amount);
        expired ones are dropped on the way."""
        if not ids:
            return 0
        total = 0
        for reservation_id in list(ids):
            lease = self._leases[reservation_id]
            if lease.expires_at <= now:
                self._drop_lease_locked(reservation_id)
            elif owner is None:
                total += lease.amount_nanos
            elif lease.holds:
                total += lease.holds.get(owner, 0)
        return total

    def _held_locked(self, owner: str, now: float) -> int:
        return self._open_locked(self._owner_leases.get(owner), now, owner)

    def _reserved_locked(self, user_id: str, now: float) -> int:
        return self._open_locked(self._user_leases.get(user_id), now, None)

    def _counter_refusal_locked(self, counters: Sequence[CounterLimit],
                                now: float) -> ReserveOutcome | None:
        held: dict[str, int] = {}
        counts = self._counts
        for item in counters:
            owner = item.owner
            open_held = held.get(owner)
            if open_held is None:
                open_held = held[owner] = self._held_locked(owner, now)
            if refuses(counts.get((owner, item.period_key.key), 0) + open_held,
                       item.hold + item.add, item.limit):
                values = {(owner, item.period_key.key): counts.get((owner, item.period_key.key), 0)}
                return counter_refusal([item], values, held)
        return None

    # -- LedgerStore -----------------------------------------------------------
    def record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
               counters: Sequence[CounterAdd] = ()) -> bool:
        with self._lock:
            return self._record_locked(entry, cost_nanos, periods, counters)

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
        refuse_add_only_limits(counters)
        with self._lock:
            reserved = self._reserved_locked(user_id, now)
            spent = {item.period_key.key: self._spent.get((user_id, item.period_key.key), 0)
                     for item in limits}
            refused = refusal(limits, spent, reserved, amount_nanos)
            if refused is not None:
                return refused
            holds: dict[str, int] | None = None
            if counters:
                refused = self._counter_refusal_locked(counters, now)
                if refused is not None:
                    return refused
                counts = self._counts
                for owner, period_key, _, _, add in counters:
                    if add:
                        counts[(owner, period_key.key)] += add
                        window = self._windows.get(owner)
                        if window is not None and window < period_key.key:
                            counts.pop((owner, window), None)  # a finished window
                        if window is None or window < period_key.key:
                            self._windows[owner] = period_key.key
                holds = holds_of(counters) or None
            self._leases[reservation_id] = _Lease(user_id, amount_nanos, expires_at, holds)
            self._user_leases[user_id].add(reservation_id)
            for owner in holds or ():
                self._owner_leases[owner].add(reservation_id)
            return ReserveOutcome(granted=True)

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
            self._drop_lease_locked(reservation_id)
            return self._record_locked(entry, cost_nanos, periods, counters)

    def release(self, reservation_id: str) -> bool:
        with self._lock:
            return self._drop_lease_locked(reservation_id)

    def set_user_tier(self, user_id: str, tier: str | None) -> None:
        with self._lock:
            self._tiers[user_id] = tier

    def reset(self) -> None:
        with self._lock:
            self._init_state()

    def put_setting(self, name: str, value: str | None) -> None:
        with self._lock:
            if value is None:
                self._settings.pop(name, None)
            else:
                self._settings[name] = value
            self._settings_version += 1

    def settings(self) -> tuple[int, dict[str, str]]:
        with self._lock:
            return self._settings_version, dict(self._settings)

    def settings_version(self) -> int:
        return self._settings_version

    def read_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        with self._lock:
            return CounterUsage(
                values={(owner, period.key): self._counts.get((owner, period.key), 0)
                        for owner, period in counters},
                held={owner: self._held_locked(owner, now) for owner in owners},
            )

    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        with self._lock:
            return Usage(
                spent_nanos={p.key: self._spent.get((user_id, p.key), 0) for p in periods},
                reserved_nanos=self._reserved_locked(user_id, now),
            )

    def user_tiers(self) -> dict[str, str | None]:
        with self._lock:
            return dict(self._tiers)

    def totals(self) -> Totals:
        with self._lock:
            return Totals(
                total_nanos=self._total,
                entry_count=self._entry_count,
                by_model=dict(self._by_model),
                by_provider=dict(self._by_provider),
                by_user=dict(self._by_user),
            )

    def entries(
        self,
        *,
        user_id: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        last: int | None = None,
    ) -> list[CostEntry]:
        with self._lock:
            if user_id is None and model is None and provider is None:
                if last is None:
                    return list(self._entries)
                return list(islice(reversed(self._entries), last))[::-1] if last > 0 else []
            selected = [
                e for e in self._entries
                if (user_id is None or e.user_id == user_id)
                and (model is None or e.model == model)
                and (provider is None or e.provider == provider)
            ]
        if last is not None:
            return selected[-last:] if last > 0 else []
        return selected

    # Memory operations never wait on I/O: the async twins run inline.
    async def arecord(
        self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
        counters: Sequence[CounterAdd] = (),
    ) -> bool:
        return self.record(entry, cost_nanos, periods, counters=counters)

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
        return self.reserve(reservation_id, user_id, amount_nanos, limits, now=now,
                            expires_at=expires_at, counters=counters)

    async def asettle(
        self, reservation_id: str, entry: CostEntry, cost_nanos: int,
        periods: Sequence[PeriodKey], *, counters: Sequence[CounterAdd] = (),
    ) -> bool:
        return self.settle(reservation_id, entry, cost_nanos, periods, counters=counters)

    async def arelease(self, reservation_id: str) -> bool:
        return self.release(reservation_id)

    async def ausage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        return self.usage(user_id, periods, now=now)

    async def aread_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        return self.read_counters(counters, owners, now=now)

    async def auser_tier(self, user_id: str) -> str | None:
        return self.user_tier(user_id)

    async def asettings(self) -> tuple[int, dict[str, str]]:
        return self.settings()

    async def asettings_version(self) -> int:
        return self.settings_version()
