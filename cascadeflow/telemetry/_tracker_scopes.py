"""The tracker's scope side: limits stored as data, and the scopes, caps, quotas and rate
limits every check builds from them (a mixin of :class:`CostTracker`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from cascadeflow._entry import CostEntry
from cascadeflow.storage import (
    CounterAdd,
    CounterLimit,
    LedgerStore,
    PeriodKey,
    PeriodLimit,
    Usage,
)
from cascadeflow.storage._base import counter_refusal, refusal
from cascadeflow.telemetry._budget import BudgetConfig, RateLimit
from cascadeflow.telemetry._limits import LimitBook
from cascadeflow.telemetry._periods import PeriodClock
from cascadeflow.telemetry._scope import Scope
from cascadeflow.telemetry._scoped import BudgetRow, ScopedCounters


class _Plan(NamedTuple):
    """Every limit one request must pass, built once and handed to the store."""

    budget: BudgetConfig | None
    keys: tuple[PeriodKey, ...]
    stamp: float
    limits: list[PeriodLimit]
    scopes: tuple[Scope, ...] | None
    counters: list[CounterLimit]


class ScopedBudgets:
    """Stored limits (budgets of every scope, model caps, rate limits, memberships) and the
    checks built from them; :class:`CostTracker` inherits it."""

    store: LedgerStore
    user_budgets: dict[str, BudgetConfig]
    _book: LimitBook
    _scoped: ScopedCounters
    _periods: PeriodClock

    if TYPE_CHECKING:
        def _timestamp(self) -> float: ...
        def get_user_budget(self, user_id: str,
                            user_tier: str | None = None) -> BudgetConfig | None: ...
        def _budget_state(self, user_id: str, user_tier: str | None
                          ) -> tuple[BudgetConfig | None, tuple[PeriodKey, ...], float]: ...
        def _limits(self, budget: BudgetConfig, keys: tuple[PeriodKey, ...], user_id: str = "",
                    stamp: float = 0.0) -> list[PeriodLimit]: ...

    def set_tier_budget(self, tier: str, budget: BudgetConfig | None) -> None:
        """Store the limits of every user of ``tier``; they win over ``user_budgets[tier]``.

        Example:
            >>> tracker.set_tier_budget("free", BudgetConfig(daily=0.10))

        .. versionadded:: 0.2.0
        """
        if not isinstance(tier, str) or not tier:
            raise ValueError(f"tier must be a non-empty string, got {tier!r}")
        self._book.set_tier_budget(tier, _budget_or_none(budget))

    def get_tier_budget(self, tier: str) -> BudgetConfig | None:
        """The limits of ``tier``: stored, else ``user_budgets[tier]``, else ``None``.

        Example:
            >>> tracker.get_tier_budget("free")
            BudgetConfig(daily=$0.10)
        """
        stored = self._book.current().tiers.get(tier)
        return stored if stored is not None else self.user_budgets.get(tier)

    def set_budget(self, scope: Scope | str, budget: BudgetConfig | None, *,
                   model: str | None = None) -> None:
        """Store the budget of ``scope`` (a :class:`Scope` or ``"kind:id"``); ``None`` removes it.

        With ``model``, the budget is a cap on that scope's spend on the model (a dated
        snapshot counts toward its model); a request must fit the cap and the scope's own
        limits. Every tracker sharing the store applies it.

        Example:
            >>> tracker.set_budget("team:search", BudgetConfig(daily=50.0))
            >>> tracker.set_budget(Scope.user("alice"), BudgetConfig(daily=1.0), model="gpt-4o")

        .. versionadded:: 0.2.0
        """
        parsed = Scope.parse(scope)
        if model is not None and (not isinstance(model, str) or not model):
            raise ValueError(f"model must be a non-empty string or None, got {model!r}")
        self._book.set_budget(parsed, _budget_or_none(budget), model)

    def get_budget(self, scope: Scope | str, *, model: str | None = None) -> BudgetConfig | None:
        """The budget stored for ``scope`` (or its cap on ``model``), else ``None``.

        Example:
            >>> tracker.get_budget("team:search")
            BudgetConfig(daily=$50.00)
        """
        parsed = Scope.parse(scope)
        limits = self._book.current()
        if model is None:
            return limits.budgets.get(parsed)
        return limits.caps.get(parsed, {}).get(model)

    def budgets(self) -> dict[tuple[Scope, str | None], BudgetConfig]:
        """Every stored budget by ``(scope, model)`` (``model`` is ``None`` except for caps).

        Example:
            >>> tracker.budgets()
            {(Scope('team:search'), None): BudgetConfig(daily=$50.00)}
        """
        limits = self._book.current()
        found: dict[tuple[Scope, str | None], BudgetConfig] = {
            (scope, None): config for scope, config in limits.budgets.items()}
        for scope, caps in limits.caps.items():
            for model, config in caps.items():
                found[(scope, model)] = config
        return found

    def set_rate_limit(self, scope: Scope | str, limit: RateLimit | None) -> None:
        """Store the rate limit of ``scope`` (``None`` removes it); checked by every reservation.

        Example:
            >>> tracker.set_rate_limit("key:sk-live-123", RateLimit(rpm=60, max_parallel=2))

        .. versionadded:: 0.2.0
        """
        if limit is not None and not isinstance(limit, RateLimit):
            raise ValueError(f"limit must be a RateLimit or None, got {limit!r}")
        self._book.set_rate_limit(Scope.parse(scope), limit)

    def get_rate_limit(self, scope: Scope | str) -> RateLimit | None:
        """The rate limit stored for ``scope``, else ``None``.

        Example:
            >>> tracker.get_rate_limit("user:alice")
            RateLimit(rpm=60, tpm=None, max_parallel=None)
        """
        return self._book.current().rates.get(Scope.parse(scope))

    def rate_limits(self) -> dict[Scope, RateLimit]:
        """Every stored rate limit by scope.

        Example:
            >>> tracker.rate_limits()
            {Scope('user:alice'): RateLimit(rpm=60, tpm=None, max_parallel=None)}
        """
        return dict(self._book.current().rates)

    def set_user_team(self, user_id: str, team: str | None) -> None:
        """Remember ``user_id``'s team (stored, like its tier): its requests count toward it.

        Example:
            >>> tracker.set_user_team("alice", "search")
        """
        self._book.set_member("team", _user_id(user_id), _group_or_none(team, "team"))

    def set_user_org(self, user_id: str, org: str | None) -> None:
        """Remember ``user_id``'s organisation (stored): its requests count toward it.

        Example:
            >>> tracker.set_user_org("alice", "acme")
        """
        self._book.set_member("org", _user_id(user_id), _group_or_none(org, "org"))

    def get_user_team(self, user_id: str) -> str | None:
        """The team remembered for ``user_id``, if any.

        Example:
            >>> tracker.get_user_team("alice")
            'search'
        """
        return self._book.current().teams.get(user_id)

    def get_user_org(self, user_id: str) -> str | None:
        """The organisation remembered for ``user_id``, if any.

        Example:
            >>> tracker.get_user_org("alice")
            'acme'
        """
        return self._book.current().orgs.get(user_id)

    def _carried(self, user_id: str, budget: BudgetConfig, key: PeriodKey, base: int) -> int:
        """What rolled over into ``key`` of the user's own budget (0 without rollover)."""
        if not budget.rollover:
            return 0
        return self._scoped.carried("", budget, key, base, self._timestamp(), user_id=user_id)

    def _entry_counters(self, entry: CostEntry, cost_nanos: int, keys: tuple[PeriodKey, ...],
                        scopes: tuple[Scope, ...] | None
                        ) -> tuple[tuple[PeriodKey, ...], list[CounterAdd]]:
        """The user's period keys (the hour too when limited) and the other increments."""
        limits = self._book.current()
        if not limits.scoped and not any(
                budget.hourly is not None for budget in self.user_budgets.values()):
            return keys, []  # plain per-user USD limits: nothing beyond the user's keys
        user_id = entry.user_id
        budget = (self.get_user_budget(user_id, entry.user_tier)
                  if user_id is not None else None)
        stamp = entry.timestamp.timestamp()
        periods = keys
        if budget is not None and budget.hourly is not None:
            periods = self._scoped.counted_keys(budget, keys, stamp)
        if not limits.scoped:
            return periods, []
        if scopes is None:
            scopes = self._scoped.scopes(limits, user_id, team=None, org=None, key=None,
                                         tags=None)
        adds = self._scoped.counter_adds(
            limits, user_id, scopes, entry.model, cost_nanos, entry.tokens, keys, stamp,
            budget)
        return periods, adds

    def _named_scopes(self, user_id: str | None, team: str | None, org: str | None,
                      key: str | None, tags: Iterable[str] | None) -> tuple[Scope, ...] | None:
        """The scopes beyond the user a call names (with the remembered ones), when limits exist."""
        limits = self._book.current()
        if not limits.scoped and team is None and org is None and key is None and tags is None:
            return None
        return self._scoped.scopes(limits, user_id, team=team, org=org, key=key, tags=tags)

    def _plan(self, user_id: str, user_tier: str | None, amount: int, model: str | None,
              tokens: int | None, team: str | None, org: str | None, key: str | None,
              tags: Iterable[str] | None) -> _Plan:
        """Every limit a request for ``user_id`` must pass, as the store will check them."""
        budget, keys, stamp = self._budget_state(user_id, user_tier)
        limits: list[PeriodLimit] = []
        if budget is not None:
            limits = self._limits(budget, keys, user_id, stamp)
        stored = self._book.current()
        if not stored.scoped and team is None and org is None and key is None and tags is None:
            return _Plan(budget, keys, stamp, limits, None, [])
        scopes, counters = self._scoped.plan(
            stored, user_id, team=team, org=org, key=key, tags=tags, model=model,
            amount_nanos=amount, tokens=tokens or 0, keys=keys, stamp=stamp, user_budget=budget)
        return _Plan(budget, keys, stamp, limits, scopes, counters)

    def _dry_run(self, user_id: str, plan: _Plan, amount: int) -> bool:
        if not plan.limits and not plan.counters:
            return True
        if plan.limits:
            usage = self.store.usage(user_id, [item.period_key for item in plan.limits],
                                     now=plan.stamp)
            if refusal(plan.limits, usage.spent_nanos, usage.reserved_nanos, amount) is not None:
                return False
        if plan.counters:
            read = self.store.read_counters(
                [(item.owner, item.period_key) for item in plan.counters],
                list(dict.fromkeys(item.owner for item in plan.counters)), now=plan.stamp)
            return counter_refusal(plan.counters, read.values, read.held) is None
        return True

    async def _adry_run(self, user_id: str, plan: _Plan, amount: int) -> bool:
        """Async :meth:`_dry_run`."""
        if plan.limits:
            usage = await self.store.ausage(
                user_id, [item.period_key for item in plan.limits], now=plan.stamp)
            if refusal(plan.limits, usage.spent_nanos, usage.reserved_nanos, amount) is not None:
                return False
        if plan.counters:
            read = await self.store.aread_counters(
                [(item.owner, item.period_key) for item in plan.counters],
                list(dict.fromkeys(item.owner for item in plan.counters)), now=plan.stamp)
            return counter_refusal(plan.counters, read.values, read.held) is None
        return True

    def budget_report(self, scope: Scope | str) -> list[dict[str, object]]:
        """Limit, base, carried, spent, reserved and remaining per period of one scope.

        For a user, its own (or its tier's) budget; for any scope, its stored budget and
        model caps. Used by ``cascadeflow budgets show``.

        Example:
            >>> tracker.budget_report("team:search")[0]["remaining"]
            49.2
        """
        parsed = Scope.parse(scope)
        stamp = self._timestamp()
        keys = self._periods.keys_at(stamp)
        rows: list[BudgetRow] = []
        if parsed.kind == "user":
            rows, _ = self._user_rows(parsed.id, self.get_user_budget(parsed.id), keys, stamp)
        limits_now = self._book.current()
        user_id = parsed.id if parsed.kind == "user" else ""
        scopes = () if parsed.kind == "user" else (parsed,)
        rows += self._scoped.money_rows(limits_now, scopes, user_id, keys, stamp,
                                        include_user_caps=parsed.kind == "user")
        config = (self.get_user_budget(parsed.id) if parsed.kind == "user"
                  else limits_now.budgets.get(parsed))
        if config is not None:
            rows += self._scoped.quota_rows(parsed, config, keys, stamp)
        return [row.as_dict() for row in rows]

    def _rows(self, user_id: str, budget: BudgetConfig | None, keys: tuple[PeriodKey, ...],
              stamp: float, scopes: tuple[Scope, ...] | None) -> tuple[list[BudgetRow], Usage]:
        """The USD limits of every scope (the user's first) and every cap, values read, and
        the user's usage (its four periods, and the hour when limited)."""
        rows, usage = self._user_rows(user_id, budget, keys, stamp)
        rows += self._scoped.money_rows(self._book.current(), scopes or (), user_id, keys,
                                        stamp)
        return rows, usage

    def _user_rows(self, user_id: str, budget: BudgetConfig | None,
                   keys: tuple[PeriodKey, ...], stamp: float) -> tuple[list[BudgetRow], Usage]:
        """The user's own USD limits (base and carried) with its usage of every period."""
        limits = self._limits(budget, keys, user_id, stamp) if budget is not None else []
        periods = list(dict.fromkeys([*keys, *(item.period_key for item in limits)]))
        usage = self.store.usage(user_id, periods, now=stamp)
        bases = self._scoped.money_periods(budget, keys, stamp) if budget is not None else []
        user = Scope.user(user_id)
        rows = [BudgetRow(user, item.period_key.period, None, base, item.limit_nanos - base, "",
                          item.period_key, usage.spent_nanos.get(item.period_key.key, 0),
                          usage.reserved_nanos)
                for item, (_, base) in zip(limits, bases, strict=True)]
        return rows, usage

    def remaining_detail(self, user_id: str, user_tier: str | None = None, *,
                         team: str | None = None, org: str | None = None,
                         key: str | None = None,
                         tags: Iterable[str] | None = None) -> dict[str, dict[str, float]]:
        """:meth:`remaining` with the parts: base, carried and effective limit, spent, reserved.

        Keyed as :meth:`remaining` is (``"daily"``, ``"team:search daily"``, ...).

        Example:
            >>> tracker.remaining_detail("alice")["monthly"]
            {'base_limit': 100.0, 'carried': 12.5, 'limit': 112.5, 'spent': 3.0, ...}
        """
        budget, keys, stamp = self._budget_state(user_id, user_tier)
        rows, _ = self._user_rows(user_id, budget, keys, stamp)
        scopes = self._named_scopes(user_id, team, org, key, tags)
        if scopes is not None:
            rows += self._scoped.money_rows(self._book.current(), scopes, user_id, keys, stamp)
        found: dict[str, dict[str, float]] = {}
        for row in rows:
            label = row.period if row.scope.kind == "user" and row.model is None else (
                f"{row.scope} {row.period}")
            if row.model is not None:
                label += f" cap on {row.model}"
            parts = row.as_dict()
            found[label] = {name: float(parts[name]) for name in (  # type: ignore[arg-type]
                "base_limit", "carried", "limit", "spent", "reserved", "remaining")}
        return found


def _user_id(user_id: object) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError(f"user_id must be a non-empty string, got {user_id!r}")
    return user_id


def _budget_or_none(budget: object) -> BudgetConfig | None:
    if budget is not None and not isinstance(budget, BudgetConfig):
        raise ValueError(f"budget must be a BudgetConfig or None, got {budget!r}")
    return budget


def _group_or_none(group: object, kind: str) -> str | None:
    if group is not None and (not isinstance(group, str) or not group):
        raise ValueError(f"{kind} must be a non-empty string or None, got {group!r}")
    return group
