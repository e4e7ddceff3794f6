"""``cascadeflow demo``: a simulated day of traffic from free, pro and enterprise users.

Every request goes through LiteLLM (``mock_response``, so nothing leaves the machine) by way
of cascadeflow's guarded completion and registered callback: enforcement (tier-based: free
users are blocked, pro users moved to cheaper models, enterprise users only warned), a
reservation, the call, and a settlement from the real usage, against a SQLite ledger in the
working directory. Some requests stream; some streams are abandoned midway and are still
billed for the tokens delivered. Part of the traffic goes through ``l0_completion``: a
guardrail retry, a rate-limited primary falling down its degradation chain, a long answer
cut by the budget guard; every attempt is billed, and the table shows what retries cost.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cascadeflow import BudgetExceededError
from cascadeflow.storage import SQLiteStore
from cascadeflow.telemetry import (
    BudgetConfig,
    CostTracker,
    EnforcementCallbacks,
    tier_based_enforcement,
)

ZONE = ZoneInfo("UTC")
TIERS = {
    "free": BudgetConfig(daily=0.02),
    "pro": BudgetConfig(daily=0.04, monthly=1.0),
    "enterprise": BudgetConfig(daily=2.0),
}
USERS = {
    "ana": "free", "bo": "free", "chen": "free",
    "dara": "pro", "eli": "pro",
    "fay": "enterprise",
}
MODELS = ("gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini")


@dataclass
class DemoClock:
    """The simulated time of day; every request moves it forward."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def build_tracker(db: str, clock: DemoClock, keep: bool) -> CostTracker:
    """A tracker on a SQLite ledger with tier budgets and tier-based enforcement."""
    if not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(db + suffix).unlink(missing_ok=True)
    callbacks = EnforcementCallbacks()
    callbacks.register(tier_based_enforcement)
    tracker = CostTracker(user_budgets=TIERS, store=SQLiteStore(db), clock=clock,
                          enforcement_callbacks=callbacks)
    for user, tier in USERS.items():
        tracker.set_user_tier(user, tier)
    return tracker


WORDS = ("budget", "ledger", "stream", "token", "model", "request", "answer", "cost")


def _reply(rng: random.Random, max_output: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(max_output // 8, max_output // 2)))


def run_demo(*, db: str, requests: int, seed: int, keep: bool = False) -> int:
    """Simulate ``requests`` requests over one day and print a per-user report."""
    from cascadeflow._demo_l0 import KINDS, l0_costs, send_through_l0
    from cascadeflow.integrations.litellm import completion, register, unregister

    rng = random.Random(seed)
    console = Console(width=max(132, Console().width))
    # Threshold warnings are the table's business here, not the log's.
    package_logger = logging.getLogger("cascadeflow")
    previous_level = package_logger.level
    package_logger.setLevel(logging.ERROR)
    clock = DemoClock(datetime(2026, 11, 24, 0, 0, tzinfo=ZONE))
    tracker = build_tracker(db, clock, keep)
    callback = register(tracker)
    blocked: Counter[str] = Counter()
    degraded: Counter[str] = Counter()
    served: Counter[str] = Counter()
    abandoned: Counter[str] = Counter()
    l0_sent = 0
    step = timedelta(seconds=86_399 / requests)
    users = list(USERS)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("simulating a day of traffic through LiteLLM",
                                     total=requests)
            for _ in range(requests):
                clock.now += step
                user = rng.choice(users)
                model = rng.choice(MODELS)
                max_output = rng.randint(100, 1200)
                prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 600)))
                kind = rng.random()
                # LiteLLM's mock stream costs about a millisecond a chunk: keep streams short.
                reply = _reply(rng, max_output if kind >= 0.3 else 120)
                if 0.3 <= kind < 0.4:  # both halves in one call: l0_completion
                    l0_kind = KINDS[l0_sent % len(KINDS)]
                    l0_sent += 1
                    ended = send_through_l0(tracker, user, model, prompt, l0_kind,
                                            _reply(rng, 120), WORDS, rng)
                    if ended == "blocked":
                        blocked[user] += 1
                    else:
                        served[user] += 1
                        degraded[user] += ended == "degraded"
                    progress.advance(task)
                    continue
                try:
                    response = completion(
                        model=model, messages=[{"role": "user", "content": prompt}],
                        user=user, max_tokens=max_output, mock_response=reply,
                        stream=kind < 0.3, tracker=tracker,
                    )
                except BudgetExceededError:
                    blocked[user] += 1
                    progress.advance(task)
                    continue
                if kind < 0.3:
                    called = model
                    for index, chunk in enumerate(response):
                        called = getattr(chunk, "model", None) or called
                        if kind < 0.1 and index == 5:
                            response.close()  # the reader walks away; delivered tokens are billed
                            abandoned[user] += 1
                            break
                else:
                    called = response.model or model
                if not called.endswith(model):
                    degraded[user] += 1
                served[user] += 1
                progress.advance(task)
        callback.flush()
    finally:
        unregister(callback)
        package_logger.setLevel(previous_level)
    table = Table(title=f"cascadeflow demo: one day, {requests} requests through LiteLLM "
                        f"(mock_response), ledger {db}")
    for column in ("user", "tier", "spent", "daily limit", "remaining", "served", "degraded",
                   "abandoned", "blocked", "retry cost", "cut by budget"):
        table.add_column(column, justify="left" if column in ("user", "tier") else "right")
    table_total = 0.0
    for user, tier in USERS.items():
        summary = tracker.get_user_summary(user)
        daily = summary["period_costs"]["daily"]
        retry_cost, cut = l0_costs(tracker, user)
        table_total += summary["total_cost"]
        table.add_row(user, tier, f"${daily['cost']:.4f}", f"${daily['limit']:.2f}",
                      f"${daily['remaining']:.4f}", str(served[user]), str(degraded[user]),
                      str(abandoned[user]), str(blocked[user]), f"${retry_cost:.4f}", str(cut))
    console.print(table)
    ledger_total = tracker.total_cost
    agree = "equals" if abs(table_total - ledger_total) < 1e-9 else "DIFFERS FROM"
    console.print(f"total spend ${table_total:.6f} {agree} the ledger's ${ledger_total:.6f} "
                  f"across {len(tracker.entries)} entries ({l0_sent} requests through "
                  "l0_completion, every attempt billed); by model: "
                  + ", ".join(f"{m} ${c:.4f}" for m, c in sorted(tracker.by_model.items())))
    tracker.store.close()
    return 0
