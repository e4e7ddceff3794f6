"""Ledger hot path: add_cost and can_afford on a 100,000-entry history vs cascadeflow 1.2.0."""

from __future__ import annotations

import json
import statistics
import time

from benchmarks._report import figure, header, run_peer
from cascadeflow import BudgetConfig, CostTracker

HISTORY = 100_000
CALLS = 20_000
PEER_CALLS = 40


def measure_ours() -> tuple[float, float]:
    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=1e9, monthly=1e9)})
    for _ in range(HISTORY):
        tracker.add_cost("gpt-4o-mini", "openai", 10, 1e-7, user_id="u1", user_tier="pro")
    add: list[float] = []
    afford: list[float] = []
    clock = time.perf_counter
    for _ in range(CALLS):
        start = clock()
        tracker.add_cost("gpt-4o-mini", "openai", 10, 1e-7, user_id="u1", user_tier="pro")
        add.append(clock() - start)
        start = clock()
        tracker.can_afford("u1", 1e-4, "pro")
        afford.append(clock() - start)
    return statistics.median(add) * 1e6, statistics.median(afford) * 1e6


def main() -> None:
    header(f"ledger: MemoryStore, one user with {HISTORY:,} entries")
    add_us, afford_us = measure_ours()
    try:
        peer = json.loads(run_peer("cascadeflow_1_2_0_ledger.py", str(HISTORY), str(PEER_CALLS)))
    except Exception as exc:  # the comparison is informative; our own figures still print
        print(f"  (cascadeflow 1.2.0 not measured: {exc}; run `make peers`)")
        peer = None
    peer_add = f"1.2.0 {peer['add_cost_us']:,.0f} µs" if peer else ""
    peer_afford = f"1.2.0 {peer['can_afford_us']:,.0f} µs" if peer else ""
    figure("add_cost median", add_us, "µs", "<= 10 µs", ok=add_us <= 10, peer=peer_add)
    figure("can_afford median", afford_us, "µs", "<= 5 µs", ok=afford_us <= 5, peer=peer_afford)
    if peer:
        add_ratio = peer["add_cost_us"] / add_us
        afford_ratio = peer["can_afford_us"] / afford_us
        figure("add_cost speed-up over 1.2.0", add_ratio, "x", ">= 50x", ok=add_ratio >= 50)
        figure("can_afford speed-up over 1.2.0", afford_ratio, "x", ">= 50x",
               ok=afford_ratio >= 50)
