"""Spend anomalies: days whose spend is far from a robust baseline, each reported once.

cascadeflow 1.2.0's names (``AnomalyDetector``, ``Anomaly``, ``AnomalySeverity``,
``create_anomaly_alerts``) with scores that work at their defaults: ``lookback_days`` is the
window reported, judged against up to ``baseline_days`` before it; each day is scored
against the median and MAD of the other days (leave-one-out, so one spike neither inflates
the scale that judges it nor masks the next); today counts pro rata; days are calendar days
in the tracker's timezone, read from the store's rollups.

Example:
    >>> detector = AnomalyDetector(tracker)
    >>> [str(a) for a in detector.detect_user_anomalies("alice", new_only=True)]
    ['CRITICAL: cost anomaly (user: alice) - observed $50.0000, expected $1.0000 ...']
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from cascadeflow._money import to_usd
from cascadeflow.telemetry._claims import claim_once
from cascadeflow.telemetry._rollups import day_bounds, day_key

if TYPE_CHECKING:
    from cascadeflow.storage import PeriodKey
    from cascadeflow.telemetry._tracker import CostTracker

__all__ = ["Anomaly", "AnomalyDetector", "AnomalySeverity", "create_anomaly_alerts"]

# MAD to standard deviation for normal data, and mean absolute deviation likewise.
_MAD_SCALE = 1.4826
_MEAN_AD_SCALE = 1.2533
# A scale never below this fraction of the median: a perfectly steady $1/day user is not
# alarmed by $1.10.
_RELATIVE_FLOOR = 0.25
_ABSOLUTE_FLOOR = 1e-6
_MIN_ELAPSED = 1.0 / 24.0
# Each side's scale comes from its 90th percentile (1.2816 standard deviations for normal
# data): far enough out to see a skewed tail, close enough to be robust to a few spikes.
_TAIL = 0.9
_TAIL_Z = 1.2816
_CLAIM_KEEP = 400 * 86_400.0


class AnomalySeverity(Enum):
    """How far past the sensitivity an anomaly is (its robust z-score over ``sensitivity``):
    LOW under 1.5x, MEDIUM under 2x, HIGH under 3x, CRITICAL from 3x.

    Example:
        >>> AnomalySeverity("critical") is AnomalySeverity.CRITICAL
        True
    """

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


_ORDER = {AnomalySeverity.LOW: 1, AnomalySeverity.MEDIUM: 2, AnomalySeverity.HIGH: 3,
          AnomalySeverity.CRITICAL: 4}


@dataclass
class Anomaly:
    """One unusual day.

    Attributes:
        timestamp: the start of the day (aware, tracker timezone).
        value: USD spent that day (so far, for today).
        expected: the baseline median (pro rata for today).
        z_score: robust z-score (positive: a spike; negative: a drop).
        severity: from the size of the deviation.
        metric: ``"cost"``.
        user_id: the user, ``None`` for the whole ledger or a scope.
        metadata: ``day``, ``partial``, ``elapsed``, ``reference_days``, ``scale``,
            ``direction`` and ``scope``.

    Example:
        >>> anomaly.deviation_percent
        4900.0
    """

    timestamp: datetime
    value: float
    expected: float
    z_score: float
    severity: AnomalySeverity
    metric: str = "cost"
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def deviation_percent(self) -> float:
        """``|value - expected| / expected`` in percent (0 when nothing was expected)."""
        if self.expected == 0:
            return 0.0
        return abs((self.value - self.expected) / self.expected) * 100.0

    def __str__(self) -> str:
        who = f" (user: {self.user_id})" if self.user_id else ""
        return (f"{self.severity.value.upper()}: {self.metric} anomaly{who} - observed "
                f"${self.value:.4f}, expected ${self.expected:.4f} (z-score: "
                f"{self.z_score:.2f}, {self.deviation_percent:.0f}% deviation)")


def severity_of(z_score: float, sensitivity: float) -> AnomalySeverity:
    """The severity of a robust z-score relative to ``sensitivity``.

    Example:
        >>> severity_of(9.0, 2.5)
        <AnomalySeverity.CRITICAL: 'critical'>
    """
    ratio = abs(z_score) / sensitivity
    if ratio >= 3.0:
        return AnomalySeverity.CRITICAL
    if ratio >= 2.0:
        return AnomalySeverity.HIGH
    if ratio >= 1.5:
        return AnomalySeverity.MEDIUM
    return AnomalySeverity.LOW


def robust_center_scale(reference: list[float]) -> tuple[float, float, float]:
    """Median and robust standard-deviation estimates of ``reference``, above and below it.

    MAD first; when more than half the values are equal (MAD is 0) the mean absolute
    deviation; never below a quarter of the median. Spend is skewed (a heavy upper tail is
    normal), so each side also gets its own scale from its tail (``(q90 - median) /
    1.28`` above): a day is judged against how far the user's ordinary high days go. When
    most days are zero (a user who spends every few days), the spending days are the
    reference, so a usual spending day is not a spike.

    Example:
        >>> robust_center_scale([1.0, 1.0, 1.2, 0.9, 1.1])
        (1.0, 0.25, 0.25)
    """
    nonzero = [value for value in reference if value != 0.0]
    if 2 * len(nonzero) < len(reference) and len(nonzero) >= 3:
        reference = nonzero
    ordered = sorted(reference)
    center = statistics.median(ordered)
    deviations = [abs(value - center) for value in ordered]
    scale = _MAD_SCALE * statistics.median(deviations)
    if scale == 0.0:
        scale = _MEAN_AD_SCALE * sum(deviations) / len(deviations)
    floor = max(scale, _RELATIVE_FLOOR * abs(center), _ABSOLUTE_FLOOR)
    n = len(ordered)
    upper = (ordered[math.ceil(_TAIL * (n - 1))] - center) / _TAIL_Z
    lower = (center - ordered[math.floor((1.0 - _TAIL) * (n - 1))]) / _TAIL_Z
    return center, max(floor, upper), max(floor, lower)


class AnomalyDetector:
    """Finds days of unusual spend (global, per user, per scope) in the daily rollups.

    Args:
        tracker: the :class:`~cascadeflow.CostTracker` whose store is read.
        sensitivity: robust z-score from which a day is an anomaly.
        min_data_points: reference days needed (fewer: nothing is reported).
        baseline_days: days before the reported window that form the baseline.
        include_drops: also report days far *below* the baseline (complete days only).
        granularity: ``"hourly"`` judges each hour of the window against the same hour of
            the baseline's days (needs ``CostTracker(hourly_rollups=True)``; users and the
            whole ledger only).

    Example:
        >>> AnomalyDetector(tracker).detect_all_users(lookback_days=7)
        {'alice': [Anomaly(...)]}
    """

    def __init__(self, tracker: CostTracker, sensitivity: float = 2.5, min_data_points: int = 10,
                 *, baseline_days: int = 28, include_drops: bool = False,
                 granularity: str = "daily") -> None:
        if not (isinstance(sensitivity, (int, float)) and sensitivity > 0):
            raise ValueError(f"sensitivity must be a positive number, got {sensitivity!r}")
        for name, value in (("min_data_points", min_data_points),
                            ("baseline_days", baseline_days)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if granularity not in ("daily", "hourly"):
            raise ValueError(f"granularity must be 'daily' or 'hourly', got {granularity!r}")
        self.granularity = granularity
        self.tracker = tracker
        self.sensitivity = float(sensitivity)
        self.min_data_points = min_data_points
        self.baseline_days = baseline_days
        self.include_drops = include_drops

    # -- 1.2.0 API ------------------------------------------------------------------------
    def detect_global_anomalies(self, lookback_days: int = 7, *, new_only: bool = False,
                                scope: str | None = None) -> list[Anomaly]:
        """Anomalies of the whole ledger (or of ``scope``: ``"tier:pro"``, ``"team:search"``)
        among the last ``lookback_days`` days.

        Example:
            >>> detector.detect_global_anomalies(lookback_days=7)
            []
        """
        owner = self.tracker._rollup_owner(None, scope)
        if self.granularity == "hourly":
            return self._detect_hours(owner, None, lookback_days, new_only)
        days = self._days(lookback_days)
        return self._detect(owner, None, days, lookback_days, new_only, scope or "global")

    def detect_user_anomalies(self, user_id: str, lookback_days: int = 7, *,
                              new_only: bool = False) -> list[Anomaly]:
        """Anomalies of one user among the last ``lookback_days`` days (today included).

        With ``new_only``, an anomaly already returned by a ``new_only`` call (in any
        process sharing the store) is not returned again.

        Example:
            >>> detector.detect_user_anomalies("alice", new_only=True)
            [Anomaly(... severity=<AnomalySeverity.CRITICAL: 'critical'> ...)]
        """
        owner = self.tracker._rollup_owner(user_id, None)
        if self.granularity == "hourly":
            return self._detect_hours(owner, user_id, lookback_days, new_only)
        days = self._days(lookback_days)
        return self._detect(owner, user_id, days, lookback_days, new_only, f"user:{user_id}")

    def detect_all_users(self, lookback_days: int = 7, *,
                         new_only: bool = False) -> dict[str, list[Anomaly]]:
        """Anomalies of every user who has spent, by user (users without any are left out).

        Example:
            >>> detector.detect_all_users()
            {'alice': [Anomaly(...)]}
        """
        days = self._days(lookback_days)
        found: dict[str, list[Anomaly]] = {}
        # Every user the store knows (counters or a tier): no history scan on any store.
        for user_id in sorted(self.tracker.store.user_tiers()):
            if self.granularity == "hourly":
                anomalies = self._detect_hours("rollup:user:" + user_id, user_id,
                                               lookback_days, new_only)
            else:
                anomalies = self._detect("rollup:user:" + user_id, user_id, days,
                                         lookback_days, new_only, f"user:{user_id}")
            if anomalies:
                found[user_id] = anomalies
        return found

    def alert_new_anomalies(self, lookback_days: int = 2) -> list[Anomaly]:
        """Deliver every user's new anomalies to the tracker's alert sinks (kind ``anomaly``).

        Runs :meth:`detect_all_users` with ``new_only=True``, so each anomaly is delivered
        once across every process sharing the store; call it on a schedule (every few
        minutes). Returns what was delivered.

        Example:
            >>> tracker = CostTracker(store=store, on_alert=WebhookSink(url))
            >>> AnomalyDetector(tracker).alert_new_anomalies()
            [Anomaly(...)]

        .. versionadded:: 0.3.0
        """
        from cascadeflow.telemetry.alerts import BudgetAlert

        delivered: list[Anomaly] = []
        for user_id, anomalies in self.detect_all_users(lookback_days, new_only=True).items():
            for anomaly in anomalies:
                day = anomaly.metadata["day"]
                self.tracker.deliver_alert(BudgetAlert(
                    f"user:{user_id}", user_id, "daily", f"daily:{day}", anomaly.z_score,
                    anomaly.value, 0.0, 0.0, "anomaly",
                    details={"expected": anomaly.expected,
                             "severity": anomaly.severity.value,
                             "deviation_percent": anomaly.deviation_percent}))
                delivered.append(anomaly)
        return delivered

    # -- scoring ----------------------------------------------------------------------------
    def _days(self, lookback_days: int) -> _Days:
        if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or (
                lookback_days < 1):
            raise ValueError(f"lookback_days must be a positive int, got {lookback_days!r}")
        tracker = self.tracker
        moment = tracker.now()
        today = moment.astimezone(tracker._zone).date()
        first = today - timedelta(days=lookback_days + self.baseline_days - 1)
        dates = [first + timedelta(days=offset)
                 for offset in range(lookback_days + self.baseline_days)]
        start, end = day_bounds(today, tracker._zone)
        elapsed = (moment - start).total_seconds() / (end - start).total_seconds()
        return _Days(dates, [day_key(day) for day in dates], moment.timestamp(),
                     min(1.0, max(_MIN_ELAPSED, elapsed)))

    def _detect(self, owner: str, user_id: str | None, days: _Days, lookback_days: int,
                new_only: bool, scope: str) -> list[Anomaly]:
        read = self.tracker.store.read_counters([(owner, key) for key in days.keys], (),
                                                now=days.stamp)
        values = [to_usd(read.values.get((owner, key.key), 0)) for key in days.keys]
        active = next((index for index, value in enumerate(values) if value != 0.0),
                      len(values))
        complete = len(values) - 1  # the last day is today, still partial
        window_start = len(values) - lookback_days
        anomalies: list[Anomaly] = []
        baseline = values[active:window_start]
        shared = (robust_center_scale(baseline) if len(baseline) >= self.min_data_points
                  else None)
        for index in range(max(window_start, active), len(values)):
            partial = index == complete
            if shared is not None:
                center, upper, lower = shared
                reference_days = len(baseline)
            else:
                # Too short a baseline: every other complete day, the tested one left out.
                reference = [values[other] for other in range(active, complete)
                             if other != index]
                if len(reference) < self.min_data_points:
                    continue
                center, upper, lower = robust_center_scale(reference)
                reference_days = len(reference)
            value = values[index]
            share = days.elapsed if partial else 1.0
            deviation = value / share - center
            scale = upper if deviation >= 0 else lower
            z_score = deviation / scale
            if z_score >= self.sensitivity:
                direction = "up"
            elif self.include_drops and not partial and z_score <= -self.sensitivity:
                direction = "down"
            else:
                continue
            day = days.dates[index]
            if new_only and not claim_once(self.tracker.store,
                                           f"claim:anomaly:{owner}/{day}/{direction}",
                                           now=days.stamp, keep_for=_CLAIM_KEEP):
                continue
            anomalies.append(Anomaly(
                day_bounds(day, self.tracker._zone)[0], value, center * share, z_score,
                severity_of(z_score, self.sensitivity), "cost", user_id,
                {"day": day.isoformat(), "partial": partial, "elapsed": share,
                 "reference_days": reference_days, "scale": scale, "direction": direction,
                 "scope": scope}))
        return anomalies


    def _detect_hours(self, owner: str, user_id: str | None, lookback_days: int,
                      new_only: bool) -> list[Anomaly]:
        """Each hour of the last ``lookback_days`` days against the same hour of the days
        before (hours of a day differ: night is not day); the current hour pro rata."""
        from cascadeflow.telemetry._rollups import read_hourly

        self._days(lookback_days)  # validates
        tracker = self.tracker
        moment = tracker.now()
        start = moment.astimezone(tracker._zone).replace(minute=0, second=0, microsecond=0)
        hours = 24 * (lookback_days + self.baseline_days)
        series = read_hourly(tracker.store, owner, tracker._zone, start.timestamp(), hours,
                             moment.timestamp())
        values = [to_usd(nanos) for _, nanos in series]
        window = 24 * lookback_days
        elapsed = max(_MIN_ELAPSED, (moment - start).total_seconds() / 3600.0)
        anomalies: list[Anomaly] = []
        for index in range(len(values) - window, len(values)):
            # The same hour on earlier days, before the window (every 24th value back).
            reference = [values[other] for other in range(index - window, -1, -24)]
            if len(reference) < self.min_data_points:
                continue
            center, upper, lower = robust_center_scale(reference)
            partial = index == len(values) - 1
            share = elapsed if partial else 1.0
            deviation = values[index] / share - center
            z_score = deviation / (upper if deviation >= 0 else lower)
            if z_score >= self.sensitivity:
                direction = "up"
            elif self.include_drops and not partial and z_score <= -self.sensitivity:
                direction = "down"
            else:
                continue
            hour = series[index][0]
            if new_only and not claim_once(tracker.store,
                                           f"claim:anomaly:{owner}/{hour.isoformat()}/{direction}",
                                           now=moment.timestamp(), keep_for=_CLAIM_KEEP):
                continue
            anomalies.append(Anomaly(
                hour, values[index], center * share, z_score,
                severity_of(z_score, self.sensitivity), "cost", user_id,
                {"hour": hour.isoformat(), "partial": partial, "elapsed": share,
                 "reference_days": len(reference), "direction": direction,
                 "granularity": "hourly"}))
        return anomalies


@dataclass(frozen=True, slots=True)
class _Days:
    dates: list[date]
    keys: list[PeriodKey]
    stamp: float
    elapsed: float


def create_anomaly_alerts(anomalies: list[Anomaly],
                          min_severity: AnomalySeverity = AnomalySeverity.MEDIUM
                          ) -> list[dict[str, Any]]:
    """Alert payloads (1.2.0's dict shape) for the anomalies at ``min_severity`` or above.

    Example:
        >>> create_anomaly_alerts(anomalies, AnomalySeverity.HIGH)[0]["severity"]
        'critical'
    """
    alerts: list[dict[str, Any]] = []
    for anomaly in anomalies:
        if _ORDER[anomaly.severity] < _ORDER[min_severity]:
            continue
        alert: dict[str, Any] = {
            "severity": anomaly.severity.value,
            "title": f"{anomaly.severity.value.upper()} Cost Anomaly Detected",
            "message": str(anomaly),
            "timestamp": anomaly.timestamp.isoformat(),
            "metric": anomaly.metric,
            "value": anomaly.value,
            "expected": anomaly.expected,
            "deviation_percent": anomaly.deviation_percent,
            "z_score": anomaly.z_score,
        }
        if anomaly.user_id:
            alert["user_id"] = anomaly.user_id
        alerts.append(alert)
    return alerts
