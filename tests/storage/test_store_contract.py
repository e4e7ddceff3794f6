"""The contract every ledger store keeps; each test runs against every kind of store."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from cascadeflow._money import to_nanos
from cascadeflow.storage import (
    CounterAdd,
    CounterLimit,
    LedgerStore,
    PeriodKey,
    PeriodLimit,
    ReserveOutcome,
)
from tests.storage.ledger_samples import (
    DAILY,
    MONTHLY,
    NOW,
    ONE_DOLLAR,
    PERIODS,
    TEN_CENTS,
    TOTAL,
    WEEKLY,
    limits_of,
    make_entry,
)


def reserve(store: LedgerStore, reservation_id: str, amount: int, limits: list[PeriodLimit],
            *, user: str = "u1", now: float = NOW, ttl: float = 300.0) -> ReserveOutcome:
    return store.reserve(reservation_id, user, amount, limits, now=now, expires_at=now + ttl)


def spent(store: LedgerStore, user: str = "u1", *, now: float = NOW) -> dict[str, int]:
    return store.usage(user, PERIODS, now=now).spent_nanos


# -- record -------------------------------------------------------------------------


def test_record_is_idempotent_by_entry_id(store: LedgerStore) -> None:
    entry = make_entry("e1")

    assert store.record(entry, TEN_CENTS, PERIODS) is True
    assert store.record(entry, TEN_CENTS, PERIODS) is False

    assert [e.id for e in store.entries()] == ["e1"]
    assert spent(store)["total"] == TEN_CENTS
    assert store.totals().entry_count == 1
    assert store.totals().total_nanos == TEN_CENTS


def test_counters_sum_ten_thousand_dimes_exactly(store: LedgerStore) -> None:
    dime = to_nanos(0.1)
    for number in range(10_000):
        store.record(make_entry(f"e{number}", cost_nanos=dime), dime, PERIODS)

    assert spent(store) == dict.fromkeys([p.key for p in PERIODS], 1_000 * ONE_DOLLAR)
    assert store.totals().total_nanos == 1_000 * ONE_DOLLAR


def test_each_entry_counts_in_every_period_key_it_is_given(store: LedgerStore) -> None:
    store.record(make_entry("e1"), TEN_CENTS, PERIODS)
    store.record(make_entry("e2"), 3 * TEN_CENTS, (MONTHLY, TOTAL))

    assert spent(store) == {DAILY.key: TEN_CENTS, WEEKLY.key: TEN_CENTS,
                            MONTHLY.key: 4 * TEN_CENTS, TOTAL.key: 4 * TEN_CENTS}


def test_a_refund_lowers_the_counters(store: LedgerStore) -> None:
    store.record(make_entry("e1"), 5 * TEN_CENTS, PERIODS)
    store.record(make_entry("refund", cost_nanos=-2 * TEN_CENTS), -2 * TEN_CENTS, PERIODS)

    assert spent(store)["daily:2026-11-24"] == 3 * TEN_CENTS
    assert store.totals().total_nanos == 3 * TEN_CENTS


def test_entries_without_a_user_count_in_totals_but_in_no_user_counter(
    store: LedgerStore,
) -> None:
    store.record(make_entry("anon", user=None), TEN_CENTS, PERIODS)

    totals = store.totals()
    assert (totals.total_nanos, totals.entry_count, totals.by_user) == (TEN_CENTS, 1, {})
    assert store.user_tiers() == {}
    assert spent(store) == dict.fromkeys([p.key for p in PERIODS], 0)


def test_users_are_kept_apart(store: LedgerStore) -> None:
    store.record(make_entry("a", user="alice"), TEN_CENTS, PERIODS)
    store.record(make_entry("b", user="bob"), 2 * TEN_CENTS, PERIODS)

    assert spent(store, "alice")["total"] == TEN_CENTS
    assert spent(store, "bob")["total"] == 2 * TEN_CENTS
    assert spent(store, "carol")["total"] == 0


# -- reserve --------------------------------------------------------------------------


def test_reserve_grants_up_to_exactly_the_limit(store: LedgerStore) -> None:
    store.record(make_entry("e1"), 6 * TEN_CENTS, PERIODS)

    assert reserve(store, "r1", 4 * TEN_CENTS, limits_of(ONE_DOLLAR)).granted is True
    assert store.usage("u1", PERIODS, now=NOW).reserved_nanos == 4 * TEN_CENTS


def test_reserve_refuses_an_amount_that_does_not_fit_and_reports_why(
    store: LedgerStore,
) -> None:
    store.record(make_entry("e1"), 6 * TEN_CENTS, PERIODS)
    assert reserve(store, "r1", 2 * TEN_CENTS, limits_of(ONE_DOLLAR)).granted

    outcome = reserve(store, "r2", 3 * TEN_CENTS, limits_of(ONE_DOLLAR))

    assert outcome.granted is False
    assert (outcome.period, outcome.limit_nanos) == ("daily", ONE_DOLLAR)
    assert (outcome.spent_nanos, outcome.reserved_nanos) == (6 * TEN_CENTS, 2 * TEN_CENTS)
    assert store.usage("u1", PERIODS, now=NOW).reserved_nanos == 2 * TEN_CENTS


def test_reserve_refuses_even_nothing_once_spent_and_reserved_reach_the_limit(
    store: LedgerStore,
) -> None:
    store.record(make_entry("e1"), 7 * TEN_CENTS, PERIODS)
    assert reserve(store, "r1", 3 * TEN_CENTS, limits_of(ONE_DOLLAR)).granted

    outcome = reserve(store, "r2", 0, limits_of(ONE_DOLLAR))

    assert outcome.granted is False
    assert (outcome.spent_nanos, outcome.reserved_nanos) == (7 * TEN_CENTS, 3 * TEN_CENTS)


def test_the_period_that_refuses_is_the_one_reported(store: LedgerStore) -> None:
    store.record(make_entry("old", at=NOW - 40 * 86400), 9 * TEN_CENTS, (TOTAL,))
    limits = [PeriodLimit(DAILY, ONE_DOLLAR), PeriodLimit(MONTHLY, ONE_DOLLAR),
              PeriodLimit(TOTAL, ONE_DOLLAR)]

    outcome = reserve(store, "r1", 2 * TEN_CENTS, limits)

    assert (outcome.granted, outcome.period) == (False, "total")
    assert (outcome.limit_nanos, outcome.spent_nanos) == (ONE_DOLLAR, 9 * TEN_CENTS)


def test_a_zero_limit_refuses_everything(store: LedgerStore) -> None:
    assert reserve(store, "r1", 0, limits_of(0)).granted is False
    assert reserve(store, "r2", 1, limits_of(0)).granted is False
    assert store.usage("u1", PERIODS, now=NOW).reserved_nanos == 0


def test_reserve_without_limits_is_granted(store: LedgerStore) -> None:
    assert reserve(store, "r1", 5 * ONE_DOLLAR, []).granted is True
    assert store.usage("u1", PERIODS, now=NOW).reserved_nanos == 5 * ONE_DOLLAR


def test_usage_reports_spend_and_open_reservations(store: LedgerStore) -> None:
    store.record(make_entry("e1"), TEN_CENTS, PERIODS)
    reserve(store, "r1", 2 * TEN_CENTS, limits_of(ONE_DOLLAR))
    reserve(store, "r2", 3 * TEN_CENTS, limits_of(ONE_DOLLAR))
    reserve(store, "other", 4 * TEN_CENTS, limits_of(ONE_DOLLAR), user="u2")

    usage = store.usage("u1", PERIODS, now=NOW)

    assert usage.spent_nanos == dict.fromkeys([p.key for p in PERIODS], TEN_CENTS)
    assert usage.reserved_nanos == 5 * TEN_CENTS


def test_an_expired_reservation_stops_counting(store: LedgerStore) -> None:
    assert reserve(store, "r1", 8 * TEN_CENTS, limits_of(ONE_DOLLAR), ttl=10).granted
    assert not reserve(store, "r2", 8 * TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW + 9.9).granted

    assert store.usage("u1", PERIODS, now=NOW + 9.9).reserved_nanos == 8 * TEN_CENTS
    assert store.usage("u1", PERIODS, now=NOW + 10).reserved_nanos == 0
    assert reserve(store, "r3", 8 * TEN_CENTS, limits_of(ONE_DOLLAR), now=NOW + 10).granted
    assert store.usage("u1", PERIODS, now=NOW + 10).reserved_nanos == 8 * TEN_CENTS


def test_racing_threads_reserve_exactly_what_the_budget_affords(store: LedgerStore) -> None:
    store.record(make_entry("e1"), 10 * TEN_CENTS, PERIODS)
    limits = limits_of(5 * ONE_DOLLAR)  # 4 USD left: exactly 40 dimes fit
    start = threading.Barrier(32)
    granted: list[str] = []
    lock = threading.Lock()

    def race(thread: int) -> None:
        start.wait()
        for attempt in range(3):
            reservation_id = f"t{thread}-{attempt}"
            if reserve(store, reservation_id, TEN_CENTS, limits).granted:
                with lock:
                    granted.append(reservation_id)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 40
    assert store.usage("u1", PERIODS, now=NOW).reserved_nanos == 40 * TEN_CENTS


# -- settle and release -----------------------------------------------------------------


def test_settle_records_the_entry_and_frees_the_reservation(store: LedgerStore) -> None:
    reserve(store, "r1", 5 * TEN_CENTS, limits_of(ONE_DOLLAR))

    assert store.settle("r1", make_entry("r1"), 2 * TEN_CENTS, PERIODS) is True

    usage = store.usage("u1", PERIODS, now=NOW)
    assert (usage.reserved_nanos, usage.spent_nanos["total"]) == (0, 2 * TEN_CENTS)
    assert [e.id for e in store.entries()] == ["r1"]


def test_settling_twice_records_once_and_counts_once(store: LedgerStore) -> None:
    reserve(store, "r1", 5 * TEN_CENTS, limits_of(ONE_DOLLAR))

    assert store.settle("r1", make_entry("r1"), 2 * TEN_CENTS, PERIODS) is True
    assert store.settle("r1", make_entry("r1"), 2 * TEN_CENTS, PERIODS) is False

    assert spent(store)["daily:2026-11-24"] == 2 * TEN_CENTS
    assert store.totals().entry_count == 1


def test_settle_after_the_reservation_expired_still_records(store: LedgerStore) -> None:
    reserve(store, "r1", 5 * TEN_CENTS, limits_of(ONE_DOLLAR), ttl=1)
    reserve(store, "r2", 0, [], now=NOW + 5)  # purges the expired lease where stores do

    assert store.settle("r1", make_entry("r1"), 3 * TEN_CENTS, PERIODS) is True

    assert spent(store, now=NOW + 5)["total"] == 3 * TEN_CENTS


def test_release_frees_the_reservation_once(store: LedgerStore) -> None:
    reserve(store, "r1", 9 * TEN_CENTS, limits_of(ONE_DOLLAR))

    assert store.release("r1") is True
    assert store.release("r1") is False
    assert store.release("never-reserved") is False

    assert store.usage("u1", PERIODS, now=NOW).reserved_nanos == 0
    assert reserve(store, "r2", 9 * TEN_CENTS, limits_of(ONE_DOLLAR)).granted
    assert store.entries() == []


# -- queries --------------------------------------------------------------------------


def test_entries_come_back_with_every_field(store: LedgerStore) -> None:
    stamp = datetime(2026, 11, 24, 9, 30, 15, 123457, tzinfo=timezone(timedelta(hours=-5)))
    entry = make_entry("e1", tier="pro", metadata={"route": "chat", "n": [1, 2.5, None]})
    entry.timestamp = stamp
    store.record(entry, TEN_CENTS, PERIODS)

    (stored,) = store.entries()

    assert stored.to_dict() == entry.to_dict()
    assert stored.timestamp == stamp


def test_entries_filter_in_recording_order_and_keep_the_last(store: LedgerStore) -> None:
    rows = [("e1", "alice", "gpt-4o", "openai"), ("e2", "bob", "claude-3-5-haiku", "anthropic"),
            ("e3", "alice", "claude-3-5-haiku", "anthropic"), ("e4", None, "gpt-4o", "openai"),
            ("e5", "alice", "gpt-4o", "openai")]
    for index, (entry_id, user, model, provider) in enumerate(rows):
        # Timestamps run backwards: the order that counts is the order of recording.
        store.record(make_entry(entry_id, user=user, model=model, provider=provider,
                                at=NOW - 60 * index), TEN_CENTS, PERIODS)

    def ids(**filters: object) -> list[str]:
        return [e.id for e in store.entries(**filters)]  # type: ignore[arg-type]

    assert ids() == ["e1", "e2", "e3", "e4", "e5"]
    assert ids(user_id="alice") == ["e1", "e3", "e5"]
    assert ids(model="gpt-4o") == ["e1", "e4", "e5"]
    assert ids(provider="anthropic") == ["e2", "e3"]
    assert ids(user_id="alice", model="gpt-4o") == ["e1", "e5"]
    assert ids(user_id="alice", provider="openai", model="claude-3-5-haiku") == []
    assert ids(last=2) == ["e4", "e5"]
    assert ids(user_id="alice", last=2) == ["e3", "e5"]
    assert ids(last=99) == ["e1", "e2", "e3", "e4", "e5"]
    assert ids(last=0) == []


def test_totals_aggregate_by_model_provider_and_user(store: LedgerStore) -> None:
    store.record(make_entry("e1", user="alice", model="gpt-4o"), TEN_CENTS, PERIODS)
    store.record(make_entry("e2", user="bob", model="claude-3-5-haiku", provider="anthropic"),
                 2 * TEN_CENTS, PERIODS)
    store.record(make_entry("e3", user="alice", model="gpt-4o"), 4 * TEN_CENTS, PERIODS)
    store.record(make_entry("e4", user=None, model="gpt-4o"), 8 * TEN_CENTS, PERIODS)

    totals = store.totals()

    assert (totals.total_nanos, totals.entry_count) == (15 * TEN_CENTS, 4)
    assert totals.by_model == {"gpt-4o": 13 * TEN_CENTS, "claude-3-5-haiku": 2 * TEN_CENTS}
    assert totals.by_provider == {"openai": 13 * TEN_CENTS, "anthropic": 2 * TEN_CENTS}
    assert totals.by_user == {"alice": 5 * TEN_CENTS, "bob": 2 * TEN_CENTS}


def test_an_empty_store_has_zero_totals(store: LedgerStore) -> None:
    totals = store.totals()
    assert (totals.total_nanos, totals.entry_count, totals.by_model) == (0, 0, {})
    assert store.entries() == []
    assert store.user_tiers() == {}


def test_user_tiers_remember_the_latest_known_tier(store: LedgerStore) -> None:
    store.record(make_entry("e1", user="alice", tier="free"), TEN_CENTS, PERIODS)
    store.record(make_entry("e2", user="alice", tier=None), TEN_CENTS, PERIODS)
    store.record(make_entry("e3", user="bob"), TEN_CENTS, PERIODS)
    store.set_user_tier("carol", "enterprise")
    store.set_user_tier("bob", "pro")

    assert store.user_tiers() == {"alice": "free", "bob": "pro", "carol": "enterprise"}

    store.record(make_entry("e4", user="alice", tier="pro"), TEN_CENTS, PERIODS)
    store.set_user_tier("carol", None)

    assert store.user_tiers() == {"alice": "pro", "bob": "pro", "carol": None}


def test_a_user_who_spent_outside_any_period_is_still_known(store: LedgerStore) -> None:
    store.record(make_entry("e1", user="dave"), TEN_CENTS, ())

    assert store.user_tiers() == {"dave": None}
    assert store.totals().by_user == {"dave": TEN_CENTS}


def test_reset_forgets_everything(store: LedgerStore) -> None:
    store.record(make_entry("e1", tier="pro"), TEN_CENTS, PERIODS)
    store.set_user_tier("u2", "free")
    reserve(store, "r1", 5 * TEN_CENTS, limits_of(ONE_DOLLAR))

    store.reset()

    assert store.entries() == []
    assert store.totals().entry_count == 0
    assert store.user_tiers() == {}
    usage = store.usage("u1", PERIODS, now=NOW)
    assert (usage.reserved_nanos, usage.spent_nanos["total"]) == (0, 0)
    assert store.record(make_entry("e1"), TEN_CENTS, PERIODS) is True


# -- async twins ------------------------------------------------------------------------


async def test_the_async_twins_do_what_the_sync_methods_do(store: LedgerStore) -> None:
    assert await store.arecord(make_entry("e1"), TEN_CENTS, PERIODS) is True
    assert await store.arecord(make_entry("e1"), TEN_CENTS, PERIODS) is False

    granted = await store.areserve("r1", "u1", 8 * TEN_CENTS, limits_of(ONE_DOLLAR),
                                   now=NOW, expires_at=NOW + 60)
    refused = await store.areserve("r2", "u1", 2 * TEN_CENTS, limits_of(ONE_DOLLAR),
                                   now=NOW, expires_at=NOW + 60)
    assert (granted.granted, refused.granted) == (True, False)

    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert (usage.spent_nanos["total"], usage.reserved_nanos) == (TEN_CENTS, 8 * TEN_CENTS)

    assert await store.asettle("r1", make_entry("r1"), 5 * TEN_CENTS, PERIODS) is True
    assert await store.asettle("r1", make_entry("r1"), 5 * TEN_CENTS, PERIODS) is False
    await store.areserve("r3", "u1", TEN_CENTS, [], now=NOW, expires_at=NOW + 60)
    assert await store.arelease("r3") is True
    assert await store.arelease("r3") is False

    usage = await store.ausage("u1", PERIODS, now=NOW)
    assert (usage.spent_nanos["total"], usage.reserved_nanos) == (6 * TEN_CENTS, 0)



async def test_tiers_and_settings_read_from_asyncio_as_from_sync_code(
    store: LedgerStore,
) -> None:
    store.set_user_tier("alice", "pro")
    store.set_user_tier("bob", "free")
    store.set_user_tier("bob", None)
    store.put_setting("budget:tier:pro", '{"daily": 2.0}')

    assert await store.auser_tier("alice") == "pro"
    assert await store.auser_tier("bob") is None
    assert await store.auser_tier("nobody") is None
    version = await store.asettings_version()
    assert version == store.settings_version()
    assert await store.asettings() == (version, {"budget:tier:pro": '{"daily": 2.0}'})
    store.put_setting("budget:tier:pro", None)
    assert await store.asettings_version() > version
    assert (await store.asettings())[1] == {}


# -- owners' counters: the generic check-and-apply primitive ---------------------------------


def _team(limit: int, hold: int, period: PeriodKey = DAILY, *, add: int = 0,
          owner: str = "team:search") -> CounterLimit:
    return CounterLimit(owner, period, limit, hold=hold, add=add)


def test_counter_limits_hold_on_their_owner_and_refuse_beyond_it(store: LedgerStore) -> None:
    assert store.reserve("r1", "alice", 6 * TEN_CENTS, [], now=NOW, expires_at=NOW + 60,
                         counters=[_team(ONE_DOLLAR, 6 * TEN_CENTS)]).granted

    refused = store.reserve("r2", "bob", 5 * TEN_CENTS, [], now=NOW, expires_at=NOW + 60,
                            counters=[_team(ONE_DOLLAR, 5 * TEN_CENTS)])

    assert refused.granted is False
    assert (refused.owner, refused.period, refused.limit_nanos) == (
        "team:search", "daily", ONE_DOLLAR)
    assert (refused.spent_nanos, refused.reserved_nanos) == (0, 6 * TEN_CENTS)
    assert refused.ends_at == DAILY.ends_at
    # the refused reservation left nothing behind: bob holds nothing
    assert store.usage("bob", PERIODS, now=NOW).reserved_nanos == 0
    assert store.read_counters([], ["team:search"], now=NOW).held == {
        "team:search": 6 * TEN_CENTS}


def test_user_limits_are_checked_first_and_a_refusal_changes_no_counter(
    store: LedgerStore,
) -> None:
    store.record(make_entry("e1"), 9 * TEN_CENTS, PERIODS)

    refused = reserve_counted(store, "r1", 2 * TEN_CENTS, limits_of(ONE_DOLLAR),
                              [_team(ONE_DOLLAR, 0, add=1, owner="team:search/rpm")])

    assert (refused.granted, refused.owner, refused.period) == (False, "", "daily")
    assert store.read_counters([("team:search/rpm", DAILY)], [], now=NOW).values == {
        ("team:search/rpm", DAILY.key): 0}


def reserve_counted(store: LedgerStore, reservation_id: str, amount: int,
                    limits: list[PeriodLimit], counters: list[CounterLimit], *,
                    user: str = "u1", now: float = NOW, ttl: float = 300.0) -> ReserveOutcome:
    return store.reserve(reservation_id, user, amount, limits, now=now, expires_at=now + ttl,
                         counters=counters)


def test_a_limit_on_an_add_only_owner_is_refused_and_holds_nothing(store: LedgerStore) -> None:
    # Rollups are only added to: stores may count them unlocked, or in parts.
    with pytest.raises(ValueError, match="only added to"):
        reserve_counted(store, "r1", TEN_CENTS, [PeriodLimit(DAILY, ONE_DOLLAR)],
                        [CounterLimit("rollup:global", DAILY, ONE_DOLLAR, hold=TEN_CENTS)])

    assert store.usage("u1", [DAILY], now=NOW).reserved_nanos == 0
    assert not store.release("r1")


def test_adds_count_at_admission_and_refuse_once_the_limit_is_reached(
    store: LedgerStore,
) -> None:
    rpm = [CounterLimit("u1/rpm", DAILY, 3, add=1)]
    granted = [reserve_counted(store, f"r{n}", 0, [], rpm).granted for n in range(5)]

    assert granted == [True, True, True, False, False]
    assert store.read_counters([("u1/rpm", DAILY)], [], now=NOW).values[("u1/rpm", DAILY.key)] == 3


def test_settle_and_release_free_the_owners_holds(store: LedgerStore) -> None:
    slots = [CounterLimit("u1/parallel", TOTAL, 2, hold=1)]
    assert reserve_counted(store, "r1", 0, [], slots).granted
    assert reserve_counted(store, "r2", 0, [], slots).granted
    assert not reserve_counted(store, "r3", 0, [], slots).granted

    store.settle("r1", make_entry("r1"), TEN_CENTS, PERIODS)
    assert reserve_counted(store, "r4", 0, [], slots).granted
    store.release("r2")
    assert reserve_counted(store, "r5", 0, [], slots).granted
    assert store.read_counters([], ["u1/parallel"], now=NOW).held == {"u1/parallel": 2}


def test_expired_holds_stop_counting(store: LedgerStore) -> None:
    slots = [CounterLimit("u1/parallel", TOTAL, 1, hold=1)]
    assert reserve_counted(store, "r1", 0, [], slots, ttl=10).granted
    assert not reserve_counted(store, "r2", 0, [], slots, now=NOW + 9).granted

    assert reserve_counted(store, "r3", 0, [], slots, now=NOW + 10).granted
    assert store.read_counters([], ["u1/parallel"], now=NOW + 10).held == {"u1/parallel": 1}


def test_record_and_settle_apply_owner_increments_once(store: LedgerStore) -> None:
    adds = [CounterAdd("team:search", DAILY, 3 * TEN_CENTS),
            CounterAdd("team:search/requests", DAILY, 1)]
    assert store.record(make_entry("e1"), 3 * TEN_CENTS, PERIODS, counters=adds)
    assert not store.record(make_entry("e1"), 3 * TEN_CENTS, PERIODS, counters=adds)
    reserve_counted(store, "r1", 0, [], [CounterLimit("team:search", DAILY, ONE_DOLLAR,
                                                      hold=TEN_CENTS)])
    assert store.settle("r1", make_entry("r1"), 3 * TEN_CENTS, PERIODS, counters=adds)
    assert not store.settle("r1", make_entry("r1"), 3 * TEN_CENTS, PERIODS, counters=adds)

    read = store.read_counters([("team:search", DAILY), ("team:search/requests", DAILY)],
                               ["team:search"], now=NOW)
    assert read.values == {("team:search", DAILY.key): 6 * TEN_CENTS,
                           ("team:search/requests", DAILY.key): 2}
    assert read.held == {"team:search": 0}
    assert spent(store)["total"] == 6 * TEN_CENTS  # the user's own counters too
    assert "team:search" not in store.user_tiers()  # owners are not users


def test_racing_threads_never_pass_a_shared_owner_limit(store: LedgerStore) -> None:
    start = threading.Barrier(16)
    granted: list[str] = []
    lock = threading.Lock()

    def race(thread: int) -> None:
        start.wait()
        for attempt in range(4):
            reservation_id = f"t{thread}-{attempt}"
            outcome = reserve_counted(store, reservation_id, TEN_CENTS, [],
                                      [_team(2 * ONE_DOLLAR, TEN_CENTS)],
                                      user=f"user-{thread % 3}")
            if outcome.granted:
                with lock:
                    granted.append(reservation_id)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 20
    assert store.read_counters([], ["team:search"], now=NOW).held["team:search"] == 2 * ONE_DOLLAR


def test_settings_are_versioned_text_that_reset_keeps(store: LedgerStore) -> None:
    before = store.settings_version()
    store.put_setting("a", '{"daily": 1.0}')
    store.put_setting("b", "x")
    store.put_setting("b", None)

    version, values = store.settings()
    assert values == {"a": '{"daily": 1.0}'}
    assert version == store.settings_version() and version >= before + 3
    store.reset()
    assert store.settings()[1] == {"a": '{"daily": 1.0}'}
