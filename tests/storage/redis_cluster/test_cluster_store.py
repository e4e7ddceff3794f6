"""RedisStore on a Redis Cluster: the whole ledger in one hash slot, reached from a URL or a
cluster client (sync or asyncio), so every scope's check stays one atomic script."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import redis.asyncio.cluster
import redis.cluster
import redis.exceptions

from cascadeflow import BudgetConfig, CostTracker, Scope
from cascadeflow._entry import CostEntry
from cascadeflow.storage import CounterLimit, PeriodKey, PeriodLimit, RedisStore
from cascadeflow.storage._redis_batch import evalsha_sync, pack_declared, unwrap
from tests._redis_cluster import RedisClusterNodes

pytestmark = pytest.mark.redis

CENT = 10_000_000


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


def _lease_with_team_hold(store: RedisStore, rid: str, now: float) -> list[PeriodKey]:
    keys = [PeriodKey("total", "total", None)]
    team = CounterLimit("team:search", keys[0], limit=10 * CENT, hold=CENT)
    assert store.reserve(rid, "alice", CENT, [PeriodLimit(keys[0], 10 * CENT)], now=now,
                         expires_at=now + 60, counters=[team]).granted
    return keys


def _held(store: RedisStore, keys: list[PeriodKey], now: float) -> tuple[int, int]:
    user = store.usage("alice", keys, now=now).reserved_nanos
    team = store.read_counters([], ["team:search"], now=now).held["team:search"]
    return user, team


def test_a_lease_made_by_another_store_is_settled_with_every_key_declared(
    redis_cluster_url: str,
) -> None:
    now = time.time()
    maker, settler = RedisStore(redis_cluster_url), RedisStore(redis_cluster_url)
    keys = _lease_with_team_hold(maker, "r-other", now)
    entry = CostEntry(id="r-other", timestamp=datetime.now(timezone.utc), model="m",
                      provider="p", tokens=1, cost=0.01, user_id="alice")
    # The settler never saw the reservation: it looks up the lease's keys, then declares them.
    assert settler.settle("r-other", entry, CENT, keys)
    assert _held(maker, keys, now) == (0, 0)
    assert maker.usage("alice", keys, now=now).spent_nanos["total"] == CENT
    _lease_with_team_hold(maker, "r-release", now)
    assert settler.release("r-release")
    assert not settler.release("r-release")
    assert _held(maker, keys, now) == (0, 0)
    maker.close()
    settler.close()


async def test_a_lease_made_by_another_store_is_released_from_asyncio(
    redis_cluster_url: str,
) -> None:
    now = time.time()
    maker, releaser = RedisStore(redis_cluster_url), RedisStore(redis_cluster_url)
    keys = _lease_with_team_hold(maker, "r-async", now)
    assert await releaser.arelease("r-async")
    assert not await releaser.arelease("r-async")
    assert (await maker.ausage("alice", keys, now=now)).reserved_nanos == 0
    assert _held(maker, keys, now) == (0, 0)
    await releaser.aclose()
    maker.close()


def test_the_script_changes_nothing_when_a_derived_key_is_not_declared(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    now = time.time()
    store = RedisStore(redis_cluster_url)
    keys = _lease_with_team_hold(store, "r-undeclared", now)
    layout = store.layout
    call_keys, call_args = layout.release_call("r-undeclared")
    client = redis_cluster.client()
    try:
        # The lease's user and holds keys are left out of the declared keys.
        payload, declared = pack_declared([(("release", call_keys, call_args), ())],
                                          layout.settings_version)
        reply = evalsha_sync(client, payload, layout.settings_version, declared)
    finally:
        client.close()
    with pytest.raises(redis.exceptions.ResponseError, match="not declared"):
        unwrap(reply[0])
    assert _held(store, keys, now) == (CENT, CENT)  # the lease is still whole
    assert store.release("r-undeclared")
    store.close()
