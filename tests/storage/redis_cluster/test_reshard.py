"""A hash slot of the ledger is resharded to another master while reservations run.

Redis moves a slot key by key (``MIGRATE``) and answers ``ASK`` or ``TRYAGAIN`` for what it is
moving; once the slot is assigned to its new master, ``MOVED``. Every call the ledger makes
declares every key it touches, so Redis refuses a call whose keys are split between the two
masters instead of running it on half of them: each call in flight either completes or fails
clearly (StoreUnavailableError), nothing is applied twice, and the budget is never passed.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
import redis

from cascadeflow import StoreUnavailableError
from cascadeflow._entry import CostEntry
from cascadeflow.storage import CounterAdd, CounterLimit, PeriodKey, PeriodLimit, RedisStore
from tests._redis_cluster import SHARED_SLOT_KEY, RedisClusterNodes, bucket_key_of

pytestmark = pytest.mark.redis

CENT = 10_000_000
#: A key of the slot of alice's bucket (her limits, leases and entries).
ALICE_SLOT_KEY = bucket_key_of("alice")
LIMIT = 60  # cents: the loop reaches the limit around the time the slot moves


def _entry(rid: str) -> CostEntry:
    return CostEntry(id=rid, timestamp=datetime.now(timezone.utc), model="gpt-4o-mini",
                     provider="openai", tokens=100, cost=0.01, user_id="alice")


async def reserve_loop(store: RedisStore, keys: list[PeriodKey], now: float,
                       outcomes: dict[str, int], settled: list[str],
                       moving: threading.Event, moved_done: threading.Event) -> None:
    """Reserve one cent at a time until the slot has moved; half are settled, half released
    (so grants go on after the limit is first reached)."""
    limits = [PeriodLimit(key, LIMIT * CENT) for key in keys]
    team = CounterLimit("team:search", keys[0], limit=LIMIT * CENT, hold=CENT)
    adds = [CounterAdd("team:search", keys[0], CENT)]

    async def until_answered(call: Any, *args: Any, **kwargs: Any) -> Any:
        while True:  # a settle/release is retried with the same id: it counts once
            try:
                return await call(*args, **kwargs)
            except StoreUnavailableError:
                outcomes["end failed clearly"] += 1
                await asyncio.sleep(0.01)

    async def one_task(index: int) -> None:
        count = 0
        while not moved_done.is_set() or count < 20:
            count += 1
            rid = uuid.uuid4().hex
            if moving.is_set() and not moved_done.is_set():
                outcomes["reserved while moving"] += 1
            try:
                outcome = await store.areserve(rid, "alice", CENT, limits, now=now,
                                               expires_at=now + 600, counters=[team])
            except StoreUnavailableError:
                outcomes["reserve failed clearly"] += 1
                continue
            if not outcome.granted:
                outcomes["refused"] += 1
            elif count % 2:
                await until_answered(store.asettle, rid, _entry(rid), CENT, keys, counters=adds)
                settled.append(rid)
            else:
                await until_answered(store.arelease, rid)
            await asyncio.sleep(0.005)

    await asyncio.gather(*(one_task(index) for index in range(8)))
    await store.aclose()


@pytest.mark.parametrize("moving_key", [ALICE_SLOT_KEY, SHARED_SLOT_KEY],
                         ids=["user-bucket", "shared-slot"])
def test_resharding_a_slot_mid_loop_never_overspends_or_applies_twice(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str, moving_key: str,
) -> None:
    """Each reservation is two steps (alice's bucket, then the team in the shared slot);
    either slot moves while they run."""
    store = RedisStore(redis_cluster_url)
    store.put_setting("probe", "1")  # the ledger's slot has keys before the move starts
    now = time.time()
    keys = [PeriodKey("daily", "daily:reshard", now + 86400), PeriodKey("total", "total", None)]
    client = redis_cluster.client()
    slot = client.keyslot(moving_key)
    client.close()
    source = redis_cluster.master_of(moving_key)
    target = next(node for node in redis_cluster.masters() if node is not source)

    outcomes = {"refused": 0, "reserve failed clearly": 0, "end failed clearly": 0,
                "reserved while moving": 0}
    settled: list[str] = []
    moving, moved_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run_loop() -> None:
        try:
            asyncio.run(reserve_loop(store, keys, now, outcomes, settled, moving, moved_done))
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    loop = threading.Thread(target=run_loop)
    loop.start()
    deadline = time.monotonic() + 30
    while len(settled) < 20 and loop.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)  # the loop is under way: leases, counters, history in the slot
    moving.set()
    try:
        moved = redis_cluster.move_slot(slot, source, target, keys_per_step=2, pause=0.02)
    finally:
        moved_done.set()
    loop.join(timeout=120)
    assert not loop.is_alive()
    assert not errors, [f"{type(e).__name__}: {e}" for e in errors]

    assert moved > 0 and outcomes["reserved while moving"] > 0  # the two did overlap
    assert redis_cluster.master_of(moving_key).port == target.port
    entries = [entry.id for entry in store.entries(user_id="alice")]
    assert len(entries) == len(set(entries))  # nothing applied twice
    assert sorted(entries) == sorted(settled)  # every acknowledged settle is there
    assert len(settled) <= LIMIT and outcomes["refused"] > 0  # the limit held
    totals = store.totals()
    assert totals.total_nanos == len(settled) * CENT
    usage = store.usage("alice", keys, now=now)
    assert usage.spent_nanos[keys[0].key] == len(settled) * CENT
    assert usage.reserved_nanos == 0
    team = store.read_counters([("team:search", keys[0])], ["team:search"], now=now)
    assert team.values[("team:search", keys[0].key)] == len(settled) * CENT
    assert team.held["team:search"] == 0
    store.close()


def test_after_a_reshard_a_store_follows_moved_to_the_new_master(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    store = RedisStore(redis_cluster_url)
    now = time.time()
    keys = [PeriodKey("total", "total", None)]
    assert store.reserve("r1", "alice", CENT, [PeriodLimit(keys[0], 10 * CENT)], now=now,
                         expires_at=now + 60).granted
    client = redis_cluster.client()
    slot = client.keyslot(ALICE_SLOT_KEY)
    client.close()
    source = redis_cluster.master_of(ALICE_SLOT_KEY)
    target = next(node for node in redis_cluster.masters() if node is not source)
    assert redis_cluster.move_slot(slot, source, target) > 0
    # The store's clients still map the slot to the old master: MOVED sends them on.
    assert store.settle("r1", CostEntry(id="r1", timestamp=datetime.now(timezone.utc),
                                        model="m", provider="p", tokens=1, cost=0.01,
                                        user_id="alice"), CENT, keys)
    assert store.usage("alice", keys, now=now).spent_nanos["total"] == CENT
    plain = redis.Redis(port=target.port)
    try:
        assert plain.execute_command("CLUSTER COUNTKEYSINSLOT", slot) > 0
    finally:
        plain.close()
    store.close()
