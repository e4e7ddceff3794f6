"""The store seam: the small interface every ledger store (memory, SQLite, Redis) implements.

A store keeps entries (the history), integer nano-dollar spend counters per user and
period key, and reservations (leases). It knows nothing of budgets or enforcement: the
tracker hands it period keys and limits, and the store applies them atomically.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from cascadeflow._entry import CostEntry


@dataclass(frozen=True, slots=True)
class PeriodKey:
    """One calendar period a spend counter is kept for.

    Attributes:
        period: ``"daily"``, ``"weekly"``, ``"monthly"`` or ``"total"``.
        key: the period's address, e.g. ``"daily:2026-11-24"``, ``"weekly:2026-W48"``,
            ``"monthly:2026-11"`` or ``"total"``. A new period is simply a new key.
        ends_at: when the period ends (POSIX seconds), ``None`` for ``total``. Stores
            that can expire keys (Redis) use it; others may ignore it.
    """

    period: str
    key: str
    ends_at: float | None


@dataclass(frozen=True, slots=True)
class PeriodLimit:
    """A limit in nano-dollars that a reservation must fit in, for one period key."""

    period_key: PeriodKey
    limit_nanos: int


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """What a check-and-reserve decided.

    ``granted`` is True when the reservation was stored. When it was refused,
    ``period`` names the first period that refused it with its ``limit_nanos``,
    ``spent_nanos`` (recorded spend in that period) and ``reserved_nanos`` (open
    reservations of the user).
    """

    granted: bool
    period: str | None = None
    limit_nanos: int = 0
    spent_nanos: int = 0
    reserved_nanos: int = 0


class Usage(NamedTuple):
    """A user's spend per period key and the sum of their open (unexpired) reservations.

    A named tuple rather than a dataclass: it is built on every budget check.
    """

    spent_nanos: dict[str, int]
    reserved_nanos: int


@dataclass(frozen=True, slots=True)
class Totals:
    """Ledger-wide aggregates (nano-dollars), kept so that queries need no history scan."""

    total_nanos: int = 0
    entry_count: int = 0
    by_model: dict[str, int] = field(default_factory=dict)
    by_provider: dict[str, int] = field(default_factory=dict)
    by_user: dict[str, int] = field(default_factory=dict)


def refusal(
    limits: Sequence[PeriodLimit], spent: dict[str, int], reserved: int, amount: int
) -> ReserveOutcome | None:
    """The rule every store applies inside its atomic step; ``None`` means it fits.

    A period refuses when ``spent + reserved >= limit`` (nothing left) or when
    ``spent + reserved + amount > limit`` (this request does not fit).
    """
    for item in limits:
        used = spent.get(item.period_key.key, 0) + reserved
        if used >= item.limit_nanos or used + amount > item.limit_nanos:
            return ReserveOutcome(
                granted=False,
                period=item.period_key.period,
                limit_nanos=item.limit_nanos,
                spent_nanos=spent.get(item.period_key.key, 0),
                reserved_nanos=reserved,
            )
    return None


_T = TypeVar("_T")


async def _in_worker_thread(call: Callable[[], _T]) -> _T:
    # anyio is imported on first async use only: `import cascadeflow` stays light.
    import anyio.to_thread

    return await anyio.to_thread.run_sync(call)


class LedgerStore(abc.ABC):
    """The interface of a ledger store.

    Invariants every implementation keeps (the shared contract suite in
    ``tests/storage/`` checks them):

    * amounts are integer nano-dollars;
    * :meth:`record` is idempotent by entry id and durable when it returns;
    * :meth:`reserve` checks and reserves in one atomic step, across threads and,
      for shared stores, processes;
    * :meth:`settle` and :meth:`release` are idempotent by reservation id;
    * a reservation past its ``expires_at`` no longer counts.

    The async methods default to running the sync ones in a worker thread; stores
    with a native async client override them.
    """

    #: True when several processes can share the store (SQLite file, Redis).
    shared: bool = False

    # -- writes ---------------------------------------------------------------
    @abc.abstractmethod
    def record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey]) -> bool:
        """Add ``entry`` to the history and ``cost_nanos`` to the user's period counters.

        Returns False (and changes nothing) when an entry with the same id is already
        recorded.
        """

    @abc.abstractmethod
    def reserve(
        self,
        reservation_id: str,
        user_id: str,
        amount_nanos: int,
        limits: Sequence[PeriodLimit],
        *,
        now: float,
        expires_at: float,
    ) -> ReserveOutcome:
        """Atomically check ``limits`` against spend plus open reservations and reserve."""

    @abc.abstractmethod
    def settle(
        self,
        reservation_id: str,
        entry: CostEntry,
        cost_nanos: int,
        periods: Sequence[PeriodKey],
    ) -> bool:
        """Drop the reservation and record ``entry`` in one step; False if already settled."""

    @abc.abstractmethod
    def release(self, reservation_id: str) -> bool:
        """Drop the reservation without recording anything; False if it was not open."""

    @abc.abstractmethod
    def set_user_tier(self, user_id: str, tier: str | None) -> None:
        """Remember the tier of a user (shared by every tracker on this store)."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget every entry, counter, reservation and remembered tier."""

    # -- reads ----------------------------------------------------------------
    @abc.abstractmethod
    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        """Spend for each of ``periods`` and the user's open reservations (one round trip)."""

    @abc.abstractmethod
    def user_tiers(self) -> dict[str, str | None]:
        """Every user that has spent or has a tier, with the tier remembered for them."""

    def user_tier(self, user_id: str) -> str | None:
        """The tier remembered for one user (stores override this with a cheaper read)."""
        return self.user_tiers().get(user_id)

    @abc.abstractmethod
    def totals(self) -> Totals:
        """Ledger-wide aggregates."""

    @abc.abstractmethod
    def entries(
        self,
        *,
        user_id: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        last: int | None = None,
    ) -> list[CostEntry]:
        """Entries oldest first, filtered; ``last`` keeps only the newest n.

        Memory and Redis keep recording order; SQLite orders by id, which for ids made by
        cascadeflow (they start with the time) is the order they were created in.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most stores have nothing to close
        """Release connections or files; the store is not used afterwards."""

    # -- async twins ----------------------------------------------------------
    async def arecord(
        self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey]
    ) -> bool:
        """Async :meth:`record`."""
        return await _in_worker_thread(
            functools.partial(self.record, entry, cost_nanos, periods))

    async def areserve(
        self,
        reservation_id: str,
        user_id: str,
        amount_nanos: int,
        limits: Sequence[PeriodLimit],
        *,
        now: float,
        expires_at: float,
    ) -> ReserveOutcome:
        """Async :meth:`reserve`."""

        return await _in_worker_thread(functools.partial(
            self.reserve, reservation_id, user_id, amount_nanos, limits, now=now,
            expires_at=expires_at))

    async def asettle(
        self,
        reservation_id: str,
        entry: CostEntry,
        cost_nanos: int,
        periods: Sequence[PeriodKey],
    ) -> bool:
        """Async :meth:`settle`."""
        return await _in_worker_thread(
            functools.partial(self.settle, reservation_id, entry, cost_nanos, periods))

    async def arelease(self, reservation_id: str) -> bool:
        """Async :meth:`release`."""
        return await _in_worker_thread(functools.partial(self.release, reservation_id))

    async def ausage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        """Async :meth:`usage`."""

        return await _in_worker_thread(functools.partial(self.usage, user_id, periods, now=now))
