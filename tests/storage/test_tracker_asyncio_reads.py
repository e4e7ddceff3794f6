"""From asyncio, a tracker on a shared store reads the store without blocking the event loop.

The tiers other workers set, the stored limits' version, the counters behind budget warnings
and alerts: each is read with the store's async twin (or in a worker thread), never with a
sync call on the loop's thread, where one round trip (or an outage's retries) would stall
every task of the loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker
from cascadeflow.storage import LedgerStore
from tests._loop_reads import loop_reads_of
from tests.storage.conftest import STORE_FIXTURES, _marks

SHARED = [kind for kind in STORE_FIXTURES if kind != "memory"]


@pytest.fixture(params=[pytest.param(kind, marks=_marks(kind)) for kind in SHARED])
def shared_store(request: pytest.FixtureRequest) -> LedgerStore:
    made = request.getfixturevalue(STORE_FIXTURES[request.param])
    assert isinstance(made, LedgerStore) and made.shared
    return made


@pytest.fixture
def loop_reads(shared_store: LedgerStore) -> Iterator[list[str]]:
    with loop_reads_of(shared_store) as blocked:
        yield blocked


async def test_every_async_call_reads_the_shared_store_off_the_loop(
    shared_store: LedgerStore, loop_reads: list[str],
) -> None:
    # Another worker stored the tier budgets and the users' tiers: this tracker has seen none.
    admin = CostTracker(store=shared_store)
    admin.set_tier_budget("free", BudgetConfig(daily=0.05))
    admin.set_tier_budget("pro", BudgetConfig(daily=5.0))
    users = [f"user-{number}" for number in range(6)]
    for number, user in enumerate(users):
        admin.set_user_tier(user, "free" if number % 2 else "pro")
    alerts: list[Any] = []
    tracker = CostTracker(store=shared_store, enforcement_mode="block",
                          alert_thresholds=(0.5,), on_alert=alerts.append)
    loop_reads.clear()  # what the tracker read when it was made (sync code) does not count

    for user in users:
        held = await tracker.areserve(user, 0.02, model="gpt-4o-mini")
        await held.asettle(0.02, provider="openai", tokens=100)
        await tracker.aadd_cost("gpt-4o-mini", "openai", 100, 0.01, user_id=user)
        assert await tracker.acan_afford(user, 0.01)
        left = await tracker.aremaining(user)
        decision = await tracker.aenforce(user, "gpt-4o-mini", 0.01)
        free = users.index(user) % 2 == 1
        assert left["daily"] == pytest.approx(0.02 if free else 4.97)
        assert decision.action.value in {"allow", "warn"}

    # The tiers came from the store: a free user is refused at its tier's $0.05.
    with pytest.raises(BudgetExceededError):
        await tracker.areserve(users[1], 0.03, model="gpt-4o-mini")
    assert await tracker.areserve(users[0], 0.03, model="gpt-4o-mini")
    # The free users crossed half their budget: alerted once each, read off the loop too.
    assert sorted(alert.user_id for alert in alerts) == users[1::2]
    assert loop_reads == []


async def test_the_overall_budget_and_forecasts_are_read_off_the_loop_too(
    shared_store: LedgerStore, loop_reads: list[str],
) -> None:
    # Another worker spent first: the overall budget's total is seeded from the store.
    CostTracker(store=shared_store).add_cost("gpt-4o-mini", "openai", 10, 0.70, user_id="old")
    tracker = CostTracker(store=shared_store, budget_limit=1.0, rollups=True,
                          forecast_action="warn")
    tracker.set_user_budget("alice", BudgetConfig(daily=5.0))
    loop_reads.clear()

    await tracker.aadd_cost("gpt-4o-mini", "openai", 10, 0.05, user_id="alice")
    assert not tracker.budget_warned  # $0.75 of $1.00 (warned at 80%): seeded with $0.70
    await tracker.aadd_cost("gpt-4o-mini", "openai", 10, 0.10, user_id="alice")
    assert tracker.budget_warned and not tracker.budget_exceeded  # $0.85, counted once
    decision = await tracker.aenforce("alice", "gpt-4o-mini", 0.01)
    assert decision.action.value == "allow"  # one morning is no trend: no forecast action
    assert loop_reads == []
