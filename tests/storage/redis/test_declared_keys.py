"""How calls reach the script: what a cluster call declares (every key of its operations, once,
and a lease's derived keys), and batches that always leave."""

from __future__ import annotations

import orjson

from cascadeflow.storage import CounterLimit, PeriodKey
from cascadeflow.storage._redis_batch import ScriptBatcher, pack_declared
from cascadeflow.storage._redis_declared import LeaseKeyBook, ended_lease
from cascadeflow.storage._redis_layout import RedisLayout

LAYOUT = RedisLayout(prefix="{cf}")
BUCKET = RedisLayout(prefix="{cf:03}")
DAY = PeriodKey("daily", "daily:2026-12-02", None)


def test_calls_name_their_keys_by_position_in_one_declared_list() -> None:
    calls = [(("usage", ["{cf}:a", "{cf}:b"], ["x"]), ()),
             (("record", ["{cf}:b", "{cf}:c"], ["y"]), ["{cf}:d", "{cf}:a"])]
    payload, declared = pack_declared(calls, "{cf}:route")

    assert declared == ["{cf}:a", "{cf}:b", "{cf}:c", "{cf}:d"]  # each once, route first
    keys = ["{cf}:route", *declared]
    decoded = orjson.loads(payload)
    assert [[keys[i - 1] for i in call[1]] for call in decoded] == [
        ["{cf}:a", "{cf}:b"], ["{cf}:b", "{cf}:c"]]
    assert [call[2] for call in decoded] == [["x"], ["y"]]


def test_a_lease_remembers_its_users_keys_and_the_owners_it_holds_on() -> None:
    book = LeaseKeyBook()
    counters = [CounterLimit("team:search", DAY, limit=10, hold=2),
                CounterLimit("team:search", DAY, limit=10, hold=2),
                CounterLimit("team:search/rpm", DAY, limit=5, add=1)]  # no hold: not ended
    book.remember([(BUCKET, []), (LAYOUT, counters)], "r1", "alice")

    assert book.homes("r1") == (BUCKET.prefix, LAYOUT.prefix)
    assert book.known(BUCKET.prefix, "r1") == [
        BUCKET.leases("alice"), BUCKET.lease_amounts("alice"), BUCKET.lease_holds("r1")]
    assert book.known(LAYOUT.prefix, "r1") == [
        LAYOUT.leases("alice"), LAYOUT.lease_amounts("alice"), LAYOUT.lease_holds("r1"),
        LAYOUT.holds("team:search"), LAYOUT.hold_amounts("team:search")]
    book.forget(LAYOUT.prefix, "r1")
    assert book.known(LAYOUT.prefix, "r1") is None
    assert book.homes("r1") == (BUCKET.prefix,)  # the bucket's part is still open
    book.forget(BUCKET.prefix, "r1")
    assert book.homes("r1") is None


def test_the_book_stays_bounded_and_keeps_the_newest_leases() -> None:
    book = LeaseKeyBook(max_leases=4)
    for index in range(10):
        book.remember([(LAYOUT, [])], f"r{index}", "alice")
    assert len(book) <= 4
    assert book.known(LAYOUT.prefix, "r9") is not None
    assert book.known(LAYOUT.prefix, "r0") is None  # forgotten: looked up when it ends
    assert book.homes("r0") is None


def test_keys_looked_up_for_a_lease_made_elsewhere() -> None:
    listed = orjson.dumps([LAYOUT.holds("org:acme"), LAYOUT.hold_amounts("org:acme")])
    assert LeaseKeyBook.from_lookup(LAYOUT, "r2", [b"bob", listed]) == [
        LAYOUT.lease_holds("r2"), LAYOUT.leases("bob"), LAYOUT.lease_amounts("bob"),
        LAYOUT.holds("org:acme"), LAYOUT.hold_amounts("org:acme")]
    assert LeaseKeyBook.from_lookup(LAYOUT, "r3", [b"", b""]) == [
        LAYOUT.lease_holds("r3")]  # no lease


def test_only_settles_and_releases_end_a_lease() -> None:
    assert ended_lease("release", ["{cf}", "r1"]) == "r1"
    assert ended_lease("record_counted", ["{cf}", "r2", "nonce"]) == "r2"
    assert ended_lease("record", ["{cf}", "", "nonce"]) == ""  # a plain record
    assert ended_lease("add_counted", ["{cf}", "r3", "nonce"]) == "r3"
    assert ended_lease("reserve", ["{cf}", "now"]) == ""


async def test_a_call_made_as_the_last_flusher_ends_is_still_sent(redis_url: str) -> None:
    # The waiter of a batch's call wakes before that batch's flusher has left the set of
    # flushers; its next call must not wait for the flusher that is gone.
    import anyio
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    batcher = ScriptBatcher(client, "cascadeflow:settings_version", in_flight=1)
    layout = RedisLayout(prefix="cascadeflow")
    for _ in range(3):
        keys, args = layout.usage_call("alice", [DAY], 0.0)
        with anyio.fail_after(5):  # inline: no task of its own between the call and us
            assert await batcher.call("usage", keys, args) == [0, 0]
    await client.aclose()
