"""Fixtures for the Redis store's tests: stores on a real redis-server, period keys, workers.

``redis_server`` and ``redis_url`` come from the ``tests._redis_server`` plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from cascadeflow._entry import CostEntry
from cascadeflow.storage._base import PeriodKey, PeriodLimit
from cascadeflow.storage._redis import RedisStore
from cascadeflow.storage._redis_outage import RedisRetryPolicy
from tests._redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("_worker.py")

#: No waiting between tries and no probe cool-down, so outage tests run in milliseconds.
FAST = RedisRetryPolicy(attempts=2, initial_wait=0.0, max_wait=0.0, probe_interval=0.0,
                        connect_timeout=0.5, socket_timeout=2.0)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc).timestamp()
DAY = PeriodKey("daily", "daily:2026-11-24", NOW + 14 * 3600)
TOTAL = PeriodKey("total", "total", None)
PERIODS = (DAY, TOTAL)


def limits(daily: int | None = None, total: int | None = None) -> list[PeriodLimit]:
    out = []
    if daily is not None:
        out.append(PeriodLimit(DAY, daily))
    if total is not None:
        out.append(PeriodLimit(TOTAL, total))
    return out


def entry(entry_id: str, *, user: str | None = "u1", cost_nanos: int = 100,
          model: str = "gpt-4o-mini", provider: str = "openai", tier: str | None = None,
          at: float = NOW) -> CostEntry:
    return CostEntry(
        id=entry_id, timestamp=datetime.fromtimestamp(at, timezone.utc), model=model,
        provider=provider, tokens=10, cost=cost_nanos / 1e9, user_id=user, user_tier=tier,
        metadata={"source": "test"},
    )


@pytest.fixture
def make_store(redis_url: str) -> Iterator[Callable[..., RedisStore]]:
    made: list[RedisStore] = []

    def make(url: str = redis_url, **kwargs: object) -> RedisStore:
        kwargs.setdefault("retry", FAST)
        store = RedisStore(url, **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., RedisStore]) -> RedisStore:
    return make_store()


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server of this test's own, which the test may stop and start again."""
    with RedisServer() as server:
        yield server


def spawn_worker(*args: str) -> subprocess.Popen[str]:
    """Start ``_worker.py`` in a new Python process (stdout: one JSON line per event)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=str(ROOT))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test here runs against a real redis-server: `-m "not redis"` leaves them out.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.redis)
