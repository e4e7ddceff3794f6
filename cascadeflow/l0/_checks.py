"""Content checks during a run: guardrails and drift, and how their findings are acted on.

Guardrail engines and drift detectors come from ``cascadeflow.l0.guardrails`` and
``cascadeflow.l0.drift`` (imported only when asked for) or any object of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cascadeflow.l0._errors import L0DriftError, L0GuardrailError
from cascadeflow.l0._events import LifecycleEventType
from cascadeflow.l0._sources import build_drift, build_guardrails
from cascadeflow.l0._state import L0State

Emit = Callable[..., None]


class ContentChecks:
    """Runs one run's guardrails and drift detection over the growing text.

    Fatal violations, and error violations that are not recoverable, raise an
    :class:`L0GuardrailError` that is also kept in ``fatal`` (the runtime neither retries
    nor falls back on it); recoverable error violations raise one that retries as a content
    error; warnings are only recorded and reported. Detected drift raises
    :class:`L0DriftError` when ``retry_on_drift`` is on.
    """

    __slots__ = ("_drift_from", "_emit", "_guard_from", "detector", "engine", "fatal",
                 "retry_on_drift")

    def __init__(self, guardrails: Any, drift: Any, retry_on_drift: bool, emit: Emit) -> None:
        self.engine: Any = build_guardrails(guardrails) if guardrails else None
        self.detector: Any = (
            build_drift(drift) if drift is not None and drift is not False else None
        )
        self.retry_on_drift = retry_on_drift
        self.fatal: L0GuardrailError | None = None
        self._emit = emit
        self._guard_from = 0
        self._drift_from = 0

    def start(self, state: L0State) -> None:
        """Reset for a new attempt whose text starts with what ``state`` holds now."""
        if self.engine is not None:
            self.engine.start()
        if self.detector is not None:
            self.detector.reset()
        self._guard_from = self._drift_from = len(state._parts)

    def guardrails(self, state: L0State, count: int) -> bool:
        """Check the text streamed so far; True when no violation was found."""
        parts = state._parts
        delta = "".join(parts[self._guard_from:])
        self._guard_from = len(parts)
        return self._react(state, self.engine.check_streaming(state.content, delta, count))

    def complete(self, state: L0State) -> None:
        """The final guardrail check, before the run may call itself complete."""
        if self.engine is not None:
            self._react(state, self.engine.check_complete(state.content, state.token_count))

    def drift(self, state: L0State) -> bool:
        """Look for drift in the text streamed so far; True when none was found."""
        parts = state._parts
        delta = "".join(parts[self._drift_from:])
        self._drift_from = len(parts)
        found = self.detector.check(state.content, delta)
        if not found.detected:
            return True
        state.drift_detected = True
        self._emit(LifecycleEventType.DRIFT, types=list(found.types),
                   confidence=found.confidence)
        if self.retry_on_drift:
            raise L0DriftError(found.types, found.confidence)
        return False

    def _react(self, state: L0State, violations: list[Any]) -> bool:
        if not violations:
            return True
        state.violations.extend(violations)
        for violation in violations:
            self._emit(LifecycleEventType.VIOLATION, violation=violation)
        stopping = [v for v in violations
                    if v.severity == "fatal" or (v.severity == "error" and not v.recoverable)]
        if stopping:
            self.fatal = L0GuardrailError(stopping)
            raise self.fatal
        errors = [v for v in violations if v.severity == "error"]
        if errors:
            raise L0GuardrailError(errors)
        return False


__all__ = ["ContentChecks"]
