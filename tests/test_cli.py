"""The `cascadeflow` command: the demo prints its per-user report from a real SQLite ledger."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cascadeflow.cli import main


def test_demo_prints_a_row_per_user_and_writes_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--requests", "120"]) == 0
    out = capsys.readouterr().out
    for user in ("ana", "bo", "chen", "dara", "eli", "fay"):
        assert user in out
    assert "blocked" in out and "degraded" in out and "abandoned" in out
    assert "through LiteLLM" in out
    assert "retry cost" in out and "cut by budget" in out
    assert "equals the ledger's" in out and "l0_completion" in out
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM entries").fetchone()
        outcomes = {row[0] for row in connection.execute(
            "SELECT json_extract(metadata, '$.l0_outcome') FROM entries")}
    assert count > 0
    # Part of the traffic went through l0_completion: guardrail and rate-limit retries were
    # billed, and a long answer was cut by the budget guard.
    assert {"completed", "retried", "budget"} <= outcomes


def test_demo_rejects_a_non_positive_request_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--db", str(tmp_path / "x.db"), "--requests", "0"]) == 2
    assert "--requests" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run([sys.executable, "-m", "cascadeflow", "--help"], capture_output=True,
                          text=True, check=True)
    assert "demo" in done.stdout and "sync-pricing" in done.stdout
