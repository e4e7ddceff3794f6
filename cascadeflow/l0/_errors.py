"""The errors ``cascadeflow.l0`` raises on purpose, all rooted at :class:`L0Error`.

``L0Error`` derives from :class:`cascadeflow.CascadeflowError`, so one ``except`` catches
both halves of the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cascadeflow._exceptions import CascadeflowError


class L0Error(CascadeflowError):
    """Base class of every error the L0 stream runtime raises on purpose."""


class L0AbortedError(L0Error):
    """The run was aborted (``result.abort()`` or the ``signal`` was set) while streaming.

    Example:
        >>> try:
        ...     await result.text()
        ... except L0AbortedError:
        ...     print("stopped by the caller")
    """


class L0TimeoutError(L0Error):
    """A stream produced no token within its initial-token or inter-token deadline.

    ``kind`` is ``"initial_token"`` or ``"inter_token"``; ``seconds`` is the deadline that
    passed. The runtime treats it as a transient error and retries.
    """

    def __init__(self, kind: str, seconds: float, message: str | None = None) -> None:
        self.kind = kind
        self.seconds = seconds
        super().__init__(message or f"{kind.replace('_', ' ')} timeout after {seconds:g}s")

    def __reduce__(self) -> tuple[type[L0TimeoutError], tuple[object, ...]]:
        return (L0TimeoutError, (self.kind, self.seconds, str(self)))


class L0GuardrailError(L0Error):
    """Guardrails refused the content; ``violations`` lists the violations that caused it.

    Example:
        >>> try:
        ...     await result.text()
        ... except L0GuardrailError as exc:
        ...     print([v.rule for v in exc.violations])
    """

    def __init__(self, violations: Sequence[Any], message: str | None = None) -> None:
        self.violations: list[Any] = list(violations)
        if message is None:
            parts = [f"{getattr(v, 'rule', '?')}: {getattr(v, 'message', v)}" for v in violations]
            message = "guardrail violation: " + ("; ".join(parts) or "unspecified")
        super().__init__(message)

    def __reduce__(self) -> tuple[type[L0GuardrailError], tuple[object, ...]]:
        return (L0GuardrailError, (self.violations, str(self)))


class L0DriftError(L0Error):
    """Drift was detected in the output and no retry or fallback was left to correct it."""

    def __init__(self, types: Sequence[str] = (), confidence: float = 0.0,
                 message: str | None = None) -> None:
        self.types = list(types)
        self.confidence = confidence
        super().__init__(
            message or f"drift detected ({', '.join(self.types) or 'unknown'}; "
            f"confidence {confidence:.2f})"
        )

    def __reduce__(self) -> tuple[type[L0DriftError], tuple[object, ...]]:
        return (L0DriftError, (self.types, self.confidence, str(self)))


class L0ExhaustedError(L0Error):
    """Every retry and every fallback was spent; ``errors`` holds each attempt's error in order.

    ``__cause__`` is the last error.
    """

    def __init__(self, errors: Sequence[BaseException], message: str | None = None) -> None:
        self.errors: list[BaseException] = list(errors)
        if message is None:
            last = self.errors[-1] if self.errors else None
            message = f"all retries and fallbacks exhausted after {len(self.errors)} error(s)"
            if last is not None:
                message += f"; last: {type(last).__name__}: {last}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[L0ExhaustedError], tuple[object, ...]]:
        return (L0ExhaustedError, (self.errors, str(self)))




class L0StreamError(L0Error):
    """The provider reported an error inside the stream (an error chunk or error event).

    ``status_code`` and ``error_type`` carry what the provider said, when it said it, so the
    retry policy can classify the error (``overloaded_error`` and 5xx retry, 4xx do not).
    """

    def __init__(self, message: str, *, status_code: int | None = None,
                 error_type: str | None = None) -> None:
        self.status_code = status_code
        self.error_type = error_type
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        return (_rebuild_stream_error, (str(self), self.status_code, self.error_type))


class L0StateError(L0Error):
    """The runtime state machine was asked for a transition it does not allow."""


def _rebuild_stream_error(message: str, status_code: int | None,
                          error_type: str | None) -> L0StreamError:
    return L0StreamError(message, status_code=status_code, error_type=error_type)


__all__ = [
    "L0AbortedError",
    "L0DriftError",
    "L0Error",
    "L0ExhaustedError",
    "L0GuardrailError",
    "L0StateError",
    "L0StreamError",
    "L0TimeoutError",
]
