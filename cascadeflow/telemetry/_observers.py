"""The ledger's observer seam: typed records of what happened, sent to registered hooks.

Every :class:`CostTracker` publishes an :class:`EntryRecorded` for each entry it stores
(whichever path recorded it), an :class:`EnforcementDecided` for each decision and a
:class:`ReservationRefused` for each refused hold; the LiteLLM integration adds a
:class:`CompletionFinished` per completion attempt. OpenTelemetry, Sentry and alert sinks
are hooks added with :func:`add_ledger_hook`; with none added, publishing costs one check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cascadeflow._money import to_usd

if TYPE_CHECKING:
    from cascadeflow._entry import CostEntry
    from cascadeflow.telemetry._enforcement import EnforcementResult

logger = logging.getLogger("cascadeflow.observers")


@dataclass(frozen=True, slots=True)
class EntryRecorded:
    """One entry is in the store (``add_cost``, a settled reservation, a guard's attempt).

    Attributes:
        entry: the stored :class:`CostEntry` (model, provider, tokens, cost, user, tier).
        cost_nanos: its exact cost in nano-dollars.

    Example:
        >>> add_ledger_hook(seen.append)
        >>> entry = tracker.add_cost("gpt-4o-mini", "openai", 30, 0.0001, user_id="u1")
        >>> seen[-1].entry is entry
        True
    """

    entry: CostEntry
    cost_nanos: int


@dataclass(frozen=True, slots=True)
class EnforcementDecided:
    """``tracker.enforce`` decided what to do with a request.

    Attributes:
        user_id: whose request it is.
        user_tier: the user's tier, when known.
        model: the model asked for.
        result: the :class:`EnforcementResult` (``action``, ``model`` to call, ``reason``,
            ``estimated_cost``, ``context``).

    Example:
        >>> tracker.enforce("u1", "gpt-4o", 0.01)
        >>> seen[-1].result.action
        <EnforcementAction.ALLOW: 'allow'>
    """

    user_id: str
    user_tier: str | None
    model: str
    result: EnforcementResult


@dataclass(frozen=True, slots=True)
class ReservationRefused:
    """A reservation did not fit: the caller gets a ``BudgetExceededError``.

    Attributes:
        user_id: whose reservation it was.
        scope_kind: the kind of limit that refused it (``"user"``, or a scope kind).
        period: the period that refused it (``daily``, ``weekly``, ``monthly``, ``total``...).
        limit: that period's limit, USD.
        spent: spent plus reserved in that period, USD.
        requested: the amount asked for, USD.

    Example:
        >>> tracker.reserve("u1", 5.0)      # raises BudgetExceededError
        >>> seen[-1].period, seen[-1].requested
        ('daily', 5.0)
    """

    user_id: str
    scope_kind: str
    period: str
    limit: float
    spent: float
    requested: float


@dataclass(frozen=True, slots=True)
class CompletionFinished:
    """One completion attempt through LiteLLM ended (the callback or a guarded call).

    Attributes:
        operation: the GenAI operation name (``"chat"``).
        request_model: the model the caller asked for.
        response_model: the model that answered (after a degrade, or the provider's name).
        provider: the provider's name as cascadeflow knows it (``openai``, ``anthropic``...).
        stream: whether the completion was streamed.
        start_time: wall-clock start, seconds since the epoch.
        duration: seconds the call took, when known.
        input_tokens, output_tokens: tokens billed (0 for a failure that billed nothing).
        cache_read_tokens, cache_creation_tokens: prompt-cache tokens when the provider
            reported them.
        finish_reasons: the choices' finish reasons.
        cost: USD recorded for the attempt.
        user_id, user_tier: whose attempt it was.
        error_type: the exception's class name when the attempt failed, else None.
        decision: the enforcement decision made before the call, when there was one.
        source: ``"litellm_callback"`` or ``"guarded_completion"``.
        entry_id: the ledger entry recorded for it, when one was.
        time_to_first_chunk: seconds to the first chunk of a stream, when known.
        l0_stream_id: the ``l0()`` run the attempt belongs to, when the entry's metadata
            names one (its span then nests under the run's ``l0.run`` span).
        input_messages, output_messages: the messages in the GenAI conventions' shape
            (``role``, ``parts``), only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
            asks for content; None otherwise.

    Example:
        >>> completion(model="gpt-4o-mini", messages=msgs, user="u1", mock_response="hi")
        >>> finished = [e for e in seen if isinstance(e, CompletionFinished)][-1]
        >>> finished.response_model, finished.finish_reasons
        ('gpt-4o-mini', ('stop',))
    """

    operation: str
    request_model: str
    response_model: str
    provider: str
    stream: bool
    start_time: float
    duration: float | None
    input_tokens: int
    output_tokens: int
    cost: float
    user_id: str | None = None
    user_tier: str | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    finish_reasons: tuple[str, ...] = ()
    error_type: str | None = None
    decision: EnforcementResult | None = None
    source: str = "litellm_callback"
    entry_id: str | None = None
    time_to_first_chunk: float | None = None
    l0_stream_id: str | None = None
    input_messages: tuple[dict[str, Any], ...] | None = None
    output_messages: tuple[dict[str, Any], ...] | None = None


LedgerEvent = EntryRecorded | EnforcementDecided | ReservationRefused | CompletionFinished
LedgerObserver = Callable[[LedgerEvent], Any]

_hooks: tuple[LedgerObserver, ...] = ()
_failures: dict[int, int] = {}


def add_ledger_hook(observer: LedgerObserver) -> None:
    """Send every ledger event of every tracker in this process to ``observer``.

    An observer that raises never breaks the caller: its first failure is logged, every
    failure is counted (:func:`ledger_hook_failures`). Adding it twice has no effect.

    Example:
        >>> seen = []
        >>> add_ledger_hook(seen.append)
        >>> tracker.add_cost("gpt-4o-mini", "openai", 120, 0.0001, user_id="u1")
        >>> type(seen[0]).__name__
        'EntryRecorded'

    .. versionadded:: 0.1
    """
    global _hooks
    if not callable(observer):
        raise TypeError(f"a ledger hook must be callable, got {observer!r}")
    if observer not in _hooks:
        _hooks = (*_hooks, observer)


def remove_ledger_hook(observer: LedgerObserver) -> bool:
    """Stop sending ledger events to ``observer``; True when it was registered.

    Example:
        >>> remove_ledger_hook(seen.append)
        True

    .. versionadded:: 0.1
    """
    global _hooks
    kept = tuple(hook for hook in _hooks if hook != observer)
    removed = len(kept) != len(_hooks)
    _hooks = kept
    return removed


def ledger_hooks() -> tuple[LedgerObserver, ...]:
    """The hooks added with :func:`add_ledger_hook`, in call order.

    Example:
        >>> ledger_hooks()
        ()
    """
    return _hooks


def ledger_hook_failures() -> int:
    """How many times a ledger hook has raised in this process.

    Example:
        >>> ledger_hook_failures()
        0
    """
    return sum(_failures.values())


def observed() -> bool:
    """Whether any hook listens (publishers skip building events otherwise)."""
    return bool(_hooks)


def publish(event: LedgerEvent) -> None:
    """Deliver ``event`` to every hook; a hook that raises is logged once and counted."""
    for hook in _hooks:
        try:
            hook(event)
        except Exception:
            key = id(hook)
            _failures[key] = _failures.get(key, 0) + 1
            if _failures[key] == 1:
                logger.warning("ledger hook %r raised on %s; the caller goes on and later "
                               "failures are only counted", hook, type(event).__name__,
                               exc_info=True)


def publish_entry(entry: CostEntry, cost_nanos: int) -> None:
    """Publish that ``entry`` is in the store (called by the tracker)."""
    publish(EntryRecorded(entry, cost_nanos))


def publish_refusal(user_id: str, estimated_cost: float, outcome: Any,
                    scope_kind: str = "user") -> None:
    """Publish a refused reservation from the store's ``ReserveOutcome``.

    ``scope_kind`` is the kind of the scope that refused (``user``, ``team``, ``tag``, ...).
    """
    publish(ReservationRefused(
        user_id, scope_kind,
        outcome.period or "total", to_usd(outcome.limit_nanos),
        to_usd(outcome.spent_nanos + outcome.reserved_nanos), float(estimated_cost)))


def publish_decision(user_id: str, model: str, result: EnforcementResult) -> None:
    """Publish an enforcement decision (the tier is the one the decision saw)."""
    publish(EnforcementDecided(user_id, result.context.user_tier, model, result))


__all__ = [
    "CompletionFinished",
    "EnforcementDecided",
    "EntryRecorded",
    "LedgerEvent",
    "LedgerObserver",
    "ReservationRefused",
    "add_ledger_hook",
    "ledger_hook_failures",
    "ledger_hooks",
    "observed",
    "publish",
    "publish_decision",
    "publish_entry",
    "publish_refusal",
    "remove_ledger_hook",
]
