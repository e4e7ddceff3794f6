"""Lifecycle events for the ``on_event`` observer, built only when someone observes them.

Every event of one run carries the run's ``stream_id``, the caller's ``context`` and a
strictly increasing monotonic ``ts``. An observer that raises never breaks the stream: the
failure is logged once per run and counted in ``EventEmitter.failures``.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

logger = logging.getLogger("cascadeflow.l0")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class LifecycleEventType(str, Enum):
    """The kinds of :class:`L0LifecycleEvent`."""

    SESSION_START = "session_start"
    ATTEMPT_START = "attempt_start"
    FIRST_TOKEN = "first_token"
    RETRY = "retry"
    FALLBACK = "fallback"
    CHECKPOINT = "checkpoint"
    RESUME = "resume"
    TIMEOUT = "timeout"
    ABORT = "abort"
    VIOLATION = "violation"
    DRIFT = "drift"
    COMPLETE = "complete"
    ERROR = "error"
    #: The ``budget=`` meter refused an attempt (``refused=True``, ``error``) or stopped
    #: the stream (``refused=False``, ``error``, ``token_count`` delivered).
    BUDGET = "budget"


@dataclass(frozen=True, slots=True)
class L0LifecycleEvent:
    """One step of a run, as the ``on_event`` observer sees it.

    ``attempt`` counts factory calls from 1; ``fallback_index`` is 0 for the primary;
    ``data`` holds the step's details (``retry``: ``reason``, ``delay``, ``category``,
    ``error``; ``checkpoint``: ``token_count``; ``violation``: ``violation``;
    ``timeout``: ``kind``, ``seconds``; ``error``: ``error``, ``category``; ``budget``:
    ``refused``, ``error`` and, for a stopped stream, ``token_count``; ...).

    Example:
        >>> seen = []
        >>> result = await l0(factory, on_event=seen.append)
        >>> await result.text()
        >>> [event.type for event in seen][:2]
        ['session_start', 'attempt_start']
    """

    type: str
    ts: float
    stream_id: str
    context: Mapping[str, Any]
    attempt: int
    fallback_index: int
    data: Mapping[str, Any] = field(default_factory=dict)


class EventEmitter:
    """Sends lifecycle events of one run to its observer, never letting it raise."""

    __slots__ = ("_callback", "_last_ts", "context", "failures", "stream_id")

    def __init__(self, callback: Callable[[L0LifecycleEvent], Any] | None,
                 context: Mapping[str, Any] | None) -> None:
        self._callback = callback
        self.stream_id = uuid.uuid4().hex
        self.context: Mapping[str, Any] = (
            MappingProxyType(dict(context)) if context else _EMPTY
        )
        self._last_ts = 0.0
        self.failures = 0

    @property
    def active(self) -> bool:
        """Whether anyone observes (callers skip building event data otherwise)."""
        return self._callback is not None

    def emit(self, kind: LifecycleEventType, attempt: int, fallback_index: int, /,
             **data: Any) -> None:
        """Build and deliver one event (a no-op without an observer)."""
        callback = self._callback
        if callback is None:
            return
        now = time.monotonic()
        if now <= self._last_ts:
            now = math.nextafter(self._last_ts, math.inf)
        self._last_ts = now
        event = L0LifecycleEvent(kind.value, now, self.stream_id, self.context, attempt,
                                 fallback_index, data)
        try:
            callback(event)
        except Exception:
            self.failures += 1
            if self.failures == 1:
                logger.warning("l0 on_event observer raised on %s (stream %s); the stream "
                               "goes on and later failures are only counted",
                               kind.value, self.stream_id, exc_info=True)


__all__ = ["EventEmitter", "L0LifecycleEvent", "LifecycleEventType"]
