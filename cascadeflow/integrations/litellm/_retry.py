"""Retrying a whole guarded call on rate limits and connection errors, honouring Retry-After.

The wait before the next attempt is the provider's ``Retry-After`` (or ``retry-after-ms``)
when it sent one, else exponential backoff; both are capped by ``RetryPolicy.max_wait``.
Waiting goes through ``RetryPolicy.sleep`` so tests can record waits instead of sleeping.
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import tenacity
from litellm.exceptions import (
    APIConnectionError,
    BadGatewayError,
    RateLimitError,
    ServiceUnavailableError,
    Timeout,
)

__all__ = ["RetryPolicy", "is_retryable", "retry_after_seconds"]

_RETRYABLE_STATUS = frozenset({408, 429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the guarded ``completion``/``acompletion`` retry a failed call.

    Attributes:
        max_attempts: attempts in all, the first included (1 disables retries).
        initial_wait: the first backoff wait in seconds when the provider gave no Retry-After.
        max_wait: the longest single wait, also for a Retry-After asking for more.
        sleep: how to wait; ``None`` means ``time.sleep`` (sync) or ``asyncio.sleep`` (async).
            It may be a plain or an async function of the seconds to wait.

    Example:
        >>> completion(model="gpt-4o-mini", messages=msgs, user="u1",
        ...            retry=RetryPolicy(max_attempts=5, max_wait=20.0))
    """

    max_attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 30.0
    sleep: Callable[[float], object] | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError("waits must not be negative")


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """True for rate limits (429) and connection-level failures (timeouts, resets, 502-504)."""
    retryable = (RateLimitError, APIConnectionError, Timeout, ServiceUnavailableError,
                 BadGatewayError)
    if isinstance(exc, retryable):
        return True
    return _status_of(exc) in _RETRYABLE_STATUS


def _headers_of(exc: BaseException) -> list[Mapping[str, str]]:
    found: list[Mapping[str, str]] = []
    own = getattr(exc, "headers", None)
    if isinstance(own, Mapping):
        found.append(own)
    response = getattr(exc, "response", None)
    response_headers = getattr(response, "headers", None)
    if response_headers is not None and hasattr(response_headers, "get"):
        found.append(response_headers)
    litellm_headers = getattr(exc, "litellm_response_headers", None)
    if litellm_headers is not None and hasattr(litellm_headers, "get"):
        found.append(litellm_headers)
    return found


def _parse_retry_after(value: str, *, now: float) -> float | None:
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


def retry_after_seconds(exc: BaseException, *, now: float | None = None) -> float | None:
    """The wait the provider asked for in ``exc``'s response headers, if any.

    Reads ``retry-after-ms`` (milliseconds) and ``Retry-After`` (seconds or an HTTP date).

    Example:
        >>> retry_after_seconds(rate_limit_error)
        2.0
    """
    moment = time.time() if now is None else now
    for headers in _headers_of(exc):
        millis = headers.get("retry-after-ms") or headers.get("Retry-After-Ms")
        if millis:
            try:
                return max(float(millis) / 1000.0, 0.0)
            except ValueError:
                pass
        value = headers.get("retry-after") or headers.get("Retry-After")
        if value:
            seconds = _parse_retry_after(str(value), now=moment)
            if seconds is not None:
                return seconds
    return None


def _wait_for(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        asked = retry_after_seconds(exc) if exc is not None else None
        if asked is None:
            asked = policy.initial_wait * (2 ** max(state.attempt_number - 1, 0))
        return min(asked, policy.max_wait)

    return wait


def _retry_condition() -> tenacity.retry_base:
    return tenacity.retry_if_exception(is_retryable)


def sync_retrying(policy: RetryPolicy) -> tenacity.Retrying:
    """A tenacity ``Retrying`` that follows ``policy`` (re-raising the last error)."""
    chosen: Callable[[float], object] = (
        policy.sleep if policy.sleep is not None else time.sleep
    )

    def sleep(seconds: float) -> None:
        chosen(seconds)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts),
        wait=_wait_for(policy),
        retry=_retry_condition(),
        sleep=sleep,
        reraise=True,
    )


def async_retrying(policy: RetryPolicy) -> tenacity.AsyncRetrying:
    """The async twin of :func:`sync_retrying`."""
    chosen: Callable[[float], object] = (
        policy.sleep if policy.sleep is not None else asyncio.sleep
    )

    async def sleep(seconds: float) -> None:
        result = chosen(seconds)
        if inspect.isawaitable(result):
            await result

    async_sleep: Callable[[float], Awaitable[Any]] = sleep
    return tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(policy.max_attempts),
        wait=_wait_for(policy),
        retry=_retry_condition(),
        sleep=async_sleep,
        reraise=True,
    )
