"""The Redis store against a local redis-server that this benchmark starts and stops.

Reserve+settle pairs per second from one process (asyncio client, 32 tasks), through the
tracker and through the store alone, and how many Redis round trips ``can_afford`` costs
(counted by the client: every send of a command or a pipeline is one round trip).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from benchmarks._report import figure, header
from benchmarks._store_load import store_pairs, tracker_pairs

TASKS = 32
PAIRS_PER_TASK = 150
ROUNDS = 5
TARGET_PAIRS = 5_000.0


def _server() -> Any:
    from tests._redis_server import RedisServer

    return RedisServer().start()


def _redis_cpu(url: str) -> float:
    import redis

    client = redis.Redis.from_url(url)
    info = client.info("cpu")
    client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _cpu_per_pair(url: str) -> tuple[float, float]:
    """Client and Redis CPU µs per tracker pair: what the rate is made of, whatever the load."""
    redis_before, client_before = _redis_cpu(url), time.process_time()
    asyncio.run(_tracker_pairs(url))
    pairs = TASKS * PAIRS_PER_TASK
    return ((time.process_time() - client_before) / pairs * 1e6,
            (_redis_cpu(url) - redis_before) / pairs * 1e6)


async def _tracker_pairs(url: str) -> float:
    from cascadeflow.storage import RedisStore

    return await tracker_pairs(RedisStore(url), tasks=TASKS, pairs_per_task=PAIRS_PER_TASK)


async def _store_pairs(url: str) -> float:
    from cascadeflow.storage import PeriodKey, RedisStore

    now = time.time()
    keys = (PeriodKey("daily", "daily:bench", now + 86400),
            PeriodKey("weekly", "weekly:bench", now + 7 * 86400),
            PeriodKey("monthly", "monthly:bench", now + 30 * 86400),
            PeriodKey("total", "total", None))
    return await store_pairs(RedisStore(url, prefix="bench-store"), keys, tasks=TASKS,
                             pairs_per_task=PAIRS_PER_TASK)


def _counting_clients(url: str) -> tuple[Any, Any, dict[str, int]]:
    """A sync and an asyncio client that count what they send (one send = one round trip)."""
    import redis
    import redis.asyncio
    import redis.asyncio.connection

    sends = {"sync": 0, "async": 0}

    class SyncCounting(redis.connection.Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sends["sync"] += 1
            super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]

    class AsyncCounting(redis.asyncio.connection.Connection):
        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sends["async"] += 1
            await super().send_packed_command(command, check_health)

    sync_client = redis.Redis(connection_pool=redis.ConnectionPool.from_url(
        url, connection_class=SyncCounting))
    async_client = redis.asyncio.Redis(connection_pool=redis.asyncio.ConnectionPool.from_url(
        url, connection_class=AsyncCounting))
    return sync_client, async_client, sends


def _can_afford_round_trips(url: str, calls: int = 500) -> tuple[float, float, float]:
    """Round trips per sync and async ``can_afford`` call, and the sync median latency (µs)."""
    from cascadeflow.storage import RedisStore
    from cascadeflow.telemetry import BudgetConfig, CostTracker

    sync_client, async_client, sends = _counting_clients(url)
    budgets = {"pro": BudgetConfig(daily=5.0, weekly=20.0, monthly=50.0, total=100.0)}
    tracker = CostTracker(user_budgets=budgets, store=RedisStore(sync_client))
    tracker.set_user_tier("u1", "pro")
    tracker.add_cost("gpt-4o-mini", "openai", 300, 0.01, user_id="u1")
    tracker.can_afford("u1", 0.01)  # warm: connection made, script loaded
    before = sends["sync"]
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        tracker.can_afford("u1", 0.01)
        latencies.append(time.perf_counter() - start)
    sync_trips = (sends["sync"] - before) / calls
    async_tracker = CostTracker(user_budgets=budgets, store=RedisStore(async_client))

    async def async_calls() -> float:
        await async_tracker.acan_afford("u1", 0.01, user_tier="pro")  # warm
        before = sends["async"]
        for _ in range(calls):
            await async_tracker.acan_afford("u1", 0.01, user_tier="pro")
        await async_client.aclose()
        return (sends["async"] - before) / calls

    async_trips = asyncio.run(async_calls())
    sync_client.close()
    return sync_trips, async_trips, statistics.median(latencies) * 1e6


def main() -> None:
    header("Redis store: shared budgets (local redis-server)")
    try:
        server = _server()
    except RuntimeError as error:
        print(f"  skipped: {error}")
        return
    try:
        tracker_rates = [asyncio.run(_tracker_pairs(server.url)) for _ in range(ROUNDS)]
        store_rates = [asyncio.run(_store_pairs(server.url)) for _ in range(ROUNDS)]
        sync_trips, async_trips, latency = _can_afford_round_trips(server.url)
        client_cpu, redis_cpu = _cpu_per_pair(server.url)
    finally:
        server.close()
    best_tracker = max(tracker_rates)
    figure("tracker areserve+asettle pairs/s (32 tasks, best of 5)", best_tracker, "pairs/s",
           ">= 5,000", ok=best_tracker >= TARGET_PAIRS,
           peer=f"median {statistics.median(tracker_rates):,.0f}")
    best_store = max(store_rates)
    figure("store areserve+asettle pairs/s (32 tasks, best of 5)", best_store, "pairs/s",
           ">= 5,000", ok=best_store >= TARGET_PAIRS,
           peer=f"median {statistics.median(store_rates):,.0f}")
    figure("tracker pair: client CPU (this process)", client_cpu, "us/pair", "(info)", ok=True)
    figure("tracker pair: redis-server CPU", redis_cpu, "us/pair", "(info)", ok=True)
    figure("can_afford: Redis round trips per call (sync)", sync_trips, "trips", "<= 1",
           ok=sync_trips <= 1.0)
    figure("acan_afford: Redis round trips per call (async)", async_trips, "trips", "<= 1",
           ok=async_trips <= 1.0)
    figure("can_afford median latency (sync, loopback)", latency, "us", "(info)", ok=True)


if __name__ == "__main__":
    main()
