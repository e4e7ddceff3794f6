"""Budgets as data on every store: stored limits, scopes, model caps, quotas, rate limits, rollover.

Each test runs on memory, SQLite and Redis through the ``store`` fixture; the tracker's
clock is a fake one (no test sleeps).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker, RateLimit, Scope
from cascadeflow.storage import LedgerStore
from cascadeflow.telemetry import EnforcementAction
from tests.telemetry.conftest import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")
CENT = 0.01


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 24, 10, 0, 5, tzinfo=BERLIN))


@pytest.fixture
def tracker_on(store: LedgerStore, clock: FakeClock) -> Callable[..., CostTracker]:
    """Trackers sharing the test's store (as workers would), on the fake clock."""

    def make(**kwargs: object) -> CostTracker:
        kwargs.setdefault("timezone", "Europe/Berlin")
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("enforcement_mode", "block")
        tracker = CostTracker(store=store, **kwargs)  # type: ignore[arg-type]
        tracker.TIER_REFRESH_SECONDS = 0.0  # see every change at once (the bound is 1 s)
        return tracker

    return make


def spend(tracker: CostTracker, user: str, cost: float, model: str = "gpt-4o-mini",
          **scopes: object) -> None:
    tracker.add_cost(model, "openai", 100, cost, user_id=user, **scopes)  # type: ignore[arg-type]


# -- limits are stored data -----------------------------------------------------------------


def test_a_user_budget_set_by_one_worker_applies_in_another_and_after_a_restart(
    tracker_on: Callable[..., CostTracker],
) -> None:
    worker_a, worker_b = tracker_on(), tracker_on()
    worker_a.set_user_budget("alice", BudgetConfig(daily=0.01))
    spend(worker_a, "alice", 0.02)

    assert worker_a.can_afford("alice") is False
    assert worker_b.can_afford("alice") is False
    assert tracker_on().get_user_budget("alice") == BudgetConfig(daily=0.01)

    worker_b.set_user_budget("alice", None)
    assert worker_a.get_user_budget("alice") is None
    assert worker_a.can_afford("alice") is True


def test_a_stored_tier_budget_wins_over_the_code_default(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on(user_budgets={"free": BudgetConfig(daily=1.0)})
    tracker.set_user_tier("bob", "free")
    other = tracker_on(user_budgets={"free": BudgetConfig(daily=1.0)})
    assert other.get_user_budget("bob") == BudgetConfig(daily=1.0)

    tracker.set_tier_budget("free", BudgetConfig(daily=0.05))

    assert other.get_user_budget("bob") == BudgetConfig(daily=0.05)
    tracker.set_tier_budget("free", None)
    assert other.get_user_budget("bob") == BudgetConfig(daily=1.0)


def test_budgets_lists_every_stored_limit(tracker_on: Callable[..., CostTracker]) -> None:
    tracker = tracker_on()
    tracker.set_budget("team:search", BudgetConfig(daily=5.0))
    tracker.set_budget(Scope.org("acme"), BudgetConfig(monthly=100.0))
    tracker.set_budget("user:alice", BudgetConfig(daily=1.0), model="gpt-4o")

    assert tracker.budgets() == {
        (Scope.team("search"), None): BudgetConfig(daily=5.0),
        (Scope.org("acme"), None): BudgetConfig(monthly=100.0),
        (Scope.user("alice"), "gpt-4o"): BudgetConfig(daily=1.0),
    }
    assert tracker.get_budget("team:search") == BudgetConfig(daily=5.0)
    assert tracker.get_budget("user:alice", model="gpt-4o") == BudgetConfig(daily=1.0)


# -- scopes -----------------------------------------------------------------------------------


def test_a_team_budget_is_shared_by_its_users_and_the_refusal_names_it(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on()
    tracker.set_budget("team:search", BudgetConfig(daily=0.05))
    for user in ("alice", "bob"):
        tracker.set_user_team(user, "search")
    spend(tracker, "alice", 0.03)

    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("bob", 0.03)

    assert (refused.value.scope, refused.value.period) == ("team:search", "daily")
    assert "team 'search'" in str(refused.value) and "daily" in str(refused.value)
    assert tracker.can_afford("bob", 0.02) is True
    assert tracker.can_afford("carol", 0.03) is True  # not in the team
    assert tracker.can_afford("carol", 0.03, team="search") is False
    assert tracker.remaining("bob")["team:search daily"] == pytest.approx(0.02)


def test_a_tag_budget_spans_users(tracker_on: Callable[..., CostTracker]) -> None:
    tracker = tracker_on()
    tracker.set_budget(Scope.tag("batch"), BudgetConfig(daily=0.04))
    spend(tracker, "alice", 0.02, tags=["batch"])
    spend(tracker, "bob", 0.01, tags=["batch", "night"])
    spend(tracker, "bob", 0.05)  # untagged: does not count

    assert tracker.can_afford("carol", 0.01, tags=["batch"]) is True
    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("carol", 0.02, tags=["batch"])
    assert refused.value.scope == "tag:batch"


def test_every_scope_that_applies_is_checked_and_a_settle_counts_toward_each(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on()
    tracker.set_budget("org:acme", BudgetConfig(daily=0.10))
    tracker.set_budget("global", BudgetConfig(daily=1.0))
    tracker.set_user_org("alice", "acme")
    held = tracker.reserve("alice", 0.04, model="gpt-4o-mini", tags=["x"])
    held.settle(0.06, provider="openai", tokens=10)

    assert tracker.remaining("alice")["org:acme daily"] == pytest.approx(0.04)
    assert tracker.remaining("zoe")["global daily"] == pytest.approx(0.94)
    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("alice", 0.05)
    assert refused.value.scope == "org:acme"


def test_an_api_key_budget_is_stored_as_its_hash(
    tracker_on: Callable[..., CostTracker], store: LedgerStore,
) -> None:
    tracker = tracker_on()
    tracker.set_budget(Scope.key("sk-live-secret"), BudgetConfig(daily=0.01))
    spend(tracker, "alice", 0.01, key="sk-live-secret")

    assert tracker.can_afford("bob", 0.001, key="sk-live-secret") is False
    assert tracker.can_afford("bob", 0.001, key="sk-other") is True
    assert "sk-live-secret" not in repr(store.settings())


# -- per-model caps ---------------------------------------------------------------------------


def test_a_model_cap_blocks_the_model_while_the_user_budget_has_room(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on(enforcement_mode="block")
    tracker.set_user_budget("alice", BudgetConfig(daily=10.0))
    tracker.set_budget("user:alice", BudgetConfig(daily=0.01), model="gpt-4o")
    spend(tracker, "alice", 0.01, model="gpt-4o-2024-08-06")  # a snapshot counts toward it

    result = tracker.enforce("alice", "gpt-4o", prompt_tokens=100, max_output_tokens=100)
    assert result.action is EnforcementAction.BLOCK
    assert "cap on gpt-4o" in result.context.period_name
    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("alice", 0.001, model="gpt-4o")
    assert refused.value.period == "daily cap on gpt-4o"
    assert tracker.reserve("alice", 0.001, model="gpt-4o-mini").release()


def test_degrade_walks_past_a_model_whose_cap_is_exhausted(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on(enforcement_mode="degrade")
    tracker.set_user_budget("alice", BudgetConfig(daily=10.0))
    tracker.set_budget("team:search", BudgetConfig(daily=0.01), model="gpt-4o")
    spend(tracker, "alice", 0.01, model="gpt-4o", team="search")

    result = tracker.enforce("alice", "gpt-4o", prompt_tokens=100, max_output_tokens=100,
                             team="search")

    assert result.action is EnforcementAction.DEGRADE
    assert result.model == "gpt-4o-mini"
    assert result.context.total_cost == pytest.approx(0.01)
    assert tracker.enforce("alice", "gpt-4o", prompt_tokens=100,
                           max_output_tokens=100).action is EnforcementAction.ALLOW


# -- hours, quotas, rate limits ---------------------------------------------------------------


def test_an_hourly_budget_resets_on_the_next_calendar_hour(
    tracker_on: Callable[..., CostTracker], clock: FakeClock,
) -> None:
    tracker = tracker_on()
    tracker.set_user_budget("alice", BudgetConfig(hourly=0.02, daily=1.0))
    spend(tracker, "alice", 0.02)
    assert tracker.can_afford("alice", 0.001) is False
    assert tracker.remaining("alice")["hourly"] == 0.0

    clock.advance(hours=1)
    assert tracker.can_afford("alice", 0.01) is True
    assert tracker.remaining("alice") == {"hourly": 0.02, "daily": pytest.approx(0.98)}


def test_request_and_token_quotas_count_what_was_settled(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on()
    tracker.set_budget("team:search", BudgetConfig(requests={"daily": 2},
                                                   tokens={"monthly": 1_000}))
    first = tracker.reserve("alice", 0.0, team="search", tokens=400)
    tracker.reserve("bob", 0.0, team="search", tokens=400).release()
    first.settle(0.001, provider="openai", tokens=300)
    tracker.reserve("bob", 0.0, team="search", tokens=600).settle(0.001, tokens=600)

    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("carol", 0.0, team="search", tokens=10)
    assert (refused.value.scope, refused.value.period) == ("team:search", "daily requests")
    assert refused.value.limit == 2
    assert "quota" in str(refused.value)


def test_rpm_admits_exactly_its_limit_in_a_minute_of_racing_requests(
    tracker_on: Callable[..., CostTracker], clock: FakeClock,
) -> None:
    tracker = tracker_on()
    tracker.set_rate_limit("team:search", RateLimit(rpm=60))
    start = threading.Barrier(8)
    admitted: list[int] = []
    refusals: list[BudgetExceededError] = []
    lock = threading.Lock()

    def race(worker: int) -> None:
        start.wait()
        for _ in range(25):
            try:
                tracker.reserve(f"user-{worker}", 0.0, team="search").release()
                with lock:
                    admitted.append(worker)
            except BudgetExceededError as exc:
                with lock:
                    refusals.append(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(admitted), len(refusals)) == (60, 140)
    assert refusals[0].period == "rpm" and refusals[0].scope == "team:search"
    assert refusals[0].retry_after == pytest.approx(55.0)  # the clock is at 10:00:05
    clock.advance(minutes=1)
    assert tracker.reserve("user-0", 0.0, team="search").release()


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_request_another_scope_refuses_is_not_counted_by_the_users_rate_limit(
    tracker_on: Callable[..., CostTracker], use_async: bool,
) -> None:
    # On a Redis Cluster the user's limits and the team's are two steps: the first takes one
    # of alice's requests this minute, and gives it back when the team refuses.
    tracker = tracker_on()
    tracker.set_rate_limit(Scope.user("alice"), RateLimit(rpm=1))
    tracker.set_budget(Scope.team("search"), BudgetConfig(daily=CENT))

    async def reserve(amount: float) -> Any:
        if use_async:
            return await tracker.areserve("alice", amount, team="search")
        return tracker.reserve("alice", amount, team="search")

    for _ in range(3):
        with pytest.raises(BudgetExceededError) as refused:
            await reserve(5 * CENT)
        assert refused.value.scope == "team:search"
    held = await reserve(0.1 * CENT)  # the minute's one request is still there
    await held.arelease() if use_async else held.release()
    with pytest.raises(BudgetExceededError) as limited:
        await reserve(0.1 * CENT)
    assert (limited.value.scope, limited.value.period) == ("user:alice", "rpm")


def test_max_parallel_holds_a_third_request_until_one_settles(
    tracker_on: Callable[..., CostTracker], clock: FakeClock,
) -> None:
    tracker = tracker_on()
    tracker.set_rate_limit(Scope.user("alice"), RateLimit(max_parallel=2))
    first = tracker.reserve("alice", 0.0)
    tracker.reserve("alice", 0.0, ttl=30)

    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("alice", 0.0)
    assert refused.value.period == "max_parallel" and refused.value.retry_after is not None

    first.settle(0.001, provider="openai", tokens=10)
    third = tracker.reserve("alice", 0.0)
    clock.advance(seconds=31)  # the second one's lease expired: its slot is free
    tracker.reserve("alice", 0.0)
    third.release()


# -- rollover ---------------------------------------------------------------------------------


def test_rollover_carries_the_unused_part_into_the_next_month_in_the_trackers_zone(
    tracker_on: Callable[..., CostTracker], clock: FakeClock,
) -> None:
    clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=BERLIN))  # 22:30 UTC
    tracker = tracker_on()
    tracker.set_budget("team:search", BudgetConfig(monthly=1.0, rollover=True,
                                                   rollover_cap=0.5))
    tracker.set_user_budget("alice", BudgetConfig(monthly=1.0, rollover=True))
    spend(tracker, "alice", 0.3, team="search")
    spend(tracker, "alice", 0.6, team="search")

    clock.set(datetime(2026, 12, 1, 0, 30, tzinfo=BERLIN))  # still November in UTC
    left = tracker.remaining("alice", team="search")

    assert left["monthly"] == pytest.approx(1.1)  # 1.0 + the 0.1 unused in November
    assert left["team:search monthly"] == pytest.approx(1.1)
    report = tracker.budget_report("team:search")
    assert report[0]["base_limit"] == 1.0 and report[0]["carried"] == pytest.approx(0.1)
    assert report[0]["limit"] == pytest.approx(1.1)

    clock.set(datetime(2027, 1, 2, 12, 0, tzinfo=BERLIN))
    assert tracker.remaining("alice", team="search") == {
        "monthly": pytest.approx(2.0), "team:search monthly": pytest.approx(1.5)}


def test_the_summary_shows_base_carried_and_effective_limits(
    tracker_on: Callable[..., CostTracker], clock: FakeClock,
) -> None:
    tracker = tracker_on()
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0, rollover=True, rollover_cap=0.25))
    clock.advance(days=1)

    daily = tracker.get_user_summary("alice")["period_costs"]["daily"]
    assert (daily["base_limit"], daily["carried"], daily["limit"]) == (1.0, 0.25, 1.25)
    detail = tracker.remaining_detail("alice")["daily"]
    assert (detail["base_limit"], detail["carried"], detail["limit"], detail["remaining"]) == (
        1.0, 0.25, 1.25, 1.25)
    assert tracker.remaining("alice") == {"daily": 1.25}


def test_bad_limits_are_clear_errors_that_store_nothing(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on()
    with pytest.raises(ValueError, match="unknown scope kind"):
        tracker.set_budget("project:x", BudgetConfig(daily=1.0))
    with pytest.raises(ValueError, match="unknown period"):
        BudgetConfig(requests={"yearly": 3})
    with pytest.raises(ValueError, match="non-negative"):
        RateLimit(rpm=-1)
    assert tracker.budgets() == {}


async def test_the_async_twins_check_every_scope_too(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on()
    tracker.set_budget("team:search", BudgetConfig(daily=0.05))
    held = await tracker.areserve("alice", 0.03, team="search")
    await held.asettle(0.03, provider="openai", tokens=10)

    assert await tracker.acan_afford("bob", 0.02, team="search") is True
    assert await tracker.acan_afford("bob", 0.03, team="search") is False
    with pytest.raises(BudgetExceededError):
        await tracker.areserve("bob", 0.03, team="search")
    assert (await tracker.aremaining("bob", team="search"))["team:search daily"] == (
        pytest.approx(0.02))
    await tracker.aadd_cost("gpt-4o-mini", "openai", 10, 0.02, user_id="bob", team="search")
    result = await tracker.aenforce("bob", "gpt-4o-mini", 0.001, team="search")
    assert result.action is EnforcementAction.BLOCK and result.context.scope == "team:search"


def test_tpm_counts_the_token_estimates_admitted_in_a_minute(
    tracker_on: Callable[..., CostTracker], clock: FakeClock,
) -> None:
    tracker = tracker_on()
    tracker.set_rate_limit("tag:batch", RateLimit(tpm=1_000))
    tracker.reserve("alice", 0.0, tags=["batch"], tokens=400).release()
    tracker.reserve("bob", 0.0, tags=["batch"], tokens=600).release()

    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("carol", 0.0, tags=["batch"], tokens=1)
    assert (refused.value.scope, refused.value.period) == ("tag:batch", "tpm")
    clock.advance(minutes=1)
    tracker.reserve("carol", 0.0, tags=["batch"], tokens=1_000).release()


def test_a_token_quota_holds_the_estimate_and_counts_what_was_used(
    tracker_on: Callable[..., CostTracker],
) -> None:
    tracker = tracker_on()
    tracker.set_user_budget("alice", BudgetConfig(tokens={"daily": 1_000}))
    held = tracker.reserve("alice", 0.0, tokens=800)
    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("alice", 0.0, tokens=300)
    assert (refused.value.scope, refused.value.period) == ("user:alice", "daily tokens")

    held.settle(0.001, provider="openai", tokens=500)  # used less than estimated
    tracker.reserve("alice", 0.0, tokens=500).release()
    assert [row["remaining"] for row in tracker.budget_report("user:alice")
            if row["unit"] == "tokens"] == [500.0]
