"""RedisStore on a Redis Cluster: the whole ledger in one hash slot, reached from a URL or a
cluster client (sync or asyncio), so every scope's check stays one atomic script."""

from __future__ import annotations

import pytest
import redis.asyncio.cluster
import redis.cluster

from cascadeflow import BudgetConfig, CostTracker, Scope
from cascadeflow.storage import RedisStore
from tests._redis_cluster import RedisClusterNodes

pytestmark = pytest.mark.redis


def test_every_key_of_the_ledger_lives_in_one_slot_whatever_the_tenant(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    store = RedisStore(redis_cluster_url)
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.set_budget(Scope.tag("chat"), BudgetConfig(daily=1.0))
    tracker.set_budget(Scope.team("search"), BudgetConfig(daily=1.0))
    for user, org in (("alice", "acme"), ("bob", "globex"), ("carol", None)):
        held = tracker.reserve(user, 0.01, model="gpt-4o", team="search", org=org,
                               tags=["chat"])
        held.settle(0.01, provider="openai", tokens=10)
    tracker.reserve("dave", 0.01, tags=["chat"])  # left open: its lease keys exist too

    client = redis_cluster.client()
    try:
        keys = [key.decode() for key in client.scan_iter(match="{cascadeflow}:*")]
        slots = {client.keyslot(key) for key in keys}
        stray = [key for key in client.scan_iter() if not key.startswith(b"{cascadeflow}:")]
    finally:
        client.close()
    assert len(keys) > 20
    assert slots == {client.keyslot("{cascadeflow}")}
    assert stray == []
    assert store.totals().entry_count == 3
    store.close()


def test_a_store_made_from_a_cluster_client_uses_the_same_ledger(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    client = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    from_client = RedisStore(client)
    from_url = RedisStore(redis_cluster_url)
    CostTracker(store=from_client).add_cost("gpt-4o", "openai", 10, 0.25, user_id="alice")

    assert from_url.totals().total_nanos == 250_000_000
    assert from_client.url == redis_cluster.url
    from_client.close()
    from_url.close()
    client.close()


async def test_an_asyncio_cluster_client_runs_the_async_twins(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    client = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster.url)
    store = RedisStore(client)
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.set_user_budget("alice", BudgetConfig(daily=0.05))  # sync: a client derived from it

    held = await tracker.areserve("alice", 0.04, model="gpt-4o")
    assert not await tracker.acan_afford("alice", 0.02)
    await held.asettle(0.03, provider="openai", tokens=10)

    assert await tracker.acan_afford("alice", 0.02)
    assert RedisStore(redis_cluster_url).totals().total_nanos == 30_000_000
    await store.aclose()
    await client.aclose()


def test_cluster_mode_refuses_a_prefix_with_braces(redis_cluster_url: str) -> None:
    with pytest.raises(ValueError, match="must not contain braces"):
        RedisStore(redis_cluster_url, prefix="{tenant}")
