"""What the PostgreSQL store does beyond the shared contract: its own schema and nothing else,
schema versions, clear errors, racing multi-scope reservations, async outages."""

from __future__ import annotations

import threading

import psycopg
import pytest

from cascadeflow import StoreUnavailableError
from cascadeflow.storage import CounterLimit, PostgresStore
from tests._postgres_server import PostgresServer, wait_for_connections
from tests.storage.ledger_samples import (
    DAILY,
    NOW,
    ONE_DOLLAR,
    PERIODS,
    TEN_CENTS,
    limits_of,
    make_entry,
)


def test_it_keeps_to_its_own_schema_and_leaves_other_tables_alone(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.litellm_spendlogs")
        conn.execute("CREATE TABLE public.litellm_spendlogs (id TEXT PRIMARY KEY, spend FLOAT)")
        conn.execute("INSERT INTO public.litellm_spendlogs VALUES ('a', 1.5)")
    with PostgresStore(postgres_dsn, schema="cascadeflow_neighbour") as store:
        store.record(make_entry("e1"), TEN_CENTS, PERIODS)
        store.reset()
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT * FROM public.litellm_spendlogs").fetchall() == [("a", 1.5)]
        owned = {row[0] for row in conn.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables"
            " WHERE table_name IN ('entries', 'leases', 'counters')")}
        conn.execute("DROP TABLE public.litellm_spendlogs")
    assert "cascadeflow_neighbour" in owned
    assert "public" not in owned


def test_a_schema_written_by_a_newer_release_is_refused(postgres_dsn: str) -> None:
    with PostgresStore(postgres_dsn, schema="cascadeflow_future") as store:
        store.settings_version()  # creates the schema
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("UPDATE cascadeflow_future.schema_version SET version = 99")

    with PostgresStore(postgres_dsn, schema="cascadeflow_future") as newer, \
            pytest.raises(StoreUnavailableError, match="version 99, newer than"):
        newer.settings_version()


def test_bad_arguments_are_clear_errors(postgres_dsn: str) -> None:
    with pytest.raises(ValueError, match="schema must be a lower-case PostgreSQL name"):
        PostgresStore(postgres_dsn, schema='x"; DROP TABLE entries; --')
    with pytest.raises(ValueError, match="on_unavailable"):
        PostgresStore(postgres_dsn, on_unavailable="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="DSN"):
        PostgresStore(42)  # type: ignore[arg-type]


def test_racing_reservations_over_overlapping_scopes_never_deadlock_or_overspend(
    postgres_dsn: str,
) -> None:
    # Each thread checks the shared owners in its own order: the store locks them in one
    # order, so no two reservations wait on each other in a cycle.
    owners = ["team:a", "org:b", "tag:c", "global"]
    store = PostgresStore(postgres_dsn, max_connections=8)
    granted: list[bool] = []
    errors: list[BaseException] = []

    def racer(number: int) -> None:
        mine = owners[number % 4:] + owners[:number % 4]
        try:
            for attempt in range(25):
                counters = [CounterLimit(owner, DAILY, 30 * TEN_CENTS, hold=TEN_CENTS)
                            for owner in mine]
                outcome = store.reserve(f"r{number}-{attempt}", f"user{number}", TEN_CENTS,
                                        limits_of(ONE_DOLLAR), now=NOW, expires_at=NOW + 300,
                                        counters=counters)
                granted.append(outcome.granted)
        except BaseException as error:  # a deadlock would surface here
            errors.append(error)

    threads = [threading.Thread(target=racer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(granted) == 30  # every owner holds 30 dimes at most
    held = store.read_counters([], owners, now=NOW).held
    assert held == dict.fromkeys(owners, 30 * TEN_CENTS)
    store.close()


async def test_async_calls_fail_closed_while_the_database_is_down_and_resume(
    postgres_server: PostgresServer, postgres_dsn: str,
) -> None:
    store = PostgresStore(postgres_dsn, timeout=1.0, probe_interval=0.0)
    assert (await store.areserve("r1", "u1", TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW,
                                 expires_at=NOW + 300)).granted
    postgres_server.stop()
    try:
        with pytest.raises(StoreUnavailableError):
            await store.areserve("r2", "u1", TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW,
                                 expires_at=NOW + 300)
        with pytest.raises(StoreUnavailableError):
            await store.asettle("r1", make_entry("r1"), TEN_CENTS, PERIODS)
    finally:
        postgres_server.start()
    wait_for_connections(postgres_dsn)

    assert await store.asettle("r1", make_entry("r1"), TEN_CENTS, PERIODS) is True
    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert (usage.spent_nanos["total"], usage.reserved_nanos) == (TEN_CENTS, 0)
    await store.aclose()


@pytest.mark.parametrize("dsn", ["host=127.0.0.1 port=1 user=app password=hunter2",
                                 "postgresql://app:hunter2@127.0.0.1:1/ledger"])
def test_an_unreachable_database_is_named_without_its_password(dsn: str) -> None:
    store = PostgresStore(dsn, timeout=1.0)

    with pytest.raises(StoreUnavailableError, match=r"PostgreSQL at .* is unavailable") as error:
        store.reserve("r1", "u1", TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW,
                      expires_at=NOW + 300)

    assert "hunter2" not in str(error.value) and "hunter2" not in repr(store)
    assert "127.0.0.1" in str(error.value)
    store.close()


async def test_a_store_on_a_given_async_pool_runs_both_twins(postgres_dsn: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(postgres_dsn, min_size=1, max_size=4, open=False,
                               kwargs={"autocommit": True})
    await pool.open()
    store = PostgresStore(pool)
    assert (await store.areserve("r1", "u1", TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW,
                                 expires_at=NOW + 300)).granted
    assert await store.asettle("r1", make_entry("r1"), TEN_CENTS, PERIODS) is True
    # A sync call gets a pool made from the given one's settings.
    assert store.usage("u1", PERIODS, now=NOW).spent_nanos["total"] == TEN_CENTS
    await store.aclose()
    assert not pool.closed  # the caller's pool is the caller's to close
    await pool.close()
