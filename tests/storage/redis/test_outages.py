"""Redis unreachable: fail_closed refuses, fail_open allows and reconciles, retries count once."""

from __future__ import annotations

import asyncio
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cascadeflow._exceptions import StoreUnavailableError
from cascadeflow.storage._redis import RedisStore
from cascadeflow.telemetry import BudgetConfig, CostTracker
from tests._redis_server import RedisServer, free_port

from .conftest import DAY, NOW, PERIODS, entry, limits


@pytest.fixture
def persistent_server() -> Iterator[RedisServer]:
    with RedisServer(persistent=True) as server:
        yield server


def test_fail_closed_refuses_with_the_url_and_without_the_password(
    make_store: Callable[..., RedisStore],
) -> None:
    with RedisServer(password="s3cret-pw") as server:
        store = make_store(server.url)
        assert store.reserve("r1", "u1", 1, limits(daily=10), now=NOW, expires_at=NOW + 60).granted
        server.stop()
        with pytest.raises(StoreUnavailableError) as refused:
            store.reserve("r2", "u1", 1, limits(daily=10), now=NOW, expires_at=NOW + 60)
        message = str(refused.value)
        assert f"127.0.0.1:{server.port}" in message and "fails closed" in message
        assert "s3cret-pw" not in message
        for call in (lambda: store.usage("u1", PERIODS, now=NOW),
                     lambda: store.settle("r1", entry("r1"), 1, PERIODS),
                     lambda: store.record(entry("e1"), 1, PERIODS),
                     lambda: store.release("r1"),
                     store.totals):
            with pytest.raises(StoreUnavailableError):
                call()
        assert store.pending_writes == 0  # nothing is kept aside when failing closed
        server.start()
        assert store.reserve("r3", "u1", 1, limits(daily=10), now=NOW, expires_at=NOW + 60).granted


async def test_fail_closed_async_paths_refuse_too(
    make_store: Callable[..., RedisStore], own_server: RedisServer,
) -> None:
    store = make_store(own_server.url)
    assert (await store.ausage("u1", PERIODS, now=NOW)).reserved_nanos == 0
    own_server.stop()
    with pytest.raises(StoreUnavailableError):
        await store.areserve("r1", "u1", 1, limits(daily=10), now=NOW, expires_at=NOW + 60)
    with pytest.raises(StoreUnavailableError):
        await store.asettle("r1", entry("r1"), 1, PERIODS)
    for read in (store.asettings, store.asettings_version, lambda: store.auser_tier("u1")):
        with pytest.raises(StoreUnavailableError):
            await read()


async def test_async_tier_and_settings_reads_in_an_outage_answer_as_the_sync_ones(
    make_store: Callable[..., RedisStore], own_server: RedisServer,
) -> None:
    store = make_store(own_server.url, on_unavailable="fail_open")
    store.set_user_tier("u1", "pro")
    assert await store.auser_tier("u1") == "pro"
    own_server.stop()
    assert await store.auser_tier("u1") is None  # fail_open: as user_tier() answers
    with pytest.raises(StoreUnavailableError):
        await store.asettings()  # no fail-open answer for the limits: as settings()
    tracker = CostTracker(store=store, enforcement_mode="block")
    held = await tracker.areserve("u1", 0.01)  # the limits known last apply; admitted
    assert await held.asettle(0.01, provider="openai", tokens=1)


def test_fail_open_allows_logs_once_and_reconciles_when_redis_returns(
    make_store: Callable[..., RedisStore], persistent_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = make_store(persistent_server.url, on_unavailable="fail_open")
    assert store.record(entry("before", cost_nanos=100), 100, PERIODS)
    persistent_server.stop()

    with caplog.at_level(logging.WARNING, logger="cascadeflow.storage.redis"):
        assert store.reserve("r1", "u1", 10_000, limits(daily=1), now=NOW,
                             expires_at=NOW + 60).granted  # no budget check in the outage
        assert store.usage("u1", PERIODS, now=NOW).spent_nanos[DAY.key] == 0
        assert store.settle("r1", entry("r1", cost_nanos=40), 40, PERIODS)
        assert not store.settle("r1", entry("r1", cost_nanos=40), 40, PERIODS)
        assert store.record(entry("before", cost_nanos=100), 100, PERIODS)  # seen pre-outage
        store.set_user_tier("u1", "pro")
        with pytest.raises(StoreUnavailableError):
            store.totals()  # reports never make numbers up
    outage_logs = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage_logs) == 1 and "fail_open" in outage_logs[0].getMessage()
    assert store.pending_writes == 3

    persistent_server.start()
    usage = store.usage("u1", PERIODS, now=NOW)  # the first call back replays the journal
    assert store.pending_writes == 0
    assert usage.spent_nanos[DAY.key] == 140  # "before" counted once, r1 once
    assert store.totals().entry_count == 2
    assert store.user_tiers() == {"u1": "pro"}
    assert store.reconcile() == 0


async def test_fail_open_async_journal_is_replayed_by_areconcile(
    make_store: Callable[..., RedisStore], persistent_server: RedisServer,
) -> None:
    store = make_store(persistent_server.url, on_unavailable="fail_open")
    persistent_server.stop()
    assert (await store.areserve("r1", "u1", 5, limits(daily=1), now=NOW,
                                 expires_at=NOW + 60)).granted
    assert await store.asettle("r1", entry("r1", cost_nanos=5), 5, PERIODS)
    assert await store.arecord(entry("e2", cost_nanos=6), 6, PERIODS)
    with pytest.raises(StoreUnavailableError):
        await store.areconcile()
    persistent_server.start()
    assert await store.areconcile() == 2
    assert (await store.ausage("u1", PERIODS, now=NOW)).spent_nanos[DAY.key] == 11
    await store.aclose()


def test_each_outage_is_logged_once(
    make_store: Callable[..., RedisStore], own_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = make_store(own_server.url, on_unavailable="fail_open")
    with caplog.at_level(logging.WARNING, logger="cascadeflow.storage.redis"):
        for _ in range(2):
            own_server.stop()
            for _ in range(3):
                store.usage("u1", PERIODS, now=NOW)
            own_server.start()
            store.usage("u1", PERIODS, now=NOW)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unreachable" in m for m in messages) == 2
    assert sum("reachable again" in m for m in messages) == 2


def test_a_tracker_made_while_redis_is_down_has_no_private_budget(
    own_server: RedisServer, make_store: Callable[..., RedisStore],
) -> None:
    own_server.stop()
    store = make_store(own_server.url)  # fail_closed, the default
    budget = {"pro": BudgetConfig(daily=1.0)}
    with pytest.raises(StoreUnavailableError):
        tracker = CostTracker(user_budgets=budget, store=store)
        tracker.reserve("u1", 0.5, user_tier="pro")
    with pytest.raises(StoreUnavailableError):
        store.reserve("r1", "u1", 1, limits(daily=10), now=NOW, expires_at=NOW + 60)

    own_server.start()
    elsewhere = CostTracker(user_budgets=budget, store=make_store(own_server.url))
    elsewhere.add_cost("gpt-4o-mini", "openai", 10, 0.9, user_id="u1", user_tier="pro")
    tracker = CostTracker(user_budgets=budget, store=store)
    assert not tracker.can_afford("u1", 0.2, user_tier="pro")  # the shared spend, not its own


class DroppingProxy:
    """A loopback TCP proxy to Redis that can drop the reply to the next script call.

    The script runs in Redis; the client sees its connection closed and never gets the
    answer, as when a network path fails at the worst moment.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.drop_next_script_reply = False
        self.dropped = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        with client, upstream:
            while True:
                readable, _, _ = select.select([client, upstream], [], [])
                if client in readable:
                    data = client.recv(65536)
                    if not data:
                        return
                    upstream.sendall(data)
                    if self.drop_next_script_reply and b"EVALSHA" in data:
                        self.drop_next_script_reply = False
                        upstream.recv(65536)  # the script ran; its reply goes nowhere
                        self.dropped += 1
                        return
                if upstream in readable:
                    data = upstream.recv(65536)
                    if not data:
                        return
                    client.sendall(data)

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def test_a_settle_retried_after_a_dropped_reply_counts_once(
    make_store: Callable[..., RedisStore], redis_server: RedisServer, redis_url: str,
) -> None:
    proxy = DroppingProxy(redis_server.port)
    try:
        store = make_store(proxy.url)
        assert store.reserve("r1", "u1", 500, limits(daily=1000), now=NOW,
                             expires_at=NOW + 60).granted
        proxy.drop_next_script_reply = True
        assert store.settle("r1", entry("r1", cost_nanos=300), 300, PERIODS)
        assert proxy.dropped == 1  # the first attempt's reply was lost, the retry answered
        direct = make_store(redis_url)
        usage = direct.usage("u1", PERIODS, now=NOW)
        assert usage.spent_nanos[DAY.key] == 300 and usage.reserved_nanos == 0
        assert direct.totals().entry_count == 1
        assert len(direct.entries()) == 1
        assert not store.settle("r1", entry("r1", cost_nanos=300), 300, PERIODS)
    finally:
        proxy.close()


async def test_async_retries_wait_without_blocking_the_event_loop(
    make_store: Callable[..., RedisStore], own_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cascadeflow.storage._redis_outage import RedisRetryPolicy

    store = make_store(own_server.url, retry=RedisRetryPolicy(
        attempts=3, initial_wait=0.01, max_wait=0.01, probe_interval=0.0))
    own_server.stop()

    def blocking_sleep(seconds: float) -> None:
        raise AssertionError("time.sleep called on the event loop")

    monkeypatch.setattr(time, "sleep", blocking_sleep)
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def counted_sleep(seconds: float, *args: object) -> None:
        waits.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", counted_sleep)
    with pytest.raises(StoreUnavailableError):
        await store.areserve("r1", "u1", 1, limits(daily=10), now=NOW, expires_at=NOW + 60)
    assert waits == [0.01, 0.01]  # two backoff waits between three tries, both asyncio's


def test_retry_policy_rejects_nonsense() -> None:
    from cascadeflow.storage._redis_outage import RedisRetryPolicy

    with pytest.raises(ValueError, match="attempts"):
        RedisRetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="max_wait"):
        RedisRetryPolicy(max_wait=-1)
    with pytest.raises(ValueError, match="connect_timeout"):
        RedisRetryPolicy(connect_timeout=0)


def test_store_options_are_validated(redis_url: str) -> None:
    with pytest.raises(ValueError, match="on_unavailable"):
        RedisStore(redis_url, on_unavailable="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="redis:// URL"):
        RedisStore(42)  # type: ignore[arg-type]


def test_a_journal_file_survives_the_process_that_wrote_it(
    make_store: Callable[..., RedisStore], persistent_server: RedisServer, tmp_path: Path,
) -> None:
    journal = tmp_path / "outage-journal.db"
    dying = make_store(persistent_server.url, on_unavailable="fail_open", journal_path=journal)
    persistent_server.stop()
    assert dying.settle("r1", entry("r1", cost_nanos=70), 70, PERIODS)
    assert dying.record(entry("e2", cost_nanos=30), 30, PERIODS)
    dying.close()  # the process is gone; its journal file stays

    persistent_server.start()
    successor = make_store(persistent_server.url, on_unavailable="fail_open",
                           journal_path=journal)
    assert successor.pending_writes == 2
    assert successor.usage("u1", PERIODS, now=NOW).spent_nanos[DAY.key] == 100
    assert successor.pending_writes == 0
    again = make_store(persistent_server.url, on_unavailable="fail_open", journal_path=journal)
    assert again.pending_writes == 0  # replayed rows left the file
    assert successor.totals().entry_count == 2


def test_stored_limits_known_before_an_outage_keep_applying_and_fail_open_allows(
    make_store: Callable[..., RedisStore], persistent_server: RedisServer,
) -> None:
    store = make_store(persistent_server.url, on_unavailable="fail_open")
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.TIER_REFRESH_SECONDS = 0.0
    tracker.set_budget("team:search", BudgetConfig(daily=0.01))
    persistent_server.stop()

    assert tracker.get_budget("team:search") == BudgetConfig(daily=0.01)
    assert tracker.reserve("alice", 0.05, team="search") is not None  # fail_open: allowed
    persistent_server.start()
    assert tracker.can_afford("alice", 0.05, team="search") is False


def test_a_fail_open_worker_started_during_the_outage_admits_then_enforces_when_it_is_back(
    make_store: Callable[..., RedisStore], persistent_server: RedisServer,
) -> None:
    admin = make_store(persistent_server.url)
    CostTracker(store=admin).set_user_budget("u1", BudgetConfig(daily=0.05))
    persistent_server.stop()
    store = make_store(persistent_server.url, on_unavailable="fail_open")
    tracker = CostTracker(store=store, enforcement_mode="block")
    tracker.TIER_REFRESH_SECONDS = 0.0

    assert tracker.can_afford("u1", 0.10)  # no stored limit can be read: admitted
    assert tracker.reserve("u1", 0.10) is not None

    persistent_server.start()
    time.sleep(store.policy.probe_interval)
    assert not tracker.can_afford("u1", 0.10)  # the stored $0.05 applies again
