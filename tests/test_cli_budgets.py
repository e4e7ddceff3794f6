"""`cascadeflow budgets set/show/remove`: limits written from the shell apply in every worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker, RateLimit, Scope
from cascadeflow.cli import main
from cascadeflow.storage import SQLiteStore


def test_budgets_set_then_a_worker_refuses_then_show_reports_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "ledger.db")
    assert main(["budgets", "set", "team:search", "--daily", "0.05", "--requests",
                 "daily=100", "--rpm", "30", "--db", db]) == 0

    with SQLiteStore(db) as store:
        worker = CostTracker(store=store, enforcement_mode="block")
        worker.reserve("alice", 0.03, team="search").settle(0.04, provider="openai",
                                                           tokens=50)
        with pytest.raises(BudgetExceededError) as refused:
            worker.reserve("bob", 0.02, team="search")
        assert (refused.value.scope, refused.value.period) == ("team:search", "daily")
        assert worker.get_rate_limit("team:search") == RateLimit(rpm=30)

    capsys.readouterr()
    assert main(["budgets", "show", "team:search", "--db", db]) == 0
    shown = capsys.readouterr().out
    assert "team:search" in shown and "$0.050000" in shown and "$0.040000" in shown
    assert "$0.010000" in shown  # remaining
    assert "daily requests" in shown and "rpm" in shown

    assert main(["budgets", "remove", "team:search", "--db", db]) == 0
    with SQLiteStore(db) as store:
        assert CostTracker(store=store).budgets() == {}


def test_a_model_cap_and_a_user_budget_from_the_shell(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    assert main(["budgets", "set", "user:alice", "--daily", "1", "--model", "gpt-4o",
                 "--db", db]) == 0
    assert main(["budgets", "set", "user:alice", "--monthly", "20", "--rollover",
                 "--rollover-cap", "5", "--db", db]) == 0

    with SQLiteStore(db) as store:
        tracker = CostTracker(store=store)
        assert tracker.get_budget("user:alice", model="gpt-4o") == BudgetConfig(daily=1.0)
        assert tracker.get_user_budget("alice") == BudgetConfig(monthly=20.0, rollover=True,
                                                                rollover_cap=5.0)


@pytest.mark.parametrize("bad", [
    ["--daily", "-1"], ["--daily", "nan"], ["--requests", "yearly=3"], ["--rpm", "-5"], [],
])
def test_bad_input_is_a_clear_error_that_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: list[str]
) -> None:
    db = str(tmp_path / "ledger.db")
    assert main(["budgets", "set", "team:search", *bad, "--db", db]) == 2
    assert "cascadeflow budgets" in capsys.readouterr().err
    assert main(["budgets", "set", "project:x", "--daily", "1", "--db", db]) == 2
    assert "unknown scope kind 'project'" in capsys.readouterr().err
    with SQLiteStore(db) as store:
        assert CostTracker(store=store).budgets() == {}


@pytest.mark.redis
def test_budgets_on_redis(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["budgets", "set", "global", "--hourly", "2", "--redis", redis_url]) == 0
    assert main(["budgets", "show", "--redis", redis_url]) == 0
    assert "hourly" in capsys.readouterr().out


@pytest.mark.postgres
def test_budgets_on_postgres(postgres_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    from cascadeflow.storage import PostgresStore

    assert main(["budgets", "set", "team:search", "--daily", "5", "--postgres",
                 postgres_dsn]) == 0
    assert main(["budgets", "show", "team:search", "--postgres", postgres_dsn]) == 0
    assert "daily" in capsys.readouterr().out
    with PostgresStore(postgres_dsn) as store:
        budgets = CostTracker(store=store).budgets()
    assert budgets == {(Scope.team("search"), None): BudgetConfig(daily=5.0)}
