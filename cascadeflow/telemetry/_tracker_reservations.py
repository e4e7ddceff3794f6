"""The tracker's reservations (a mixin of :class:`CostTracker`): every budget of a request
checked and held in one atomic step, then settled into an entry or released.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from cascadeflow._entry import CostEntry, new_entry_id
from cascadeflow._exceptions import BudgetExceededError
from cascadeflow._money import to_nanos, to_usd
from cascadeflow.storage import CounterAdd, LedgerStore, PeriodKey, ReserveOutcome
from cascadeflow.telemetry import _observers
from cascadeflow.telemetry._reservation import Reservation
from cascadeflow.telemetry._scoped import Refusal

if TYPE_CHECKING:
    from cascadeflow.telemetry._periods import PeriodClock
    from cascadeflow.telemetry._rollups import Rollups
    from cascadeflow.telemetry._scope import Scope
    from cascadeflow.telemetry._tracker import CostTracker
    from cascadeflow.telemetry._tracker_scopes import _Plan

__all__ = ["ReservationsMixin", "check_tokens"]

#: A limit no counter reaches (holds that must never refuse).
_NO_LIMIT = 1 << 62


def check_tokens(value: Any, name: str) -> int:
    """``value`` when it is a count of tokens; else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int number of tokens, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return value


class ReservationsMixin:
    """``reserve``, ``areserve`` and ``hold``, and the settling of what they hold."""

    store: LedgerStore
    _periods: PeriodClock
    _rollups: Rollups | None

    if TYPE_CHECKING:
        def get_user_tier(self, user_id: str) -> str | None: ...
        async def _afresh(self, user_id: object, user_tier: str | None = None) -> None: ...
        def _plan(self, user_id: str, user_tier: str | None, amount: int, model: str | None,
                  tokens: int | None, team: str | None, org: str | None, key: str | None,
                  tags: Iterable[str] | None) -> _Plan: ...
        def _make_entry(self, entry_id: str, model: str, provider: str, tokens: int,
                        cost: float, query_id: str | None,
                        metadata: Mapping[str, Any] | None, user_id: str | None,
                        user_tier: str | None, prompt_tokens: int | None,
                        completion_tokens: int | None) -> tuple[CostEntry, int]: ...
        def _entry_counters(self, entry: CostEntry, cost_nanos: int,
                            keys: tuple[PeriodKey, ...], scopes: tuple[Scope, ...] | None
                            ) -> tuple[tuple[PeriodKey, ...], list[CounterAdd]]: ...
        def _after_record(self, entry: CostEntry, cost_nanos: int,
                          keys: tuple[PeriodKey, ...]) -> None: ...
        async def _aafter_record(self, entry: CostEntry, cost_nanos: int,
                                 keys: tuple[PeriodKey, ...]) -> None: ...

    def _reservation_args(
        self, user_id: str, estimated_cost: float, user_tier: str | None, ttl: float,
        model: str | None = None, tokens: int | None = None, team: str | None = None,
        org: str | None = None, key: str | None = None, tags: Iterable[str] | None = None,
    ) -> tuple[str, int, _Plan, float]:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
        amount = to_nanos(estimated_cost, field="estimated_cost")
        if amount < 0:
            raise ValueError(f"estimated_cost must not be negative, got {estimated_cost!r}")
        if not (isinstance(ttl, (int, float)) and math.isfinite(ttl) and ttl > 0):
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if tokens is not None:
            check_tokens(tokens, "tokens")
        plan = self._plan(user_id, user_tier, amount, model, tokens, team, org, key, tags)
        return new_entry_id(), amount, plan, plan.stamp + float(ttl)

    def _refused(self, user_id: str, estimated_cost: float, outcome: ReserveOutcome,
                 now: float | None = None) -> BudgetExceededError:
        if _observers.observed():
            _observers.publish_refusal(
                user_id, estimated_cost, outcome,
                scope_kind=Refusal.of_owner(outcome.owner, user_id).scope.kind)
        if not outcome.owner:
            return BudgetExceededError(
                user_id=user_id,
                period=outcome.period or "total",
                limit=to_usd(outcome.limit_nanos),
                spent=to_usd(outcome.spent_nanos + outcome.reserved_nanos),
                requested=float(estimated_cost),
            )
        who = Refusal.of_owner(outcome.owner, user_id)
        period = who.period_label(outcome.period or "total")
        used = outcome.spent_nanos + outcome.reserved_nanos
        retry_after: float | None = None
        if who.is_rate():
            retry_after = 1.0
            if outcome.ends_at is not None and now is not None:
                retry_after = max(0.001, outcome.ends_at - now)
        money = who.counted is None or who.counted.startswith("model:")
        return BudgetExceededError(
            user_id=user_id, period=period,
            limit=to_usd(outcome.limit_nanos) if money else float(outcome.limit_nanos),
            spent=to_usd(used) if money else float(used),
            requested=float(estimated_cost) if money else 1.0,
            scope=str(who.scope), retry_after=retry_after)

    def reserve(self, user_id: str, estimated_cost: float, *, model: str | None = None,
                user_tier: str | None = None, ttl: float = 300.0, team: str | None = None,
                org: str | None = None, key: str | None = None,
                tags: Iterable[str] | None = None, tokens: int | None = None) -> Reservation:
        """Check and hold ``estimated_cost`` of every limit that applies, in one atomic step.

        The user's budget, its team's and org's (given, or remembered with
        :meth:`set_user_team`), the API ``key``'s, each of ``tags``', the global scope's,
        the caps on ``model``, the request and token quotas (``tokens`` is the request's
        token estimate) and the rate limits are checked together by the store. Raises
        :class:`BudgetExceededError` naming the scope and period that refused (with
        ``retry_after`` for a rate limit). Concurrent reservations can never together pass
        a limit, in any store.

        Example:
            >>> with tracker.reserve("u1", 0.02, model="gpt-4o", team="search") as held:
            ...     held.settle(0.013, provider="openai", tokens=420)
        """
        reservation_id, amount, plan, expires_at = self._reservation_args(
            user_id, estimated_cost, user_tier, ttl, model, tokens, team, org, key, tags)
        if plan.counters:
            outcome = self.store.reserve(reservation_id, user_id, amount, plan.limits,
                                         now=plan.stamp, expires_at=expires_at,
                                         counters=plan.counters)
        else:
            outcome = self.store.reserve(reservation_id, user_id, amount, plan.limits,
                                         now=plan.stamp, expires_at=expires_at)
        if not outcome.granted:
            raise self._refused(user_id, estimated_cost, outcome, plan.stamp)
        tracker = cast("CostTracker", self)  # the mixin is only ever a CostTracker
        return Reservation(tracker, reservation_id, user_id, float(estimated_cost), amount,
                           model=model, user_tier=user_tier or self.get_user_tier(user_id),
                           expires_at=expires_at, scopes=plan.scopes)

    async def areserve(self, user_id: str, estimated_cost: float, *, model: str | None = None,
                       user_tier: str | None = None, ttl: float = 300.0,
                       team: str | None = None, org: str | None = None,
                       key: str | None = None, tags: Iterable[str] | None = None,
                       tokens: int | None = None) -> Reservation:
        """Async :meth:`reserve`."""
        await self._afresh(user_id, user_tier)
        reservation_id, amount, plan, expires_at = self._reservation_args(
            user_id, estimated_cost, user_tier, ttl, model, tokens, team, org, key, tags)
        if plan.counters:
            outcome = await self.store.areserve(reservation_id, user_id, amount, plan.limits,
                                                now=plan.stamp, expires_at=expires_at,
                                                counters=plan.counters)
        else:
            outcome = await self.store.areserve(reservation_id, user_id, amount, plan.limits,
                                                now=plan.stamp, expires_at=expires_at)
        if not outcome.granted:
            raise self._refused(user_id, estimated_cost, outcome, plan.stamp)
        tracker = cast("CostTracker", self)  # the mixin is only ever a CostTracker
        return Reservation(tracker, reservation_id, user_id, float(estimated_cost), amount,
                           model=model, user_tier=user_tier or self.get_user_tier(user_id),
                           expires_at=expires_at, scopes=plan.scopes)

    def hold(self, user_id: str, estimated_cost: float, *, model: str | None = None,
             user_tier: str | None = None, ttl: float = 300.0, team: str | None = None,
             org: str | None = None, key: str | None = None,
             tags: Iterable[str] | None = None) -> Reservation:
        """Hold ``estimated_cost`` of every budget that applies without checking any limit.

        For a request that leaves whatever the budget says (a sync LiteLLM call no hook
        can refuse): the hold makes ``can_afford``, ``remaining`` and every reservation
        made meanwhile count it (the user's and its team's, org's, key's and tags'), and is
        settled or released like any :class:`Reservation`. Never raises
        :class:`BudgetExceededError`; use :meth:`reserve` to ask first.

        Example:
            >>> held = tracker.hold("u1", 0.02, model="gpt-4o")   # even when over budget
            >>> tracker.can_afford("u1")                          # counts the hold
            False
            >>> held.settle(0.013, provider="openai", tokens=420)
        """
        reservation_id, amount, plan, expires_at = self._reservation_args(
            user_id, estimated_cost, user_tier, ttl, model, None, team, org, key, tags)
        # The same holds and increments as a reservation, under limits nothing can reach.
        unbounded = [counter._replace(limit=_NO_LIMIT) for counter in plan.counters]
        self.store.reserve(reservation_id, user_id, amount, [], now=plan.stamp,
                           expires_at=expires_at, counters=unbounded)
        tracker = cast("CostTracker", self)  # the mixin is only ever a CostTracker
        return Reservation(tracker, reservation_id, user_id, float(estimated_cost), amount,
                           model=model, user_tier=user_tier or self.get_user_tier(user_id),
                           expires_at=expires_at, scopes=plan.scopes)

    def _settlement_entry(self, reservation: Reservation, actual_cost: float,
                          fields: dict[str, Any]) -> tuple[CostEntry, int]:
        unknown = set(fields) - {"model", "provider", "tokens", "prompt_tokens",
                                 "completion_tokens", "query_id", "metadata", "user_tier"}
        if unknown:
            raise ValueError(f"unknown entry field(s) for settle: {sorted(unknown)}")
        prompt = fields.get("prompt_tokens")
        completion = fields.get("completion_tokens")
        tokens = fields.get("tokens")
        if tokens is None:
            tokens = (prompt or 0) + (completion or 0)
        return self._make_entry(
            reservation.id,
            fields.get("model") or reservation.model or "unknown",
            fields.get("provider") or "unknown",
            tokens, actual_cost, fields.get("query_id"), fields.get("metadata"),
            reservation.user_id, fields.get("user_tier") or reservation.user_tier,
            prompt, completion,
        )

    def _settle(self, reservation: Reservation, actual_cost: float,
                fields: dict[str, Any]) -> CostEntry:
        entry, cost_nanos = self._settlement_entry(reservation, actual_cost, fields)
        keys = self._periods.keys(entry.timestamp)
        periods, adds = self._entry_counters(entry, cost_nanos, keys, reservation.scopes)
        if self._rollups is not None:
            rollups = self._rollups.adds(entry, cost_nanos, keys, reservation.scopes)
            adds = adds + rollups if adds else rollups
        if adds:
            self.store.settle(reservation.id, entry, cost_nanos, periods, counters=adds)
        else:
            self.store.settle(reservation.id, entry, cost_nanos, periods)
        self._after_record(entry, cost_nanos, keys)
        return entry

    async def _asettle(self, reservation: Reservation, actual_cost: float,
                       fields: dict[str, Any]) -> CostEntry:
        await self._afresh(reservation.user_id,
                           fields.get("user_tier") or reservation.user_tier)
        entry, cost_nanos = self._settlement_entry(reservation, actual_cost, fields)
        keys = self._periods.keys(entry.timestamp)
        periods, adds = self._entry_counters(entry, cost_nanos, keys, reservation.scopes)
        if self._rollups is not None:
            rollups = self._rollups.adds(entry, cost_nanos, keys, reservation.scopes)
            adds = adds + rollups if adds else rollups
        if adds:
            await self.store.asettle(reservation.id, entry, cost_nanos, periods, counters=adds)
        else:
            await self.store.asettle(reservation.id, entry, cost_nanos, periods)
        await self._aafter_record(entry, cost_nanos, keys)
        return entry
