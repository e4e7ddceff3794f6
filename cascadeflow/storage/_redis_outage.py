"""What the Redis store does when Redis cannot be reached: retry policy and outage state.

``fail_closed`` refuses with :class:`~cascadeflow.StoreUnavailableError`. ``fail_open``
allows requests, logs once per outage, and keeps the writes it could not apply in a journal
(``_redis_journal``), replayed (idempotently, by entry id) as soon as Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis.exceptions
from tenacity import (
    AsyncRetrying,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from cascadeflow.storage._redis_journal import OutageJournal

logger = logging.getLogger("cascadeflow.storage.redis")

OnUnavailable = Literal["fail_closed", "fail_open"]

#: The errors that mean "Redis cannot be reached right now" (not "the command was wrong").
UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # A cluster whose slot has no master yet (a failover in progress).
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    # Redirections (MOVED, ASK, TRYAGAIN during a reshard) that did not end in time.
    redis.exceptions.ClusterError,
    ConnectionError,
    TimeoutError,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RedisRetryPolicy:
    """How the Redis store retries and reconnects when Redis does not answer.

    Attributes:
        attempts: tries per operation, the first included (``1`` = no retry).
        initial_wait: seconds before the first retry; doubles each retry (tenacity backoff).
        max_wait: the longest wait between two tries.
        probe_interval: after an operation found Redis unreachable, operations during the
            next ``probe_interval`` seconds do not wait on Redis again; they fail closed (or
            open) at once. The first one after it probes Redis.
        connect_timeout: seconds to wait for a TCP connection (clients the store creates).
        socket_timeout: seconds to wait for a reply (clients the store creates).

    Example:
        >>> from cascadeflow.storage import RedisStore, RedisRetryPolicy
        >>> store = RedisStore("redis://localhost:6379/0",
        ...                    retry=RedisRetryPolicy(attempts=5, max_wait=2.0))

    .. versionadded:: 0.1.0
    """

    attempts: int = 3
    initial_wait: float = 0.05
    max_wait: float = 1.0
    probe_interval: float = 0.5
    connect_timeout: float = 2.0
    socket_timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        for name in ("initial_wait", "max_wait", "probe_interval"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("connect_timeout", "socket_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def _kwargs(self) -> dict[str, Any]:
        return {
            # The first try already failed when these run, so one fewer.
            "stop": stop_after_attempt(max(1, self.attempts - 1)),
            "wait": wait_exponential(multiplier=self.initial_wait, max=self.max_wait),
            "retry": retry_if_exception_type(UNAVAILABLE),
            "reraise": True,
        }

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; on an unavailable error, retry with backoff (no overhead on success)."""
        try:
            return fn()
        except UNAVAILABLE:
            if self.attempts == 1:
                raise
        if self.initial_wait:
            time.sleep(self.initial_wait)
        return Retrying(**self._kwargs())(fn)

    async def acall(self, fn: Callable[[], Awaitable[T]], *, tried: bool = False) -> T:
        """Async :meth:`call`; waits with ``asyncio.sleep`` so the loop keeps running.

        ``tried=True`` says the caller's first try already failed: only the retries run.
        """
        if not tried:
            try:
                return await fn()
            except UNAVAILABLE:
                if self.attempts == 1:
                    raise
        if self.initial_wait:
            await asyncio.sleep(self.initial_wait)
        result: T = await AsyncRetrying(**self._kwargs())(fn)
        return result


class RedisDown(Exception):
    """Internal: Redis did not answer (after retries); carries the last error."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__(str(cause) if cause else "in probe cool-down after an outage")
        self.cause = cause


def safe_url(url: str) -> str:
    """``url`` without its password, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


class ProbePolicy(Protocol):
    """What the outage state needs of a retry policy: how long to wait before probing again."""

    @property
    def probe_interval(self) -> float: ...


@dataclass
class OutageState:
    """Whether Redis is down and since when (logged once per outage), and the journal."""

    url: str
    policy: ProbePolicy
    on_unavailable: OnUnavailable
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _down_since: float | None = None
    _next_probe: float = 0.0
    journal: OutageJournal = field(default_factory=OutageJournal)
    outages: int = 0
    #: What is down, as log lines name it (the PostgreSQL store shares this state machine).
    service: str = "Redis"

    # -- health ------------------------------------------------------------------
    def check_probe(self) -> None:
        """Raise :class:`RedisDown` without touching Redis while in the probe cool-down."""
        if self._down_since is not None and time.monotonic() < self._next_probe:
            raise RedisDown(None)

    def went_down(self, error: BaseException) -> RedisDown:
        with self._lock:
            self._next_probe = time.monotonic() + self.policy.probe_interval
            if self._down_since is not None:
                return RedisDown(error)
            self._down_since = time.monotonic()
            self.outages += 1
        if self.on_unavailable == "fail_open":
            logger.warning(
                "%s at %s is unreachable (%s); fail_open: allowing requests without "
                "budget checks and journaling writes locally until it is back",
                self.service, self.url, error,
            )
        else:
            logger.error("%s at %s is unreachable (%s); fail_closed: refusing requests",
                         self.service, self.url, error)
        return RedisDown(error)

    def came_back(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            self._down_since = None
        logger.warning("%s at %s is reachable again after %.1f s", self.service, self.url,
                       seconds)

    @property
    def is_down(self) -> bool:
        return self._down_since is not None
