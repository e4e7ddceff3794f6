"""The database restarted mid-run: fail_closed refuses, fail_open journals and replays once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cascadeflow import BudgetConfig, CostTracker, StoreUnavailableError
from cascadeflow.storage import PostgresStore
from tests._postgres_server import PostgresServer, wait_for_connections
from tests.storage.ledger_samples import (
    NOW,
    ONE_DOLLAR,
    PERIODS,
    TEN_CENTS,
    limits_of,
    make_entry,
)


@pytest.fixture
def server(postgres_server: PostgresServer, postgres_dsn: str) -> Iterator[PostgresServer]:
    """The session's server, which this test stops; it is running again afterwards."""
    yield postgres_server
    postgres_server.start()


def make_store(dsn: str, on_unavailable: str) -> PostgresStore:
    # No probe cool-down and a short connection wait, so the outage is seen at once.
    return PostgresStore(dsn, on_unavailable=on_unavailable,  # type: ignore[arg-type]
                         timeout=1.0, probe_interval=0.0)


def reserve(store: PostgresStore, reservation_id: str, amount: int) -> bool:
    return store.reserve(reservation_id, "u1", amount, limits_of(ONE_DOLLAR), now=NOW,
                         expires_at=NOW + 300).granted


def test_fail_closed_refuses_everything_while_the_database_is_down_and_resumes_after(
    server: PostgresServer, postgres_dsn: str,
) -> None:
    store = make_store(postgres_dsn, "fail_closed")
    assert store.record(make_entry("before"), TEN_CENTS, PERIODS) is True
    assert reserve(store, "r1", 5 * TEN_CENTS) is True

    server.stop()
    with pytest.raises(StoreUnavailableError, match=r"PostgreSQL at .* is unavailable"):
        reserve(store, "r2", TEN_CENTS)
    with pytest.raises(StoreUnavailableError):
        store.record(make_entry("during"), TEN_CENTS, PERIODS)
    with pytest.raises(StoreUnavailableError):
        store.usage("u1", PERIODS, now=NOW)
    assert store.pending_writes == 0

    server.start()
    wait_for_connections(postgres_dsn)
    assert reserve(store, "r3", 4 * TEN_CENTS) is True  # the pool's dead connections are replaced
    assert reserve(store, "r4", TEN_CENTS) is False  # 0.1 spent + 0.5 + 0.4 held: full
    assert [entry.id for entry in store.entries()] == ["before"]
    store.close()


def test_fail_open_admits_during_the_outage_and_replays_each_write_exactly_once(
    server: PostgresServer, postgres_dsn: str,
) -> None:
    store = make_store(postgres_dsn, "fail_open")
    tracker = CostTracker(store=store, enforcement_mode="block")
    assert store.record(make_entry("before"), TEN_CENTS, PERIODS) is True
    assert tracker.can_afford("u1", 0.10)  # a running worker: it has read the stored limits

    server.stop()
    held = tracker.reserve("u1", 0.10)  # admitted without a check
    held.settle(0.10, model="gpt-4o-mini", provider="openai", tokens=30)
    for _ in range(3):
        tracker.add_cost("gpt-4o-mini", "openai", 30, 0.10, user_id="u1")
    # A write that had reached the database before the outage, retried during it.
    assert store.record(make_entry("before"), TEN_CENTS, PERIODS) is True
    assert store.pending_writes == 5
    with pytest.raises(StoreUnavailableError):
        store.totals()  # reports have no fail-open answer

    server.start()
    wait_for_connections(postgres_dsn)
    totals = store.totals()  # the first call that reaches the database replays the journal

    assert store.pending_writes == 0
    assert (totals.entry_count, totals.total_nanos) == (5, 5 * TEN_CENTS)
    assert store.reconcile() == 0
    assert store.totals().total_nanos == 5 * TEN_CENTS
    assert store.usage("u1", PERIODS, now=NOW).reserved_nanos == 0
    store.close()


def test_a_journal_file_left_by_a_process_that_died_in_an_outage_is_replayed_by_the_next(
    server: PostgresServer, postgres_dsn: str, tmp_path: object,
) -> None:
    journal = f"{tmp_path}/journal.db"
    dying = make_store(postgres_dsn, "fail_open")
    dying.close()
    dying = PostgresStore(postgres_dsn, on_unavailable="fail_open", timeout=1.0,
                          probe_interval=0.0, journal_path=journal)
    server.stop()
    assert dying.record(make_entry("kept"), TEN_CENTS, PERIODS) is True
    assert dying.pending_writes == 1
    dying.close()  # the process goes away with the write only in its journal file

    server.start()
    wait_for_connections(postgres_dsn)
    with PostgresStore(postgres_dsn, journal_path=journal) as successor:
        assert successor.pending_writes == 1
        assert successor.reconcile() == 1
        assert [entry.id for entry in successor.entries()] == ["kept"]
        assert successor.usage("u1", PERIODS, now=NOW).spent_nanos["total"] == TEN_CENTS


def test_a_fail_open_worker_started_during_the_outage_admits_then_enforces_when_it_is_back(
    server: PostgresServer, postgres_dsn: str,
) -> None:
    with PostgresStore(postgres_dsn) as admin:
        CostTracker(store=admin).set_user_budget("u1", BudgetConfig(daily=0.05))
    server.stop()
    store = make_store(postgres_dsn, "fail_open")
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.TIER_REFRESH_SECONDS = 0.0

    assert tracker.can_afford("u1", 0.10)  # no stored limit can be read: admitted

    server.start()
    wait_for_connections(postgres_dsn)
    assert not tracker.can_afford("u1", 0.10)  # the stored $0.05 applies again
    store.close()
