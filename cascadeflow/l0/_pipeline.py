"""Pipelines: steps run one after another, each step's output the next step's input.

A step's ``fn(input, context)`` returns a stream factory or full ``l0()`` options, run by
``l0()`` with everything they say (guardrails, retry, fallbacks, budget); every callback
is awaited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from cascadeflow.l0._events import LifecycleEventType
from cascadeflow.l0._parallel import total_cost
from cascadeflow.l0._tasks import (
    Deferred,
    TaskOutcome,
    TaskRunner,
    call_back,
    operation_emitter,
)

if TYPE_CHECKING:
    from cascadeflow.l0._events import L0LifecycleEvent
    from cascadeflow.l0._result import L0Result

StepStatus = Literal["success", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a pipeline.

    Attributes:
        name: how results and events name the step.
        fn: ``fn(input, context)`` (may be async) returning the step's task: a stream
            factory, a mapping of ``l0()`` keywords (guardrails, retry, fallbacks, budget,
            ``schema``...) or an ``L0Options``.
        transform: ``transform(result, context)`` (may be async) turning the step's
            ``L0Result`` (or its value, for a task that ran no stream) into the step's
            output; by default the output is the final text (or structured value).
        condition: ``condition(input, context)`` (may be async); when false the step is
            skipped and its input passes through.
        on_error: ``on_error(error, context)`` (may be async), awaited when the step fails.

    Example:
        >>> summarise = Step("summarise", lambda text, ctx: {"stream": summary_of(text)})
    """

    name: str
    fn: Callable[[Any, PipelineContext], Any]
    _: KW_ONLY
    transform: Callable[[Any, PipelineContext], Any] | None = None
    condition: Callable[[Any, PipelineContext], Any] | None = None
    on_error: Callable[[BaseException, PipelineContext], Any] | None = None


def branch(name: str, condition: Callable[[Any, PipelineContext], Any], then: Step,
           otherwise: Step | None = None) -> Step:
    """A step that runs ``then`` when ``condition(input, context)`` holds, else ``otherwise``.

    Without ``otherwise`` a false condition skips the step.

    Example:
        >>> step = branch("lang", lambda text, ctx: is_french(text), translate, keep)
    """
    async def chosen(value: Any, context: PipelineContext) -> Step | None:
        outcome = condition(value, context)
        if hasattr(outcome, "__await__"):
            outcome = await outcome
        return then if outcome else otherwise

    key = f"branch:{name}"

    async def run(value: Any, context: PipelineContext) -> Any:
        # ``applies`` may have decided already: the condition is called once per run.
        step = context.metadata.get(key) or await chosen(value, context)
        context.metadata[key] = step
        if step is None:
            raise ValueError(f"branch {name!r} has no step for this input")
        made = step.fn(value, context)
        return await made if hasattr(made, "__await__") else made

    async def transform(result: Any, context: PipelineContext) -> Any:
        step: Step = context.metadata.pop(key)
        if step.transform is None:
            return _default_output(result)
        made = step.transform(result, context)
        return await made if hasattr(made, "__await__") else made

    async def applies(value: Any, context: PipelineContext) -> bool:
        context.metadata[key] = step = await chosen(value, context)
        return step is not None

    return Step(name, run, transform=transform, condition=applies if otherwise is None
                else None)


@dataclass(slots=True)
class PipelineContext:
    """What a step's callbacks see: the pipeline's input, the steps so far, shared notes.

    Attributes:
        input: the pipeline's first input.
        step_index: the running step's position.
        results: the :class:`StepResult` of every step before this one.
        metadata: a dict steps may use to pass things along.

    Example:
        >>> def translate(summary, context):
        ...     return {"stream": ask(f"Translate {summary}; source: {context.input[:50]}")}
    """

    input: Any
    step_index: int = 0
    results: list[StepResult] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step went.

    Attributes:
        name: the step's name.
        status: ``"success"``, ``"error"`` or ``"skipped"``.
        input: what the step received.
        output: what it passed on (its input again when skipped or failed).
        result: the step's ``L0Result`` when it ran a stream.
        error: what failed it.
        duration: seconds.
        cost_usd: what its streams cost (``None`` when nothing reported a cost).

    Example:
        >>> [(step.name, step.status) for step in (await pipe(steps, text)).steps]
        [('summarise', 'success'), ('translate', 'success')]
    """

    name: str
    status: StepStatus
    input: Any
    output: Any
    result: L0Result | None
    error: BaseException | None
    duration: float
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """What a pipeline produced.

    Attributes:
        output: the last successful step's output.
        steps: every step's :class:`StepResult`, in order (steps after a stop are absent).
        status: ``"success"`` when no step failed, else ``"error"``.
        error: the first step error.
        duration: seconds.
        cost_usd: summed over every step's streams.

    Example:
        >>> result = await pipe([summarise, translate], article)
        >>> [step.status for step in result.steps], result.output
        (['success', 'success'], 'Un résumé.')
    """

    output: Any
    steps: list[StepResult]
    status: Literal["success", "error"]
    error: BaseException | None
    duration: float
    cost_usd: float | None


def _default_output(result: Any) -> Any:
    if hasattr(result, "state") and hasattr(result, "telemetry"):
        return result.state.content
    return result


async def _awaited(outcome: Any) -> Any:
    return await outcome if hasattr(outcome, "__await__") else outcome


async def pipe(steps: Sequence[Step], input: Any, *, stop_on_error: bool = True,
               on_step: Callable[[StepResult, PipelineContext], Any] | None = None,
               budget: Any = None, on_event: Callable[[L0LifecycleEvent], Any] | None = None,
               **l0_options: Any) -> PipelineResult:
    """Run ``steps`` in order, feeding each step's output to the next.

    Each step's task runs through ``l0()`` with ``l0_options`` under the task's own
    keywords, so a step's guardrails, retry and fallbacks are honoured: a guardrail
    violation fails the step. A failed step calls its ``on_error``; with ``stop_on_error``
    the pipeline stops there, else the next step gets the failed step's input.
    ``on_step(step_result, context)`` is awaited after every step. ``budget`` is as for
    :func:`parallel`.

    Example:
        >>> result = await pipe([Step("summarise", summarise), Step("translate", translate)],
        ...                     article)
        >>> result.output, result.cost_usd
        ('Un résumé.', 0.0004)

    .. versionadded:: 0.1.0
    """
    if not steps:
        raise ValueError("pipe() needs at least one step")
    emitter = operation_emitter(on_event)
    runner = TaskRunner(dict(l0_options), budget, emitter, "pipeline", on_event)
    context = PipelineContext(input)
    started = time.perf_counter()
    emitter.emit(LifecycleEventType.OPERATION_START, 0, 0, operation="pipeline",
                 tasks=len(steps))
    value, first_error = input, None
    for index, step in enumerate(steps):
        context.step_index = index
        result = await _run_step(step, index, value, context, runner)
        context.results.append(result)
        emitter.emit(LifecycleEventType.PIPELINE_STEP, 0, 0, operation="pipeline",
                     name=step.name, index=index, status=result.status,
                     duration=result.duration, cost_usd=result.cost_usd)
        await call_back(on_step, result, context)
        value = result.output
        if result.status == "error":
            first_error = first_error or result.error
            if stop_on_error:
                break
    duration = time.perf_counter() - started
    cost = total_cost(TaskOutcome(i, "success", cost_usd=step.cost_usd)
                      for i, step in enumerate(context.results))
    status: Literal["success", "error"] = "error" if first_error is not None else "success"
    emitter.emit(LifecycleEventType.OPERATION_END, 0, 0, operation="pipeline", status=status,
                 duration=duration, cost_usd=cost)
    return PipelineResult(value, list(context.results), status, first_error, duration, cost)


async def _run_step(step: Step, index: int, value: Any, context: PipelineContext,
                    runner: TaskRunner) -> StepResult:
    started = time.perf_counter()
    if step.condition is not None and not await _awaited(step.condition(value, context)):
        return StepResult(step.name, "skipped", value, value, None, None,
                          time.perf_counter() - started, None)
    outcome = await runner.run(Deferred(partial(step.fn, value, context)), index)
    if outcome.status == "success":
        try:
            output = outcome.value
            if step.transform is not None:
                produced = outcome.result if outcome.result is not None else outcome.value
                output = await _awaited(step.transform(produced, context))
        except Exception as error:
            outcome = TaskOutcome(index, "error", None, error, outcome.result,
                                  outcome.duration, outcome.cost_usd)
        else:
            return StepResult(step.name, "success", value, output, outcome.result, None,
                              time.perf_counter() - started, outcome.cost_usd)
    assert outcome.error is not None
    await call_back(step.on_error, outcome.error, context)
    return StepResult(step.name, "error", value, value, outcome.result, outcome.error,
                      time.perf_counter() - started, outcome.cost_usd)


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Steps and default options, ready to run on any input (see :func:`create_pipeline`).

    Example:
        >>> pipeline = create_pipeline([summarise, translate], retry=RetryConfig(attempts=2))
        >>> (await pipeline.run(article)).output
        'Un résumé.'
    """

    steps: tuple[Step, ...]
    defaults: Mapping[str, Any]

    async def run(self, input: Any, **overrides: Any) -> PipelineResult:
        """Run the pipeline on ``input`` (``overrides`` replace the defaults)."""
        return await pipe(self.steps, input, **{**self.defaults, **overrides})


def create_pipeline(steps: Sequence[Step], **defaults: Any) -> Pipeline:
    """A reusable :class:`Pipeline`; ``defaults`` are :func:`pipe`'s keywords and ``l0()``'s.

    Example:
        >>> pipeline = create_pipeline([Step("answer", answer)], stop_on_error=False)
        >>> (await pipeline.run("question")).status
        'success'

    .. versionadded:: 0.1.0
    """
    if not steps:
        raise ValueError("create_pipeline() needs at least one step")
    for step in steps:
        if not isinstance(step, Step):
            raise TypeError(f"pipeline steps must be Step objects, not {type(step).__name__}")
    return Pipeline(tuple(steps), dict(defaults))


__all__ = ["Pipeline", "PipelineContext", "PipelineResult", "Step", "StepResult", "branch",
           "create_pipeline", "pipe"]
