"""Async calls on a cluster are batched per master: one pipeline per batch, one script call
per hash slot in it, each slot's call answered (or failed) on its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.cluster
import redis.exceptions

from cascadeflow import BudgetConfig, CostTracker
from cascadeflow.storage import RedisStore
from cascadeflow.storage._redis_batch import LEDGER_SHA, ScriptBatcher, as_outage
from cascadeflow.storage._redis_clients import RedisClients
from cascadeflow.storage._redis_layout import PeriodKey, RedisLayout
from cascadeflow.storage._redis_outage import RedisRetryPolicy
from tests._redis_cluster import RedisClusterNodes

pytestmark = pytest.mark.redis

DAY = PeriodKey("daily", "daily:2026-12-03", None)


def _buckets_by_master(url: str) -> dict[str, list[str]]:
    """The cluster's 16 bucket layouts' prefixes, grouped by the master serving each."""
    client = redis.cluster.RedisCluster.from_url(url)
    found: dict[str, list[str]] = {}
    for number in range(16):
        prefix = f"{{cascadeflow#{number:02d}}}"
        found.setdefault(client.get_node_from_key(prefix).name, []).append(prefix)
    client.close()
    return found


def _same_master_pair(url: str) -> tuple[str, str]:
    return next(tuple(prefixes[:2]) for prefixes in _buckets_by_master(url).values()
                if len(prefixes) >= 2)  # 16 buckets on 3 masters: one has two or more


async def _usage_on(batcher: ScriptBatcher, prefix: str, user: str) -> list[int]:
    layout = RedisLayout(prefix=prefix)
    keys, args = layout.usage_call(user, [DAY], 0.0)
    result: list[int] = await batcher.call("usage", keys, args, route_key=layout.settings_version)
    return result


async def _batcher_on_one_master(
    url: str,
) -> tuple[redis.asyncio.cluster.RedisCluster, ScriptBatcher, str, str]:
    """A batcher (one batch in flight) with its slot map loaded, and two bucket prefixes of
    one master: calls queued behind a first one travel together."""
    first, second = _same_master_pair(url)
    client = redis.asyncio.cluster.RedisCluster.from_url(url)
    batcher = ScriptBatcher(client, f"{first}:settings_version", in_flight=1, declare=True)
    await _usage_on(batcher, first, "alice")
    return client, batcher, first, second


async def test_a_batch_of_several_slots_of_one_master_is_one_pipeline_answered_per_call(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    first, second = _same_master_pair(redis_cluster.url)
    seed = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    seed.set(RedisLayout(prefix=first).spent("alice", DAY.key), 7)
    seed.set(RedisLayout(prefix=second).spent("bob", DAY.key), 9)
    seed.close()
    client = redis.asyncio.cluster.RedisCluster.from_url(redis_cluster.url)
    pipelines: list[int] = []
    real_pipeline = client.pipeline

    def counting_pipeline(*args: object, **kwargs: object) -> object:
        pipelines.append(1)
        return real_pipeline(*args, **kwargs)  # type: ignore[arg-type]

    client.pipeline = counting_pipeline  # type: ignore[method-assign]
    batcher = ScriptBatcher(client, f"{first}:settings_version", in_flight=1, declare=True)
    await _usage_on(batcher, first, "alice")  # loads the slot map; the next batch queues
    answers = await asyncio.gather(*(
        _usage_on(batcher, prefix, user)
        for prefix, user in [(first, "alice"), (second, "bob"), (first, "carol")] * 3))

    assert answers == [[0, 7], [0, 9], [0, 0]] * 3  # [reserved, spent] each
    assert len(pipelines) == 1  # the first call went alone; the nine queued behind it
    await client.aclose()


async def test_a_slot_whose_call_fails_fails_alone_in_its_pipeline(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    client, batcher, first, second = await _batcher_on_one_master(redis_cluster.url)
    # bob's keys are declared under the route of a slot they do not hash to: Redis refuses
    # that one call (CROSSSLOT) and runs the other slot's.
    bob = RedisLayout(prefix=second)
    keys, args = bob.usage_call("bob", [DAY], 0.0)
    crossed = batcher.call("usage", keys, args, route_key=f"{first}:x:settings_version")
    answers = await asyncio.gather(_usage_on(batcher, first, "alice"), crossed,
                                   _usage_on(batcher, second, "bob"), return_exceptions=True)

    assert answers[0] == [0, 0] and answers[2] == [0, 0]
    assert isinstance(answers[1], redis.exceptions.ResponseError)
    assert "slot" in str(answers[1]).lower()
    await client.aclose()


async def test_a_master_that_lost_the_script_gets_it_loaded_inside_a_pipeline(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    client, batcher, first, second = await _batcher_on_one_master(redis_cluster.url)
    await client.execute_command("SCRIPT FLUSH",
                                 target_nodes=redis.asyncio.cluster.RedisCluster.PRIMARIES)
    # The three queue together: one pipeline over two slots, each call answered NOSCRIPT.
    answers = await asyncio.gather(_usage_on(batcher, first, "alice"),
                                   _usage_on(batcher, first, "dan"),
                                   _usage_on(batcher, second, "bob"))

    assert answers == [[0, 0]] * 3
    await client.aclose()


def _flushing_before_each_evalsha(execute: Any, flush: Any) -> Any:
    """``execute`` on a cluster whose masters lose the script cache before every EVALSHA,
    as a master that takes over a slot between a script load and the call has never seen
    the load (script caches are not replicated)."""
    def wrapped(*args: Any, **options: Any) -> Any:
        if args[0] == "EVALSHA":
            flush()
        return execute(*args, **options)
    return wrapped


async def test_a_master_without_the_script_runs_the_call_from_its_text_asyncio(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    client, batcher, first, second = await _batcher_on_one_master(redis_cluster.url)
    flusher = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    real = client.execute_command

    async def execute(*args: Any, **options: Any) -> Any:
        if args[0] == "EVALSHA":
            flusher.script_flush()  # every master: a load made now would not help
        return await real(*args, **options)

    client.execute_command = execute  # type: ignore[method-assign]
    answers = [await _usage_on(batcher, prefix, "alice") for prefix in (first, second)]

    assert answers == [[0, 0], [0, 0]]
    client.execute_command = real  # type: ignore[method-assign]
    cached = await client.execute_command(  # EVAL left the script where it ran
        "SCRIPT EXISTS", LEDGER_SHA, target_nodes=client.get_node_from_key(first))
    assert cached == [True]
    flusher.close()
    await client.aclose()


def test_a_master_without_the_script_runs_the_call_from_its_text_sync(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    store = RedisStore(redis_cluster_url)
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0))
    flusher = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    client = store._clients.sync()
    client.execute_command = _flushing_before_each_evalsha(  # type: ignore[method-assign]
        client.execute_command, flusher.script_flush)
    for _ in range(2):
        tracker.reserve("alice", 0.01, model="gpt-4o").settle(0.01, provider="openai",
                                                              tokens=10)

    assert store.totals().total_nanos == 20_000_000  # each settle counted once
    flusher.close()
    store.close()


async def test_the_store_keeps_one_batcher_per_master_once_the_slot_map_is_known(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    by_master = _buckets_by_master(redis_cluster.url)
    clients = RedisClients(redis_cluster_url, RedisRetryPolicy(),
                           route_key="{cascadeflow}:settings_version")
    first = clients.batcher()
    await _usage_on(first, "{cascadeflow}", "alice")  # the client loads its slot map

    for prefixes in by_master.values():
        batchers = {id(clients.batcher(f"{prefix}:settings_version")) for prefix in prefixes}
        assert len(batchers) == 1
    per_master = {id(clients.batcher(f"{prefixes[0]}:settings_version"))
                  for prefixes in by_master.values()}
    assert len(per_master) == len(by_master) == 3
    # The slot asked for before the map was known joins its master's batcher now.
    shared_master = redis.cluster.RedisCluster.from_url(redis_cluster.url)
    name = shared_master.get_node_from_key("{cascadeflow}").name
    shared_master.close()
    assert clients.batcher() is not first
    assert clients.batcher() is clients.batcher(f"{by_master[name][0]}:settings_version")
    await clients.aclose()


async def test_a_connection_closed_under_a_call_is_answered_as_a_lost_connection() -> None:
    # During a failover the asyncio cluster client closes a node's connections, also one a
    # concurrent call is using: redis-py then fails inside the call with an AttributeError
    # (the writer is gone), as this connection, closed before the call writes, does.
    connection = redis.asyncio.connection.Connection(host="127.0.0.1", port=1)
    with pytest.raises(AttributeError) as raised:
        await connection._send_packed_command([b"*1\r\n$4\r\nPING\r\n"])
    lost = as_outage(raised.value)
    assert isinstance(lost, redis.exceptions.ConnectionError)
    assert lost.__cause__ is raised.value

    try:
        raise AttributeError("a bug of ours, not a lost connection")
    except AttributeError as ours:
        assert as_outage(ours) is ours
