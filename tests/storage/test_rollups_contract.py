"""Daily rollups and exactly-once claims on every store, through the counter seam."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cascadeflow import BudgetConfig, CostTracker, Scope
from cascadeflow.storage import LedgerStore, MemoryStore
from cascadeflow.telemetry._claims import claim_once


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 23, 30, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def test_rollups_per_user_tier_model_scope_and_day(store: LedgerStore) -> None:
    clock = _Clock()
    tracker = CostTracker(store=store, clock=clock, timezone="Europe/Berlin")
    tracker.set_budget(Scope.team("search"), BudgetConfig(daily=100.0))
    tracker.set_user_team("alice", "search")
    # 23:30 UTC is already the 25th in Berlin.
    tracker.add_cost("gpt-4o", "openai", 10, 1.25, user_id="alice", user_tier="pro")
    clock.now -= timedelta(hours=2)
    tracker.add_cost("gpt-4o-mini", "openai", 10, 0.5, user_id="bob")
    with tracker.reserve("alice", 1.0, model="gpt-4o") as held:
        held.settle(0.25, provider="openai")
    clock.now += timedelta(hours=2)
    day_24, day_25 = datetime(2026, 11, 24).date(), datetime(2026, 11, 25).date()
    assert tracker.daily_spend("alice", days=2) == [(day_24, 0.25), (day_25, 1.25)]
    assert tracker.daily_spend(days=2) == [(day_24, 0.75), (day_25, 1.25)]
    assert tracker.daily_spend(scope="tier:pro", days=1) == [(day_25, 1.25)]
    assert tracker.daily_spend(scope="model:gpt-4o-mini", days=2) == [(day_24, 0.5),
                                                                      (day_25, 0.0)]
    assert tracker.daily_spend(scope="team:search", days=2) == [(day_24, 0.25),
                                                                (day_25, 1.25)]
    with pytest.raises(ValueError, match="not both"):
        tracker.daily_spend("alice", scope="tier:pro")


def test_a_claim_is_granted_once(store: LedgerStore) -> None:
    now = 1_790_000_000.0
    assert claim_once(store, "claim:test/a", now=now, keep_for=3600.0)
    assert not claim_once(store, "claim:test/a", now=now + 1, keep_for=3600.0)
    assert claim_once(store, "claim:test/b", now=now, keep_for=3600.0)
    # Claims hold nothing: the claims user has no open reservation left, and is no user.
    assert store.usage("cascadeflow:claims", [], now=now).reserved_nanos == 0
    assert "cascadeflow:claims" not in store.user_tiers()


def test_memory_history_is_bounded_but_counters_stay_exact() -> None:
    store = MemoryStore(max_entries=10)
    tracker = CostTracker(store=store, user_budgets={"t": BudgetConfig(daily=100.0)})
    for _ in range(25):
        tracker.add_cost("gpt-4o", "openai", 10, 1.0, user_id="alice", user_tier="t")
    assert len(tracker.entries) == 10
    assert len(store.entries(last=3)) == 3
    assert tracker.total_cost == pytest.approx(25.0)
    assert tracker.get_summary()["total_entries"] == 25
    assert tracker.remaining("alice")["daily"] == pytest.approx(75.0)
    assert tracker.daily_spend("alice", days=1)[0][1] == pytest.approx(25.0)
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=-1)


async def test_async_recording_and_settling_roll_up(store: LedgerStore) -> None:
    clock = _Clock()
    tracker = CostTracker(store=store, clock=clock)
    await tracker.aadd_cost("gpt-4o", "openai", 10, 0.5, user_id="alice")
    held = await tracker.areserve("alice", 1.0, model="gpt-4o")
    await held.asettle(0.25, provider="openai")
    assert tracker.daily_spend("alice", days=1)[0][1] == pytest.approx(0.75)
    assert tracker.daily_spend(scope="model:gpt-4o", days=1)[0][1] == pytest.approx(0.75)


def test_rollups_can_be_turned_off(store: LedgerStore) -> None:
    tracker = CostTracker(store=store, rollups=False)
    tracker.add_cost("gpt-4o", "openai", 10, 0.5, user_id="alice")
    assert tracker.total_cost == pytest.approx(0.5)
    assert tracker.daily_spend("alice", days=1)[0][1] == 0.0
