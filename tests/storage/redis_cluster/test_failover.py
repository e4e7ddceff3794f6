"""A Redis Cluster master fails over during a reservation loop: no overspend, nothing applied
twice. Each reservation in flight either fails clearly (StoreUnavailableError) or completes."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker, StoreUnavailableError
from cascadeflow.storage import RedisStore
from cascadeflow.telemetry import Reservation
from tests._redis_cluster import RedisClusterNodes, bucket_key_of

pytestmark = pytest.mark.redis

CENT = 10_000_000
#: A key of the slot of alice's bucket (her limits, leases and entries).
ALICE_SLOT_KEY = bucket_key_of("alice")
BUDGET = 3.00  # three hundred one-cent requests: the loop outlasts the failover


def reserve_until_answered(tracker: CostTracker) -> Reservation | None:
    """A reservation, or None when the budget refuses; unavailable answers are retried."""
    while True:
        try:
            return tracker.reserve("alice", 0.01, model="gpt-4o-mini")
        except BudgetExceededError:
            return None
        except StoreUnavailableError:
            continue  # the slot has no master yet: the call failed clearly, nothing held


def settle_until_answered(held: Reservation) -> None:
    while True:
        try:
            held.settle(0.01, provider="openai", tokens=100)
            return
        except StoreUnavailableError:
            continue  # retried with the same entry id: it counts once whatever happened


def run_loop(url: str, fail_over: object) -> tuple[RedisStore, list[str]]:
    """Reserve and settle one cent at a time until the budget refuses; fail over at the 10th."""
    store = RedisStore(url)
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.set_user_budget("alice", BudgetConfig(daily=BUDGET))
    settled: list[str] = []
    while True:
        if len(settled) == 10:
            fail_over()  # type: ignore[operator]
        held = reserve_until_answered(tracker)
        if held is None:
            return store, settled
        settle_until_answered(held)
        settled.append(held.id)


def assert_counted_once_and_never_overspent(store: RedisStore, settled: list[str],
                                            *, lossless: bool) -> None:
    entries = [entry.id for entry in store.entries(user_id="alice")]
    totals = store.totals()
    assert len(entries) == len(set(entries))  # nothing applied twice
    assert set(entries) <= set(settled)
    if lossless:
        assert sorted(entries) == sorted(settled)
    assert totals.entry_count == len(entries)
    assert totals.total_nanos == len(entries) * CENT
    daily = CostTracker(store=store).period_keys()[0]
    usage = store.usage("alice", [daily], now=daily.ends_at - 1 if daily.ends_at else 0.0)
    assert usage.spent_nanos[daily.key] == len(entries) * CENT
    assert len(settled) <= 300 and usage.spent_nanos[daily.key] <= 300 * CENT


def test_a_manual_failover_redirects_the_loop_and_loses_nothing(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    def fail_over() -> None:
        # A coordinated failover: the replica takes over once it has every write.
        replica = redis_cluster.replica_of(redis_cluster.master_of(ALICE_SLOT_KEY))
        client = replica.client()
        try:
            client.execute_command("CLUSTER FAILOVER")
        finally:
            client.close()

    old_master = redis_cluster.master_of(ALICE_SLOT_KEY)
    store, settled = run_loop(redis_cluster_url, fail_over)

    redis_cluster.wait_healthy()
    assert redis_cluster.master_of(ALICE_SLOT_KEY) is not old_master
    assert len(settled) == 300
    assert_counted_once_and_never_overspent(store, settled, lossless=True)
    store.close()


def test_a_master_killed_mid_loop_is_replaced_and_nothing_is_applied_twice(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    master = redis_cluster.master_of(ALICE_SLOT_KEY)

    def fail_over() -> None:
        master.kill()  # kill -9; its replica is promoted after the node timeout (2 s)

    try:
        store, settled = run_loop(redis_cluster_url, fail_over)
        assert redis_cluster.master_of(ALICE_SLOT_KEY) is not master
        # Replication is asynchronous: a settle acknowledged just before the crash may be
        # gone with the old master, but none counts twice and the budget is never passed.
        assert_counted_once_and_never_overspent(store, settled, lossless=False)
        store.close()
    finally:
        master.start()  # it rejoins the session's cluster as the new master's replica
        redis_cluster.wait_healthy()


def _users_sharing_a_master(redis_cluster: RedisClusterNodes, count: int) -> list[str]:
    """Users in ``count`` different buckets served by alice's master (asyncio calls for them
    travel together, one pipeline of per-slot script calls)."""
    master = redis_cluster.master_of(ALICE_SLOT_KEY)
    users: dict[str, str] = {}
    for number in range(1_000):
        user = f"user-{number}"
        bucket = bucket_key_of(user)
        if bucket not in users and redis_cluster.master_of(bucket) is master:
            users[bucket] = user
            if len(users) == count:
                return list(users.values())
    raise AssertionError("too few buckets on one master")


@pytest.mark.parametrize("how", ["manual", "kill"])
async def test_asyncio_batches_of_several_slots_survive_a_failover_of_their_master(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str, how: str,
) -> None:
    users = _users_sharing_a_master(redis_cluster, 3)
    master = redis_cluster.master_of(ALICE_SLOT_KEY)
    store = RedisStore(redis_cluster_url)
    tracker = CostTracker(store=store, enforcement_mode="block")
    for user in users:
        tracker.set_user_budget(user, BudgetConfig(daily=BUDGET))
    settled: dict[str, list[str]] = {user: [] for user in users}
    switched = threading.Event()  # the slot's new master took over
    after_switch = 0

    def fail_over() -> None:
        if how == "kill":
            master.kill()  # kill -9; its replica is promoted after the node timeout (2 s)
        else:
            client = redis_cluster.replica_of(master).client()
            try:
                client.execute_command("CLUSTER FAILOVER")
            finally:
                client.close()
        deadline = time.monotonic() + 30
        while redis_cluster.master_of(ALICE_SLOT_KEY) is master:
            assert time.monotonic() < deadline, "no replica took over"
            time.sleep(0.05)
        switched.set()

    watcher = threading.Thread(target=fail_over)

    async def loop(user: str) -> None:
        nonlocal after_switch
        while after_switch < 90:  # go on until the new master has served a while
            if sum(map(len, settled.values())) >= 30 and watcher.ident is None:
                watcher.start()  # once: fail over, and watch for the new master
            try:
                held = await tracker.areserve(user, 0.01, model="gpt-4o-mini")
            except BudgetExceededError:
                return
            except StoreUnavailableError:
                await asyncio.sleep(0.01)  # failed clearly, nothing held
                continue
            while True:
                try:
                    await held.asettle(0.01, provider="openai", tokens=100)
                    break
                except StoreUnavailableError:  # retried with its entry id: counts once
                    await asyncio.sleep(0.01)
            settled[user].append(held.id)
            if switched.is_set():
                after_switch += 1

    try:
        await asyncio.wait_for(asyncio.gather(*(loop(user) for user in users * 3)), 120)
        watcher.join(30)
        assert switched.is_set() and after_switch >= 90
        daily = CostTracker(store=store).period_keys()[0]
        at = daily.ends_at - 1 if daily.ends_at else 0.0
        total = 0
        for user in users:
            entries = [entry.id for entry in store.entries(user_id=user)]
            assert len(entries) == len(set(entries))  # nothing applied twice
            assert set(entries) <= set(settled[user])
            if how == "manual":  # the replica took over with every write
                assert sorted(entries) == sorted(settled[user])
            spent = store.usage(user, [daily], now=at).spent_nanos[daily.key]
            assert spent == len(entries) * CENT <= 300 * CENT
            total += len(entries)
        assert store.totals().total_nanos == total * CENT
    finally:
        await store.aclose()
        if how == "kill":
            master.start()  # it rejoins the session's cluster as the new master's replica
        redis_cluster.wait_healthy()
