"""Async writes of concurrent tasks share transactions: still atomic, exact, never deadlocked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from cascadeflow import CostTracker, StoreUnavailableError
from cascadeflow.storage import CounterAdd, CounterLimit, PostgresStore
from cascadeflow.storage import _postgres_batch as batching
from cascadeflow.storage import _postgres_schema as schema
from tests._postgres_server import PostgresServer, wait_for_connections
from tests.storage.ledger_samples import (
    DAILY,
    NOW,
    ONE_DOLLAR,
    PERIODS,
    TEN_CENTS,
    TOTAL,
    limits_of,
    make_entry,
)

CENT = TEN_CENTS // 10


class BatchLog:
    """What the store's batchers sent: the size of each shared transaction, and lone sends."""

    def __init__(self) -> None:
        self.transactions: list[int] = []
        self.alone = 0


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[BatchLog]:
    """Record the real batcher's sends (the statements still reach the database)."""
    log = BatchLog()
    transaction = batching.StatementBatcher._transaction
    alone = batching.StatementBatcher._alone

    async def logged_transaction(self: Any, operations: list[Any]) -> Any:
        log.transactions.append(len(operations))
        return await transaction(self, operations)

    async def logged_alone(self: Any, operation: Any) -> Any:
        log.alone += 1
        return await alone(self, operation)

    monkeypatch.setattr(batching.StatementBatcher, "_transaction", logged_transaction)
    monkeypatch.setattr(batching.StatementBatcher, "_alone", logged_alone)
    yield log


async def reserve(store: PostgresStore, reservation_id: str, user: str = "u1",
                  amount: int = TEN_CENTS, counters: list[CounterLimit] | None = None,
                  limit: int = ONE_DOLLAR) -> bool:
    outcome = await store.areserve(reservation_id, user, amount, limits_of(limit),
                                   now=NOW, expires_at=NOW + 300, counters=counters or ())
    return outcome.granted


async def test_a_lone_call_is_sent_at_once_as_its_own_statement(
    postgres_dsn: str, batches: BatchLog,
) -> None:
    store = PostgresStore(postgres_dsn)
    assert await reserve(store, "r1")
    assert await store.asettle("r1", make_entry("r1"), TEN_CENTS, PERIODS) is True

    assert batches.transactions == []
    await store.aclose()


async def test_racing_async_reservations_in_shared_batches_never_overspend(
    postgres_dsn: str, batches: BatchLog,
) -> None:
    store = PostgresStore(postgres_dsn)
    await store.ausage("u1", PERIODS, now=NOW)  # connected and migrated

    granted = await asyncio.gather(*(reserve(store, f"r{n}") for n in range(64)))
    winners = [f"r{n}" for n, ok in enumerate(granted) if ok]
    settled = await asyncio.gather(*(
        store.asettle(rid, make_entry(rid), 5 * CENT, PERIODS) for rid in winners))

    assert len(winners) == 10  # a dollar holds ten dimes, however the calls were batched
    assert all(settled)
    assert max(batches.transactions) > 1 and batches.alone == 0
    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert (usage.spent_nanos["total"], usage.reserved_nanos) == (10 * 5 * CENT, 0)
    totals = store.totals()
    assert (totals.entry_count, totals.total_nanos) == (10, 10 * 5 * CENT)
    await store.aclose()


async def test_a_failing_write_fails_alone_and_its_batch_mates_are_committed(
    postgres_dsn: str, batches: BatchLog,
) -> None:
    store = PostgresStore(postgres_dsn)
    await store.ausage("u1", PERIODS, now=NOW)
    # The entries table allows one NULL-free model per entry: a NULL model fails in the
    # database, after the statements before it in the same transaction have run.
    bad = make_entry("bad")
    object.__setattr__(bad, "model", None)

    results = await asyncio.gather(
        *(store.arecord(make_entry(f"e{n}"), CENT, PERIODS) for n in range(5)),
        store.arecord(bad, CENT, PERIODS),
        *(store.arecord(make_entry(f"f{n}"), CENT, PERIODS) for n in range(5)),
        return_exceptions=True)

    assert results[:5] == [True] * 5 and results[6:] == [True] * 5
    assert isinstance(results[5], psycopg.errors.NotNullViolation)
    assert batches.transactions and batches.alone == 11  # rolled back whole, then one by one
    totals = store.totals()
    assert (totals.entry_count, totals.total_nanos) == (10, 10 * CENT)
    await store.aclose()


async def test_a_shared_batch_is_one_transaction(postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn)
    await store.ausage("u1", PERIODS, now=NOW)
    pool = await store._pools.async_pool()
    sql = store._sql["record_entry"]
    batcher = batching.StatementBatcher(pool, store._sql["apply_batch"])
    good = batching.Operation(sql, schema.record_params("", make_entry("e1"), CENT, PERIODS, ()),
                              kind="record_entry")
    broken = make_entry("e2")
    object.__setattr__(broken, "model", None)  # NOT NULL in the entries table
    bad = batching.Operation(sql, schema.record_params("", broken, CENT, PERIODS, ()),
                             kind="record_entry")

    with pytest.raises(psycopg.errors.NotNullViolation):
        await batcher._transaction([good, bad])

    assert store.totals().entry_count == 0  # the first statement was rolled back with it
    await store.aclose()


async def test_overlapping_multi_scope_writes_across_batches_never_deadlock(
    postgres_dsn: str, batches: BatchLog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Small batches, many in flight: each task checks two of the four shared owners (named
    # in its own order), so batches meet on some owners and not others, and settles free
    # holds while reservations check. Without one lock order per batch, they deadlock.
    monkeypatch.setattr(batching, "MAX_BATCH", 8)
    monkeypatch.setattr(batching, "IN_FLIGHT", 6)
    monkeypatch.setattr(batching, "RETRIES", 1)  # a deadlock would show as lone sends
    owners = ["team:a", "org:b", "tag:c", "global"]
    store = PostgresStore(postgres_dsn, max_connections=12)
    await store.ausage("u1", PERIODS, now=NOW)

    async def racer(number: int) -> int:
        mine = [owners[number % 4], owners[(number + 1) % 4]][::(-1) ** (number // 4)]
        settled = 0
        for attempt in range(6):
            rid = f"r{number}-{attempt}"
            counters = [CounterLimit(owner, DAILY, 1_000 * TEN_CENTS, hold=TEN_CENTS)
                        for owner in mine]
            if await reserve(store, rid, user=f"user{number % 5}", counters=counters,
                             limit=100 * ONE_DOLLAR):
                adds = [CounterAdd(owner, DAILY, CENT) for owner in reversed(mine)]
                settled += await store.asettle(rid, make_entry(rid, user=f"user{number % 5}"),
                                               CENT, PERIODS, counters=adds)
        return settled

    settled = await asyncio.gather(*(racer(number) for number in range(48)))

    assert sum(settled) == 48 * 6
    assert batches.alone == 0 and max(batches.transactions) > 1
    read = await store.aread_counters([(owner, DAILY) for owner in owners], owners, now=NOW)
    assert read.values == {(owner, DAILY.key): 24 * 6 * CENT for owner in owners}
    assert read.held == dict.fromkeys(owners, 0)
    await store.aclose()


@pytest.mark.parametrize("wait", [0.0, 0.002], ids=["queued", "in-flight"])
async def test_callers_cancelled_mid_batch_leave_every_write_whole(
    postgres_dsn: str, wait: float,
) -> None:
    store = PostgresStore(postgres_dsn)
    await store.ausage("u1", PERIODS, now=NOW)
    tasks = [asyncio.ensure_future(reserve(store, f"r{n}", amount=CENT)) for n in range(40)]
    await asyncio.sleep(wait)  # every call queued; then (2 ms) the batch is on its way
    for task in tasks[::2]:
        task.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)

    kept = [f"r{n}" for n, outcome in enumerate(done) if outcome is True]
    assert len(kept) == 20  # none of the callers still waiting was lost
    with psycopg.connect(postgres_dsn) as conn:
        leases = {row[0] for row in conn.execute("SELECT id FROM cascadeflow.leases")}
    # A cancelled caller's reservation is applied whole or not at all; the rest all are.
    assert set(kept) <= leases <= {f"r{n}" for n in range(40)}
    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert usage.reserved_nanos == len(leases) * CENT
    assert await reserve(store, "after")  # the batcher keeps going
    await store.aclose()


@pytest.fixture
def server(postgres_server: PostgresServer, postgres_dsn: str) -> Iterator[PostgresServer]:
    """The session's server, which this test stops; it is running again afterwards."""
    yield postgres_server
    postgres_server.start()


@pytest.mark.parametrize("on_unavailable", ["fail_closed", "fail_open"])
async def test_a_batch_the_database_never_answered_reaches_every_caller_as_an_outage(
    server: PostgresServer, postgres_dsn: str, on_unavailable: Any,
) -> None:
    store = PostgresStore(postgres_dsn, on_unavailable=on_unavailable, timeout=1.0,
                          probe_interval=0.0)
    granted = await asyncio.gather(*(reserve(store, f"r{n}") for n in range(8)))
    assert all(granted)

    server.stop()
    settles = [store.asettle(f"r{n}", make_entry(f"r{n}"), CENT, PERIODS) for n in range(8)]
    outcomes = await asyncio.gather(*settles, return_exceptions=True)
    if on_unavailable == "fail_closed":
        assert all(isinstance(outcome, StoreUnavailableError) for outcome in outcomes)
        assert store.pending_writes == 0
    else:
        assert outcomes == [True] * 8 and store.pending_writes == 8

    server.start()
    wait_for_connections(postgres_dsn)
    again = await asyncio.gather(*(
        store.asettle(f"r{n}", make_entry(f"r{n}"), CENT, PERIODS) for n in range(8)))
    assert again == [on_unavailable == "fail_closed"] * 8  # fail_open replayed them first
    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert (usage.spent_nanos[TOTAL.key], usage.reserved_nanos) == (8 * CENT, 0)
    assert store.totals().entry_count == 8
    await store.aclose()


def test_a_version_1_ledger_is_upgraded_in_place(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as old_release:
        old_release.setattr(schema, "SCHEMA_VERSION", 1)
        old_release.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        with PostgresStore(postgres_dsn, schema="cascadeflow_v1") as old:
            assert old.record(make_entry("before"), TEN_CENTS, PERIODS) is True
            assert old.reserve("r1", "u1", TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW,
                               expires_at=NOW + 300).granted

    async def batched() -> list[bool]:
        store = PostgresStore(postgres_dsn, schema="cascadeflow_v1")
        done = await asyncio.gather(
            store.asettle("r1", make_entry("r1"), TEN_CENTS, PERIODS),
            *(store.arecord(make_entry(f"e{n}"), TEN_CENTS, PERIODS) for n in range(3)))
        await store.aclose()
        return done

    assert asyncio.run(batched()) == [True] * 4
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute(
            "SELECT version FROM cascadeflow_v1.schema_version").fetchall() == [(2,)]
    with PostgresStore(postgres_dsn, schema="cascadeflow_v1") as upgraded:
        assert upgraded.totals().entry_count == 5
        usage = upgraded.usage("u1", PERIODS, now=NOW)
        assert (usage.spent_nanos["total"], usage.reserved_nanos) == (5 * TEN_CENTS, 0)


async def test_writes_sent_alone_race_batches_on_shared_rows_without_deadlock(
    postgres_dsn: str, batches: BatchLog,
) -> None:
    # Sync records (one statement each, in threads) change the same users' and owners'
    # rows as the async batches, in other orders: every writer locks before it writes.
    owners = ["team:a", "org:b", "tag:c", "global"]
    store = PostgresStore(postgres_dsn, max_connections=12)
    await store.ausage("u1", PERIODS, now=NOW)

    def adds(number: int) -> list[CounterAdd]:
        return [CounterAdd(owners[(number + k) % 4], DAILY, CENT) for k in (0, 1)][::-1]

    def alone(number: int) -> None:
        for attempt in range(10):
            rid = f"s{number}-{attempt}"
            store.record(make_entry(rid, user=f"user{attempt % 3}"), CENT, PERIODS,
                         counters=adds(number + attempt))

    async def batched(number: int) -> None:
        for attempt in range(10):
            rid = f"a{number}-{attempt}"
            await store.arecord(make_entry(rid, user=f"user{(attempt + 1) % 3}"), CENT,
                                PERIODS, counters=adds(number + attempt + 1))

    await asyncio.gather(*(asyncio.to_thread(alone, number) for number in range(4)),
                         *(batched(number) for number in range(24)))

    assert batches.alone == 0
    totals = store.totals()
    assert (totals.entry_count, totals.total_nanos) == (280, 280 * CENT)
    read = await store.aread_counters([(owner, DAILY) for owner in owners], owners, now=NOW)
    assert sum(read.values.values()) == 2 * 280 * CENT
    await store.aclose()


async def test_one_apply_batch_statement_answers_each_write_as_a_lone_call_would(
    postgres_dsn: str,
) -> None:
    store = PostgresStore(postgres_dsn)
    await store.ausage("u1", PERIODS, now=NOW)
    pool = await store._pools.async_pool()
    sql = store._sql
    batcher = batching.StatementBatcher(pool, sql["apply_batch"])
    # u1 may hold at most ten cents: r1 fits, r2 does not; r0 is settled, r3 released.
    assert await reserve(store, "r0", amount=CENT)
    assert await reserve(store, "r3", amount=CENT)

    def reserve_op(rid: str, amount: int) -> batching.Operation:
        params = schema.reserve_params(rid, "u1", amount, limits_of(TEN_CENTS), (),
                                       NOW, NOW + 60)
        return batching.Operation(sql["reserve"], params, ("u/u1",), kind="reserve")

    operations = [
        reserve_op("r1", 5 * CENT),
        reserve_op("r2", 5 * CENT),
        batching.Operation(sql["record_entry"],
                           schema.record_params("r0", make_entry("r0"), CENT, PERIODS, ()),
                           ("u/u1",), "r0", kind="record_entry"),
        batching.Operation(sql["release"], ["r3"], (), "r3", kind="release"),
        batching.Operation(sql["release"], ["r3"], (), "r3", kind="release"),
    ]
    results = await batcher._transaction(operations)

    assert results[0] == [([1],)]
    refused = results[1][0][0]
    assert refused[:2] == [0, 1]  # the first limit refused it
    assert refused[3] == 7 * CENT  # r1, r0 and r3 were held then
    assert results[2] == [(True,)]
    assert results[3] == [(True,)] and results[4] == []  # released once; then not open
    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert usage.reserved_nanos == 5 * CENT and usage.spent_nanos[DAILY.key] == CENT
    await store.aclose()


async def test_each_batch_holds_one_lanes_users_and_both_lanes_carry_writes(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Batches of two lanes share no user's lock, so the server runs them side by side; the
    # rollups every settle adds to take no lock at all (they are only added to).
    lanes_seen: list[set[int]] = []
    transaction = batching.StatementBatcher._transaction

    async def logged(self: Any, operations: list[Any]) -> Any:
        lanes_seen.append({self._lane_of(op) for op in operations})
        assert not any(name.startswith("o/rollup:") for op in operations for name in op.names)
        return await transaction(self, operations)

    monkeypatch.setattr(batching.StatementBatcher, "_transaction", logged)
    store = PostgresStore(postgres_dsn)
    tracker = CostTracker(store=store)

    async def task(index: int) -> None:
        for _ in range(10):
            held = await tracker.areserve(f"user-{index % 8}", 0.01, model="gpt-4o-mini")
            await held.asettle(0.01, provider="openai", tokens=10)

    await asyncio.gather(*(task(index) for index in range(32)))

    assert lanes_seen and all(len(lanes) == 1 for lanes in lanes_seen)
    assert set().union(*lanes_seen) == {0, 1}
    assert store.totals().entry_count == 320
    assert tracker.daily_spend(days=1)[-1][1] == pytest.approx(3.20)
    await store.aclose()


def test_a_batcher_refuses_nonsense_sizes() -> None:
    async def make(**sizes: int) -> None:
        batching.StatementBatcher(None, "", **sizes)  # type: ignore[arg-type]

    for sizes in ({"lanes": 0}, {"in_flight": 0}, {"max_batch": 0}):
        with pytest.raises(ValueError, match="at least 1"):
            asyncio.run(make(**sizes))
