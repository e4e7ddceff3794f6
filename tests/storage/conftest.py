"""The ``store`` fixture: every contract test runs once per kind of ledger store.

To add a kind, write a fixture that yields a fresh, empty store and name it in
``STORE_FIXTURES``; the fixture may use others (``redis_store`` uses ``redis_url``).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cascadeflow.storage import LedgerStore, MemoryStore, SQLiteStore

#: kind of store -> name of the fixture that makes a fresh one.
STORE_FIXTURES: dict[str, str] = {
    "memory": "memory_store",
    "sqlite": "sqlite_store",
    "redis": "redis_store",
    "postgres": "postgres_store",
    "redis-cluster": "redis_cluster_store",
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


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[LedgerStore]:
    """A RedisStore on the session's real redis-server, its database flushed for this test."""
    from cascadeflow.storage import RedisStore

    store = RedisStore(redis_url)
    yield store
    store.close()


@pytest.fixture
def redis_cluster_store(redis_cluster_url: str) -> Iterator[LedgerStore]:
    """A RedisStore on the session's 3-master Redis Cluster, flushed for this test."""
    from cascadeflow.storage import RedisStore

    store = RedisStore(redis_cluster_url)
    yield store
    store.close()


@pytest.fixture
def postgres_store(postgres_dsn: str) -> Iterator[LedgerStore]:
    """A PostgresStore on the session's real PostgreSQL server, its tables emptied for this test."""
    from cascadeflow.storage import PostgresStore

    store = PostgresStore(postgres_dsn, max_connections=8)
    yield store
    store.close()


def _marks(kind: str) -> list[pytest.MarkDecorator]:
    if kind.startswith("redis"):
        return [pytest.mark.redis]
    return [pytest.mark.postgres] if kind == "postgres" else []


@pytest.fixture(params=[pytest.param(kind, marks=_marks(kind)) for kind in STORE_FIXTURES])
def store(request: pytest.FixtureRequest) -> LedgerStore:
    made = request.getfixturevalue(STORE_FIXTURES[request.param])
    assert isinstance(made, LedgerStore)
    return made


ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("sqlite_worker.py")


@pytest.fixture
def start_script() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start a worker script (path, args) in its own process, stdin and stdout piped, with
    the repository on PYTHONPATH; whatever is still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(script: Path, *args: str) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        process = subprocess.Popen(
            [sys.executable, str(script), *args], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def start_worker(
    start_script: Callable[..., subprocess.Popen[str]],
) -> Callable[..., subprocess.Popen[str]]:
    """Start ``sqlite_worker.py`` in its own process; whatever is still running is killed."""
    return functools.partial(start_script, WORKER)


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Poll a condition (bounded): a change made by another process shows up here."""

    def wait(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
        tick = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if condition():
                return
            tick.wait(0.01)
        raise AssertionError("condition not met before the timeout")

    return wait
