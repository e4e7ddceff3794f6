"""A monitor of many L0 runs, and helpers that compose ``on_event`` observers.

The monitor is an ordinary observer: it reads ``session_start``, ``violation`` and
``session_end`` events (everything else it ignores at once), samples whole runs, and
keeps counters plus a bounded window of per-run timings for percentiles.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from cascadeflow.l0._events import (
    EventObserver,
    L0LifecycleEvent,
    LifecycleEventType,
    _type_name,
    add_event_hook,
    remove_event_hook,
)

_E = LifecycleEventType
_START, _END, _VIOLATION = _E.SESSION_START.value, _E.SESSION_END.value, _E.VIOLATION.value
_OUTCOMES = ("completed", "failed", "aborted", "abandoned", "cancelled")


def run_is_sampled(stream_id: str, sample_rate: float) -> bool:
    """Whether the run ``stream_id`` falls in a ``sample_rate`` sample (same answer for
    every event of the run, and for every observer using the same rate).

    Example:
        >>> run_is_sampled("0" * 32, 0.5)
        True
    """
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    try:
        position = int(stream_id[:8], 16) / 0x1_0000_0000
    except ValueError:
        position = (hash(stream_id) & 0xFFFF_FFFF) / 0x1_0000_0000
    return position < sample_rate


def _percentile(values: Collection[float], fraction: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    """What a :class:`Monitor` has seen so far (sampled runs only).

    Attributes:
        runs: runs started.
        completed, failed, aborted, abandoned, cancelled: runs that ended that way.
        in_flight: runs started and not yet ended.
        retries: retries by :class:`RetryReason` value.
        fallbacks: fallbacks taken.
        violations: guardrail violations by rule name.
        time_to_first_token_p50, time_to_first_token_p95: seconds, over the window.
        tokens_per_second_p50, tokens_per_second_p95: per run, over the window.
        cost_usd: what the runs cost when a budget guard metered them, else None.

    Example:
        >>> monitor.snapshot().completed
        3
    """

    runs: int
    completed: int
    failed: int
    aborted: int
    abandoned: int
    cancelled: int
    in_flight: int
    retries: Mapping[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    violations: Mapping[str, int] = field(default_factory=dict)
    time_to_first_token_p50: float | None = None
    time_to_first_token_p95: float | None = None
    tokens_per_second_p50: float | None = None
    tokens_per_second_p95: float | None = None
    cost_usd: float | None = None


class Monitor:
    """Counts and times L0 runs from their lifecycle events; create with :func:`create_monitor`.

    Pass ``monitor.on_event`` as ``l0(..., on_event=...)`` for chosen runs, or
    :meth:`attach` it to every run of the process.

    Example:
        >>> monitor = create_monitor()
        >>> result = await l0(factory, on_event=monitor.on_event)
        >>> await result.text()
        >>> monitor.snapshot().completed
        1
    """

    #: The event types the monitor reads (what :meth:`attach` subscribes to).
    event_types = frozenset({_START, _END, _VIOLATION})

    def __init__(self, sample_rate: float = 1.0, *, window: int = 1000) -> None:
        if not (isinstance(sample_rate, (int, float)) and 0.0 <= sample_rate <= 1.0):
            raise ValueError(f"sample_rate must be between 0 and 1, got {sample_rate!r}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive int, got {window!r}")
        self.sample_rate = float(sample_rate)
        self._lock = threading.Lock()
        self._ttft: deque[float] = deque(maxlen=window)
        self._rates: deque[float] = deque(maxlen=window)
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._runs = 0
        self._ended = dict.fromkeys(_OUTCOMES, 0)
        self._retries: dict[str, int] = {}
        self._fallbacks = 0
        self._violations: dict[str, int] = {}
        self._cost: float | None = None

    def on_event(self, event: L0LifecycleEvent) -> None:
        """The observer: give it every event of the runs to monitor."""
        kind = event.type
        if kind not in self.event_types or not run_is_sampled(event.stream_id,
                                                              self.sample_rate):
            return
        with self._lock:
            if kind == _START:
                self._runs += 1
            elif kind == _VIOLATION:
                rule = getattr(event.data.get("violation"), "rule", None) or "unknown"
                self._violations[rule] = self._violations.get(rule, 0) + 1
            else:
                self._end(event.data)

    def _end(self, data: Mapping[str, Any]) -> None:
        outcome = data.get("outcome", "abandoned")
        self._ended[outcome] = self._ended.get(outcome, 0) + 1
        for reason, count in (data.get("retries") or {}).items():
            self._retries[reason] = self._retries.get(reason, 0) + count
        self._fallbacks += data.get("fallbacks", 0)
        ttft = data.get("time_to_first_token")
        if ttft is not None:
            self._ttft.append(ttft)
        duration, tokens = data.get("duration") or 0.0, data.get("token_count", 0)
        if outcome == "completed" and duration > 0 and tokens:
            self._rates.append(tokens / duration)
        cost = data.get("cost_usd")
        if cost is not None:
            self._cost = (self._cost or 0.0) + cost

    def snapshot(self) -> MonitorSnapshot:
        """The figures so far (a frozen copy).

        Example:
            >>> monitor.snapshot().retries
            {'network_error': 1}
        """
        with self._lock:
            ended = dict(self._ended)
            ttft, rates = list(self._ttft), list(self._rates)
            return MonitorSnapshot(
                runs=self._runs,
                completed=ended["completed"],
                failed=ended["failed"],
                aborted=ended["aborted"],
                abandoned=ended["abandoned"],
                cancelled=ended["cancelled"],
                in_flight=self._runs - sum(ended.values()),
                retries=dict(self._retries),
                fallbacks=self._fallbacks,
                violations=dict(self._violations),
                time_to_first_token_p50=_percentile(ttft, 0.50),
                time_to_first_token_p95=_percentile(ttft, 0.95),
                tokens_per_second_p50=_percentile(rates, 0.50),
                tokens_per_second_p95=_percentile(rates, 0.95),
                cost_usd=self._cost,
            )

    def reset(self) -> None:
        """Forget everything seen so far."""
        with self._lock:
            self._reset_counters()
            self._ttft.clear()
            self._rates.clear()

    def attach(self) -> Monitor:
        """Watch every run started from now on (a process-wide event hook); returns self.

        Example:
            >>> monitor = create_monitor().attach()
        """
        add_event_hook(self.on_event, types=self.event_types)
        return self

    def detach(self) -> None:
        """Stop watching new runs (undoes :meth:`attach`)."""
        remove_event_hook(self.on_event)


def create_monitor(sample_rate: float = 1.0, *, window: int = 1000,
                   attach: bool = False) -> Monitor:
    """A :class:`Monitor` for L0 runs.

    ``sample_rate`` decides per run, never per event: a run is either watched from its
    ``session_start`` to its ``session_end`` or not at all. ``window`` bounds how many
    recent runs the percentiles are taken over. ``attach=True`` watches every run of the
    process (see :meth:`Monitor.attach`).

    Example:
        >>> monitor = create_monitor(sample_rate=0.1)
        >>> result = await l0(factory, on_event=monitor.on_event)
        >>> await result.text()
        >>> monitor.snapshot().runs in (0, 1)
        True

    .. versionadded:: 0.1
    """
    monitor = Monitor(sample_rate, window=window)
    return monitor.attach() if attach else monitor


def combine_events(*observers: EventObserver) -> EventObserver:
    """One observer that calls each of ``observers`` in turn.

    Every observer sees every event even when an earlier one raises; the first exception
    is raised again afterwards, so the run logs and counts it.

    Example:
        >>> result = await l0(factory, on_event=combine_events(monitor.on_event, print))

    .. versionadded:: 0.1
    """
    for observer in observers:
        if not callable(observer):
            raise TypeError(f"combine_events takes callables, got {observer!r}")
    chosen = tuple(observers)

    def combined(event: L0LifecycleEvent) -> None:
        failure: Exception | None = None
        for observer in chosen:
            try:
                observer(event)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    return combined


def filter_events(types: Collection[LifecycleEventType | str],
                  observer: EventObserver) -> EventObserver:
    """An observer that passes only events of ``types`` on to ``observer``.

    Example:
        >>> on_event = filter_events({"retry", "fallback"}, print)

    .. versionadded:: 0.1
    """
    if isinstance(types, (str, LifecycleEventType)):
        types = (types,)
    wanted = frozenset(_type_name(kind) for kind in types)
    if not callable(observer):
        raise TypeError(f"filter_events needs a callable observer, got {observer!r}")

    def filtered(event: L0LifecycleEvent) -> None:
        if event.type in wanted:
            observer(event)

    return filtered


__all__ = ["Monitor", "MonitorSnapshot", "combine_events", "create_monitor", "filter_events",
           "run_is_sampled"]
