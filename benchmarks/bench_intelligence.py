"""Spend intelligence: forecasts and anomaly detection at scale, the recording cost of rollups
and alerts, forecast interval coverage and anomaly precision/recall next to cascadeflow 1.2.0.

* 1,000,000 entries across 1,000 users over 60 days (MemoryStore, bounded history): a global
  7-day forecast and ``detect_all_users`` read the daily rollups, never the history.
* ``add_cost`` with rollups and alerts (thresholds, forecast alerts, a sink) against
  ``add_cost`` without either, interleaved rounds, best of each in CPU time (steady state:
  each user's period-end projection is refreshed once a minute). On SQLite the four rollup
  upserts ride in the entry's transaction.
* Interval coverage on synthetic families (iid, lognormal, +2%/day trend, random walk,
  weekly), 14 and 30 days of history, horizons 7 and 30; precision and recall on spikes
  injected into the last 7 days of 60-day series. cascadeflow 1.2.0 runs the same series in
  its own environment (``make peers``; or PEERS_PYTHON=/path/to/python).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks._report import PEERS_PYTHON, ROOT, figure, header
from cascadeflow import BudgetConfig, CostTracker
from cascadeflow.storage import LedgerStore, MemoryStore, SQLiteStore
from cascadeflow.telemetry import AnomalyDetector, BudgetAlert, CostForecaster

ENTRIES = 1_000_000
USERS = 1_000
DAYS = 60
SERIES = 100
SPIKE_SERIES = 200
START = datetime(2026, 9, 1, tzinfo=timezone.utc)


class _Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment

    def __call__(self) -> datetime:
        return self.now


def _best(call: Callable[[], object], rounds: int,
          timer: Callable[[], float] = time.perf_counter) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = timer()
        call()
        best = min(best, timer() - start)
    return best


# -- scale ----------------------------------------------------------------------------------
def _scale() -> None:
    clock = _Clock(START)
    tracker = CostTracker(clock=clock)
    step = DAYS * 86_400.0 / ENTRIES
    rng = random.Random(1)
    costs = [round(rng.lognormvariate(-7.0, 1.0), 9) for _ in range(997)]
    built = time.perf_counter()
    for number in range(ENTRIES):
        clock.now = START + timedelta(seconds=number * step)
        tracker.add_cost("gpt-4o", "openai", 10, costs[number % 997],
                         user_id=f"user-{number % USERS}")
    built = time.perf_counter() - built
    print(f"  (ledger of {ENTRIES:,} entries, {USERS:,} users built in {built:.1f} s; "
          f"history kept: {len(tracker.store.entries(last=10**7)):,} entries)")
    forecaster = CostForecaster(tracker)
    forecast = _best(lambda: forecaster.forecast_daily(days=7), 7) * 1e3
    detector = AnomalyDetector(tracker)
    detect = _best(lambda: detector.detect_all_users(lookback_days=7), 3) * 1e3
    peer = _peer({"forecast": [], "anomaly": [], "scale": {"entries": ENTRIES, "users": USERS}})
    timings = peer.get("timings", {}) if peer else {}
    figure("global 7-day forecast, 1M entries", forecast, "ms", "<= 20 ms", ok=forecast <= 20,
           peer=_peer_text(timings.get("forecast_ms"), "ms"))
    figure("detect_all_users, 1,000 users", detect, "ms", "<= 200 ms", ok=detect <= 200,
           peer=_peer_text(timings.get("detect_all_users_ms"), "ms"))


# -- recording cost ------------------------------------------------------------------------
def _recording(kind: str, calls: int) -> None:
    budgets = {"pro": BudgetConfig(daily=1e6, monthly=1e7)}
    delivered: list[BudgetAlert] = []
    clock = _Clock(START)
    folder = tempfile.TemporaryDirectory()

    def store(name: str) -> LedgerStore:
        if kind == "memory":
            return MemoryStore()
        return SQLiteStore(Path(folder.name) / f"{name}.db")

    plain = CostTracker(user_budgets=budgets, rollups=False, clock=clock, store=store("plain"))
    full = CostTracker(user_budgets=budgets, clock=clock, on_alert=delivered.append,
                       alert_thresholds=(0.5, 0.8, 0.95, 1.0), store=store("full"))
    for tracker in (plain, full):
        for user in range(100):
            tracker.set_user_tier(f"user-{user}", "pro")

    def run(tracker: CostTracker) -> Callable[[], None]:
        def go() -> None:
            for number in range(calls):
                tracker.add_cost("gpt-4o", "openai", 10, 0.0001, user_id=f"user-{number % 100}")
        return go

    best = {"plain": float("inf"), "full": float("inf")}
    for _ in range(15):
        # CPU time of this process: the load of other processes falls on neither side.
        best["plain"] = min(best["plain"], _best(run(plain), 1, time.process_time))
        best["full"] = min(best["full"], _best(run(full), 1, time.process_time))
    for tracker in (plain, full):
        tracker.store.close()
    folder.cleanup()
    ratio = best["full"] / best["plain"]
    print(f"  ({kind}: add_cost {best['plain'] / calls * 1e6:.1f} us without, "
          f"{best['full'] / calls * 1e6:.1f} us with rollups and alerts)")
    figure(f"add_cost with rollups+alerts / without, {kind}", ratio, "x", "<= 1.3x",
           ok=ratio <= 1.3)


# -- coverage and precision/recall ---------------------------------------------------------
def _family(name: str, rng: random.Random, n: int) -> list[float]:
    if name == "iid":
        return [max(0.0, rng.gauss(10.0, 3.0)) for _ in range(n)]
    if name == "lognormal":
        return [rng.lognormvariate(1.5, 0.8) for _ in range(n)]
    if name == "trend":
        return [10.0 * 1.02 ** day * max(0.1, rng.gauss(1.0, 0.2)) for day in range(n)]
    if name == "random_walk":
        level, out = 10.0, []
        for _ in range(n):
            level = max(0.5, level + rng.gauss(0.0, 1.0))
            out.append(level)
        return out
    return [max(0.0, (12.0 if day % 7 < 5 else 3.0) + rng.gauss(0.0, 1.5)) for day in range(n)]


FAMILIES = ("iid", "lognormal", "trend", "random_walk", "weekly")
CONFIGS = ((14, 7), (14, 30), (30, 7), (30, 30))


def _tracker_with(series: list[float], end: datetime) -> tuple[CostTracker, _Clock]:
    clock = _Clock(end)
    tracker = CostTracker(clock=clock)
    for index, value in enumerate(series):
        if value > 0:
            clock.now = end - timedelta(days=len(series) - index) + timedelta(hours=12)
            tracker.add_cost("gpt-4o", "openai", 10, round(value, 6), user_id="u1")
    clock.now = end
    return tracker, clock


def _coverage(cases: list[dict[str, Any]],
              truths: list[float]) -> dict[tuple[str, int, int], float]:
    ours: dict[tuple[str, int, int], list[bool]] = {}
    midnight = datetime(2026, 11, 24, tzinfo=timezone.utc)
    for case, truth in zip(cases, truths, strict=True):
        tracker, _ = _tracker_with(case["history"], midnight)
        prediction = CostForecaster(tracker).forecast_daily(days=case["horizon"], user_id="u1")
        ours.setdefault((case["family"], len(case["history"]), case["horizon"]), []).append(
            prediction.lower_bound <= truth <= prediction.upper_bound)
    return {key: sum(hits) / len(hits) for key, hits in ours.items()}


def _intervals() -> None:
    cases, truths = [], []
    for family in FAMILIES:
        for history, horizon in CONFIGS:
            for seed in range(SERIES):
                rng = random.Random(f"bench-{family}-{history}-{horizon}-{seed}")
                series = _family(family, rng, history + horizon)
                cases.append({"family": family, "history": series[:history],
                              "horizon": horizon})
                truths.append(sum(series[history:]))
    ours = _coverage(cases, truths)
    spikes, labels = _spike_cases()
    peer = _peer({"forecast": [{"history": c["history"], "horizon": c["horizon"]}
                               for c in cases], "anomaly": [{"series": s} for s in spikes]})
    theirs: dict[tuple[str, int, int], list[bool]] = {}
    if peer:
        for case, truth, (_, lower, upper) in zip(cases, truths, peer["forecast"], strict=True):
            theirs.setdefault((case["family"], len(case["history"]), case["horizon"]),
                              []).append(lower <= truth <= upper)
    for family in FAMILIES:
        worst = min(ours[(family, h, k)] for h, k in CONFIGS)
        peer_worst = (min(sum(v) / len(v) for key, v in theirs.items() if key[0] == family)
                      if theirs else None)
        figure(f"95% interval coverage, {family} (worst of 4 configs)", worst * 100, "%",
               ">= 90%", ok=worst >= 0.9, peer=_peer_text(
                   None if peer_worst is None else peer_worst * 100, "%"))
    _precision_recall(spikes, labels, peer)


def _spike_cases() -> tuple[list[list[float]], list[set[int]]]:
    series_list, labels = [], []
    for seed in range(SPIKE_SERIES):
        rng = random.Random(f"spikes-{seed}")
        family = ("iid", "lognormal", "weekly")[seed % 3]
        series = _family(family, rng, 60)
        injected = set()
        for offset in range(7):  # days before the last (0 = the last day)
            if rng.random() < 0.2:
                series[-1 - offset] += 10.0 * rng.uniform(2.0, 5.0)
                injected.add(offset)
        series_list.append(series)
        labels.append(injected)
    return series_list, labels


def _score(flagged: list[set[int]], labels: list[set[int]]) -> tuple[float, float]:
    hits = sum(len(found & truth) for found, truth in zip(flagged, labels, strict=True))
    found = sum(len(item) for item in flagged)
    real = sum(len(item) for item in labels)
    return (hits / found if found else 0.0), (hits / real if real else 0.0)


def _precision_recall(spikes: list[list[float]], labels: list[set[int]],
                      peer: dict[str, Any] | None) -> None:
    flagged = []
    end = datetime(2026, 11, 24, 23, 59, 59, tzinfo=timezone.utc)
    for series in spikes:
        tracker, _ = _tracker_with(series, end + timedelta(seconds=1) - timedelta(days=0))
        tracker._clock = _Clock(end)  # the last day of the series is today, nearly over
        found = AnomalyDetector(tracker).detect_user_anomalies("u1", lookback_days=7)
        flagged.append({(end.date() - datetime.fromisoformat(a.metadata["day"]).date()).days
                        for a in found})
    precision, recall = _score(flagged, labels)
    their = {}
    if peer:
        for name in ("default", "long"):
            their[name] = _score([{d for d in days if d < 7} for days in peer["anomaly"][name]],
                                 labels)
    f1 = _f1(precision, recall)
    best = max(their.values(), key=lambda pr: _f1(*pr)) if their else None
    peer_pr = ("1.2.0: " + ", ".join(f"{name} lookback {p * 100:.0f}%/{r * 100:.0f}%"
                                     for name, (p, r) in their.items()) if their else "1.2.0: n/a")
    figure("anomaly precision, injected spikes (our defaults)", precision * 100, "%",
           "report", ok=True)
    figure("anomaly recall, injected spikes (our defaults)", recall * 100, "%", "report",
           ok=True)
    figure("anomaly F1 (precision/recall above)", f1 * 100, "%", ">= 1.2.0's best",
           ok=best is None or f1 >= _f1(*best), peer=peer_pr + " (precision/recall)")


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


# -- the peer --------------------------------------------------------------------------------
def _peer_python() -> Path | None:
    configured = os.environ.get("PEERS_PYTHON")
    python = Path(configured) if configured else PEERS_PYTHON
    return python if python.exists() else None


def _peer(cases: dict[str, Any]) -> dict[str, Any] | None:
    import subprocess

    python = _peer_python()
    if python is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(cases, handle)
    try:
        done = subprocess.run(
            [str(python), str(ROOT / "benchmarks" / "peers" / "cascadeflow_1_2_0_intelligence.py"),
             handle.name], check=True, capture_output=True, text=True, timeout=1800,
            cwd="/tmp", env=dict(os.environ, PYTHONPATH=""))
        result: dict[str, Any] = json.loads(done.stdout)
        return result
    finally:
        os.unlink(handle.name)


def _peer_text(value: float | None, unit: str) -> str:
    return "1.2.0: n/a" if value is None else f"1.2.0: {value:,.1f} {unit}"


def main() -> None:
    header("spend intelligence: forecasts, anomalies, alerts")
    _intervals()
    _recording("memory", 10_000)
    _recording("sqlite", 1_500)
    _scale()


if __name__ == "__main__":
    main()
