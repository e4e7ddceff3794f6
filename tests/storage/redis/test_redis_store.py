"""RedisStore keeps MemoryStore's semantics: atomic reserve, idempotent writes, leases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio

from cascadeflow._entry import CostEntry
from cascadeflow.storage import MemoryStore, PeriodKey
from cascadeflow.storage._redis import RedisStore

from .conftest import DAY, NOW, PERIODS, TOTAL, entry, limits


def test_reserve_refuses_what_does_not_fit_and_names_the_period(store: RedisStore) -> None:
    assert store.reserve("r1", "u1", 600, limits(daily=1000, total=5000),
                         now=NOW, expires_at=NOW + 60).granted
    refused = store.reserve("r2", "u1", 500, limits(daily=1000, total=5000),
                            now=NOW, expires_at=NOW + 60)
    assert not refused.granted
    assert (refused.period, refused.limit_nanos, refused.spent_nanos,
            refused.reserved_nanos) == ("daily", 1000, 0, 600)


def test_a_period_with_nothing_left_refuses_even_a_zero_estimate(store: RedisStore) -> None:
    store.record(entry("e1", cost_nanos=1000), 1000, PERIODS)
    outcome = store.reserve("r1", "u1", 0, limits(daily=1000), now=NOW, expires_at=NOW + 60)
    assert not outcome.granted
    assert outcome.spent_nanos == 1000


def test_settle_drops_the_lease_and_records_once(store: RedisStore) -> None:
    store.reserve("r1", "u1", 500, limits(daily=1000), now=NOW, expires_at=NOW + 60)
    assert store.settle("r1", entry("r1", cost_nanos=300), 300, PERIODS)
    assert not store.settle("r1", entry("r1", cost_nanos=300), 300, PERIODS)
    usage = store.usage("u1", PERIODS, now=NOW)
    assert usage.spent_nanos == {DAY.key: 300, TOTAL.key: 300}
    assert usage.reserved_nanos == 0
    assert store.totals().entry_count == 1


def test_settle_after_the_lease_expired_still_records(store: RedisStore) -> None:
    store.reserve("r1", "u1", 500, limits(daily=1000), now=NOW, expires_at=NOW + 1)
    assert store.usage("u1", PERIODS, now=NOW + 5).reserved_nanos == 0
    assert store.settle("r1", entry("r1", cost_nanos=400), 400, PERIODS)
    assert store.usage("u1", PERIODS, now=NOW + 5).spent_nanos[DAY.key] == 400


def test_release_frees_the_budget_and_is_idempotent(store: RedisStore) -> None:
    store.reserve("r1", "u1", 1000, limits(daily=1000), now=NOW, expires_at=NOW + 60)
    assert not store.reserve("r2", "u1", 1, limits(daily=1000), now=NOW,
                             expires_at=NOW + 60).granted
    assert store.release("r1")
    assert not store.release("r1")
    assert not store.release("never-reserved")
    assert store.reserve("r2", "u1", 1000, limits(daily=1000), now=NOW,
                         expires_at=NOW + 60).granted


def test_a_lease_counts_until_expires_at_and_not_at_it(store: RedisStore) -> None:
    store.reserve("r1", "u1", 700, limits(daily=1000), now=NOW, expires_at=NOW + 10)
    assert store.usage("u1", PERIODS, now=NOW + 9.999).reserved_nanos == 700
    assert store.usage("u1", PERIODS, now=NOW + 10).reserved_nanos == 0
    assert store.reserve("r2", "u1", 1000, limits(daily=1000), now=NOW + 10,
                         expires_at=NOW + 20).granted
    assert not store.release("r1")  # purged with its expiry


def test_counters_only_for_entries_with_a_user(store: RedisStore, redis_url: str) -> None:
    assert store.record(entry("anon", user=None, cost_nanos=50), 50, PERIODS)
    totals = store.totals()
    assert (totals.total_nanos, totals.entry_count, totals.by_user) == (50, 1, {})
    client = redis.Redis.from_url(redis_url)
    assert client.keys("cascadeflow:spent:*") == []
    client.close()


def test_refunds_lower_the_counters_exactly(store: RedisStore) -> None:
    store.record(entry("e1", cost_nanos=1_000_000_001), 1_000_000_001, PERIODS)
    store.record(entry("e2", cost_nanos=-1), -1, PERIODS)
    assert store.usage("u1", PERIODS, now=NOW).spent_nanos[TOTAL.key] == 1_000_000_000
    assert store.totals().by_model == {"gpt-4o-mini": 1_000_000_000}


def test_tiers_are_remembered_like_the_memory_store(store: RedisStore) -> None:
    store.record(entry("e1", user="a"), 100, PERIODS)
    store.record(entry("e2", user="b", tier="pro"), 100, PERIODS)
    store.record(entry("e3", user="b"), 100, PERIODS)  # no tier given: keeps "pro"
    store.set_user_tier("c", "free")
    store.set_user_tier("b", None)
    assert store.user_tiers() == {"a": None, "b": None, "c": "free"}


def test_totals_aggregate_by_model_provider_and_user(store: RedisStore) -> None:
    store.record(entry("e1", user="a", model="m1", provider="p1"), 100, PERIODS)
    store.record(entry("e2", user="b", model="m2", provider="p1"), 250, PERIODS)
    store.record(entry("e2", user="b", model="m2", provider="p1"), 250, PERIODS)  # duplicate
    totals = store.totals()
    assert totals.total_nanos == 350 and totals.entry_count == 2
    assert totals.by_model == {"m1": 100, "m2": 250}
    assert totals.by_provider == {"p1": 350}
    assert totals.by_user == {"a": 100, "b": 250}


def test_entries_read_back_in_order_with_filters_and_last(store: RedisStore) -> None:
    for index in range(5):
        store.record(entry(f"e{index}", user="a" if index % 2 else "b",
                           at=NOW + index * 86400 / 2), 10, PERIODS)
    everything = store.entries()
    assert [e.id for e in everything] == ["e0", "e1", "e2", "e3", "e4"]
    assert everything[0].metadata == {"source": "test"}
    assert everything[0].timestamp.timestamp() == NOW
    assert [e.id for e in store.entries(user_id="a")] == ["e1", "e3"]
    assert [e.id for e in store.entries(last=3)] == ["e2", "e3", "e4"]
    assert [e.id for e in store.entries(user_id="b", last=2)] == ["e2", "e4"]
    assert store.entries(last=0) == []
    assert store.entries(model="other") == []


def test_history_is_bounded_per_day(make_store: Callable[..., RedisStore]) -> None:
    store = make_store(history_max_per_day=5)
    for index in range(300):
        store.record(entry(f"e{index}"), 1, PERIODS)
    kept = store.entries()
    # MAXLEN ~ trims whole nodes: bounded, newest kept; counters still count everything.
    assert len(kept) < 300 and kept[-1].id == "e299"
    assert store.totals().entry_count == 300


def test_drain_to_copies_the_history_once(store: RedisStore) -> None:
    store.record(entry("e1", cost_nanos=100), 100, PERIODS)
    store.record(entry("e2", cost_nanos=200), 200, PERIODS)
    archive = MemoryStore()
    assert store.drain_to(archive, periods=lambda e: PERIODS) == 2
    assert store.drain_to(archive, periods=lambda e: PERIODS) == 0
    assert [e.id for e in archive.entries()] == ["e1", "e2"]
    assert archive.totals().total_nanos == 300
    assert archive.usage("u1", PERIODS, now=NOW).spent_nanos[DAY.key] == 300


def test_reset_forgets_this_ledger_and_only_this_one(
    make_store: Callable[..., RedisStore],
) -> None:
    mine, other = make_store(prefix="mine"), make_store(prefix="other")
    mine.record(entry("e1"), 100, PERIODS)
    mine.reserve("r1", "u1", 5, limits(daily=1000), now=NOW, expires_at=NOW + 60)
    other.record(entry("e1"), 100, PERIODS)
    mine.reset()
    assert mine.totals().entry_count == 0 and mine.entries() == [] and mine.user_tiers() == {}
    assert mine.usage("u1", PERIODS, now=NOW).reserved_nanos == 0
    assert mine.record(entry("e1"), 100, PERIODS)  # the idempotence marker went too
    assert other.totals().entry_count == 1


async def test_async_twins_share_the_same_counters(store: RedisStore) -> None:
    assert (await store.areserve("r1", "u1", 400, limits(daily=1000), now=NOW,
                                 expires_at=NOW + 60)).granted
    assert not (await store.areserve("r2", "u1", 700, limits(daily=1000), now=NOW,
                                     expires_at=NOW + 60)).granted
    assert await store.asettle("r1", entry("r1", cost_nanos=300), 300, PERIODS)
    assert not await store.asettle("r1", entry("r1", cost_nanos=300), 300, PERIODS)
    assert await store.arecord(entry("e2", cost_nanos=5), 5, PERIODS)
    await store.areserve("r3", "u1", 1, limits(daily=1000), now=NOW, expires_at=NOW + 60)
    assert await store.arelease("r3") and not await store.arelease("r3")
    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert usage.spent_nanos[DAY.key] == 305 and usage.reserved_nanos == 0
    assert store.usage("u1", PERIODS, now=NOW) == usage
    await store.aclose()


async def test_a_store_made_from_one_client_derives_the_other(redis_url: str) -> None:
    sync_client = redis.Redis.from_url(redis_url)
    from_sync = RedisStore(sync_client)
    from_sync.record(entry("e1", cost_nanos=7), 7, PERIODS)
    assert (await from_sync.ausage("u1", PERIODS, now=NOW)).spent_nanos[DAY.key] == 7
    await from_sync.aclose()

    async_client = redis.asyncio.Redis.from_url(redis_url)
    from_async = RedisStore(async_client)
    assert from_async.usage("u1", PERIODS, now=NOW).spent_nanos[DAY.key] == 7
    assert await from_async.arecord(entry("e2", cost_nanos=3), 3, PERIODS)
    assert from_async.totals().total_nanos == 10
    await async_client.aclose()
    from_async.close()


async def test_an_ssl_client_cannot_be_derived_and_the_error_says_pass_a_url() -> None:
    store = RedisStore(redis.Redis(host="127.0.0.1", port=1, ssl=True))
    with pytest.raises(ValueError, match="pass a redis:// or rediss:// URL"):
        await store.ausage("u1", PERIODS, now=NOW)


def test_tracker_history_drains_into_sqlite_once_with_its_period_counters(
    store: RedisStore, tmp_path: Path,
) -> None:
    from cascadeflow.storage import SQLiteStore
    from cascadeflow.telemetry import BudgetConfig, CostTracker

    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=5.0)}, store=store)
    tracker.add_cost("gpt-4o-mini", "openai", 100, 0.25, user_id="u1", user_tier="pro")
    with tracker.reserve("u1", 0.5) as held:
        held.settle(0.5, provider="openai", model="gpt-4o")
    assert [e.model for e in tracker.get_recent_entries(5)] == ["gpt-4o-mini", "gpt-4o"]

    archive = SQLiteStore(tmp_path / "archive.db")

    def periods(e: CostEntry) -> tuple[PeriodKey, ...]:
        return tracker.period_keys(e.timestamp)

    assert store.drain_to(archive, periods=periods) == 2
    assert store.drain_to(archive, periods=periods) == 0
    keys = tracker.period_keys()
    assert archive.usage("u1", keys, now=NOW).spent_nanos == store.usage(
        "u1", keys, now=NOW).spent_nanos
    assert archive.totals() == store.totals()
    archive.close()


def test_a_client_that_decodes_responses_works_the_same(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisStore(client)
    store.record(entry("e1", tier="pro", cost_nanos=42), 42, PERIODS)
    assert [e.id for e in store.entries()] == ["e1"]
    assert store.totals().by_user == {"u1": 42}
    assert store.user_tiers() == {"u1": "pro"}
    assert store.usage("u1", PERIODS, now=NOW).spent_nanos[DAY.key] == 42
    store.close()
    assert client.ping()  # the store does not close a client it was given
    client.close()
