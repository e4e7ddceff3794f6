"""Exports of the ledger's entries to JSON, CSV and SQLite files."""

from __future__ import annotations

import csv
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from cascadeflow._entry import CostEntry

COLUMNS = ("id", "timestamp", "user_id", "user_tier", "model", "provider", "tokens",
           "prompt_tokens", "completion_tokens", "cost", "query_id", "metadata")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _row(entry: CostEntry) -> dict[str, Any]:
    row = entry.to_dict()
    row["metadata"] = orjson.dumps(row["metadata"], default=str,
                                   option=orjson.OPT_SORT_KEYS).decode()
    return row


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def export_json(entries: Sequence[CostEntry], summary: dict[str, Any], path: Path) -> None:
    """Write ``{"summary": ..., "entries": [...]}``; metadata stays a JSON object."""
    payload = {"summary": summary, "entries": [entry.to_dict() for entry in entries]}
    _atomic_write(path, orjson.dumps(payload, default=str, option=orjson.OPT_INDENT_2))


def neutralise_cell(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with ``'``; numbers pass through."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def export_csv(entries: Sequence[CostEntry], path: Path) -> None:
    """Write one row per entry with every field; formula-like text cells are neutralised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for entry in entries:
            writer.writerow({k: neutralise_cell(v) for k, v in _row(entry).items()})
    os.replace(tmp, path)


def export_sqlite(entries: Sequence[CostEntry], path: Path) -> None:
    """Upsert entries into ``cost_entries`` keyed by id: exporting twice leaves one row each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS cost_entries (id TEXT PRIMARY KEY, timestamp TEXT, "
                "user_id TEXT, user_tier TEXT, model TEXT, provider TEXT, tokens INTEGER, "
                "prompt_tokens INTEGER, completion_tokens INTEGER, cost REAL, query_id TEXT, "
                "metadata TEXT)"
            )
            placeholders = ", ".join("?" for _ in COLUMNS)
            connection.executemany(
                f"INSERT OR REPLACE INTO cost_entries ({', '.join(COLUMNS)}) "
                f"VALUES ({placeholders})",
                ([_row(entry)[c] for c in COLUMNS] for entry in entries),
            )
    finally:
        connection.close()
