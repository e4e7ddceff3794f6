"""Period counters expire after their period (plus a margin); total and the ledger do not."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

import pytest
import redis

from cascadeflow.storage._base import PeriodKey, PeriodLimit
from cascadeflow.storage._redis import RedisStore

from .conftest import entry

MARGIN = 2 * 86400


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_period_counters_expire_at_the_end_of_their_period_plus_margin(
    store: RedisStore, client: redis.Redis,
) -> None:
    now = time.time()
    day = PeriodKey("daily", "daily:today", now + 3600)
    week = PeriodKey("weekly", "weekly:this", now + 5 * 86400)
    total = PeriodKey("total", "total", None)
    store.record(entry("e1", at=now), 100, (day, week, total))

    day_key, week_key = "cascadeflow:spent:{u1}:daily:today", "cascadeflow:spent:{u1}:weekly:this"
    assert client.expiretime(day_key) == pytest.approx(now + 3600 + MARGIN, abs=2)
    assert client.expiretime(week_key) == pytest.approx(now + 5 * 86400 + MARGIN, abs=2)
    assert client.ttl("cascadeflow:spent:{u1}:total") == -1  # total never resets
    assert client.ttl("cascadeflow:totals") == -1
    assert client.ttl("cascadeflow:by_user") == -1
    assert client.ttl("cascadeflow:done:e1") == pytest.approx(8 * 86400, abs=2)
    stream_ttl = client.ttl(f"cascadeflow:entries:{datetime.now(timezone.utc).date()}")
    assert stream_ttl == pytest.approx(32 * 86400, abs=2)


def test_a_simulated_clock_keeps_its_counters_until_its_own_period_ends(
    store: RedisStore, client: redis.Redis,
) -> None:
    # A tracker whose clock says 2020: the key lives (end - entry time + margin), not 0 s.
    at = datetime(2020, 1, 1, 12, 0, tzinfo=timezone.utc).timestamp()
    day = PeriodKey("daily", "daily:2020-01-01", at + 12 * 3600)
    store.record(entry("e1", at=at), 100, (day,))
    assert client.ttl("cascadeflow:spent:{u1}:daily:2020-01-01") == pytest.approx(
        12 * 3600 + MARGIN, abs=2)


def test_margin_is_configurable(make_store: Callable[..., RedisStore], client: redis.Redis) -> None:
    store = make_store(period_margin=60)
    now = time.time()
    store.record(entry("e1", at=now), 100, (PeriodKey("daily", "daily:x", now + 100),))
    assert client.ttl("cascadeflow:spent:{u1}:daily:x") == pytest.approx(160, abs=2)


def test_leases_are_cleaned_up_by_redis_after_their_ttl(
    store: RedisStore, client: redis.Redis,
) -> None:
    now = time.time()
    day = PeriodKey("daily", "daily:today", now + 3600)
    store.reserve("r1", "u1", 5, [PeriodLimit(day, 10)], now=now,
                  expires_at=now + 30)
    # Even if no one ever reads this user again, Redis drops the lease keys: the lease's
    # owner key after ttl + 60 s, the user's lease set within twice that.
    assert client.ttl("cascadeflow:lease:r1") == pytest.approx(90, abs=2)
    for key in ("cascadeflow:leases:{u1}", "cascadeflow:lease_amounts:{u1}"):
        assert client.ttl(key) == pytest.approx(180, abs=2)


def test_later_writes_keep_the_expiry_a_counter_got_when_it_was_created(
    store: RedisStore, client: redis.Redis,
) -> None:
    now = time.time()
    day = PeriodKey("daily", "daily:today", now + 3600)
    store.record(entry("e1", at=now), 100, (day,))
    client.pexpire("cascadeflow:spent:{u1}:daily:today", 5_000)
    store.record(entry("e2", at=now), 100, (day,))
    assert client.get("cascadeflow:spent:{u1}:daily:today") == b"200"
    assert 0 < client.pttl("cascadeflow:spent:{u1}:daily:today") <= 5_000
