"""The SQLite ledger file: what survives a reopen, its schema version and its settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cascadeflow._exceptions import StoreUnavailableError
from cascadeflow.storage import CounterLimit, SQLiteStore
from cascadeflow.storage._sqlite_schema import SCHEMA_VERSION
from tests.storage.ledger_samples import (
    NOW,
    ONE_DOLLAR,
    PERIODS,
    TEN_CENTS,
    limits_of,
    make_entry,
)


def test_a_reopened_store_has_every_entry_counter_lease_and_tier(ledger_path: Path) -> None:
    with SQLiteStore(ledger_path) as store:
        for number in range(50):
            user = ("alice", "bob")[number % 2]
            store.record(make_entry(f"e{number}", user=user, tier="pro" if user == "bob" else None,
                                    metadata={"n": number}), TEN_CENTS, PERIODS)
        store.reserve("open", "alice", 3 * TEN_CENTS, limits_of(10 * ONE_DOLLAR), now=NOW,
                      expires_at=NOW + 300)
        store.set_user_tier("carol", "free")
        before = [entry.to_dict() for entry in store.entries()]

    with SQLiteStore(ledger_path) as reopened:
        assert [entry.to_dict() for entry in reopened.entries()] == before
        alice = reopened.usage("alice", PERIODS, now=NOW)
        assert alice.spent_nanos == dict.fromkeys([p.key for p in PERIODS], 25 * TEN_CENTS)
        assert alice.reserved_nanos == 3 * TEN_CENTS
        assert reopened.user_tiers() == {"alice": None, "bob": "pro", "carol": "free"}
        assert reopened.totals().total_nanos == 50 * TEN_CENTS
        # Idempotence holds across the reopen too.
        assert reopened.record(make_entry("e0", user="alice"), TEN_CENTS, PERIODS) is False


def test_two_stores_on_one_file_see_each_others_writes(ledger_path: Path) -> None:
    with SQLiteStore(ledger_path) as first, SQLiteStore(ledger_path) as second:
        first.record(make_entry("e1"), TEN_CENTS, PERIODS)
        assert second.reserve("r1", "u1", 9 * TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW,
                              expires_at=NOW + 60).granted
        refused = first.reserve("r2", "u1", TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW,
                                expires_at=NOW + 60)

        assert (refused.granted, refused.spent_nanos, refused.reserved_nanos) == (
            False, TEN_CENTS, 9 * TEN_CENTS)
        assert second.settle("r1", make_entry("r1"), 2 * TEN_CENTS, PERIODS) is True
        assert first.settle("r1", make_entry("r1"), 2 * TEN_CENTS, PERIODS) is False
        assert first.usage("u1", PERIODS, now=NOW).spent_nanos["total"] == 3 * TEN_CENTS


def test_the_file_is_in_wal_mode_with_the_schema_version(ledger_path: Path) -> None:
    SQLiteStore(ledger_path).close()

    raw = sqlite3.connect(ledger_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        raw.close()


def test_synchronous_full_is_available_for_power_loss_durability(ledger_path: Path) -> None:
    with SQLiteStore(ledger_path, synchronous="full") as store:
        assert store._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert store.record(make_entry("e1"), TEN_CENTS, PERIODS)


def test_a_synchronous_mode_that_could_lose_commits_is_refused(ledger_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(ledger_path, synchronous="OFF")


def test_a_file_from_a_newer_schema_is_refused_untouched(ledger_path: Path) -> None:
    raw = sqlite3.connect(ledger_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()

    with pytest.raises(StoreUnavailableError, match="newer"):
        SQLiteStore(ledger_path)

    raw = sqlite3.connect(ledger_path)
    try:
        assert raw.execute("SELECT name FROM sqlite_master").fetchall() == []
    finally:
        raw.close()


def test_metadata_json_cannot_carry_is_kept_as_text(ledger_path: Path) -> None:
    with SQLiteStore(ledger_path) as store:
        store.record(make_entry("e1", metadata={"tags": {"a"}, "n": 1}), TEN_CENTS, PERIODS)

        assert store.entries()[0].metadata == {"tags": "{'a'}", "n": 1}


def test_people_reading_the_file_see_an_iso_timestamp(ledger_path: Path) -> None:
    with SQLiteStore(ledger_path) as store:
        store.record(make_entry("e1"), TEN_CENTS, PERIODS)

    raw = sqlite3.connect(ledger_path)
    try:
        assert raw.execute("SELECT timestamp FROM entries").fetchone() == (
            "2026-11-24T10:00:00.000Z",)
    finally:
        raw.close()


def test_a_version_2_file_gains_the_owner_tables_and_keeps_its_ledger(ledger_path: Path) -> None:
    with SQLiteStore(ledger_path) as store:
        store.record(make_entry("e1"), TEN_CENTS, PERIODS)
    raw = sqlite3.connect(ledger_path)
    for statement in ("DROP TRIGGER lease_dropped", "ALTER TABLE leases DROP COLUMN holds",
                      "DROP TABLE owner_counters", "DROP TABLE holds", "DROP TABLE settings",
                      "DROP TABLE settings_version", "PRAGMA user_version = 2"):
        raw.execute(statement)
    raw.commit()
    raw.close()

    with SQLiteStore(ledger_path) as store:
        assert store.usage("u1", PERIODS, now=NOW).spent_nanos["total"] == TEN_CENTS
        store.put_setting("a", "1")
        assert store.settings() == (1, {"a": "1"})
        limit = CounterLimit("team:x", PERIODS[0], 5, hold=2)
        assert store.reserve("r1", "u1", 0, [], now=NOW, expires_at=NOW + 9,
                             counters=[limit]).granted
        assert store.release("r1")
        assert store.read_counters([], ["team:x"], now=NOW).held == {"team:x": 0}


def test_finished_rate_windows_do_not_pile_up(ledger_path: Path) -> None:
    from cascadeflow.storage import PeriodKey

    with SQLiteStore(ledger_path) as store:
        for minute in range(100):
            window = PeriodKey("minute", f"minute:{29_000_000 + minute}", None)
            limit = CounterLimit("team:x\x1frpm", window, 60, add=1)
            assert store.reserve(f"r{minute}", "u1", 0, [], now=NOW, expires_at=NOW + 9,
                                 counters=[limit]).granted
        rows = store._conn.execute(
            "SELECT period_key, value FROM owner_counters WHERE owner = ?",
            ("team:x\x1frpm",)).fetchall()
    assert rows == [("minute:29000099", 1)]
