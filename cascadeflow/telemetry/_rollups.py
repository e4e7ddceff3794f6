"""Daily spend rollups: per-day counters kept by the store in the same step as the entry.

Each recorded cost also adds to the day's counter of the user, its tier, its model, the
scopes it counts toward and the whole ledger (owners ``"rollup:..."`` of the store seam), so
forecasts, anomaly detection and reports read O(days) counters, never the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from cascadeflow._entry import CostEntry
from cascadeflow._money import to_usd
from cascadeflow.storage import CounterAdd, LedgerStore, PeriodKey
from cascadeflow.telemetry._periods import hour_key

if TYPE_CHECKING:
    from cascadeflow.telemetry._scope import Scope

#: How long a day's rollup is kept by stores that expire counters (Redis), in days.
ROLLUP_RETENTION_DAYS = 400
#: The owner of the ledger-wide daily rollup.
GLOBAL_ROLLUP = "rollup:global"
_RETENTION_SECONDS = ROLLUP_RETENTION_DAYS * 86_400.0
_new_tuple = tuple.__new__
#: How long an hour's rollup is kept by stores that expire counters (seconds).
HOURLY_RETENTION_SECONDS = 60 * 86_400.0


def rollup_owner(scope: str | None = None) -> str:
    """The counter owner of the daily rollup of ``scope`` (``None`` or ``"global"``: all).

    ``scope`` is ``"user:<id>"``, ``"tier:<name>"``, ``"model:<name>"`` or any scope's
    ``"kind:id"`` (``"team:search"``).

    Example:
        >>> rollup_owner("tier:pro")
        'rollup:tier:pro'
    """
    if scope is None or scope == "global":
        return GLOBAL_ROLLUP
    kind, sep, ident = scope.partition(":")
    if not sep or not kind or not ident:
        raise ValueError(f"scope must look like 'kind:id' (user:alice, tier:pro, "
                         f"model:gpt-4o, team:search), got {scope!r}")
    return f"rollup:{scope}"


def day_key(day: date) -> PeriodKey:
    """The rollup key of one calendar day (the same key as the day's budget counters)."""
    return PeriodKey("daily", f"daily:{day:%Y-%m-%d}", None)


class Rollups:
    """Builds the rollup increments of each entry (cached per day: it is on the hot path)."""

    __slots__ = ("_day", "_hour", "_hour_ends", "_hour_starts", "_keys", "_owners", "_zone")

    def __init__(self, hourly_zone: tzinfo | None = None) -> None:
        self._keys: tuple[PeriodKey, ...] = ()
        self._day = PeriodKey("daily", "", None)
        # Hourly rollups (user and global only) when a zone is given.
        self._zone = hourly_zone
        self._hour = PeriodKey("hourly", "", None)
        self._hour_starts = self._hour_ends = 0.0
        # The owners one (model, user, tier) adds to, built once: this runs on every record.
        self._owners: dict[tuple[str, str | None, str | None], tuple[str, ...]] = {}

    def _owners_of(self, model: str, user_id: str | None, tier: str | None) -> tuple[str, ...]:
        owners = [GLOBAL_ROLLUP, "rollup:model:" + model]
        if user_id is not None:
            owners.append("rollup:user:" + user_id)
        if tier is not None:
            owners.append("rollup:tier:" + tier)
        if len(self._owners) > 100_000:
            self._owners.clear()
        found = self._owners[(model, user_id, tier)] = tuple(owners)
        return found

    def adds(self, entry: CostEntry, cost_nanos: int, keys: tuple[PeriodKey, ...],
             scopes: Sequence[Scope] | None) -> list[CounterAdd]:
        """The day's increments for ``entry`` (none for a zero cost)."""
        if cost_nanos == 0:
            return []
        if keys is not self._keys:
            daily = keys[0]
            ends = daily.ends_at
            # Kept well past the day's end (Redis expires counters at ends_at).
            self._day = PeriodKey("daily", daily.key,
                                  None if ends is None else ends + _RETENTION_SECONDS)
            self._keys = keys
        day = self._day
        owners = self._owners.get((entry.model, entry.user_id, entry.user_tier))
        if owners is None:
            owners = self._owners_of(entry.model, entry.user_id, entry.user_tier)
        # tuple.__new__ builds the named tuples without a Python-level call each (hot path).
        adds = [_new_tuple(CounterAdd, (owner, day, cost_nanos)) for owner in owners]
        if self._zone is not None:
            hour = self._hour_of(entry.timestamp.timestamp())
            adds.append(CounterAdd(GLOBAL_ROLLUP, hour, cost_nanos))
            if entry.user_id is not None:
                adds.append(CounterAdd(owners[2], hour, cost_nanos))
        if scopes:
            for scope in scopes:
                if scope.kind not in ("user", "global"):
                    adds.append(CounterAdd(f"rollup:{scope}", day, cost_nanos))
        return adds


    def _hour_of(self, stamp: float) -> PeriodKey:
        if not self._hour_starts <= stamp < self._hour_ends:
            assert self._zone is not None
            key = hour_key(stamp, self._zone)
            assert key.ends_at is not None
            self._hour_starts, self._hour_ends = key.ends_at - 3600.0, key.ends_at
            self._hour = PeriodKey("hourly", key.key, key.ends_at + HOURLY_RETENTION_SECONDS)
        return self._hour


def read_daily(store: LedgerStore, owner: str, first: date, last: date,
               now: float) -> list[tuple[date, int]]:
    """Nano-dollars per calendar day from ``first`` to ``last`` (inclusive), zeros present."""
    if last < first:
        return []
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    read = store.read_counters([(owner, day_key(day)) for day in days], (), now=now)
    values = read.values
    return [(day, values.get((owner, f"daily:{day:%Y-%m-%d}"), 0)) for day in days]


def read_hourly(store: LedgerStore, owner: str, zone: tzinfo, last_hour_start: float,
                hours: int, now: float) -> list[tuple[datetime, int]]:
    """Nano-dollars per hour for the ``hours`` hours ending with the one starting at
    ``last_hour_start`` (POSIX seconds), oldest first, zeros present."""
    keys = [hour_key(last_hour_start - 3600.0 * back, zone) for back in range(hours - 1, -1, -1)]
    read = store.read_counters([(owner, key) for key in keys], (), now=now)
    return [(datetime.fromtimestamp((key.ends_at or 0.0) - 3600.0, zone),
             read.values.get((owner, key.key), 0)) for key in keys]


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The start and end of ``day`` in ``zone`` (23 or 25 hours across DST changes)."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start, end


class SpendHistory:
    """The daily-spend queries of :class:`CostTracker` (a mixin), read from the rollups."""

    store: LedgerStore
    _zone: tzinfo

    if TYPE_CHECKING:
        def now(self) -> datetime: ...

    def daily_spend(self, user_id: str | None = None, *, days: int = 30,
                    scope: str | Scope | None = None) -> list[tuple[date, float]]:
        """USD spent per calendar day (tracker timezone), the last ``days`` days up to today.

        Zero-spend days are present; today is the partial day so far. ``user_id`` selects
        one user; ``scope`` instead a tier (``"tier:pro"``), a model (``"model:gpt-4o"``) or
        any scope a request counted toward (``"team:search"``); neither: the whole ledger.
        Reads one counter per day from the store's rollups, never the history.

        Example:
            >>> tracker.daily_spend("alice", days=3)
            [(date(2026, 11, 22), 0.0), (date(2026, 11, 23), 1.25), (date(2026, 11, 24), 0.4)]

        .. versionadded:: 0.3.0
        """
        if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
            raise ValueError(f"days must be a positive int, got {days!r}")
        owner = self._rollup_owner(user_id, scope)
        moment = self.now()
        today = moment.astimezone(self._zone).date()
        first = today - timedelta(days=days - 1)
        return [(day, to_usd(nanos))
                for day, nanos in read_daily(self.store, owner, first, today,
                                             moment.timestamp())]

    def hourly_spend(self, user_id: str | None = None, *,
                     hours: int = 48) -> list[tuple[datetime, float]]:
        """USD spent per hour (start of each hour, tracker timezone), the last ``hours`` up to
        the current one, zeros present; the whole ledger when ``user_id`` is ``None``.

        Needs ``CostTracker(hourly_rollups=True)`` (hours recorded without it read as 0).

        Example:
            >>> tracker.hourly_spend("alice", hours=2)
            [(datetime(2026, 11, 24, 9, 0, ...), 0.25), (datetime(2026, 11, 24, 10, ...), 0.0)]

        .. versionadded:: 0.3.0
        """
        if isinstance(hours, bool) or not isinstance(hours, int) or hours <= 0:
            raise ValueError(f"hours must be a positive int, got {hours!r}")
        owner = self._rollup_owner(user_id, None)
        moment = self.now()
        start = moment.astimezone(self._zone).replace(minute=0, second=0, microsecond=0)
        return [(hour, to_usd(nanos)) for hour, nanos in read_hourly(
            self.store, owner, self._zone, start.timestamp(), hours, moment.timestamp())]

    @staticmethod
    def _rollup_owner(user_id: str | None, scope: object) -> str:
        if user_id is not None and scope is not None:
            raise ValueError("give user_id or scope, not both")
        if user_id is not None:
            if not isinstance(user_id, str) or not user_id:
                raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
            return "rollup:user:" + user_id
        if scope is None:
            return GLOBAL_ROLLUP
        return rollup_owner(str(scope))
