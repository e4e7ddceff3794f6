"""The ``store`` fixture: every contract test runs once per kind of ledger store.

To add a kind, write a fixture that yields a fresh, empty store and name it in
``STORE_FIXTURES`` (e.g. ``"redis": "redis_contract_store"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cascadeflow.storage import LedgerStore, MemoryStore, SQLiteStore

#: kind of store -> name of the fixture that makes a fresh one.
STORE_FIXTURES: dict[str, str] = {
    "memory": "memory_store",
    "sqlite": "sqlite_store",
}


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def sqlite_store(ledger_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(ledger_path)
    yield store
    store.close()


@pytest.fixture(params=list(STORE_FIXTURES))
def store(request: pytest.FixtureRequest) -> LedgerStore:
    made = request.getfixturevalue(STORE_FIXTURES[request.param])
    assert isinstance(made, LedgerStore)
    return made
