"""Deadlines for a stream without a cancel scope, or even a clock read, per token.

Under asyncio one timer watches an attempt: it wakes a few times per deadline period and
notices progress by the token count. When the count has not moved for a whole deadline
while the runtime's generator is suspended in an ``await`` (waiting on the stream, not
handing a token to its consumer), it cancels the waiting task; a stall is thus caught
between 1 and 1.25 deadlines after the last token. Other event loops (trio) get one
cancel scope per wait instead, which is slower but equally correct.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

import anyio

from cascadeflow.l0._errors import L0AbortedError, L0TimeoutError

#: The timer wakes this many times per deadline period while tokens flow.
_CHECKS_PER_PERIOD = 4


class _Counts(Protocol):
    @property
    def token_count(self) -> int: ...


class Watchdog:
    """Watches one attempt: initial-token and inter-token deadlines, and abort.

    ``generator`` is the runtime's async generator: the watchdog only interrupts it while it
    is suspended in an ``await`` (so the consumer's own time never counts). The runtime
    calls :meth:`saw_first_token` once. ``fired`` becomes ``"timeout"`` or
    ``"abort"`` when the watchdog interrupted the wait.
    """

    __slots__ = ("_counts", "_handle", "_loop", "_progress_at", "_scope", "_seen", "_task",
                 "fired", "generator", "initial", "inter", "started", "use_timer")

    def __init__(self, initial: float | None, inter: float | None, counts: _Counts) -> None:
        self.initial = initial
        self.inter = inter
        self._counts = counts
        self.generator: Any = None
        self.started = False
        self.fired: str | None = None
        self.use_timer = False
        self._progress_at = time.monotonic()
        self._seen = -1
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scope: anyio.CancelScope | None = None

    @property
    def waiting(self) -> bool:
        """Whether the runtime is suspended in an ``await`` (not holding a token out)."""
        generator = self.generator
        return generator is None or generator.ag_await is not None

    @property
    def limit(self) -> float | None:
        """The deadline length that applies now (initial until the first token)."""
        return self.inter if self.started else self.initial

    @property
    def kind(self) -> str:
        """Which deadline applies now: ``initial_token`` or ``inter_token``."""
        return "inter_token" if self.started else "initial_token"

    def start(self) -> None:
        """Begin watching from now (called when the attempt opens its stream)."""
        self._progress_at = time.monotonic()
        self._seen = self._counts.token_count
        self.fired = None
        self.started = False
        try:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
        except RuntimeError:
            loop, task = None, None
        self.use_timer = loop is not None and task is not None
        if self.use_timer:
            self._loop, self._task = loop, task
            self._arm(self.limit)

    def stop(self) -> None:
        """Stop watching (the attempt ended)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._task = None
        self._scope = None

    def saw_first_token(self) -> None:
        """Switch from the initial-token to the inter-token deadline."""
        self.started = True
        self._progress_at = time.monotonic()
        self._seen = self._counts.token_count
        if self.use_timer and self._task is not None:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            self._arm(self.inter)

    def interrupt(self, reason: str) -> bool:
        """Interrupt a wait on the stream (``reason`` ``"abort"``); True if one was stopped.

        Call it from the event loop's thread.
        """
        if self._scope is not None:
            self.fired = reason
            self._scope.cancel()
            return True
        if self._task is not None and self.waiting:
            self.fired = reason
            self._task.cancel()
            return True
        return False

    def error(self) -> L0TimeoutError | L0AbortedError:
        """The error that stands for what the watchdog did."""
        if self.fired == "abort":
            return L0AbortedError("aborted while waiting for the stream")
        return L0TimeoutError(self.kind, self.limit or 0.0)

    # -- asyncio: one timer -------------------------------------------------------------
    def _arm(self, delay: float | None) -> None:
        if delay is None or self._loop is None:
            return
        self._handle = self._loop.call_later(max(delay, 0.0), self._on_timer)

    def _on_timer(self) -> None:
        self._handle = None
        limit = self.limit
        if limit is None or self._task is None:
            return
        now = time.monotonic()
        count = self._counts.token_count
        if count != self._seen or not self.waiting:
            # Tokens arrived, or the consumer holds control: the deadline starts again.
            self._seen = count
            self._progress_at = now
            self._arm(limit / _CHECKS_PER_PERIOD)
            return
        silent = now - self._progress_at
        if silent >= limit:
            self.fired = "timeout"
            self._task.cancel()
            return
        self._arm(limit - silent)

    def absorb_cancel(self) -> None:
        """Undo the task cancellation the watchdog itself requested (Python 3.11+)."""
        task = self._task
        uncancel = getattr(task, "uncancel", None)
        if uncancel is not None and getattr(task, "cancelling", lambda: 0)():
            uncancel()

    # -- other loops: one scope per wait --------------------------------------------------
    async def wait(self, awaitable: Any) -> Any:
        """Await ``awaitable`` under the current deadline (used when there is no timer)."""
        limit = self.limit
        if limit is None:
            deadline = math.inf
        elif self.started:
            deadline = anyio.current_time() + limit
        else:
            elapsed = time.monotonic() - self._progress_at
            deadline = anyio.current_time() + max(limit - elapsed, 0.0)
        with anyio.CancelScope(deadline=deadline) as scope:
            self._scope = scope
            try:
                return await awaitable
            finally:
                self._scope = None
        if self.fired is None:
            self.fired = "timeout"
        raise self.error()


class DeadlineIterator:
    """Wraps an async iterator so each ``__anext__`` waits under the watchdog's deadline."""

    __slots__ = ("_iterator", "_watchdog")

    def __init__(self, iterator: AsyncIterator[Any], watchdog: Watchdog) -> None:
        self._iterator = iterator
        self._watchdog = watchdog

    def __aiter__(self) -> DeadlineIterator:
        return self

    async def __anext__(self) -> Any:
        return await self._watchdog.wait(self._iterator.__anext__())


__all__ = ["DeadlineIterator", "Watchdog"]
