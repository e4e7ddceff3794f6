"""The store seam: the small interface every ledger store (memory, SQLite, Redis) implements.

A store keeps entries (the history), integer nano-dollar spend counters per user and
period key, and reservations (leases). It knows nothing of budgets or enforcement: the
tracker hands it period keys and limits, and the store applies them atomically.

Beyond the user, the seam is one generic primitive: :meth:`LedgerStore.reserve` also takes
``counters``, a list of :class:`CounterLimit` ("this owner's counter for this period key may
not pass this limit; hold this much on the owner while the lease is open; add this much to
the counter now"), and checks them with the user's limits in the same atomic step, or
reports the first that refuses. ``record``/``settle`` take :class:`CounterAdd` increments
for the same owners. Owners are opaque strings the tracker builds (``"team:search"``,
``"user:alice/model:gpt-4o"``, ``"team:search/rpm"``); scopes, model caps, quotas, rate
limits and rollover are counters and limits the tracker makes out of them. Stored limits
are opaque text under :meth:`LedgerStore.put_setting`, versioned so readers refresh cheaply.

One naming rule crosses the seam: owners starting with :data:`ADD_ONLY_OWNER` (the daily
rollups, ``"rollup:global"``) are only ever added to, never checked against a limit nor
held, so a store may count them without locks, or in parts that a read sums (PostgreSQL
and Redis Cluster do; they refuse a :class:`CounterLimit` on one).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from cascadeflow._entry import CostEntry

#: Owners under this prefix are only added to (see the module's docstring).
ADD_ONLY_OWNER = "rollup:"


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


class CounterLimit(NamedTuple):
    """One (counter, limit) pair a reservation checks besides the user's own periods.

    A named tuple rather than a dataclass: several are built for every scoped check.

    Attributes:
        owner: whose counter; an opaque string (never a user id's namespace: owners and
            users are kept apart by every store).
        period_key: which of the owner's counters (its ``ends_at`` bounds its lifetime).
        limit: the counter plus the owner's open holds plus ``hold + add`` must stay within
            it (nano-dollars, requests, tokens or slots: the store does not care).
        hold: held on ``owner`` by the lease until it is settled, released or expires.
            Checks of one owner carry the same hold; the lease holds it once per owner.
        add: added to the counter when the reservation is granted (a rate limit counts
            requests when they are admitted). Counters that get adds are windows: an
            owner's counters under keys that sort before the one added to are finished
            windows, which stores may drop (and Redis expires a window soon after its end).

    Example:
        >>> CounterLimit("team:search", PeriodKey("daily", "daily:2026-11-24", None),
        ...              limit=10**9, hold=2_000_000).owner
        'team:search'
    """

    owner: str
    period_key: PeriodKey
    limit: int
    hold: int = 0
    add: int = 0


class CounterAdd(NamedTuple):
    """An increment of one owner's counter, applied by ``record``/``settle`` with the entry.

    Example:
        >>> CounterAdd("team:search", PeriodKey("total", "total", None), 125_000).amount
        125000
    """

    owner: str
    period_key: PeriodKey
    amount: int


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """What a check-and-reserve decided.

    ``granted`` is True when the reservation was stored. When it was refused,
    ``period`` names the first period that refused it with its ``limit_nanos``,
    ``spent_nanos`` (recorded spend in that period) and ``reserved_nanos`` (open
    reservations of the user). ``owner`` is ``""`` when one of the user's own limits
    refused, else the owner of the :class:`CounterLimit` that refused (whose counter value
    is in ``spent_nanos`` and open holds in ``reserved_nanos``), with ``ends_at``, the end
    of the refusing period.
    """

    granted: bool
    period: str | None = None
    limit_nanos: int = 0
    spent_nanos: int = 0
    reserved_nanos: int = 0
    owner: str = ""
    ends_at: float | None = None


@dataclass(frozen=True, slots=True)
class CounterUsage:
    """Counter values by ``(owner, period key)`` and open holds by owner.

    Example:
        >>> store.read_counters([("team:search", daily)], ["team:search"], now=now).held
        {'team:search': 2000000}
    """

    values: dict[tuple[str, str], int]
    held: dict[str, int]


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


def refuses(used: int, amount: int, limit: int) -> bool:
    """The one comparison rule of every limit in every store (and of the tracker's reads).

    ``used`` is what is counted plus what is held, ``amount`` what this request adds. A
    limit refuses when ``used + amount > limit`` (the request does not fit) or when
    ``used >= limit`` (nothing is left, so even a free request is refused).
    """
    return used >= limit or used + amount > limit


def refusal(
    limits: Sequence[PeriodLimit], spent: dict[str, int], reserved: int, amount: int
) -> ReserveOutcome | None:
    """The user's limits under :func:`refuses`; ``None`` means they all fit."""
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


def holds_of(counters: Sequence[CounterLimit]) -> dict[str, int]:
    """What a lease holds per owner (one hold per owner, whatever its number of checks)."""
    return {item.owner: item.hold for item in counters if item.hold}


def counter_refusal(
    counters: Sequence[CounterLimit],
    values: dict[tuple[str, str], int],
    held: dict[str, int],
) -> ReserveOutcome | None:
    """The first of ``counters`` that refuses under :func:`refuses`, else ``None``."""
    for item in counters:
        value = values.get((item.owner, item.period_key.key), 0)
        used = value + held.get(item.owner, 0)
        if refuses(used, item.hold + item.add, item.limit):
            return ReserveOutcome(
                granted=False, period=item.period_key.period, limit_nanos=item.limit,
                spent_nanos=value, reserved_nanos=held.get(item.owner, 0), owner=item.owner,
                ends_at=item.period_key.ends_at)
    return None


def refuse_add_only_limits(counters: Sequence[CounterLimit]) -> None:
    """Raise ``ValueError`` for a :class:`CounterLimit` on an add-only owner (``rollup:...``)."""
    for item in counters:
        if item.owner.startswith(ADD_ONLY_OWNER):
            raise ValueError(f"{item.owner!r} is only added to (a rollup): it cannot be "
                             "checked against a limit or held")


def decode_reserve_reply(raw: Sequence[int | str | bytes], limits: Sequence[PeriodLimit],
                         counters: Sequence[CounterLimit] = ()) -> ReserveOutcome:
    """A server-side check-and-reserve's answer as a :class:`ReserveOutcome`.

    Stores that check on the server (Redis, PostgreSQL) answer ``[1]`` when granted, else
    ``[0, index, counted, held]``: the 1-based index of the refusing check among the user's
    ``limits`` then the ``counters``, its counter value and what is held against it.
    """
    if int(raw[0]) == 1:
        return ReserveOutcome(granted=True)
    index, counted, held = int(raw[1]) - 1, int(raw[2]), int(raw[3])
    if index >= len(limits):
        item = counters[index - len(limits)]
        return ReserveOutcome(
            granted=False, period=item.period_key.period, limit_nanos=item.limit,
            spent_nanos=counted, reserved_nanos=held, owner=item.owner,
            ends_at=item.period_key.ends_at)
    limit = limits[index]
    return ReserveOutcome(granted=False, period=limit.period_key.period,
                          limit_nanos=limit.limit_nanos, spent_nanos=counted,
                          reserved_nanos=held)


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
    #: True when a period's counters expire some time after the period ends (Redis): what
    #: the tracker derives from a closed period (rollover) is then kept as a setting.
    counters_expire: bool = False

    # -- writes ---------------------------------------------------------------
    @abc.abstractmethod
    def record(self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
               counters: Sequence[CounterAdd] = ()) -> bool:
        """Add ``entry`` to the history and ``cost_nanos`` to the user's period counters.

        ``counters`` are further increments (scope, cap and quota counters) applied in the
        same step. Returns False (and changes nothing) when an entry with the same id is
        already recorded.
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
        counters: Sequence[CounterLimit] = (),
    ) -> ReserveOutcome:
        """Atomically check ``limits`` and ``counters``, then reserve (or refuse, changing nothing).

        The user's ``limits`` are checked against their spend plus their open reservations
        (the lease holds ``amount_nanos`` for the user); each :class:`CounterLimit` against
        its owner's counter plus the owner's open holds. The first refusal is reported,
        user limits first. When granted, the lease holds ``amount_nanos`` for the user and
        each counter's ``hold`` for its owner until ``expires_at``, and each ``add`` is
        applied to its counter.
        """

    @abc.abstractmethod
    def settle(
        self,
        reservation_id: str,
        entry: CostEntry,
        cost_nanos: int,
        periods: Sequence[PeriodKey],
        *,
        counters: Sequence[CounterAdd] = (),
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
        """Forget every entry, counter, reservation and remembered tier (settings stay)."""

    # -- settings (stored limits: opaque text the tracker encodes) -------------------
    @abc.abstractmethod
    def put_setting(self, name: str, value: str | None) -> None:
        """Store ``value`` under ``name`` (``None`` removes it) and bump the settings version."""

    @abc.abstractmethod
    def settings(self) -> tuple[int, dict[str, str]]:
        """The settings version and every setting, read in one snapshot."""

    @abc.abstractmethod
    def settings_version(self) -> int:
        """A number that changes whenever a setting changes (one cheap read)."""

    # -- reads ----------------------------------------------------------------
    @abc.abstractmethod
    def usage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        """Spend for each of ``periods`` and the user's open reservations (one round trip)."""

    @abc.abstractmethod
    def read_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        """Values of ``(owner, period key)`` counters and open holds of ``owners`` (one step)."""

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
        self, entry: CostEntry, cost_nanos: int, periods: Sequence[PeriodKey], *,
        counters: Sequence[CounterAdd] = (),
    ) -> bool:
        """Async :meth:`record`."""
        return await _in_worker_thread(
            functools.partial(self.record, entry, cost_nanos, periods, counters=counters))

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
        """Async :meth:`reserve`."""

        return await _in_worker_thread(functools.partial(
            self.reserve, reservation_id, user_id, amount_nanos, limits, now=now,
            expires_at=expires_at, counters=counters))

    async def asettle(
        self,
        reservation_id: str,
        entry: CostEntry,
        cost_nanos: int,
        periods: Sequence[PeriodKey],
        *,
        counters: Sequence[CounterAdd] = (),
    ) -> bool:
        """Async :meth:`settle`."""
        return await _in_worker_thread(functools.partial(
            self.settle, reservation_id, entry, cost_nanos, periods, counters=counters))

    async def arelease(self, reservation_id: str) -> bool:
        """Async :meth:`release`."""
        return await _in_worker_thread(functools.partial(self.release, reservation_id))

    async def ausage(self, user_id: str, periods: Sequence[PeriodKey], *, now: float) -> Usage:
        """Async :meth:`usage`."""

        return await _in_worker_thread(functools.partial(self.usage, user_id, periods, now=now))

    async def aread_counters(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], *, now: float
    ) -> CounterUsage:
        """Async :meth:`read_counters`."""
        return await _in_worker_thread(
            functools.partial(self.read_counters, counters, owners, now=now))

    async def auser_tier(self, user_id: str) -> str | None:
        """Async :meth:`user_tier` (a tracker on a shared store reads it from asyncio)."""
        return await _in_worker_thread(functools.partial(self.user_tier, user_id))

    async def asettings(self) -> tuple[int, dict[str, str]]:
        """Async :meth:`settings`."""
        return await _in_worker_thread(self.settings)

    async def asettings_version(self) -> int:
        """Async :meth:`settings_version`."""
        return await _in_worker_thread(self.settings_version)
