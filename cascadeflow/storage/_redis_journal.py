"""The fail-open journal: writes Redis could not take, kept for replay when it is back.

In memory by default; with a file path, in a small SQLite file (committed before the write
is acknowledged), so a process that dies during an outage leaves its writes for the next
process to replay. Replays are idempotent by entry id, so replaying twice counts once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(slots=True, eq=False)
class JournalItem:
    """One kept write: the ledger script operation and its arguments."""

    script: str
    keys: list[str]
    args: list[Any]
    entry_id: str | None
    row: int | None = None


class OutageJournal:
    """Writes kept during an outage, oldest first; thread-safe."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._items: list[JournalItem] = []
        self._ids: set[str] = set()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = sqlite3.connect(os.fspath(path), isolation_level=None,
                                       check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS journal (row INTEGER PRIMARY KEY, script TEXT, "
                "keys TEXT, args TEXT, entry_id TEXT)"
            )
            for row, script, keys, args, entry_id in self._db.execute(
                "SELECT row, script, keys, args, entry_id FROM journal ORDER BY row"
            ):
                self._items.append(JournalItem(script, orjson.loads(keys), orjson.loads(args),
                                               entry_id, row))
                if entry_id is not None:
                    self._ids.add(entry_id)

    def add(self, script: str, keys: list[str], args: list[Any],
            entry_id: str | None = None) -> bool:
        """Keep a write; False when an entry with this id is kept already."""
        with self._lock:
            if entry_id is not None and entry_id in self._ids:
                return False
            item = JournalItem(script, keys, args, entry_id)
            if self._db is not None:
                cursor = self._db.execute(
                    "INSERT INTO journal (script, keys, args, entry_id) VALUES (?, ?, ?, ?)",
                    (script, orjson.dumps(keys).decode(), orjson.dumps(args).decode(), entry_id),
                )
                item.row = cursor.lastrowid
            if entry_id is not None:
                self._ids.add(entry_id)
            self._items.append(item)
            return True

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[JournalItem]:
        """A snapshot of the kept writes, oldest first."""
        with self._lock:
            return list(self._items)

    def applied(self, item: JournalItem) -> None:
        """Forget a write that Redis has now taken."""
        with self._lock:
            if not any(kept is item for kept in self._items):
                return  # another thread replayed it first
            self._items = [kept for kept in self._items if kept is not item]
            if item.entry_id is not None:
                self._ids.discard(item.entry_id)
            if self._db is not None and item.row is not None:
                self._db.execute("DELETE FROM journal WHERE row = ?", (item.row,))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
