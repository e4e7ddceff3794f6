"""Stream reliability for LLM token streams: retries, fallbacks, timeouts, continuation.

``l0(factory)`` wraps an OpenAI, Anthropic, LiteLLM or plain text stream and yields
normalised :class:`L0Event` objects; see ``docs/l0.md``.

Example:
    >>> from cascadeflow.l0 import l0
    >>> result = await l0(factory, fallback_streams=[backup])
    >>> print(await result.text())
"""

from __future__ import annotations

from cascadeflow.l0._classify import (
    ErrorClassification,
    categorize_error,
    classify_error,
    is_network_error,
    is_retryable,
)
from cascadeflow.l0._continuation import OverlapTrimmer, remove_overlap
from cascadeflow.l0._errors import (
    L0AbortedError,
    L0DriftError,
    L0Error,
    L0ExhaustedError,
    L0GuardrailError,
    L0StateError,
    L0StreamError,
    L0TimeoutError,
)
from cascadeflow.l0._events import L0LifecycleEvent, LifecycleEventType
from cascadeflow.l0._l0 import l0
from cascadeflow.l0._meter import AttemptEnd, AttemptMeter, AttemptOutcome, AttemptStart
from cascadeflow.l0._result import AbortSignal, L0Options, L0Result, consume_stream, get_text
from cascadeflow.l0._retry import (
    ERROR_TYPE_DELAYS,
    RetryConfig,
    RetryDecision,
    RetryManager,
    calculate_backoff,
)
from cascadeflow.l0._state import L0State, RuntimeState, StateMachine
from cascadeflow.l0._types import (
    BackoffStrategy,
    CheckIntervals,
    ErrorCategory,
    L0Event,
    L0EventType,
    L0Telemetry,
    RetryReason,
    TimeoutConfig,
)
from cascadeflow.l0.adapters import (
    L0Adapter,
    detect_adapter,
    get_adapter,
    register_adapter,
)

__all__ = [
    "ERROR_TYPE_DELAYS",
    "AbortSignal",
    "BackoffStrategy",
    "CheckIntervals",
    "ErrorCategory",
    "ErrorClassification",
    "L0AbortedError",
    "L0Adapter",
    "L0DriftError",
    "L0Error",
    "L0Event",
    "L0EventType",
    "L0ExhaustedError",
    "L0GuardrailError",
    "L0LifecycleEvent",
    "L0Options",
    "L0Result",
    "L0State",
    "L0StateError",
    "L0StreamError",
    "L0Telemetry",
    "L0TimeoutError",
    "LifecycleEventType",
    "OverlapTrimmer",
    "RetryConfig",
    "RetryDecision",
    "RetryManager",
    "RetryReason",
    "RuntimeState",
    "StateMachine",
    "TimeoutConfig",
    "calculate_backoff",
    "categorize_error",
    "classify_error",
    "consume_stream",
    "detect_adapter",
    "get_adapter",
    "get_text",
    "is_network_error",
    "is_retryable",
    "l0",
    "register_adapter",
    "remove_overlap",
]

# --- guardrails, drift, structured output, auto-correction (issue 6) -------------------------
# Engineer B adds the imports and __all__ entries of cascadeflow.l0.guardrails, .drift,
# .structured and .auto_correct below this line.
# ``structured`` below is the function: it shadows the submodule attribute of the same name
# (``from cascadeflow.l0.structured import ...`` still reaches the module).
from cascadeflow.l0.auto_correct import CorrectionResult, auto_correct_json
from cascadeflow.l0.drift import DriftDetector, DriftResult
from cascadeflow.l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    GuardrailViolation,
)
from cascadeflow.l0.structured import (
    StructuredOutputError,
    StructuredResult,
    structured,
    structured_array,
)

__all__ += [
    "CorrectionResult",
    "DriftDetector",
    "DriftResult",
    "GuardrailContext",
    "GuardrailEngine",
    "GuardrailRule",
    "GuardrailViolation",
    "StructuredOutputError",
    "StructuredResult",
    "auto_correct_json",
    "structured",
    "structured_array",
]

# --- operations over many streams (issue 13): parallel, race, consensus, pipelines, windows -
from cascadeflow.l0._consensus import (  # noqa: E402
    ConsensusError,
    ConsensusResult,
    FieldConsensus,
    Vote,
    consensus,
)
from cascadeflow.l0._parallel import (  # noqa: E402
    AggregatedTelemetry,
    L0Pool,
    ParallelResult,
    batched,
    create_pool,
    parallel,
    sequential,
)
from cascadeflow.l0._pipeline import (  # noqa: E402
    Pipeline,
    PipelineContext,
    PipelineResult,
    Step,
    StepResult,
    branch,
    create_pipeline,
    pipe,
)
from cascadeflow.l0._race import RaceError, RaceResult, race  # noqa: E402
from cascadeflow.l0._similarity import similarity  # noqa: E402
from cascadeflow.l0._tasks import TaskOutcome  # noqa: E402
from cascadeflow.l0._tokens import estimate_tokens  # noqa: E402
from cascadeflow.l0._window import DocumentWindow, WindowChunk, create_window  # noqa: E402

__all__ += [
    "AggregatedTelemetry",
    "ConsensusError",
    "ConsensusResult",
    "DocumentWindow",
    "FieldConsensus",
    "L0Pool",
    "ParallelResult",
    "Pipeline",
    "PipelineContext",
    "PipelineResult",
    "RaceError",
    "RaceResult",
    "Step",
    "StepResult",
    "TaskOutcome",
    "Vote",
    "WindowChunk",
    "batched",
    "branch",
    "consensus",
    "create_pipeline",
    "create_pool",
    "create_window",
    "estimate_tokens",
    "parallel",
    "pipe",
    "race",
    "sequential",
    "similarity",
]

# --- observability: event hooks, payloads, monitor (issue 11) --------------------------------
from cascadeflow.l0._events import (  # noqa: E402
    EventObserver,
    add_event_hook,
    event_hooks,
    remove_event_hook,
)
from cascadeflow.l0._monitor import (  # noqa: E402
    Monitor,
    MonitorSnapshot,
    combine_events,
    create_monitor,
    filter_events,
    run_is_sampled,
)
from cascadeflow.l0._operation_payloads import (  # noqa: E402
    ConsensusVoteData,
    OperationEndData,
    OperationStartData,
    PipelineStepData,
    RaceWinnerData,
    TaskEndData,
    TaskStartData,
    WindowChunkData,
)
from cascadeflow.l0._payloads import (  # noqa: E402
    EVENT_PAYLOADS,
    AbortData,
    AttemptStartData,
    BudgetData,
    CheckpointData,
    CompleteData,
    DriftData,
    ErrorData,
    FallbackData,
    FirstTokenData,
    ResumeData,
    RetryData,
    RunOutcome,
    SessionEndData,
    SessionStartData,
    TimeoutData,
    ViolationData,
)

__all__ += [
    "EVENT_PAYLOADS",
    "AbortData",
    "AttemptStartData",
    "BudgetData",
    "CheckpointData",
    "CompleteData",
    "ConsensusVoteData",
    "DriftData",
    "ErrorData",
    "EventObserver",
    "FallbackData",
    "FirstTokenData",
    "Monitor",
    "MonitorSnapshot",
    "OperationEndData",
    "OperationStartData",
    "PipelineStepData",
    "RaceWinnerData",
    "ResumeData",
    "RetryData",
    "RunOutcome",
    "SessionEndData",
    "SessionStartData",
    "TaskEndData",
    "TaskStartData",
    "TimeoutData",
    "ViolationData",
    "WindowChunkData",
    "add_event_hook",
    "combine_events",
    "create_monitor",
    "event_hooks",
    "filter_events",
    "remove_event_hook",
    "run_is_sampled",
]

# --- the metering seam (issue 9): l0(..., budget=AttemptMeter) ------------------------------
__all__ += ["AttemptEnd", "AttemptMeter", "AttemptOutcome", "AttemptStart"]
