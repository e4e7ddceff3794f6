"""Lifecycle events for ``on_event`` observers, built only when someone observes them.

Every event of one run carries the run's ``stream_id``, the caller's ``context`` and a
strictly increasing monotonic ``ts``. Observers are the run's own ``on_event`` plus the
process-wide hooks added with :func:`add_event_hook` (how OpenTelemetry, Sentry and
monitors see every run). An observer that raises never breaks the stream: the failure is
logged once per run and counted in ``EventEmitter.failures``.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

logger = logging.getLogger("cascadeflow.l0")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class LifecycleEventType(str, Enum):
    """The kinds of :class:`L0LifecycleEvent` (payloads: :mod:`cascadeflow.l0` ``*Data``).

    Every run emits ``session_start`` first and ``session_end`` last, exactly once each,
    however it ends (completed, failed, aborted, or abandoned by its consumer).
    """

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
    # Operations over many streams (parallel, race, consensus, pipelines, windows) emit
    # these through their own ``on_event``; ``data["operation"]`` names the operation.
    OPERATION_START = "operation_start"
    """An operation began: ``operation``, ``tasks`` (how many)."""
    TASK_START = "task_start"
    """One of its tasks began: ``operation``, ``index``."""
    TASK_END = "task_end"
    """A task ended: ``index``, ``status``, ``duration``, ``cost_usd``, ``error``."""
    RACE_WINNER = "race_winner"
    """A race has its winner: ``index`` and the ``losers`` cancelled."""
    CONSENSUS_VOTE = "consensus_vote"
    """A consensus counted its votes: ``strategy``, ``winner``, ``confidence``, ``groups``."""
    PIPELINE_STEP = "pipeline_step"
    """A pipeline step ended: ``name``, ``index``, ``status``, ``duration``, ``cost_usd``."""
    WINDOW_CHUNK = "window_chunk"
    """A document window chunk was processed: ``index``, ``start``, ``end``, ``status``."""
    OPERATION_END = "operation_end"
    """An operation ended: ``status``, ``duration``, ``cost_usd``."""
    SESSION_END = "session_end"
    #: The ``budget=`` meter refused an attempt (``refused=True``, ``error``) or stopped
    #: the stream (``refused=False``, ``error``, ``token_count`` delivered).
    BUDGET = "budget"


@dataclass(frozen=True, slots=True)
class L0LifecycleEvent:
    """One step of a run, as the ``on_event`` observer sees it.

    ``attempt`` counts factory calls from 1; ``fallback_index`` is 0 for the primary;
    ``data`` holds the step's details, shaped as the type's payload class in
    ``cascadeflow.l0.EVENT_PAYLOADS`` (``retry``: :class:`RetryData` with ``reason``,
    ``delay``, ``category``, ``error``; ``budget``: :class:`BudgetData` with ``refused``,
    ``error`` and, for a stopped stream, ``token_count``; ``session_end``:
    :class:`SessionEndData`; ...).

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


EventObserver = Callable[[L0LifecycleEvent], Any]

# Process-wide observers: (observer, the event types it wants or None for all). A tuple,
# swapped whole, so runs starting on other threads read a consistent snapshot.
_hooks: tuple[tuple[EventObserver, frozenset[str] | None], ...] = ()


def add_event_hook(observer: EventObserver,
                   types: Collection[LifecycleEventType | str] | None = None) -> None:
    """Send the lifecycle events of every run started from now on to ``observer``.

    ``types`` limits it to those event types (``None``: all). Runs already under way keep
    the observers they started with. Observers are called in the order they were added;
    adding one that is already there replaces its ``types``.

    Example:
        >>> seen = []
        >>> add_event_hook(seen.append, types={"session_start", "session_end"})
        >>> await (await l0(factory)).text()
        >>> [event.type for event in seen]
        ['session_start', 'session_end']
        >>> remove_event_hook(seen.append)

    .. versionadded:: 0.1
    """
    global _hooks
    if not callable(observer):
        raise TypeError(f"an event hook must be callable, got {observer!r}")
    wanted = None if types is None else frozenset(_type_name(kind) for kind in types)
    kept = tuple(hook for hook in _hooks if hook[0] != observer)
    _hooks = (*kept, (observer, wanted))


def remove_event_hook(observer: EventObserver) -> bool:
    """Stop sending new runs' events to ``observer``; True when it was registered.

    Example:
        >>> remove_event_hook(monitor.on_event)
        True

    .. versionadded:: 0.1
    """
    global _hooks
    kept = tuple(hook for hook in _hooks if hook[0] != observer)
    removed = len(kept) != len(_hooks)
    _hooks = kept
    return removed


def event_hooks() -> tuple[EventObserver, ...]:
    """The observers added with :func:`add_event_hook`, in call order.

    Example:
        >>> event_hooks()
        ()

    .. versionadded:: 0.1
    """
    return tuple(hook[0] for hook in _hooks)


def _type_name(kind: LifecycleEventType | str) -> str:
    name = kind.value if isinstance(kind, LifecycleEventType) else str(kind)
    if name not in _TYPE_NAMES:
        raise ValueError(f"unknown lifecycle event type {kind!r}; "
                         f"expected one of {sorted(_TYPE_NAMES)}")
    return name


_TYPE_NAMES = frozenset(kind.value for kind in LifecycleEventType)


class EventEmitter:
    """Sends lifecycle events of one run to its observers, never letting them raise."""

    __slots__ = ("_last_ts", "_observers", "context", "failures", "stream_id")

    def __init__(self, callback: EventObserver | None,
                 context: Mapping[str, Any] | None) -> None:
        observers = _hooks
        if callback is not None:
            observers = ((callback, None), *observers)
        self._observers = observers
        self.stream_id = uuid.uuid4().hex
        self.context: Mapping[str, Any] = (
            MappingProxyType(dict(context)) if context else _EMPTY
        )
        self._last_ts = 0.0
        self.failures = 0

    @property
    def active(self) -> bool:
        """Whether anyone observes (callers skip building event data otherwise)."""
        return bool(self._observers)

    def wants(self, kind: LifecycleEventType) -> bool:
        """Whether any observer takes ``kind`` (frequent events are skipped otherwise)."""
        name = kind.value
        return any(types is None or name in types for _, types in self._observers)

    def emit(self, kind: LifecycleEventType, attempt: int, fallback_index: int, /,
             **data: Any) -> None:
        """Build and deliver one event (a no-op without an observer)."""
        observers = self._observers
        if not observers:
            return
        now = time.monotonic()
        if now <= self._last_ts:
            now = math.nextafter(self._last_ts, math.inf)
        self._last_ts = now
        name = kind.value
        event = L0LifecycleEvent(name, now, self.stream_id, self.context, attempt,
                                 fallback_index, data)
        for observer, types in observers:
            if types is not None and name not in types:
                continue
            try:
                observer(event)
            except Exception:
                self.failures += 1
                if self.failures == 1:
                    logger.warning("l0 on_event observer raised on %s (stream %s); the "
                                   "stream goes on and later failures are only counted",
                                   name, self.stream_id, exc_info=True)


__all__ = ["EventEmitter", "EventObserver", "L0LifecycleEvent", "LifecycleEventType",
           "add_event_hook", "event_hooks", "remove_event_hook"]
