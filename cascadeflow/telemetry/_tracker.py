"""CostTracker: the per-user ledger with calendar budgets, reservations and enforcement.

Spend lives in a store (memory, SQLite or Redis) as integer nano-dollar counters per user
and period key, so every check is O(1) in the size of the history.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cascadeflow._entry import CostEntry, new_entry_id
from cascadeflow._money import to_nanos, to_usd
from cascadeflow.storage import (
    LedgerStore,
    MemoryStore,
    PeriodKey,
    PeriodLimit,
    Usage,
)
from cascadeflow.storage._base import _in_worker_thread
from cascadeflow.telemetry import _observers
from cascadeflow.telemetry._budget import BudgetConfig
from cascadeflow.telemetry._enforcement import (
    EnforcementCallbacks,
    EnforcementResult,
)
from cascadeflow.telemetry._ledger_queries import LedgerQueries
from cascadeflow.telemetry._limits import LimitBook
from cascadeflow.telemetry._periods import PeriodClock
from cascadeflow.telemetry._rollups import Rollups, SpendHistory
from cascadeflow.telemetry._scope import Scope
from cascadeflow.telemetry._scoped import BudgetRow, ScopedCounters
from cascadeflow.telemetry._tracker_alerts import AlertingMixin, AlertSinks
from cascadeflow.telemetry._tracker_reservations import ReservationsMixin, check_tokens
from cascadeflow.telemetry._tracker_scopes import ScopedBudgets, _user_id

if TYPE_CHECKING:
    from cascadeflow.pricing import PriceBook

logger = logging.getLogger("cascadeflow.tracker")

_MODES = ("warn", "block", "degrade")


class CostTracker(ScopedBudgets, ReservationsMixin, LedgerQueries, SpendHistory,
                  AlertingMixin):
    """Records LLM spend per user and enforces calendar budgets before work is done.

    Compatible with cascadeflow 1.2.0's ``CostTracker`` calls (``add_cost``,
    ``can_afford``, ``get_user_summary``, exports, ...) and adds reservations, enforcement
    with degradation, persistent stores and calendar periods in ``timezone``.

    Args:
        budget_limit: optional overall USD limit across all users (warnings only, as in 1.2.0).
        warn_threshold: fraction of a limit at which a warning is logged and WARN starts.
        verbose: log every recorded cost at INFO.
        user_budgets: tier name -> :class:`BudgetConfig`.
        enforcement_mode: ``"warn"`` (never blocks), ``"block"`` or ``"degrade"``.
        store: where the ledger lives (default :class:`~cascadeflow.storage.MemoryStore`).
        timezone: IANA name of the zone periods are computed in.
        clock: returns the current aware datetime (injectable for tests).
        enforcement_callbacks: run by :meth:`enforce` instead of ``enforcement_mode``.
        degradation_map: model -> cheaper model (default ``DEFAULT_DEGRADATION_MAP``).
        pricing: the price book for estimates (default: ``pricing/pricing.json``).
        rollups: keep daily spend per user, tier, model, scope and ledger in the store
            (read by :meth:`daily_spend`, forecasts, anomaly detection and reports).
        hourly_rollups: also keep hourly spend per user and ledger (:meth:`hourly_spend`,
            ``AnomalyDetector(granularity="hourly")``).
        alert_thresholds: fractions of each limit that alert once per period (default
            ``(0.5, 0.8, 0.95, 1.0)`` when ``on_alert`` is given).
        on_alert: a sink (callable), or several, receiving each :class:`BudgetAlert`.
        forecast_action: ``"warn"`` or ``"degrade"``: :meth:`enforce` acts once a user's
            period-end projection passes a limit, before the budget is gone.

    Example:
        >>> tracker = CostTracker(user_budgets={"free": BudgetConfig(daily=0.10)},
        ...                       enforcement_mode="block")
        >>> tracker.add_cost("gpt-4o-mini", "openai", 900, 0.0004, user_id="u1", user_tier="free")
        >>> tracker.can_afford("u1", 0.05)
        True
    """

    #: How long a tier (or the stored limits) read from a shared store is trusted before it
    #: is read again: a limit set by another process applies here within this delay.
    TIER_REFRESH_SECONDS = 1.0

    def __init__(
        self,
        budget_limit: float | None = None,
        warn_threshold: float = 0.8,
        verbose: bool = False,
        user_budgets: Mapping[str, BudgetConfig] | None = None,
        enforcement_mode: str = "warn",
        *,
        store: LedgerStore | None = None,
        timezone: str = "UTC",
        clock: Callable[[], datetime] | None = None,
        enforcement_callbacks: EnforcementCallbacks | None = None,
        degradation_map: Mapping[str, str | None] | None = None,
        pricing: PriceBook | None = None,
        rollups: bool = True,
        hourly_rollups: bool = False,
        alert_thresholds: Iterable[float] | None = None,
        on_alert: AlertSinks = None,
        forecast_action: str | None = None,
    ) -> None:
        if enforcement_mode not in _MODES:
            raise ValueError(f"enforcement_mode must be one of {_MODES}, got {enforcement_mode!r}")
        if budget_limit is not None:
            to_nanos(budget_limit, field="budget_limit")
            if budget_limit < 0:
                raise ValueError(f"budget_limit must not be negative, got {budget_limit!r}")
        if not (isinstance(warn_threshold, (int, float)) and 0.0 <= warn_threshold <= 1.0):
            raise ValueError(f"warn_threshold must be between 0 and 1, got {warn_threshold!r}")
        for tier, config in (user_budgets or {}).items():
            if not isinstance(config, BudgetConfig):
                raise ValueError(f"user_budgets[{tier!r}] must be a BudgetConfig, got {config!r}")
        try:
            # The stdlib's fixed UTC zone is several times faster than ZoneInfo("UTC").
            self._zone: tzinfo = dt_timezone.utc if timezone == "UTC" else ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone must be an IANA zone name, got {timezone!r}") from exc
        self.budget_limit = budget_limit
        self.warn_threshold = float(warn_threshold)
        self.verbose = verbose
        self.enforcement_mode = enforcement_mode
        self.user_budgets: dict[str, BudgetConfig] = dict(user_budgets or {})
        self.store: LedgerStore = store if store is not None else MemoryStore()
        self.timezone = timezone
        self.enforcement_callbacks = enforcement_callbacks
        self.degradation_map = dict(degradation_map) if degradation_map is not None else None
        self._pricing = pricing
        self._clock = clock
        self._periods = PeriodClock(self._zone)
        self._lock = threading.RLock()
        self._book = LimitBook(self.store, lambda: self.TIER_REFRESH_SECONDS)
        self._scoped = ScopedCounters(self.store, self._book, self._zone, lambda: self.pricing)
        # Shared stores are asked per user on demand (see get_user_tier); others start
        # from what the store remembers.
        self._tiers: dict[str, str | None] = (
            {} if self.store.shared else dict(self.store.user_tiers()))
        self._warned: set[tuple[str, str]] = set()
        self._headroom: dict[str, tuple[tuple[PeriodKey, ...], BudgetConfig, int]] = {}
        self._global_nanos: int | None = None
        self._tier_seen: dict[str, float] = {}
        self.budget_warned = False
        self.budget_exceeded = False
        self._rollups = (Rollups(self._zone if hourly_rollups else None) if rollups
                         else None)
        self._init_alerts(alert_thresholds, on_alert, forecast_action)

    # -- time and budgets -----------------------------------------------------
    def now(self) -> datetime:
        """The tracker's current time (its clock, else the system clock), aware."""
        if self._clock is None:
            return datetime.fromtimestamp(time.time(), self._zone)
        moment = self._clock()
        if moment.tzinfo is None:
            raise ValueError("the tracker's clock must return an aware datetime")
        return moment

    def period_keys(self, moment: datetime | None = None) -> tuple[PeriodKey, ...]:
        """The daily, weekly, monthly and total period keys at ``moment`` (default now)."""
        return self._periods.keys(moment if moment is not None else self.now())

    @property
    def pricing(self) -> PriceBook:
        """The price book used for estimates (loaded on first use)."""
        if self._pricing is None:
            from cascadeflow.pricing import default_price_book

            self._pricing = default_price_book()
        return self._pricing

    def set_user_budget(self, user_id: str, budget: BudgetConfig | None) -> None:
        """Give ``user_id`` its own limits, which win over its tier's; ``None`` removes them.

        Stored in the store: every tracker sharing it applies them (within
        ``TIER_REFRESH_SECONDS`` on shared stores), and so does a restarted one.

        Example:
            >>> tracker.set_user_budget("alice", BudgetConfig(daily=0.01))
        """
        self.set_budget(Scope.user(_user_id(user_id)), budget)

    def get_user_budget(self, user_id: str, user_tier: str | None = None) -> BudgetConfig | None:
        """The limits that apply to ``user_id``: its own, else its tier's, else ``None``."""
        limits = self._book.current()
        own = limits.users.get(user_id)
        if own is not None:
            return own
        tier = user_tier if user_tier is not None else self.get_user_tier(user_id)
        if tier is None:
            return None
        stored = limits.tiers.get(tier)
        return stored if stored is not None else self.user_budgets.get(tier)

    def set_user_tier(self, user_id: str, tier: str | None) -> None:
        """Remember ``tier`` for ``user_id`` (persisted in the store)."""
        with self._lock:
            if not self.store.shared and self._tiers.get(user_id, "\0") == tier:
                return
            self._tiers[user_id] = tier
            self._tier_seen[user_id] = time.monotonic()
        self.store.set_user_tier(user_id, tier)

    def get_user_tier(self, user_id: str) -> str | None:
        """The tier remembered for ``user_id``, if any.

        With a store shared by several processes the tier may have been set by another
        one, so it is read from the store when this process has not seen it for
        ``TIER_REFRESH_SECONDS``: a worker never treats a tiered user as unlimited.
        """
        now = self._tier_stale_since(user_id)
        if now is None:
            return self._tiers.get(user_id)
        return self._seen_tier(user_id, self.store.user_tier(user_id), now)

    async def aget_user_tier(self, user_id: str) -> str | None:
        """Async :meth:`get_user_tier`: a read of a shared store does not block the loop.

        Example:
            >>> await tracker.aget_user_tier("u1")
            'pro'
        """
        now = self._tier_stale_since(user_id)
        if now is None:
            return self._tiers.get(user_id)
        return self._seen_tier(user_id, await self.store.auser_tier(user_id), now)

    def _tier_stale_since(self, user_id: str) -> float | None:
        """The time now when ``user_id``'s tier must be read from a shared store, else None
        (this process knows it, or has read it within ``TIER_REFRESH_SECONDS``)."""
        if not self.store.shared:
            return None
        now = time.monotonic()
        seen = self._tier_seen.get(user_id)
        return None if seen is not None and now - seen < self.TIER_REFRESH_SECONDS else now

    def _seen_tier(self, user_id: str, tier: str | None, now: float) -> str | None:
        with self._lock:
            self._tiers[user_id] = tier
            self._tier_seen[user_id] = now
        return tier

    async def _afresh(self, user_id: object, user_tier: str | None = None) -> None:
        """Bring what the planning reads from a shared store up to date without blocking the
        event loop: the stored limits' version and ``user_id``'s tier (unless ``user_tier``
        is given), each read at most once per ``TIER_REFRESH_SECONDS``. The sync planning
        that follows finds them fresh and reads nothing."""
        if not self.store.shared:
            return
        await self._book.acurrent()
        if user_tier is None and isinstance(user_id, str) and user_id:
            await self.aget_user_tier(user_id)  # a bad user id is refused by the planning

    def _remember_tier(self, user_id: str, tier: str | None) -> None:
        if tier is not None and self._tiers.get(user_id) != tier:
            self.set_user_tier(user_id, tier)

    def _limits(self, budget: BudgetConfig, keys: tuple[PeriodKey, ...], user_id: str = "",
                stamp: float = 0.0) -> list[PeriodLimit]:
        if budget.has_extras():
            return self._scoped.user_limits(user_id, budget, keys, stamp)
        return [PeriodLimit(keys[index], nanos) for index, nanos in budget.indexed_limits()]

    # -- recording ------------------------------------------------------------
    def _make_entry(
        self,
        entry_id: str,
        model: str,
        provider: str,
        tokens: int,
        cost: float,
        query_id: str | None,
        metadata: Mapping[str, Any] | None,
        user_id: str | None,
        user_tier: str | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
    ) -> tuple[CostEntry, int]:
        cost_nanos = to_nanos(cost, field="cost")
        check_tokens(tokens, "tokens")
        if prompt_tokens is not None:
            check_tokens(prompt_tokens, "prompt_tokens")
        if completion_tokens is not None:
            check_tokens(completion_tokens, "completion_tokens")
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty string, got {model!r}")
        if user_id is not None and not isinstance(user_id, str):
            raise ValueError(f"user_id must be a string or None, got {user_id!r}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValueError(f"metadata must be a mapping, got {type(metadata).__name__}")
        entry = CostEntry(
            timestamp=self.now(),
            model=model,
            provider=provider,
            tokens=tokens,
            cost=float(cost),
            query_id=query_id,
            metadata=dict(metadata) if metadata else {},
            user_id=user_id,
            user_tier=user_tier if user_tier is not None else (
                self.get_user_tier(user_id) if user_id is not None else None
            ),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            id=entry_id,
        )
        if user_id is not None and user_tier is not None:
            self._remember_tier(user_id, user_tier)
        return entry, cost_nanos

    def add_cost(
        self,
        model: str,
        provider: str,
        tokens: int,
        cost: float,
        query_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        user_tier: str | None = None,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        team: str | None = None,
        org: str | None = None,
        key: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> CostEntry:
        """Record one completion's cost (USD; negative for a refund) and return its entry.

        O(1) in the size of the history. NaN, infinite or non-numeric costs and negative
        token counts raise ``ValueError`` and record nothing. When this returns, the entry
        is in the store (committed, for SQLite). ``team``, ``org``, ``key`` and ``tags``
        name the scopes it counts toward besides the user (its remembered team and org,
        and the global scope, count without being named).

        Example:
            >>> entry = tracker.add_cost("gpt-4o", "openai", 1500, 0.0125, user_id="u1",
            ...                          tags=["search"])
        """
        entry, cost_nanos = self._make_entry(
            new_entry_id(), model, provider, tokens, cost, query_id, metadata, user_id,
            user_tier, prompt_tokens, completion_tokens,
        )
        keys = self._periods.keys(entry.timestamp)
        scopes = self._named_scopes(user_id, team, org, key, tags)
        periods, adds = self._entry_counters(entry, cost_nanos, keys, scopes)
        if self._rollups is not None:
            rollups = self._rollups.adds(entry, cost_nanos, keys, scopes)
            adds = adds + rollups if adds else rollups
        if adds:
            self.store.record(entry, cost_nanos, periods, counters=adds)
        else:
            self.store.record(entry, cost_nanos, periods)
        self._after_record(entry, cost_nanos, keys)
        return entry

    async def aadd_cost(
        self,
        model: str,
        provider: str,
        tokens: int,
        cost: float,
        query_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        user_tier: str | None = None,
        *,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        team: str | None = None,
        org: str | None = None,
        key: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> CostEntry:
        """Async :meth:`add_cost`; the store call does not block the event loop."""
        await self._afresh(user_id, user_tier)
        entry, cost_nanos = self._make_entry(
            new_entry_id(), model, provider, tokens, cost, query_id, metadata, user_id,
            user_tier, prompt_tokens, completion_tokens,
        )
        keys = self._periods.keys(entry.timestamp)
        scopes = self._named_scopes(user_id, team, org, key, tags)
        periods, adds = self._entry_counters(entry, cost_nanos, keys, scopes)
        if self._rollups is not None:
            rollups = self._rollups.adds(entry, cost_nanos, keys, scopes)
            adds = adds + rollups if adds else rollups
        if adds:
            await self.store.arecord(entry, cost_nanos, periods, counters=adds)
        else:
            await self.store.arecord(entry, cost_nanos, periods)
        await self._aafter_record(entry, cost_nanos, keys)
        return entry

    def _after_record(self, entry: CostEntry, cost_nanos: int,
                      keys: tuple[PeriodKey, ...]) -> None:
        user_id = self._recorded(entry, cost_nanos)
        if user_id is None:
            return
        budget = self.get_user_budget(user_id, entry.user_tier)
        if self._alerting:
            self._check_alerts(entry, cost_nanos, keys, budget)
        if budget is not None and self._warning_due(user_id, cost_nanos, keys, budget):
            usage = self.store.usage(user_id, keys, now=entry.timestamp.timestamp())
            self._headroom[user_id] = (keys, budget,
                                       self._warn_user(user_id, budget, keys, usage))

    async def _aafter_record(self, entry: CostEntry, cost_nanos: int,
                             keys: tuple[PeriodKey, ...]) -> None:
        """Async :meth:`_after_record`: its store reads do not block the event loop."""
        if self.budget_limit is not None and self._global_nanos is None:
            totals = await _in_worker_thread(self.store.totals)  # a scan, for SQLite
            with self._lock:
                if self._global_nanos is None:  # _check_global_budget adds this entry
                    self._global_nanos = totals.total_nanos - cost_nanos
        user_id = self._recorded(entry, cost_nanos)
        if user_id is None:
            return
        budget = self.get_user_budget(user_id, entry.user_tier)
        if self._alerting and not self._alerts_quiet(entry, cost_nanos, keys, budget):
            if self.store.shared:  # a few reads and claims over the network: off the loop
                await _in_worker_thread(functools.partial(
                    self._alerts_due, entry, keys, budget))
            else:
                self._alerts_due(entry, keys, budget)
        if budget is not None and self._warning_due(user_id, cost_nanos, keys, budget):
            usage = await self.store.ausage(user_id, keys, now=entry.timestamp.timestamp())
            self._headroom[user_id] = (keys, budget,
                                       self._warn_user(user_id, budget, keys, usage))

    def _recorded(self, entry: CostEntry, cost_nanos: int) -> str | None:
        """What follows every record without reading the store; the user whose alerts and
        warnings may be due, if any."""
        if _observers.observed():
            _observers.publish_entry(entry, cost_nanos)
        if self.verbose:
            logger.info("recorded $%.6f for %s (%s, user=%s)", entry.cost, entry.model,
                        entry.provider, entry.user_id)
        if self.budget_limit is not None and not self.budget_exceeded:
            self._check_global_budget(cost_nanos)
        return entry.user_id if entry.user_id is not None and cost_nanos > 0 else None

    def _warning_due(self, user_id: str, cost_nanos: int, keys: tuple[PeriodKey, ...],
                     budget: BudgetConfig) -> bool:
        """Whether ``user_id``'s counters must be read for its budget warnings."""
        if not budget.has_any_limit():
            return False
        # Warnings are advisory: re-read the counters only once this process's own spend
        # could have crossed a threshold since the last read (enforcement never uses this).
        cached = self._headroom.get(user_id)
        if (cached is not None and cached[0] is keys and cached[1] is budget
                and cached[2] > cost_nanos):
            self._headroom[user_id] = (keys, budget, cached[2] - cost_nanos)
            return False
        return True

    def _check_global_budget(self, cost_nanos: int) -> None:
        # The overall budget only warns: keep a running total seeded once from the store
        # instead of asking it for totals (a scan, for SQLite) on every record.
        assert self.budget_limit is not None
        with self._lock:
            if self._global_nanos is None:
                self._global_nanos = self.store.totals().total_nanos
            else:
                self._global_nanos += cost_nanos
            total = to_usd(self._global_nanos)
        if total >= self.budget_limit and not self.budget_exceeded:
            self.budget_exceeded = True
            logger.warning("overall budget exceeded: $%.6f of $%.6f", total, self.budget_limit)
        elif total >= self.budget_limit * self.warn_threshold and not self.budget_warned:
            self.budget_warned = True
            logger.warning("overall budget %.0f%% used: $%.6f of $%.6f",
                           100 * total / self.budget_limit if self.budget_limit else 100.0,
                           total, self.budget_limit)

    def _warn_user(self, user_id: str, budget: BudgetConfig, keys: tuple[PeriodKey, ...],
                   usage: Usage) -> int:
        """Log threshold crossings once per period key; return nanos until the next one."""
        headroom = 1 << 62
        for index, limit in budget.indexed_limits():
            period, key = keys[index].period, keys[index].key
            spent = usage.spent_nanos.get(key, 0)
            threshold = int(limit * self.warn_threshold)
            for edge in (threshold, limit):
                if edge > spent:
                    headroom = min(headroom, edge - spent)
            if spent >= limit:
                marker = (user_id, f"exceeded:{key}")
                message = "user %s exceeded the %s budget: $%.6f of $%.6f"
            elif spent >= limit * self.warn_threshold:
                marker = (user_id, f"warned:{key}")
                message = "user %s used most of the %s budget: $%.6f of $%.6f"
            else:
                continue
            with self._lock:
                if marker in self._warned:
                    continue
                self._warned.add(marker)
            logger.warning(message, user_id, period, to_usd(spent), to_usd(limit))
        return headroom

    # -- checks ---------------------------------------------------------------
    def _timestamp(self) -> float:
        return time.time() if self._clock is None else self.now().timestamp()

    def _budget_state(
        self, user_id: str, user_tier: str | None
    ) -> tuple[BudgetConfig | None, tuple[PeriodKey, ...], float]:
        if user_tier is not None:
            self._remember_tier(user_id, user_tier)
        stamp = self._timestamp()
        return self.get_user_budget(user_id, user_tier), self._periods.keys_at(stamp), stamp

    @staticmethod
    def _fits(budget: BudgetConfig, keys: tuple[PeriodKey, ...], usage: Usage,
              amount_nanos: int) -> bool:
        spent = usage.spent_nanos
        reserved = usage.reserved_nanos
        for index, limit in budget.indexed_limits():
            used = spent.get(keys[index].key, 0) + reserved
            if used >= limit or used + amount_nanos > limit:
                return False
        return True

    def can_afford(self, user_id: str, estimated_cost: float = 0.0,
                   user_tier: str | None = None, *, team: str | None = None,
                   org: str | None = None, key: str | None = None,
                   tags: Iterable[str] | None = None, model: str | None = None,
                   tokens: int | None = None) -> bool:
        """True when ``estimated_cost`` fits in every limit that applies to the request.

        False as soon as any limit has ``spent + reserved >= limit`` or
        ``spent + reserved + estimated_cost > limit``: the user's periods, and those of its
        team, org, ``key``, each of ``tags`` and the global scope, with the caps on
        ``model``, the quotas and the rate limits. A user without limits can always
        afford. Reads the same counters reservations use.

        Example:
            >>> tracker.can_afford("u1", 0.02, user_tier="free", team="search")
            True
        """
        amount = to_nanos(estimated_cost, field="estimated_cost")
        if team is None and org is None and key is None and tags is None and (
                not self._book.current().scoped):
            budget, keys, stamp = self._budget_state(user_id, user_tier)
            if budget is None or not budget.has_any_limit():
                return True
            if not budget.has_extras():
                usage = self.store.usage(user_id, keys, now=stamp)
                return self._fits(budget, keys, usage, amount)
        plan = self._plan(user_id, user_tier, amount, model, tokens, team, org, key, tags)
        return self._dry_run(user_id, plan, amount)

    async def acan_afford(self, user_id: str, estimated_cost: float = 0.0,
                          user_tier: str | None = None, *, team: str | None = None,
                          org: str | None = None, key: str | None = None,
                          tags: Iterable[str] | None = None, model: str | None = None,
                          tokens: int | None = None) -> bool:
        """Async :meth:`can_afford`."""
        await self._afresh(user_id, user_tier)
        amount = to_nanos(estimated_cost, field="estimated_cost")
        if team is None and org is None and key is None and tags is None and (
                not self._book.current().scoped):
            budget, keys, stamp = self._budget_state(user_id, user_tier)
            if budget is None or not budget.has_any_limit():
                return True
            if not budget.has_extras():
                usage = await self.store.ausage(user_id, keys, now=stamp)
                return self._fits(budget, keys, usage, amount)
        plan = self._plan(user_id, user_tier, amount, model, tokens, team, org, key, tags)
        return await self._adry_run(user_id, plan, amount)

    def remaining(self, user_id: str, user_tier: str | None = None, *,
                  team: str | None = None, org: str | None = None, key: str | None = None,
                  tags: Iterable[str] | None = None) -> dict[str, float]:
        """USD left per configured period (limit - spent - reserved, never below 0).

        The user's periods are keyed by name (``"daily"``); the other scopes' and the
        model caps' as ``"team:search daily"`` and ``"user:u1 daily cap on gpt-4o"``. A
        period with rollover counts its effective limit (base plus carried); see
        :meth:`remaining_detail` for the parts.
        """
        budget, keys, stamp = self._budget_state(user_id, user_tier)
        left: dict[str, float] = {}
        if budget is not None:
            if budget.has_extras():
                limits = self._limits(budget, keys, user_id, stamp)
                usage = self.store.usage(user_id, [item.period_key for item in limits],
                                         now=stamp)
                for item in limits:
                    used = (usage.spent_nanos.get(item.period_key.key, 0)
                            + usage.reserved_nanos)
                    left[item.period_key.period] = to_usd(max(0, item.limit_nanos - used))
            else:
                left = _remaining(budget, keys, self.store.usage(user_id, keys, now=stamp))
        scopes = self._named_scopes(user_id, team, org, key, tags)
        if scopes is not None:
            rows = self._scoped.money_rows(self._book.current(), scopes, user_id, keys, stamp)
            for row in rows:
                label = f"{row.scope} {row.period}"
                if row.model is not None:
                    label += f" cap on {row.model}"
                left[label] = to_usd(max(0, row.limit - row.used))
        return left

    async def aremaining(self, user_id: str, user_tier: str | None = None, *,
                         team: str | None = None, org: str | None = None,
                         key: str | None = None,
                         tags: Iterable[str] | None = None) -> dict[str, float]:
        """Async :meth:`remaining`."""
        await self._afresh(user_id, user_tier)
        if team is None and org is None and key is None and tags is None:
            budget, keys, stamp = self._budget_state(user_id, user_tier)
            if budget is None:
                return {}
            if not budget.has_extras() and not self._book.current().scoped:
                usage = await self.store.ausage(user_id, keys, now=stamp)
                return _remaining(budget, keys, usage)
        # The scoped read is a few store calls: off the event loop.
        return await _in_worker_thread(functools.partial(
            self.remaining, user_id, user_tier, team=team, org=org, key=key, tags=tags))

    # -- enforcement ----------------------------------------------------------
    def enforce(self, user_id: str, model: str, estimated_cost: float | None = None, *,
                prompt_tokens: int | None = None, max_output_tokens: int | None = None,
                user_tier: str | None = None, team: str | None = None,
                org: str | None = None, key: str | None = None,
                tags: Iterable[str] | None = None) -> EnforcementResult:
        """Decide what to do with a request for ``model``: ALLOW, WARN, BLOCK or DEGRADE.

        Builds an :class:`EnforcementContext` from the tightest limit of every scope that
        applies (the user, its team and org, ``key``, ``tags``, global, and the caps on
        ``model``; ``context.scope`` names it), runs the registered enforcement callbacks
        (else ``enforcement_mode``) and, for DEGRADE, walks the degradation chain to the
        first model whose estimate fits, skipping models whose cap is exhausted.
        ``result.model`` is the model to call.

        Example:
            >>> result = tracker.enforce("u1", "gpt-4o", prompt_tokens=800, max_output_tokens=400)
            >>> result.action, result.model
            (<EnforcementAction.DEGRADE: 'degrade'>, 'gpt-4o-mini')
        """
        budget, keys, stamp = self._budget_state(user_id, user_tier)
        scopes = self._named_scopes(user_id, team, org, key, tags)
        if scopes is None and (budget is None or not budget.has_extras()):
            usage = (self.store.usage(user_id, keys, now=stamp)
                     if budget is not None else Usage({}, 0))
            return self._decide(user_id, model, estimated_cost, prompt_tokens,
                                max_output_tokens, user_tier, budget, keys, usage)
        rows, usage = self._rows(user_id, budget, keys, stamp, scopes)
        return self._decide(user_id, model, estimated_cost, prompt_tokens, max_output_tokens,
                            user_tier, budget, keys, usage, rows)

    async def aenforce(self, user_id: str, model: str, estimated_cost: float | None = None, *,
                       prompt_tokens: int | None = None, max_output_tokens: int | None = None,
                       user_tier: str | None = None, team: str | None = None,
                       org: str | None = None, key: str | None = None,
                       tags: Iterable[str] | None = None) -> EnforcementResult:
        """Async :meth:`enforce`."""
        await self._afresh(user_id, user_tier)
        budget, keys, stamp = self._budget_state(user_id, user_tier)
        if (self.forecast_action is not None and budget is not None and self.store.shared
                and not self._outlooks_fresh(user_id, budget, keys)):
            # A projection reads the user's daily history: off the loop, then _decide
            # finds it fresh.
            await _in_worker_thread(functools.partial(
                self._projected_overruns, user_id, budget, keys))
        scopes = self._named_scopes(user_id, team, org, key, tags)
        if scopes is None and (budget is None or not budget.has_extras()):
            usage = (await self.store.ausage(user_id, keys, now=stamp)
                     if budget is not None else Usage({}, 0))
            return self._decide(user_id, model, estimated_cost, prompt_tokens,
                                max_output_tokens, user_tier, budget, keys, usage)
        rows, usage = await _in_worker_thread(
            functools.partial(self._rows, user_id, budget, keys, stamp, scopes))
        return self._decide(user_id, model, estimated_cost, prompt_tokens, max_output_tokens,
                            user_tier, budget, keys, usage, rows)

    def _decide(self, user_id: str, model: str, estimated_cost: float | None,
                prompt_tokens: int | None, max_output_tokens: int | None,
                user_tier: str | None, budget: BudgetConfig | None,
                keys: tuple[PeriodKey, ...], usage: Usage,
                rows: list[BudgetRow] | None = None) -> EnforcementResult:
        from cascadeflow.telemetry._decision import decide

        result = decide(self, user_id, model, estimated_cost, prompt_tokens, max_output_tokens,
                        user_tier or self.get_user_tier(user_id), budget, keys, usage, rows=rows)
        if self.forecast_action is not None:
            result = self._act_on_forecast(result, user_id, budget)
        if _observers.observed():
            _observers.publish_decision(user_id, model, result)
        return result

    # -- housekeeping ---------------------------------------------------------
    def reset(self) -> None:
        """Forget every entry, counter, reservation and remembered tier."""
        self.store.reset()
        with self._lock:
            self._tiers.clear()
            self._warned.clear()
            self._headroom.clear()
            self._global_nanos = None
            self.budget_warned = False
            self.budget_exceeded = False
        self._scoped.forget()
        self._reset_alerts()


def _remaining(budget: BudgetConfig, keys: tuple[PeriodKey, ...],
               usage: Usage) -> dict[str, float]:
    left: dict[str, float] = {}
    for index, limit in budget.indexed_limits():
        key = keys[index]
        used = usage.spent_nanos.get(key.key, 0) + usage.reserved_nanos
        left[key.period] = to_usd(max(0, limit - used))
    return left

