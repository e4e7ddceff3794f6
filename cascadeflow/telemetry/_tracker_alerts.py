"""The tracker's alert side (a mixin of :class:`CostTracker`): thresholds stored as data,
alerts claimed once in the store, delivered to sinks, and forecasts acted on in ``enforce``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from cascadeflow._money import to_usd
from cascadeflow.storage import LedgerStore, PeriodKey
from cascadeflow.telemetry._claims import claim_once
from cascadeflow.telemetry._enforcement import EnforcementAction, EnforcementResult
from cascadeflow.telemetry.alerts import AlertSink, AlertSinks, BudgetAlert, sinks_of

if TYPE_CHECKING:
    from cascadeflow._entry import CostEntry
    from cascadeflow.telemetry._budget import BudgetConfig
    from cascadeflow.telemetry._limits import LimitBook
    from cascadeflow.telemetry._scope import Scope
    from cascadeflow.telemetry._scoped import ScopedCounters
    from cascadeflow.telemetry.forecasting import CostForecaster, PeriodForecast

__all__ = ["DEFAULT_ALERT_THRESHOLDS", "AlertSinks", "AlertingMixin"]

logger = logging.getLogger("cascadeflow.alerts")

#: The thresholds used when sinks are given without ``alert_thresholds``.
DEFAULT_ALERT_THRESHOLDS = (0.5, 0.8, 0.95, 1.0)
_ALERTS = "alerts"  # setting name [alerts, scope] -> [thresholds]
_FORECAST_ACTIONS = (None, "warn", "degrade")
_PERIOD_NAMES = ("daily", "weekly", "monthly", "total")
# Claims outlive their period by this much (a late record still finds its claim).
_CLAIM_MARGIN = 2 * 86_400.0
_TOTAL_CLAIM_KEEP = 10 * 365 * 86_400.0


def _thresholds(value: object, name: str) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a sequence of fractions, got {value!r}")
    found: list[float] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not (
                math.isfinite(item) and 0.0 < item <= 10.0):
            raise ValueError(f"{name} must hold fractions of a limit in (0, 10], got {item!r}")
        found.append(float(item))
    return tuple(sorted(set(found)))


class AlertingMixin:
    """Alert thresholds, sinks and forecast actions; :class:`CostTracker` inherits it."""

    store: LedgerStore
    _book: LimitBook
    _scoped: ScopedCounters

    if TYPE_CHECKING:
        def _timestamp(self) -> float: ...
        def get_user_budget(self, user_id: str,
                            user_tier: str | None = None) -> BudgetConfig | None: ...
        def get_user_tier(self, user_id: str) -> str | None: ...

    #: How often (seconds) one process re-projects a user's period end for forecast alerts
    #: and forecast actions.
    FORECAST_REFRESH_SECONDS = 60.0
    #: Complete days of a user's history a projection needs before alerts or enforcement
    #: act on it (one morning's pace is not a trend).
    FORECAST_MIN_DAYS = 3

    def _init_alerts(self, thresholds: Iterable[float] | None, on_alert: AlertSinks,
                     forecast_action: str | None) -> None:
        if forecast_action not in _FORECAST_ACTIONS:
            raise ValueError(f"forecast_action must be one of {_FORECAST_ACTIONS}, "
                             f"got {forecast_action!r}")
        self._sinks: tuple[AlertSink, ...] = sinks_of(on_alert)
        self.alert_thresholds: tuple[float, ...] = (
            _thresholds(thresholds, "alert_thresholds") if thresholds is not None
            else DEFAULT_ALERT_THRESHOLDS if self._sinks else ())
        self.forecast_action = forecast_action
        #: Sink calls that raised (each is logged; recording never fails because of one).
        self.alert_failures = 0
        self._alerting = bool(self._sinks)
        self._alert_lock = threading.Lock()
        self._reset_alerts()

    def _reset_alerts(self) -> None:
        self._claimed: set[str] = set()
        # user -> [keys, budget, settings version, nanos to the next threshold, recheck at]
        # (a list: the hot path lowers the headroom in place)
        self._alert_headroom: dict[str, list[Any]] = {}
        self._stored_alerts: tuple[int, dict[str, tuple[float, ...]], bool] = (-2, {}, False)
        self._outlooks: dict[tuple[str, str], tuple[float, str, PeriodForecast]] = {}
        self._forecaster: CostForecaster | None = None

    # -- thresholds as data ---------------------------------------------------------
    def set_alert_thresholds(self, scope: Scope | str,
                             thresholds: Iterable[float] | None) -> None:
        """Store the alert thresholds of a scope (``None`` removes them); every process uses them.

        ``scope`` is ``"user:<id>"``, ``"tier:<name>"`` or a team/org/global scope. A user's
        thresholds are its own, else its tier's, else the tracker's ``alert_thresholds``.

        Example:
            >>> tracker.set_alert_thresholds("tier:pro", (0.9, 1.0))
            >>> tracker.set_alert_thresholds("team:search", (0.5, 0.75, 1.0))

        .. versionadded:: 0.3.0
        """
        name = self._alert_scope(scope)
        value = None if thresholds is None else list(_thresholds(thresholds, "thresholds"))
        self.store.put_setting(orjson.dumps([_ALERTS, name]).decode(),
                               None if value is None else orjson.dumps(value).decode())

    def get_alert_thresholds(self, scope: Scope | str) -> tuple[float, ...] | None:
        """The thresholds stored for ``scope``, else ``None``.

        Example:
            >>> tracker.get_alert_thresholds("tier:pro")
            (0.9, 1.0)
        """
        return self._stored_thresholds()[0].get(self._alert_scope(scope))

    @staticmethod
    def _alert_scope(scope: object) -> str:
        from cascadeflow.telemetry._scope import Scope

        text = str(scope)
        if text.startswith("tier:") and len(text) > 5:
            return text
        return str(Scope.parse(scope if isinstance(scope, Scope) else text))

    def _stored_thresholds(self) -> tuple[dict[str, tuple[float, ...]], bool]:
        """Thresholds stored by scope, and whether any is for a scope beyond users and tiers."""
        version = self._book.current().version
        cached_version, cached, scoped = self._stored_alerts
        if version == cached_version:
            return cached, scoped
        _, raw = self.store.settings()
        found: dict[str, tuple[float, ...]] = {}
        for name, text in raw.items():
            try:
                parts = orjson.loads(name)
                if isinstance(parts, list) and parts[:1] == [_ALERTS]:
                    found[str(parts[1])] = _thresholds(orjson.loads(text), "thresholds")
            except (ValueError, IndexError, TypeError):
                continue  # another version's setting
        scoped = any(not name.startswith(("user:", "tier:")) for name in found)
        self._stored_alerts = (version, found, scoped)
        return found, scoped

    def _user_thresholds(self, user_id: str, tier: str | None) -> tuple[float, ...]:
        stored = self._stored_thresholds()[0]
        if stored:
            own = stored.get(f"user:{user_id}")
            if own is not None:
                return own
            if tier is not None and f"tier:{tier}" in stored:
                return stored[f"tier:{tier}"]
        return self.alert_thresholds

    # -- delivery ---------------------------------------------------------------------
    def _claim(self, name: str, period_key: PeriodKey, stamp: float) -> bool:
        with self._alert_lock:
            if name in self._claimed:
                return False
            if len(self._claimed) >= 100_000:
                self._claimed.clear()  # only a shortcut: the store's claim is what counts
            self._claimed.add(name)
        keep = (_TOTAL_CLAIM_KEEP if period_key.ends_at is None
                else max(0.0, period_key.ends_at - stamp) + _CLAIM_MARGIN)
        return claim_once(self.store, "claim:" + name, now=stamp, keep_for=keep)

    def deliver_alert(self, alert: BudgetAlert) -> None:
        """Hand ``alert`` to every sink; a sink that raises is logged and counted, never raised.

        Example:
            >>> tracker.deliver_alert(alert)  # e.g. an anomaly turned into an alert
        """
        for sink in self._sinks:
            try:
                sink(alert)
            except Exception:
                self.alert_failures += 1
                logger.exception("alert sink %r failed (failures: %d)", sink,
                                 self.alert_failures)

    def _check_alerts(self, entry: CostEntry, cost_nanos: int, keys: tuple[PeriodKey, ...],
                      budget: BudgetConfig | None) -> None:
        if not self._alerts_quiet(entry, cost_nanos, keys, budget):
            self._alerts_due(entry, keys, budget)

    def _alerts_quiet(self, entry: CostEntry, cost_nanos: int, keys: tuple[PeriodKey, ...],
                      budget: BudgetConfig | None) -> bool:
        """The hot path, no store read: True (and the headroom taken) when nothing can have
        crossed a threshold since the counters were last read here, the thresholds and
        limits are the same, and the projection is fresh."""
        cached = self._alert_headroom.get(entry.user_id)  # type: ignore[arg-type]
        if (cached is not None and cached[0] is keys and cached[1] is budget
                and cached[3] > cost_nanos and cached[2] == self._book.current().version
                and time.monotonic() < cached[4]):
            cached[3] -= cost_nanos
            return True
        return False

    def _alerts_due(self, entry: CostEntry, keys: tuple[PeriodKey, ...],
                    budget: BudgetConfig | None) -> None:
        """Read the counters, claim and deliver every alert crossed."""
        user_id = entry.user_id
        assert user_id is not None
        version = self._book.current().version
        stamp = entry.timestamp.timestamp()
        headroom = 1 << 62
        if budget is not None and budget.indexed_limits():
            headroom = self._threshold_alerts(user_id, entry.user_tier, keys, budget, stamp)
            self._forecast_alerts(user_id, budget, keys, stamp)
        stored, scoped = self._stored_thresholds()
        if scoped:
            self._scope_alerts(user_id, keys, stamp, stored)
            headroom = 0  # scope counters move with other users' spend: read every time
        self._alert_headroom[user_id] = [keys, budget, version, headroom,
                                         time.monotonic() + self.FORECAST_REFRESH_SECONDS]

    def _threshold_alerts(self, user_id: str, tier: str | None, keys: tuple[PeriodKey, ...],
                          budget: BudgetConfig, stamp: float) -> int:
        """Claim and deliver the crossed thresholds; return nanos until the next one."""
        headroom = 1 << 62
        thresholds = self._user_thresholds(user_id, tier)
        if not thresholds:
            return headroom
        usage = self.store.usage(user_id, keys, now=stamp)
        for index, limit in budget.indexed_limits():
            key = keys[index]
            spent = usage.spent_nanos.get(key.key, 0)
            for threshold in thresholds:
                edge = math.ceil(limit * threshold)
                if spent < edge:
                    headroom = min(headroom, edge - spent)
                    continue
                if self._claim(f"alert:user:{user_id}/{key.key}/{threshold}", key, stamp):
                    self.deliver_alert(BudgetAlert(
                        f"user:{user_id}", user_id, key.period, key.key, threshold,
                        to_usd(spent), to_usd(limit),
                        100.0 * spent / limit if limit else 100.0))
        return headroom

    def _scope_alerts(self, user_id: str, keys: tuple[PeriodKey, ...], stamp: float,
                      stored: dict[str, tuple[float, ...]]) -> None:
        limits = self._book.current()
        scopes = self._scoped.scopes(limits, user_id, team=None, org=None, key=None, tags=None)
        wanted = tuple(scope for scope in scopes if str(scope) in stored)
        if not wanted:
            return
        for row in self._scoped.money_rows(limits, wanted, user_id, keys, stamp,
                                           include_user_caps=False):
            if row.model is not None or row.unit != "usd" or row.limit <= 0:
                continue
            scope = str(row.scope)
            for threshold in stored[scope]:
                if row.spent >= math.ceil(row.limit * threshold) and self._claim(
                        f"alert:{scope}/{row.key.key}/{threshold}", row.key, stamp):
                    self.deliver_alert(BudgetAlert(
                        scope, user_id, row.period, row.key.key, threshold, to_usd(row.spent),
                        to_usd(row.limit), 100.0 * row.spent / row.limit))

    # -- forecasts ---------------------------------------------------------------------
    @property
    def forecaster(self) -> CostForecaster:
        """The :class:`~cascadeflow.telemetry.forecasting.CostForecaster` of this tracker.

        Example:
            >>> tracker.forecaster.forecast_period_end("alice").runs_out_on
            datetime.date(2026, 11, 28)
        """
        if self._forecaster is None:
            from cascadeflow.telemetry.forecasting import CostForecaster

            self._forecaster = CostForecaster(self)  # type: ignore[arg-type]
        return self._forecaster

    def _outlook(self, user_id: str, period: str, limit: float,
                 day: str) -> PeriodForecast:
        """The period-end forecast of a user, recomputed at most every FORECAST_REFRESH_SECONDS
        (and on a new day, or a new limit)."""
        cached = self._fresh_outlook(user_id, period, limit, day)
        if cached is not None:
            return cached
        outlook = self.forecaster.forecast_period_end(user_id, period, limit=limit)
        self._outlooks[(user_id, period)] = (time.monotonic(), day, outlook)
        return outlook

    def _fresh_outlook(self, user_id: str, period: str, limit: float,
                       day: str) -> PeriodForecast | None:
        cached = self._outlooks.get((user_id, period))
        if (cached is not None and time.monotonic() - cached[0] < self.FORECAST_REFRESH_SECONDS
                and cached[1] == day and cached[2].limit == limit):
            return cached[2]
        return None

    def _outlooks_fresh(self, user_id: str, budget: BudgetConfig,
                        keys: tuple[PeriodKey, ...]) -> bool:
        """Whether every projection :meth:`_projected_overruns` needs is cached and fresh."""
        return all(
            self._fresh_outlook(user_id, keys[index].period,
                                getattr(budget, keys[index].period), keys[0].key) is not None
            for index, _ in budget.indexed_limits() if index <= 2)

    def _projected_overruns(self, user_id: str, budget: BudgetConfig,
                            keys: tuple[PeriodKey, ...]) -> list[tuple[PeriodKey, PeriodForecast]]:
        found = []
        for index, _ in budget.indexed_limits():
            if index > 2:  # total never ends; hourly is too short to project
                continue
            key = keys[index]
            limit = getattr(budget, key.period)
            outlook = self._outlook(user_id, key.period, limit, keys[0].key)
            if (outlook.exceeds_limit and outlook.spent < limit
                    and outlook.history_days >= self.FORECAST_MIN_DAYS):
                found.append((key, outlook))
        return found

    def _forecast_alerts(self, user_id: str, budget: BudgetConfig,
                         keys: tuple[PeriodKey, ...], stamp: float) -> None:
        for key, outlook in self._projected_overruns(user_id, budget, keys):
            if self._claim(f"forecast:user:{user_id}/{key.key}", key, stamp):
                limit = outlook.limit or 0.0
                self.deliver_alert(BudgetAlert(
                    f"user:{user_id}", user_id, key.period, key.key, 1.0, outlook.spent, limit,
                    100.0 * outlook.spent / limit if limit else 100.0, "forecast",
                    projected=outlook.projected, runs_out_on=outlook.runs_out_on,
                    details={"lower": outlook.lower, "upper": outlook.upper}))

    def _act_on_forecast(self, result: EnforcementResult, user_id: str,
                         budget: BudgetConfig | None) -> EnforcementResult:
        """WARN or DEGRADE a request (allowed or warned) whose user is projected to pass a limit."""
        if result.action not in (EnforcementAction.ALLOW, EnforcementAction.WARN) or (
                budget is None):
            return result
        keys = self.period_keys()  # type: ignore[attr-defined]
        overruns = self._projected_overruns(user_id, budget, keys)
        if not overruns:
            return result
        key, outlook = overruns[0]
        context = result.context
        context.metadata["forecast"] = {
            "period": key.period, "period_key": key.key, "projected": outlook.projected,
            "lower": outlook.lower, "upper": outlook.upper, "limit": outlook.limit,
            "runs_out_on": outlook.runs_out_on.isoformat() if outlook.runs_out_on else None}
        when = f", running out on {outlook.runs_out_on}" if outlook.runs_out_on else ""
        why = (f"the {key.period} projection ${outlook.projected:.2f} passes the "
               f"${outlook.limit:.2f} limit{when}")
        if self.forecast_action == "degrade":
            cheaper = self._cheaper(result)
            if cheaper is not None:
                model, cost = cheaper
                return EnforcementResult(EnforcementAction.DEGRADE, model, context,
                                         f"degraded from {result.model} to {model}: {why}",
                                         cost)
        return dataclasses.replace(result, action=EnforcementAction.WARN,
                                   reason=f"forecast warning: {why}")

    def _cheaper(self, result: EnforcementResult) -> tuple[str, float] | None:
        from cascadeflow.telemetry._decision import estimate_for
        from cascadeflow.telemetry._degradation import get_degradation_chain

        tracker: Any = self
        for candidate in get_degradation_chain(result.model, tracker.degradation_map):
            cost = estimate_for(tracker, candidate, result.model, result.estimated_cost, None,
                                None)
            if cost is not None:
                return candidate, cost
        return None
