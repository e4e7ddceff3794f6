"""The values that cross the L0 runtime's boundary: events, configuration and telemetry.

Everything here is a plain, typed value; behaviour lives in the runtime, retry and adapter
modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

L0EventType = Literal["token", "message", "data", "progress", "tool_call", "error", "complete"]


class L0Event:
    """One event of a normalised stream, whatever the provider (a read-only value).

    ``type`` says which fields matter: ``token`` carries text in ``value``; ``message`` a
    whole message in ``value`` with its ``role``; ``data`` and ``tool_call`` a dict in
    ``data`` (a tool call has ``id``, ``name``, ``arguments`` and ``index``); ``progress`` a
    dict in ``progress``; ``error`` an exception in ``error``; ``complete`` the ``usage``
    dict when the provider reported one. ``timestamp`` is a ``time.monotonic()`` reading on
    every event except tokens: reading the clock per token is the cost the runtime's hot
    path avoids (``L0State.first_token_at``/``last_token_at`` time the tokens).

    Inside ``result.stream`` an ``error`` event means a failed attempt is being replaced:
    ``data["discard_from"]`` is the number of characters of this run's text the consumer
    should keep (0 for a clean retry, the checkpoint length when continuing).

    Events compare equal field by field; treat them as immutable and use ``_replace`` to
    derive a changed copy. (A slotted class rather than a tuple: tuples yielded from an
    async generator cost an extra ``StopIteration`` object each, a third of a token's
    budget.)

    Example:
        >>> L0Event("token", "Hello").value
        'Hello'
        >>> L0Event("token", "Hello")._replace(value="Hi")
        L0Event(type='token', value='Hi')
    """

    __slots__ = ("data", "error", "progress", "role", "timestamp", "type", "usage", "value")

    type: L0EventType
    value: str | None
    role: str | None
    data: dict[str, Any] | None
    progress: dict[str, Any] | None
    error: BaseException | None
    usage: dict[str, Any] | None
    timestamp: float | None

    def __init__(
        self,
        type: L0EventType,
        value: str | None = None,
        role: str | None = None,
        data: dict[str, Any] | None = None,
        progress: dict[str, Any] | None = None,
        error: BaseException | None = None,
        usage: dict[str, Any] | None = None,
        timestamp: float | None = None,
    ) -> None:
        self.type = type
        self.value = value
        self.role = role
        self.data = data
        self.progress = progress
        self.error = error
        self.usage = usage
        self.timestamp = timestamp

    def _fields_tuple(self) -> tuple[Any, ...]:
        return (self.type, self.value, self.role, self.data, self.progress, self.error,
                self.usage, self.timestamp)

    def _replace(self, **changes: Any) -> L0Event:
        """A copy with ``changes`` applied (the event itself is left as it is)."""
        fields = dict(zip(_EVENT_FIELDS, self._fields_tuple(), strict=True))
        fields.update(changes)
        return L0Event(**fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, L0Event):
            return NotImplemented
        return self._fields_tuple() == other._fields_tuple()

    def __hash__(self) -> int:
        return hash(self._fields_tuple())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}"
                          for name, value in zip(_EVENT_FIELDS, self._fields_tuple(), strict=True)
                          if value is not None or name == "type")
        return f"L0Event({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (L0Event, self._fields_tuple())


_EVENT_FIELDS = ("type", "value", "role", "data", "progress", "error", "usage", "timestamp")


class TokenEvent(L0Event):
    """A token event built without a Python-level constructor (the per-token path).

    ``TokenEvent()`` runs no ``__init__``: only ``value`` is stored on the instance; ``type``
    and the unused fields are class attributes.
    """

    __slots__ = ()
    if TYPE_CHECKING:
        def __init__(self) -> None: ...
    else:
        __init__ = object.__init__
        type = "token"
        role = data = progress = error = usage = timestamp = None


def token_event(text: str) -> L0Event:
    """A ``token`` event carrying ``text`` (what adapters build per chunk).

    Example:
        >>> token_event("Hi") == L0Event("token", "Hi")
        True
    """
    event = TokenEvent()
    event.value = text
    return event


@dataclass(frozen=True, slots=True)
class CheckIntervals:
    """How many tokens pass between guardrail checks, drift checks and checkpoints.

    Example:
        >>> CheckIntervals(guardrails=1).guardrails
        1
    """

    guardrails: int = 5
    drift: int = 10
    checkpoint: int = 10

    def __post_init__(self) -> None:
        for name in ("guardrails", "drift", "checkpoint"):
            if getattr(self, name) < 1:
                raise ValueError(f"CheckIntervals.{name} must be at least 1")


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    """Deadlines, in seconds, for the first token and for the gap between tokens.

    Both are on by default; ``None`` switches one off. A timeout is a transient error: the
    runtime retries it without counting it toward ``RetryConfig.attempts``. The initial
    deadline covers the factory call too (opening the HTTP stream).

    Example:
        >>> TimeoutConfig(initial_token=10.0, inter_token=None).inter_token is None
        True
    """

    initial_token: float | None = 30.0
    inter_token: float | None = 30.0

    def __post_init__(self) -> None:
        for name in ("initial_token", "inter_token"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"TimeoutConfig.{name} must be positive or None")


class ErrorCategory(str, Enum):
    """What kind of failure an error is, which decides whether and how it is retried.

    ``network`` and ``transient`` retry without counting toward ``attempts``; ``model``,
    ``content`` and ``provider`` retry and count; ``fatal`` and ``internal`` never retry.
    """

    NETWORK = "network"
    TRANSIENT = "transient"
    MODEL = "model"
    CONTENT = "content"
    PROVIDER = "provider"
    FATAL = "fatal"
    INTERNAL = "internal"


class RetryReason(str, Enum):
    """Why the runtime retried (the key of ``L0Telemetry.retries``)."""

    NETWORK_ERROR = "network_error"
    TIMEOUT = "timeout"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    MODEL_ERROR = "model_error"
    PROVIDER_ERROR = "provider_error"
    GUARDRAIL_VIOLATION = "guardrail_violation"
    DRIFT = "drift"
    UNKNOWN = "unknown"


class BackoffStrategy(str, Enum):
    """How the delay grows between retries (see :func:`cascadeflow.l0.calculate_backoff`)."""

    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    FIXED = "fixed"
    FIXED_JITTER = "fixed_jitter"
    FULL_JITTER = "full_jitter"


@dataclass(slots=True)
class L0Telemetry:
    """Measurements of one run.

    ``attempts`` counts factory calls (primary and fallbacks); ``retries`` counts retries by
    :class:`RetryReason` value; times are in seconds. ``cost_usd`` is what the ``budget=``
    meter billed over all attempts (``None`` without a meter).

    Example:
        >>> result = await l0(factory)
        >>> await result.text()
        >>> result.telemetry.attempts, result.telemetry.retries
        (1, {})
    """

    attempts: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    duration: float | None = None
    token_count: int = 0
    usage: dict[str, Any] | None = None
    cost_usd: float | None = None


__all__ = [
    "BackoffStrategy",
    "CheckIntervals",
    "ErrorCategory",
    "L0Event",
    "L0EventType",
    "L0Telemetry",
    "RetryReason",
    "TimeoutConfig",
    "TokenEvent",
    "token_event",
]
