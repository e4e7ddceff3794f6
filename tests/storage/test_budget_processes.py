"""Limits shared by separate processes on one SQLite file, one Redis and one PostgreSQL: set in
one worker, enforced in the others, kept across restarts; a team budget raced from four
processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cascadeflow import BudgetConfig, CostTracker, Scope
from tests.storage.budget_worker import open_store

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("budget_worker.py")
Start = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis-cluster", marks=pytest.mark.redis)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The shared ledger for the workers: ``sqlite:PATH``, ``redis:URL`` or ``postgres:DSN``."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'ledger.db'}"
    if request.param == "postgres":
        return f"postgres:{request.getfixturevalue('postgres_dsn')}"
    if request.param == "redis-cluster":
        return f"redis:{request.getfixturevalue('redis_cluster_url')}"
    return f"redis:{request.getfixturevalue('redis_url')}"


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis-cluster", marks=pytest.mark.redis)])
def shared_ledger(request: pytest.FixtureRequest) -> str:
    """The ledgers shared by many hosts: ``postgres:DSN`` and ``redis:redis+cluster://...``."""
    if request.param == "postgres":
        return f"postgres:{request.getfixturevalue('postgres_dsn')}"
    return f"redis:{request.getfixturevalue('redis_cluster_url')}"


@pytest.fixture
def start() -> Iterator[Start]:
    started: list[subprocess.Popen[str]] = []

    def run(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), *args], cwd=ROOT, text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(process)
        return process

    yield run
    for process in started:
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def ask(worker: subprocess.Popen[str], command: str) -> str:
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdin.write(command + "\n")
    worker.stdin.flush()
    return worker.stdout.readline().strip()


def test_a_budget_set_by_one_worker_is_enforced_by_another_and_survives_a_restart(
    ledger: str, start: Start, wait_until: Callable[..., None],
) -> None:
    worker_a, worker_b = start(ledger, "serve"), start(ledger, "serve")
    assert ask(worker_b, "can-afford alice") == "True"

    assert ask(worker_a, "set-user-budget alice 0.01") == "ok"
    assert ask(worker_a, "spend alice 0.02") == "ok"

    assert ask(worker_a, "can-afford alice") == "False"
    # worker B re-reads the stored limits within TIER_REFRESH_SECONDS (1 s)
    wait_until(lambda: ask(worker_b, "can-afford alice") == "False")
    restarted = start(ledger, "serve")
    assert ask(restarted, "get-user-budget alice") == "BudgetConfig(daily=$0.01)"
    assert ask(restarted, "can-afford alice") == "False"

    assert ask(worker_b, "set-user-budget alice none") == "ok"
    wait_until(lambda: ask(worker_a, "can-afford alice") == "True")
    assert ask(start(ledger, "serve"), "get-user-budget alice") == "None"


def test_a_team_budget_shared_by_three_users_racing_from_four_processes_is_never_overspent(
    ledger: str, start: Start,
) -> None:
    store = open_store(ledger)
    admin = CostTracker(store=store)
    admin.set_budget(Scope.team("search"), BudgetConfig(daily=0.50))  # 50 one-cent requests
    racers = [start(ledger, "team-race", "30", "ann,ben,cat") for _ in range(4)]
    assert [racer.stdout.readline().strip() for racer in racers if racer.stdout] == [
        "ready"] * 4
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()

    granted = [racer.stdout.readline().strip() for racer in racers if racer.stdout]

    assert sum(int(line.split()[1]) for line in granted) == 50
    assert admin.total_cost == pytest.approx(0.50)
    assert sum(admin.by_user.values()) == pytest.approx(0.50)
    assert admin.remaining("ann", team="search")["team:search daily"] == 0.0
    assert store.totals().total_nanos == 500_000_000
    store.close()


@pytest.mark.parametrize("scope", ["user", "team"])
def test_four_processes_of_25_racing_requests_pass_exactly_the_affordable_ten(
    shared_ledger: str, start: Start, scope: str,
) -> None:
    store = open_store(shared_ledger)
    admin = CostTracker(store=store)
    users = ["shared-user"] if scope == "user" else ["ann", "ben", "cat"]
    if scope == "user":
        admin.set_user_budget("shared-user", BudgetConfig(daily=0.10))  # ten one-cent requests
    else:
        admin.set_budget(Scope.team("search"), BudgetConfig(daily=0.10))
    daily = admin.period_keys()[0]
    racers = [start(shared_ledger, "race", scope, "25") for _ in range(4)]
    assert [racer.stdout.readline().strip() for racer in racers if racer.stdout] == [
        "ready"] * 4
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        # What is spent plus what is held, sampled during the race: never past the limit.
        while not stop.is_set():
            now = time.time()
            if scope == "user":
                usage = store.usage("shared-user", [daily], now=now)
                seen.append(usage.spent_nanos[daily.key] + usage.reserved_nanos)
            else:
                team = store.read_counters([("team:search", daily)], ["team:search"], now=now)
                seen.append(sum(team.values.values()) + team.held["team:search"])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        granted = [racer.stdout.readline().strip() for racer in racers if racer.stdout]
    finally:
        stop.set()
        watcher.join()

    assert sum(int(line.split()[1]) for line in granted) == 10
    assert seen and max(seen) <= 100_000_000
    totals = store.totals()
    assert (totals.entry_count, totals.total_nanos) == (10, 100_000_000)
    assert sum(totals.by_user.get(user, 0) for user in users) == 100_000_000
    assert sum(store.usage(user, [daily], now=time.time()).reserved_nanos
               for user in users) == 0
    store.close()
