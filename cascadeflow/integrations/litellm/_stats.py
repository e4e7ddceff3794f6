"""Counters of what the LiteLLM integration did, so that no failure goes unrecorded."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["IntegrationStats", "StatsRecorder"]

logger = logging.getLogger("cascadeflow.integrations.litellm")


@dataclass(frozen=True, slots=True)
class IntegrationStats:
    """A snapshot of the integration's counters.

    Attributes:
        recorded: cost entries written (settled reservations included).
        duplicates: success events ignored because their call was already recorded.
        allowed: calls let through by enforcement (ALLOW).
        warned: calls let through with a budget warning (WARN).
        degraded: calls moved to a cheaper model (DEGRADE).
        blocked: calls refused before anything was sent (BLOCK or no room to reserve).
        released: reservations freed because the call failed.
        unreserved: calls let through without a reservation (``enforcement_mode="warn"``
            and no room left).
        failures: failed calls per ``(user, model)``.
        callback_errors: errors raised inside cascadeflow's own hooks; the caller's request
            went on and the error was logged once per kind.
        abandoned_streams: guarded streams settled after the caller stopped reading.
        left_to_guard: callback events ignored because the guarded completion meters
            that call itself.
        over_budget: sync calls held although they did not fit (no LiteLLM hook can
            refuse a sync call; the hold makes the next checks see it).

    Example:
        >>> callback.stats.failures[("u1", "gpt-4o")]
        1
    """

    recorded: int = 0
    duplicates: int = 0
    allowed: int = 0
    warned: int = 0
    degraded: int = 0
    blocked: int = 0
    released: int = 0
    unreserved: int = 0
    failures: dict[tuple[str, str], int] = field(default_factory=dict)
    callback_errors: int = 0
    abandoned_streams: int = 0
    left_to_guard: int = 0
    over_budget: int = 0


_COUNTERS = (
    "recorded", "duplicates", "allowed", "warned", "degraded", "blocked", "released",
    "unreserved", "callback_errors", "abandoned_streams", "left_to_guard", "over_budget",
)


class StatsRecorder:
    """Thread-safe counters behind :class:`IntegrationStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._failures: Counter[tuple[str, str]] = Counter()
        self._logged_errors: set[str] = set()

    def add(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name`` (one of :class:`IntegrationStats`' fields)."""
        if name not in _COUNTERS:
            raise ValueError(f"unknown counter {name!r}")
        with self._lock:
            self._counts[name] += amount

    def failure(self, user_id: str | None, model: str) -> None:
        """Count one failed call of ``user_id`` on ``model``."""
        with self._lock:
            self._failures[(user_id or "", model)] += 1

    def error(self, where: str, exc: BaseException) -> None:
        """Count an error of cascadeflow's own hook; log the first one of each kind in full."""
        kind = f"{where}:{type(exc).__name__}"
        with self._lock:
            self._counts["callback_errors"] += 1
            first = kind not in self._logged_errors
            self._logged_errors.add(kind)
        if first:
            logger.error("cascadeflow: %s failed; the request went on unmetered here: %r",
                         where, exc, exc_info=exc)
        else:
            logger.debug("cascadeflow: %s failed again: %r", where, exc)

    def snapshot(self) -> IntegrationStats:
        """The counters as they are now."""
        with self._lock:
            counts = dict(self._counts)
            failures = dict(self._failures)
        return IntegrationStats(failures=failures, **{name: counts.get(name, 0)
                                                      for name in _COUNTERS})
