"""Retry policy: which errors retry, how the retries are counted, and how long to wait.

The delay is the provider's Retry-After when it sent one, else a backoff whose base is the
error type's delay (network failures) or ``RetryConfig.base_delay``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import tenacity

from cascadeflow.l0._classify import ErrorClassification, classify_error
from cascadeflow.l0._types import BackoffStrategy, ErrorCategory, RetryReason

#: Base delays in seconds by network failure type (see ``ErrorClassification.network_type``).
ERROR_TYPE_DELAYS: Mapping[str, float] = MappingProxyType({
    "connection_dropped": 1.0,
    "econnreset": 1.0,
    "econnrefused": 2.0,
    "partial_chunks": 0.5,
    "dns_error": 3.0,
    "timeout": 1.0,
})

_ALL_REASONS = frozenset(RetryReason)
_UNCOUNTED = frozenset({ErrorCategory.NETWORK, ErrorCategory.TRANSIENT})
_COUNTED = frozenset({ErrorCategory.MODEL, ErrorCategory.CONTENT, ErrorCategory.PROVIDER})


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How a stream is retried.

    ``attempts`` caps the retries of counted errors (model, content, provider errors);
    network and transient errors (connection failures, timeouts, 429, 5xx except 501) do not
    count toward it, but every retry counts toward ``max_retries``. Both limits apply to
    each stream (the primary and each fallback) separately. ``retry_on`` lists the
    :class:`RetryReason` values that may retry; ``should_retry(error, classification)`` can
    veto a retry by returning ``False``. ``max_retry_after`` caps a provider's Retry-After
    (``None``: honour it whatever it says).

    Example:
        >>> RetryConfig(attempts=2, backoff=BackoffStrategy.EXPONENTIAL, base_delay=0.5)
        RetryConfig(attempts=2, max_retries=6, ...)
    """

    attempts: int = 3
    max_retries: int = 6
    backoff: BackoffStrategy = BackoffStrategy.FIXED_JITTER
    base_delay: float = 1.0
    max_delay: float = 10.0
    retry_on: frozenset[RetryReason] = _ALL_REASONS
    should_retry: Callable[[BaseException, ErrorClassification], bool] | None = None
    error_type_delays: Mapping[str, float] = field(default_factory=lambda: ERROR_TYPE_DELAYS)
    max_retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.attempts < 0 or self.max_retries < 0:
            raise ValueError("RetryConfig.attempts and max_retries must be >= 0")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryConfig delays must be >= 0")


def _wait_for(strategy: BackoffStrategy, base: float, cap: float) -> tenacity.wait.wait_base:
    if strategy is BackoffStrategy.EXPONENTIAL:
        return tenacity.wait_exponential(multiplier=base, max=cap)
    if strategy is BackoffStrategy.FULL_JITTER:
        return tenacity.wait_random_exponential(multiplier=base, max=cap)
    if strategy is BackoffStrategy.LINEAR:
        return tenacity.wait_incrementing(start=base, increment=base, max=cap)
    if strategy is BackoffStrategy.FIXED_JITTER:
        return tenacity.wait_fixed(base / 2) + tenacity.wait_random(0, base / 2)
    return tenacity.wait_fixed(base)


def calculate_backoff(strategy: BackoffStrategy | str, retry_index: int, base_delay: float,
                      max_delay: float) -> float:
    """The delay in seconds before retry number ``retry_index`` (0 for the first retry).

    ``exponential``: ``base * 2**n``; ``linear``: ``base * (n + 1)``; ``fixed``: ``base``;
    ``fixed_jitter``: uniform in ``[base/2, base]``; ``full_jitter``: uniform in
    ``[0, base * 2**n]``. Every result lies in ``[0, max_delay]``. Built on tenacity's wait
    strategies.

    Example:
        >>> calculate_backoff("exponential", 3, base_delay=1.0, max_delay=10.0)
        8.0
    """
    if retry_index < 0:
        raise ValueError("retry_index must be >= 0")
    if base_delay <= 0 or max_delay <= 0:
        return 0.0
    wait = _wait_for(BackoffStrategy(strategy), base_delay, max_delay)
    call_state = tenacity.RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    call_state.attempt_number = retry_index + 1
    return float(min(max(wait(call_state), 0.0), max_delay))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What :meth:`RetryManager.decide` concluded for one error.

    ``retry`` is whether to retry the same stream after ``delay`` seconds. When it is
    ``False`` the stream is given up (the next fallback runs), unless ``raise_now`` says the
    error is internal (a bug) and nothing should be tried any more.
    """

    retry: bool
    delay: float
    classification: ErrorClassification
    counted: bool
    raise_now: bool = False

    @property
    def reason(self) -> RetryReason:
        """The classification's retry reason."""
        return self.classification.reason

    @property
    def category(self) -> ErrorCategory:
        """The classification's error category."""
        return self.classification.category


class RetryManager:
    """Applies a :class:`RetryConfig` to one stream's errors, keeping its retry counts.

    ``None`` as config means no retries at all.

    Example:
        >>> manager = RetryManager(RetryConfig(attempts=1))
        >>> manager.decide(RuntimeError("model failed")).retry
        True
        >>> manager.decide(RuntimeError("model failed")).retry
        False
    """

    __slots__ = ("config", "counted_retries", "total_retries")

    def __init__(self, config: RetryConfig | None) -> None:
        self.config = config
        self.counted_retries = 0
        self.total_retries = 0

    def reset(self) -> None:
        """Start counting afresh (a fallback stream gets its own retries)."""
        self.counted_retries = 0
        self.total_retries = 0

    def decide(self, error: BaseException,
               classification: ErrorClassification | None = None) -> RetryDecision:
        """Decide whether ``error`` retries, and after how long; counts the retry if so."""
        found = classification if classification is not None else classify_error(error)
        category = found.category
        if category is ErrorCategory.INTERNAL:
            return RetryDecision(False, 0.0, found, counted=False, raise_now=True)
        config = self.config
        counted = category in _COUNTED
        if (
            config is None
            or (category not in _UNCOUNTED and not counted)
            or found.reason not in config.retry_on
            or self.total_retries >= config.max_retries
            or (counted and self.counted_retries >= config.attempts)
            or (config.should_retry is not None and not _vetoed_ok(config, error, found))
        ):
            return RetryDecision(False, 0.0, found, counted=counted)
        delay = self.delay_for(found, self.counted_retries if counted else self.total_retries)
        self.total_retries += 1
        if counted:
            self.counted_retries += 1
        return RetryDecision(True, delay, found, counted=counted)

    def delay_for(self, classification: ErrorClassification, retry_index: int) -> float:
        """Retry-After when present (capped by ``max_retry_after``), else the backoff."""
        config = self.config or RetryConfig()
        if classification.retry_after is not None:
            if config.max_retry_after is None:
                return classification.retry_after
            return min(classification.retry_after, config.max_retry_after)
        base = config.base_delay
        if classification.network_type is not None:
            base = config.error_type_delays.get(classification.network_type, base)
        return calculate_backoff(config.backoff, retry_index, base, config.max_delay)


def _vetoed_ok(config: RetryConfig, error: BaseException, found: ErrorClassification) -> bool:
    hook: Any = config.should_retry
    return bool(hook(error, found))


__all__ = [
    "ERROR_TYPE_DELAYS",
    "RetryConfig",
    "RetryDecision",
    "RetryManager",
    "calculate_backoff",
]
