"""Exports carry every field, round-trip, are idempotent for SQLite and safe for spreadsheets."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from cascadeflow.telemetry import CostTracker


def populated(make_tracker: Callable[..., CostTracker]) -> CostTracker:
    tracker = make_tracker()
    tracker.add_cost("gpt-4o", "openai", 150, 0.0125, query_id="q1", user_id="u1",
                     user_tier="pro", prompt_tokens=100, completion_tokens=50,
                     metadata={"route": "chat", "nested": {"a": [1, 2]}})
    tracker.add_cost("=HYPERLINK(\"http://evil\")", "+cmd", 10, 0.001, user_id="@user",
                     metadata={"note": "-2+3"})
    tracker.add_cost("claude-3-5-haiku", "anthropic", 20, -0.002, user_id="u1")
    return tracker


def test_json_export_round_trips_every_field(
    make_tracker: Callable[..., CostTracker], tmp_path: Path
) -> None:
    tracker = populated(make_tracker)
    path = tmp_path / "ledger.json"
    tracker.export_to_json(path)
    data = json.loads(path.read_text())
    assert data["summary"]["total_entries"] == 3
    exported = data["entries"]
    assert exported == [entry.to_dict() for entry in tracker.entries]
    first = exported[0]
    assert first["user_tier"] == "pro" and first["prompt_tokens"] == 100
    assert first["metadata"] == {"route": "chat", "nested": {"a": [1, 2]}}


def test_csv_export_neutralises_formula_cells(
    make_tracker: Callable[..., CostTracker], tmp_path: Path
) -> None:
    tracker = populated(make_tracker)
    path = tmp_path / "ledger.csv"
    tracker.export_to_csv(path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3
    risky = rows[1]
    assert risky["model"] == "'=HYPERLINK(\"http://evil\")"
    assert risky["provider"] == "'+cmd"
    assert risky["user_id"] == "'@user"
    assert rows[0]["user_tier"] == "pro"
    assert json.loads(rows[0]["metadata"]) == {"nested": {"a": [1, 2]}, "route": "chat"}
    # Numbers stay numbers: a refund's minus sign is not a formula.
    assert float(rows[2]["cost"]) == -0.002


def test_sqlite_export_twice_leaves_one_row_per_entry(
    make_tracker: Callable[..., CostTracker], tmp_path: Path
) -> None:
    tracker = populated(make_tracker)
    path = tmp_path / "export.db"
    tracker.export_to_sqlite(path)
    tracker.export_to_sqlite(path)
    tracker.add_cost("gpt-4o-mini", "openai", 5, 0.0001, user_id="u2")
    tracker.export_to_sqlite(path)
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT id, user_id, user_tier, cost, metadata FROM cost_entries ORDER BY timestamp"
        ).fetchall()
    assert len(rows) == 4
    assert {row[0] for row in rows} == {entry.id for entry in tracker.entries}
    by_id = {row[0]: row for row in rows}
    first = tracker.entries[0]
    assert by_id[first.id][1:4] == ("u1", "pro", 0.0125)
    assert json.loads(by_id[first.id][4]) == first.metadata
