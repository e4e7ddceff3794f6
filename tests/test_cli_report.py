"""``cascadeflow report`` and ``cascadeflow export`` on a generated SQLite ledger."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cascadeflow import BudgetConfig, CostTracker
from cascadeflow.cli import main
from cascadeflow.storage import SQLiteStore


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """25 days of spend for three users (alice heading past her monthly $300) up to now."""
    path = tmp_path / "ledger.db"
    store = SQLiteStore(path)
    now = datetime.now(timezone.utc)
    moment = [now - timedelta(days=25)]
    tracker = CostTracker(store=store, clock=lambda: moment[0])
    tracker.set_user_budget("alice", BudgetConfig(monthly=300.0))
    tracker.set_budget("team:search", BudgetConfig(monthly=900.0))
    tracker.set_user_team("alice", "search")
    for day in range(25, 0, -1):
        moment[0] = now - timedelta(days=day)
        tracker.add_cost("gpt-4o", "openai", 100, 14.0, user_id="alice", user_tier="pro")
        tracker.add_cost("gpt-4o-mini", "openai", 100, 1.0, user_id="bob", user_tier="free")
        if day == 1:
            tracker.add_cost("gpt-4o", "openai", 100, 40.0, user_id="carol", user_tier="free")
        else:
            tracker.add_cost("gpt-4o-mini", "openai", 100, 0.5, user_id="carol",
                             user_tier="free")
    store.close()
    return path


def test_report_json_per_user(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(ledger), "--format", "json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"alice", "bob", "carol"}
    alice = rows["alice"]
    assert alice["limit"] == 300.0
    assert alice["remaining"] == pytest.approx(max(0.0, 300.0 - alice["month"]))
    assert alice["lower"] <= alice["projected"] <= alice["upper"]
    assert alice["runway_days"] is None or alice["runway_days"] >= 0
    assert rows["carol"]["anomalies"] == 1
    assert rows["bob"]["limit"] is None and rows["bob"]["anomalies"] == 0


def test_report_table_csv_and_groupings(ledger: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(ledger)]) == 0
    table = capsys.readouterr().out
    assert "alice" in table and "period-end forecast" in table
    assert main(["report", "--db", str(ledger), "--tier", "--format", "csv"]) == 0
    tiers = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(row["name"] for row in tiers) == ["free", "pro"]
    assert main(["report", "--db", str(ledger), "--scope", "--format", "json"]) == 0
    scopes = json.loads(capsys.readouterr().out)
    assert [(row["name"], row["limit"]) for row in scopes] == [("team:search", 900.0)]
    assert main(["report", "--db", str(ledger), "--model", "--format", "json",
                 "--since", "2000-01-01"]) == 0
    models = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert models["gpt-4o"]["since"] == pytest.approx(25 * 14.0 + 40.0)


def test_report_chart_has_the_band_and_the_limit(ledger: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.image

    from cascadeflow._cli_chart import BAND_COLOR, LIMIT_COLOR

    chart = tmp_path / "spend.png"
    assert main(["report", "--db", str(ledger), "--only", "alice", "--chart", str(chart)]) == 0
    pixels = matplotlib.image.imread(str(chart))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 500
    colors = {tuple(int(channel * 255 + 0.5) for channel in pixel[:3])
              for row in pixels[::2] for pixel in row[::2]}

    def rgb(hex_color: str) -> tuple[int, ...]:
        return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))

    assert rgb(BAND_COLOR) in colors
    assert rgb(LIMIT_COLOR) in colors


def test_bad_report_input_is_a_clear_error(ledger: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(ledger), "--since", "yesterday"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "csv", "sqlite"])
def test_export_writes_every_entry(ledger: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"entries.{fmt}"
    assert main(["export", "--db", str(ledger), "--format", fmt, "--out", str(out)]) == 0
    if fmt == "json":
        assert len(json.loads(out.read_text())["entries"]) == 75
    elif fmt == "csv":
        assert len(list(csv.DictReader(out.open()))) == 75
    else:
        with sqlite3.connect(out) as connection:
            assert connection.execute("SELECT count(*) FROM cost_entries").fetchone() == (75,)


@pytest.mark.redis
def test_report_on_redis(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from cascadeflow.storage import RedisStore

    store = RedisStore(redis_url)
    now = datetime.now(timezone.utc)
    moment = [now - timedelta(days=10)]
    tracker = CostTracker(store=store, clock=lambda: moment[0])
    tracker.set_user_budget("dora", BudgetConfig(monthly=50.0))
    for day in range(10, 0, -1):
        moment[0] = now - timedelta(days=day)
        tracker.add_cost("gpt-4o", "openai", 100, 2.0, user_id="dora")
    store.close()
    assert main(["report", "--redis", redis_url, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["limit"]) == ("dora", 50.0)
    first = now.date().replace(day=1)
    in_month = sum(2.0 for day in range(1, 11) if (now - timedelta(days=day)).date() >= first)
    assert row["month"] == pytest.approx(in_month)
    assert row["projected"] >= row["month"]


def test_chart_without_matplotlib_says_how_to_get_it(
        ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert main(["report", "--db", str(ledger), "--chart", str(tmp_path / "x.png")]) == 2
    assert "cascadeflow[plot]" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
