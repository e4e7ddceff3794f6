"""Budget alerts fire exactly once per threshold and period key across processes sharing a
ledger (one SQLite file, one Redis), whoever records the spend that crosses them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from cascadeflow import BudgetConfig, CostTracker
from tests.storage.budget_worker import open_store

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("alert_worker.py")


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'ledger.db'}"
    return f"redis:{request.getfixturevalue('redis_url')}"


def test_each_threshold_alerts_once_across_two_processes(ledger: str) -> None:
    setup = CostTracker(store=open_store(ledger))
    setup.set_user_budget("alice", BudgetConfig(daily=10.0, monthly=1000.0))
    workers = [subprocess.Popen(
        [sys.executable, str(WORKER), ledger, "70", "0.1"], cwd=ROOT, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE) for _ in range(2)]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        lines: list[str] = []
        for worker in workers:
            output, _ = worker.communicate(timeout=120)
            assert output.rstrip().endswith("done")
            lines += [line for line in output.splitlines() if line.startswith("alert ")]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    day = setup.period_keys()[0].key
    # $14 in all against a $10 daily limit: every threshold once, none twice.
    assert Counter(lines) == Counter(
        f"alert threshold user:alice {day} {threshold}" for threshold in (0.5, 0.8, 0.95, 1.0))
    assert setup.daily_spend("alice", days=1)[0][1] == pytest.approx(14.0)
