"""Reservations: check-and-reserve is atomic, settle is idempotent, leases expire."""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import pytest

from cascadeflow import BudgetExceededError
from cascadeflow.telemetry import BudgetConfig, CostTracker

from .conftest import FakeClock


def test_reserve_refuses_what_does_not_fit_and_names_the_period(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=5.0, weekly=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 0.7, user_id="u1")
    with pytest.raises(BudgetExceededError) as refused:
        tracker.reserve("u1", 0.5)
    error = refused.value
    assert (error.user_id, error.period, error.limit) == ("u1", "weekly", 1.0)
    assert error.spent == pytest.approx(0.7)
    assert error.requested == 0.5
    assert "weekly" in str(error) and "u1" in str(error)


def test_reservations_count_against_can_afford_and_remaining(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    held = tracker.reserve("u1", 0.6)
    assert tracker.remaining("u1") == {"daily": 0.4}
    assert not tracker.can_afford("u1", 0.5)
    held.release()
    assert tracker.can_afford("u1", 1.0)


def test_32_threads_racing_never_reserve_past_the_budget(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    barrier = threading.Barrier(32)
    granted: list[object] = []
    refused: list[BudgetExceededError] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        for _ in range(4):
            try:
                reservation = tracker.reserve("u1", 0.1)
            except BudgetExceededError as exc:
                with lock:
                    refused.append(exc)
            else:
                with lock:
                    granted.append(reservation)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 10
    assert len(refused) == 32 * 4 - 10
    assert tracker.remaining("u1") == {"daily": 0.0}


def test_settle_records_the_actual_cost_once(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    reservation = tracker.reserve("u1", 0.5, model="gpt-4o")
    first = reservation.settle(0.2, provider="openai", prompt_tokens=100, completion_tokens=50)
    second = reservation.settle(0.2, provider="openai")
    assert first is second
    assert first.id == reservation.id
    assert (first.model, first.tokens, first.user_id) == ("gpt-4o", 150, "u1")
    assert len(tracker.entries) == 1
    assert tracker.remaining("u1") == {"daily": 0.8}


def test_settle_is_idempotent_at_the_store_even_from_another_reservation_object(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    reservation = tracker.reserve("u1", 0.5)
    entry = reservation.settle(0.3)
    # A retried settle from a fresh handle (e.g. after a crash) must not count twice.
    assert tracker.store.settle(reservation.id, entry, 300_000_000, tracker.period_keys()) is False
    assert tracker.by_user == {"u1": 0.3}


def test_expired_reservation_no_longer_counts(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    tracker.reserve("u1", 1.0, ttl=30)
    assert not tracker.can_afford("u1", 0.1)
    clock.advance(seconds=29)
    assert not tracker.can_afford("u1", 0.1)
    clock.advance(seconds=1)
    assert tracker.can_afford("u1", 1.0)


def test_settling_an_expired_reservation_still_records_the_spend(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    reservation = tracker.reserve("u1", 0.5, ttl=10)
    clock.advance(seconds=60)
    reservation.settle(0.4)
    assert tracker.remaining("u1") == {"daily": 0.6}


def test_context_manager_releases_unless_settled(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    with pytest.raises(RuntimeError), tracker.reserve("u1", 0.9):
        raise RuntimeError("provider failed")
    assert tracker.remaining("u1") == {"daily": 1.0}
    with tracker.reserve("u1", 0.9) as held:
        held.settle(0.5)
    assert tracker.remaining("u1") == {"daily": 0.5}


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_reserve_rejects_bad_estimates(make_tracker: Callable[..., CostTracker],
                                       bad: float) -> None:
    with pytest.raises(ValueError, match="estimated_cost"):
        make_tracker().reserve("u1", bad)


def test_settle_rejects_unknown_fields(make_tracker: Callable[..., CostTracker]) -> None:
    reservation = make_tracker().reserve("u1", 0.1)
    with pytest.raises(ValueError, match="colour"):
        reservation.settle(0.1, colour="blue")


async def test_async_reservations_race_without_overspending(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    outcomes: list[bool] = []

    async def one() -> None:
        try:
            held = await tracker.areserve("u1", 0.25)
        except BudgetExceededError:
            outcomes.append(False)
            return
        await held.asettle(0.25)
        outcomes.append(True)

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(one)
    assert outcomes.count(True) == 4
    assert tracker.by_user == {"u1": 1.0}
