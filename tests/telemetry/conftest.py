"""Fixtures for the ledger's tests: a settable clock and trackers built on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cascadeflow.telemetry import BudgetConfig, CostTracker


class FakeClock:
    """An aware clock the test moves by hand; no test ever sleeps."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, **delta: float) -> None:
        self.current = self.current + timedelta(**delta)


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def clock() -> FakeClock:
    # Tuesday 2026-11-24 10:00 in Berlin.
    return FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN))


@pytest.fixture
def make_tracker(clock: FakeClock) -> Callable[..., CostTracker]:
    def make(**kwargs: object) -> CostTracker:
        kwargs.setdefault("timezone", "Europe/Berlin")
        kwargs.setdefault("clock", clock)
        return CostTracker(**kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def tiers() -> dict[str, BudgetConfig]:
    return {
        "free": BudgetConfig(daily=1.0),
        "pro": BudgetConfig(daily=10.0, weekly=40.0, monthly=100.0),
    }
