"""RedisStore on a Redis Cluster: each user's keys in its bucket's hash slot, scopes shared by
tenants in the shared slot (two-step reserves), reached from a URL or a cluster client (sync
or asyncio)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import redis.asyncio.cluster
import redis.cluster
import redis.exceptions

from cascadeflow import BudgetConfig, CostTracker, Scope
from cascadeflow._entry import CostEntry
from cascadeflow.storage import (
    CounterAdd,
    CounterLimit,
    PeriodKey,
    PeriodLimit,
    RedisRetryPolicy,
    RedisStore,
)
from cascadeflow.storage._redis_batch import evalsha_sync, pack_declared, unwrap
from tests._redis_cluster import SHARED_SLOT_KEY, RedisClusterNodes, bucket_key_of

pytestmark = pytest.mark.redis

CENT = 10_000_000


def _slots_by_prefix(client: redis.cluster.RedisCluster) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for raw in client.scan_iter(match="*"):
        key = raw.decode()
        found.setdefault(key[: key.index("}") + 1], set()).add(client.keyslot(key))
    return found


def test_each_user_lives_in_its_bucket_and_shared_scopes_in_the_shared_slot(
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
        slots = _slots_by_prefix(client)
        shared = [key.decode() for key in client.scan_iter(match="{cascadeflow}:*")]
        alice = [key.decode() for key in client.scan_iter(match="*alice*")]
        tag = client.keyslot
    finally:
        client.close()
    buckets = {bucket_key_of(user).split(":settings")[0] for user in
               ("alice", "bob", "carol", "dave")}
    # Every key is in the shared slot or in one of the users' buckets, one slot each.
    assert set(slots) == {"{cascadeflow}"} | buckets
    assert all(len(found) == 1 for found in slots.values())
    assert slots["{cascadeflow}"] == {tag(SHARED_SLOT_KEY)}
    # The team's and tag's counters are shared; nothing of a user is.
    assert any("count:{team:search}" in key for key in shared)
    assert any("count:{tag:chat}" in key for key in shared)
    assert not any("spent:" in key for key in shared)
    assert alice and {tag(key) for key in alice if "lease" not in key} == {
        tag(bucket_key_of("alice"))}
    assert store.totals().entry_count == 3
    assert [e.id for e in store.entries(user_id="alice")] == [
        e.id for e in store.entries() if e.user_id == "alice"]
    store.close()


def test_the_buckets_spread_the_ledger_over_every_master(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    tenants = RedisStore(redis_cluster_url).tenants  # type: ignore[attr-defined]
    masters = {redis_cluster.master_of(layout.settings_version).port
               for layout in tenants.buckets}
    assert len(masters) == len(redis_cluster.masters()) == 3
    users = {tenants.of_user(f"user-{index}").prefix for index in range(400)}
    assert len(users) == 16  # users are spread over every bucket


def test_a_ledger_of_user_budgets_never_writes_to_the_shared_slot(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    store = RedisStore(redis_cluster_url)
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0, requests={"daily": 50}))
    for _ in range(3):
        tracker.reserve("alice", 0.01, model="gpt-4o").settle(0.01, provider="openai",
                                                              tokens=10)
    tracker.add_cost("gpt-4o", "openai", 10, 0.02, user_id="bob")
    client = redis_cluster.client()
    try:
        shared = sorted(key.decode() for key in client.scan_iter(match="{cascadeflow}:*"))
    finally:
        client.close()
    # Only the stored limits are there: each request was one script in the user's bucket.
    assert shared == ["{cascadeflow}:settings", "{cascadeflow}:settings_version"]
    assert store.totals().total_nanos == 50_000_000
    assert tracker.daily_spend(days=1)[-1][1] == pytest.approx(0.05)
    store.close()


def test_a_second_step_that_refuses_gives_back_what_the_first_held(
    redis_cluster_url: str,
) -> None:
    store = RedisStore(redis_cluster_url)
    now = time.time()
    keys = [PeriodKey("total", "total", None)]
    team = CounterLimit("team:search", keys[0], limit=CENT, hold=2 * CENT)
    outcome = store.reserve("r-refused", "alice", 2 * CENT, [PeriodLimit(keys[0], 10 * CENT)],
                            now=now, expires_at=now + 60, counters=[team])

    assert not outcome.granted and outcome.owner == "team:search"
    assert _held(store, keys, now) == (0, 0)
    store.close()


def test_a_settle_retried_after_its_shared_step_counts_the_team_once(
    redis_cluster_url: str,
) -> None:
    store = RedisStore(redis_cluster_url)
    now = time.time()
    keys = _lease_with_team_hold(store, "r-half", now)
    entry = CostEntry(id="r-half", timestamp=datetime.now(timezone.utc), model="m",
                      provider="p", tokens=1, cost=0.01, user_id="alice")
    adds = [CounterAdd("team:search", keys[0], CENT)]
    shared_step, user_step = store._record_parts(  # type: ignore[attr-defined]
        entry, CENT, keys, "r-half", adds)
    assert shared_step[0] == "add_counted" and user_step[0] == "record"
    store._run(*shared_step)  # the worker stopped here: the team is counted, the user not
    assert _held(store, keys, now) == (CENT, 0)

    assert store.settle("r-half", entry, CENT, keys, counters=adds)  # the retry
    team = store.read_counters([("team:search", keys[0])], [], now=now)
    assert team.values[("team:search", "total")] == CENT
    assert store.usage("alice", keys, now=now).spent_nanos["total"] == CENT
    assert _held(store, keys, now) == (0, 0)
    assert not store.settle("r-half", entry, CENT, keys, counters=adds)  # once only
    assert store.read_counters([("team:search", keys[0])], [], now=now).values[
        ("team:search", "total")] == CENT
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


def test_cluster_mode_refuses_a_prefix_with_braces_or_the_bucket_mark(
    redis_cluster_url: str,
) -> None:
    for prefix in ("{tenant}", "ledger#07"):
        with pytest.raises(ValueError, match="must not contain braces or '#'"):
            RedisStore(redis_cluster_url, prefix=prefix)


def test_a_reset_wipes_its_own_ledger_and_no_other_sharing_the_cluster(
    redis_cluster_url: str,
) -> None:
    mine, other = (RedisStore(redis_cluster_url, prefix=prefix)
                   for prefix in ("cf", "cf2"))
    for store in (mine, other):
        tracker = CostTracker(store=store)
        tracker.set_budget(Scope.team("search"), BudgetConfig(daily=1.0))
        tracker.add_cost("gpt-4o", "openai", 10, 0.25, user_id="alice", team="search")

    mine.reset()

    assert mine.totals().entry_count == 0
    assert mine.settings()[1]  # stored limits are configuration: a reset keeps them
    assert other.totals().total_nanos == 250_000_000
    assert [e.user_id for e in other.entries()] == ["alice"]
    mine.close()
    other.close()


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


def test_fail_open_journals_the_steps_a_paused_slot_did_not_take_and_replays_each_once(
    redis_cluster: RedisClusterNodes, redis_cluster_url: str,
) -> None:
    store = RedisStore(redis_cluster_url, on_unavailable="fail_open",
                       retry=RedisRetryPolicy(attempts=1, socket_timeout=0.3))
    now = time.time()
    keys = _lease_with_team_hold(store, "r-paused", now)
    entry = CostEntry(id="r-paused", timestamp=datetime.now(timezone.utc), model="m",
                      provider="p", tokens=1, cost=0.01, user_id="alice")
    adds = [CounterAdd("team:search", keys[0], CENT)]
    shared_master = redis_cluster.master_of(SHARED_SLOT_KEY).client()
    try:
        # The shared slot's master stops answering: the settle's first step times out.
        shared_master.execute_command("CLIENT PAUSE", 1500, "ALL")
        assert store.settle("r-paused", entry, CENT, keys, counters=adds)
    finally:
        shared_master.close()
    assert store.pending_writes == 2  # the shared step and the user's entry, in order
    time.sleep(1.6)

    # The timed-out call may still have run when the pause ended: its replay (same nonce)
    # then finds it applied and applies nothing twice.
    assert store.reconcile() == 2
    assert store.pending_writes == 0
    team = store.read_counters([("team:search", keys[0])], ["team:search"], now=now)
    assert team.values[("team:search", "total")] == CENT
    assert team.held["team:search"] == 0
    usage = store.usage("alice", keys, now=now)
    assert (usage.spent_nanos["total"], usage.reserved_nanos) == (CENT, 0)
    assert [e.id for e in store.entries()] == ["r-paused"]
    store.close()
