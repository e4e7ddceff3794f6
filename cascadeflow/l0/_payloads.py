"""The payload of each lifecycle event type: what ``L0LifecycleEvent.data`` holds, field by field.

Payloads are plain dicts at run time (observers read ``event.data["reason"]``); these
``TypedDict`` classes are their documented, type-checked shape, and :data:`EVENT_PAYLOADS`
maps every :class:`LifecycleEventType` to its class (the event-catalogue test checks that
every emitted event carries exactly these keys).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from cascadeflow.l0._events import LifecycleEventType
from cascadeflow.l0._operation_payloads import (
    ConsensusVoteData,
    OperationEndData,
    OperationStartData,
    PipelineStepData,
    RaceWinnerData,
    TaskEndData,
    TaskStartData,
    WindowChunkData,
)

if TYPE_CHECKING:
    from cascadeflow.l0._runtime import _Run

RunOutcome = Literal["completed", "failed", "aborted", "abandoned", "cancelled"]


class SessionStartData(TypedDict):
    """``session_start``: the run began (its consumer asked for the first event).

    Attributes:
        streams: how many factories the run may use (primary plus fallbacks).

    Example:
        >>> next(e for e in seen if e.type == "session_start").data["streams"]
        2
    """

    streams: int


class AttemptStartData(TypedDict):
    """``attempt_start``: a factory is about to be called (first try, retry or fallback).

    Attributes:
        continuing: True when the attempt resumes from a checkpoint.

    Example:
        >>> next(e for e in seen if e.type == "attempt_start").data["continuing"]
        False
    """

    continuing: bool


class FirstTokenData(TypedDict):
    """``first_token``: the run's first token arrived (``ts`` says when; no fields).

    Example:
        >>> next(e for e in seen if e.type == "first_token").data
        {}
    """


class RetryData(TypedDict):
    """``retry``: the failed attempt is retried on the same factory.

    Attributes:
        reason: a :class:`RetryReason` value (``network_error``, ``timeout``, ...).
        delay: seconds waited before the next attempt.
        category: the :class:`ErrorCategory` value of the error.
        error: the exception that failed the attempt.

    Example:
        >>> next(e for e in seen if e.type == "retry").data["reason"]
        'network_error'
    """

    reason: str
    delay: float
    category: str
    error: BaseException


class FallbackData(TypedDict):
    """``fallback``: the run moves on to the next factory.

    Attributes:
        index: the fallback's position (1 for the first of ``fallback_streams``).

    Example:
        >>> next(e for e in seen if e.type == "fallback").data["index"]
        1
    """

    index: int


class CheckpointData(TypedDict):
    """``checkpoint``: the text so far passed the checks and was saved.

    Attributes:
        token_count: tokens of the current attempt at the checkpoint.

    Example:
        >>> next(e for e in seen if e.type == "checkpoint").data["token_count"]
        10
    """

    token_count: int


class ResumeData(TypedDict):
    """``resume``: an attempt continues from the last checkpoint.

    Attributes:
        checkpoint_chars: characters of checkpoint text the attempt starts from.

    Example:
        >>> next(e for e in seen if e.type == "resume").data["checkpoint_chars"]
        57
    """

    checkpoint_chars: int


class TimeoutData(TypedDict):
    """``timeout``: a deadline passed (the attempt then fails and is usually retried).

    Attributes:
        kind: ``"initial_token"`` or ``"inter_token"``.
        seconds: the deadline that passed.

    Example:
        >>> next(e for e in seen if e.type == "timeout").data["kind"]
        'inter_token'
    """

    kind: str
    seconds: float


class AbortData(TypedDict):
    """``abort``: the run was aborted (``result.abort()`` or its signal).

    Attributes:
        token_count: tokens of the current attempt when it stopped.

    Example:
        >>> next(e for e in seen if e.type == "abort").data["token_count"]
        3
    """

    token_count: int


class ViolationData(TypedDict):
    """``violation``: a guardrail rule reported a problem.

    Attributes:
        violation: the ``GuardrailViolation`` (``rule``, ``message``, ``severity``, ...).

    Example:
        >>> [e.data["violation"].rule for e in seen if e.type == "violation"]
        ['no-brave']
    """

    violation: Any


class DriftData(TypedDict):
    """``drift``: the drift detector found the output drifting.

    Attributes:
        types: the kinds of drift found (``"meta_commentary"``, ``"repetition"``, ...).
        confidence: the detector's confidence, 0 to 1.

    Example:
        >>> next(e for e in seen if e.type == "drift").data["types"]
        ['meta_commentary']
    """

    types: list[str]
    confidence: float


class CompleteData(TypedDict):
    """``complete``: an attempt finished and passed the final checks.

    Attributes:
        token_count: tokens of the finishing attempt.
        usage: the provider's usage dict when it sent one, else None.

    Example:
        >>> next(e for e in seen if e.type == "complete").data["token_count"]
        12
    """

    token_count: int
    usage: dict[str, Any] | None


class ErrorData(TypedDict):
    """``error``: an attempt failed (a ``retry``, ``fallback`` or the run's end follows).

    Attributes:
        error: the exception.
        category: the :class:`ErrorCategory` value it was classified as.

    Example:
        >>> next(e for e in seen if e.type == "error").data["category"]
        'network'
    """

    error: BaseException
    category: str


class SessionEndData(TypedDict):
    """``session_end``: the run is over, whatever ended it; always the last event.

    Attributes:
        outcome: ``completed``, ``failed``, ``aborted``, ``abandoned`` (the consumer
            stopped reading and the stream was closed or collected) or ``cancelled``.
        error: what a failed or aborted run raised (what ``text()`` raises), else None.
        error_type: its class name, else None.
        token_count: tokens of the last attempt.
        duration: seconds from ``session_start``.
        time_to_first_token: seconds from ``session_start`` to the first token, or None.
        attempts: factory calls made.
        retries: retries by :class:`RetryReason` value.
        fallbacks: fallbacks taken.
        violations: guardrail violations reported.
        usage: the provider's usage dict of the finishing attempt, or None.
        cost_usd: what the run's attempts cost when a budget guard metered them, else None.

    Example:
        >>> next(e for e in seen if e.type == "session_end").data["outcome"]
        'completed'
    """

    outcome: RunOutcome
    error: BaseException | None
    error_type: str | None
    token_count: int
    duration: float
    time_to_first_token: float | None
    attempts: int
    retries: dict[str, int]
    fallbacks: int
    violations: int
    usage: dict[str, Any] | None
    cost_usd: float | None


class BudgetData(TypedDict):
    """``budget``: the ``budget=`` meter refused an attempt or stopped its stream.

    Attributes:
        refused: True when the attempt was refused before its factory was called, False
            when its stream was stopped.
        error: what the meter raised (a ``BudgetExceededError`` for a ``BudgetGuard``); it
            ends the run unless a fallback follows a refused attempt.
        token_count: tokens the attempt delivered before it was stopped (0 when refused).

    Example:
        >>> next(e for e in seen if e.type == "budget").data["refused"]
        False
    """

    refused: bool
    error: BaseException
    token_count: int


#: The payload class of every lifecycle event type.
EVENT_PAYLOADS: dict[LifecycleEventType, type] = {
    LifecycleEventType.SESSION_START: SessionStartData,
    LifecycleEventType.ATTEMPT_START: AttemptStartData,
    LifecycleEventType.FIRST_TOKEN: FirstTokenData,
    LifecycleEventType.RETRY: RetryData,
    LifecycleEventType.FALLBACK: FallbackData,
    LifecycleEventType.CHECKPOINT: CheckpointData,
    LifecycleEventType.RESUME: ResumeData,
    LifecycleEventType.TIMEOUT: TimeoutData,
    LifecycleEventType.ABORT: AbortData,
    LifecycleEventType.VIOLATION: ViolationData,
    LifecycleEventType.DRIFT: DriftData,
    LifecycleEventType.COMPLETE: CompleteData,
    LifecycleEventType.ERROR: ErrorData,
    LifecycleEventType.SESSION_END: SessionEndData,
    LifecycleEventType.BUDGET: BudgetData,
    LifecycleEventType.OPERATION_START: OperationStartData,
    LifecycleEventType.TASK_START: TaskStartData,
    LifecycleEventType.TASK_END: TaskEndData,
    LifecycleEventType.RACE_WINNER: RaceWinnerData,
    LifecycleEventType.CONSENSUS_VOTE: ConsensusVoteData,
    LifecycleEventType.PIPELINE_STEP: PipelineStepData,
    LifecycleEventType.WINDOW_CHUNK: WindowChunkData,
    LifecycleEventType.OPERATION_END: OperationEndData,
}


def _outcome(run: _Run) -> RunOutcome:
    if run.state.completed:
        return "completed"
    if run.state.aborted:
        return "aborted"
    if run.failure is not None:
        return "failed"
    # Called from the event generator's ``finally``: what is propagating says why it stops.
    if isinstance(sys.exc_info()[1], asyncio.CancelledError):
        return "cancelled"
    return "abandoned"


def session_end_data(run: _Run) -> dict[str, Any]:
    """The ``session_end`` payload of ``run`` (built once, when the run is over)."""
    outcome = _outcome(run)
    telemetry = run.telemetry
    failure = run.failure if outcome in ("failed", "aborted") else None
    started = run._started_at
    return {
        "outcome": outcome,
        "error": failure,
        "error_type": type(failure).__qualname__ if failure is not None else None,
        "token_count": run.state.token_count,
        "duration": time.monotonic() - started if started else 0.0,
        "time_to_first_token": telemetry.time_to_first_token,
        "attempts": telemetry.attempts,
        "retries": dict(telemetry.retries),
        "fallbacks": telemetry.fallbacks,
        "violations": len(run.state.violations),
        "usage": run.state.usage,
        # The budget guard (when the run has one) sums its attempts' cost here.
        "cost_usd": getattr(telemetry, "cost_usd", None),
    }


__all__ = [
    "EVENT_PAYLOADS",
    "AbortData",
    "AttemptStartData",
    "CheckpointData",
    "CompleteData",
    "DriftData",
    "ErrorData",
    "FallbackData",
    "FirstTokenData",
    "ResumeData",
    "RetryData",
    "RunOutcome",
    "SessionEndData",
    "SessionStartData",
    "TimeoutData",
    "ViolationData",
    "session_end_data",
]
