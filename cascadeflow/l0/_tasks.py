"""One task of an operation over many streams: what it may be, how it runs, what it cost.

A task is an ``l0()`` call's arguments (a stream factory, a mapping of ``l0()`` keywords or
an :class:`L0Options`) or a zero-argument callable; every operation (parallel, race,
consensus, pipelines, windows) runs its tasks through :func:`run_task`.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from cascadeflow.l0._events import EventEmitter, LifecycleEventType
from cascadeflow.l0._result import L0Options, L0Result
from cascadeflow.l0._sources import _takes_argument

if TYPE_CHECKING:
    from cascadeflow.l0._events import L0LifecycleEvent

TaskStatus = Literal["success", "error", "cancelled"]
Task = Any  # a stream factory, a mapping of l0() keywords, an L0Options or a callable


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """How one task of an operation ended.

    Attributes:
        index: the task's position in the operation's input.
        status: ``"success"``, ``"error"`` or ``"cancelled"`` (skipped, or stopped by
            ``fail_fast`` or by a race's winner).
        value: the final text of a stream task, the model instance of a structured one,
            the return value of a plain callable; ``None`` unless ``status == "success"``.
        error: what ended the task when ``status == "error"``.
        result: the task's ``L0Result`` when it ran an ``l0()`` stream (its ``state``
            keeps the partial text of a cancelled or failed stream).
        duration: seconds from the task's start to its end (0.0 when it never started).
        cost_usd: what the task's streams cost (see :func:`task_cost`), ``None`` when
            nothing reported a cost.

    Example:
        >>> outcome = (await parallel([factory])).outcomes[0]
        >>> outcome.status, outcome.value
        ('success', 'Hello')
    """

    index: int
    status: TaskStatus
    value: Any = None
    error: BaseException | None = None
    result: L0Result | None = None
    duration: float = 0.0
    cost_usd: float | None = None


def not_run(index: int) -> TaskOutcome:
    """The outcome of a task that never started (skipped by ``fail_fast`` or a winner)."""
    return TaskOutcome(index, "cancelled")


@dataclass(frozen=True, slots=True)
class Deferred:
    """A task made only when its turn comes: ``make()`` (may be async) returns the task.

    A failure in ``make`` is that task's error, not the operation's.
    """

    make: Callable[[], Any]


class _CostProbe:
    """Keeps every stream a task's factories returned, to ask them what they cost.

    A stream that knows its own price exposes ``cost_usd`` once it ended (cascadeflow's
    guarded LiteLLM streams do, for abandoned and failed streams too); a run metered by a
    budget guard reports ``telemetry.cost_usd`` instead, which then wins.
    """

    __slots__ = ("streams",)

    def __init__(self) -> None:
        self.streams: list[Any] = []

    def wrap(self, factory: Any) -> Any:
        if not callable(factory) or hasattr(factory, "__aiter__"):
            return factory  # a single-use stream object: l0() reads it as it is

        def keep(made: Any) -> Any:
            if inspect.isawaitable(made):
                return self._keep_later(made)
            self.streams.append(made)
            return made

        if _takes_argument(factory):
            return lambda continuation: keep(factory(continuation))
        return lambda: keep(factory())

    async def _keep_later(self, made: Awaitable[Any]) -> Any:
        stream = await made
        self.streams.append(stream)
        return stream

    def cost(self, result: L0Result | None) -> float | None:
        if result is not None:
            metered = getattr(result.telemetry, "cost_usd", None)
            if metered is not None:
                return float(metered)
        costs = [cost for cost in (getattr(stream, "cost_usd", None) for stream in self.streams)
                 if cost is not None]
        return float(sum(costs)) if costs else None


@dataclass(frozen=True, slots=True)
class TaskRunner:
    """Runs tasks for one operation: shared ``l0()`` options, budget, events and schema."""

    shared: Mapping[str, Any]
    budget: Any
    emitter: EventEmitter
    operation: str
    on_event: Callable[[L0LifecycleEvent], Any] | None = None
    schema: Any = None

    def budget_for_task(self) -> Any:
        """The budget of one task: a factory's product, or the object itself."""
        budget = self.budget
        if budget is None:
            return None
        return budget() if callable(budget) else budget

    def options_of(self, task: Any, index: int) -> dict[str, Any]:
        """The ``l0()`` keywords of a stream task (shared ones first, the task's own over them)."""
        if isinstance(task, L0Options):
            own = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
        elif isinstance(task, Mapping):
            own = dict(task)
        else:
            own = {"stream": task}
        if "stream" not in own:
            raise TypeError(f"task {index} of {self.operation}() has no 'stream' "
                            "(a mapping task needs the l0() keyword 'stream')")
        options = {**self.shared, **own}
        budget = options.pop("budget", None)
        if budget is None:
            budget = self.budget_for_task()
        if budget is not None:
            # Forwarded only when given: l0() gains ``budget=`` with the attempt meter.
            options["budget"] = budget
        if self.on_event is not None and options.get("on_event") is None:
            options["on_event"] = self.on_event
        if options.get("on_event") is not None:  # the context only travels with events
            options["context"] = {"operation": self.operation, "task_index": index,
                                  **(options.get("context") or {})}
        return options

    async def run(self, task: Task, index: int,
                  record: Callable[[TaskOutcome], None] | None = None) -> TaskOutcome:
        """Run one task to its end. Its outcome also goes to ``record``, which is how a
        cancelled task's outcome (partial text, cost) is kept: cancellation is re-raised."""
        probe = _CostProbe()
        box: list[L0Result] = []
        started = time.perf_counter()
        self.emitter.emit(LifecycleEventType.TASK_START, 0, 0, operation=self.operation,
                          index=index)

        def ended(status: TaskStatus, value: Any = None,
                  error: BaseException | None = None) -> TaskOutcome:
            result = box[0] if box else None
            outcome = TaskOutcome(index, status, value, error, result,
                                  time.perf_counter() - started, probe.cost(result))
            self.emitter.emit(LifecycleEventType.TASK_END, 0, 0, operation=self.operation,
                              index=index, status=status, duration=outcome.duration,
                              cost_usd=outcome.cost_usd, error=error)
            if record is not None:
                record(outcome)
            return outcome

        try:
            value = await self._value(task, index, probe, box)
        except anyio.get_cancelled_exc_class():
            await _close(box)
            ended("cancelled")
            raise
        except Exception as error:
            await _close(box)
            return ended("error", error=error)
        return ended("success", value)

    async def _value(self, task: Task, index: int, probe: _CostProbe,
                     box: list[L0Result]) -> Any:
        if isinstance(task, Deferred):
            task = task.make()
            if inspect.isawaitable(task):
                task = await task
        if isinstance(task, (Mapping, L0Options)):
            return await self._stream_value(self.options_of(task, index), probe, box)
        if not callable(task):
            raise TypeError(f"task {index} of {self.operation}() is a {type(task).__name__}; "
                            "expected a stream factory, a mapping of l0() keywords, an "
                            "L0Options or a zero-argument callable")
        if _takes_argument(task):  # a continuation-aware factory: always a stream
            return await self._stream_value(self.options_of(task, index), probe, box)
        made = task()
        if inspect.isawaitable(made):
            made = await made
        if isinstance(made, L0Result):
            box.append(made)
            return await made.text()
        if hasattr(made, "__aiter__") or hasattr(made, "__aenter__"):
            # The first attempt reads the stream already made; retries call the task again.
            options = self.options_of(_replaying(made, task), index)
            return await self._stream_value(options, probe, box)
        data = getattr(made, "data", None)
        if data is not None and hasattr(made, "raw") and hasattr(made, "telemetry"):
            return data  # a StructuredResult
        return made

    async def _stream_value(self, options: dict[str, Any], probe: _CostProbe,
                            box: list[L0Result]) -> Any:
        from cascadeflow.l0._l0 import l0

        options["stream"] = probe.wrap(options["stream"])
        options["fallback_streams"] = [probe.wrap(fallback)
                                       for fallback in options.get("fallback_streams", ())]
        schema = options.pop("schema", None) or self.schema
        if schema is not None:
            from cascadeflow.l0.structured import structured

            stream = options.pop("stream")
            return (await structured(schema, stream, **options)).data
        result = await l0(**options)
        box.append(result)
        return await result.text()


def _replaying(first: Any, make: Callable[[], Any]) -> Callable[[], Any]:
    used = False

    def factory() -> Any:
        nonlocal used
        if not used:
            used = True
            return first
        return make()

    return factory


async def _close(box: list[L0Result]) -> None:
    # Shielded: a cancelled task must still close its provider stream so it is settled.
    with anyio.CancelScope(shield=True):
        for result in box:
            await result.aclose()


async def call_back(callback: Callable[..., Any] | None, *args: Any) -> None:
    """Call a user callback and await it when it is a coroutine (never fire-and-forget)."""
    if callback is None:
        return
    outcome = callback(*args)
    if inspect.isawaitable(outcome):
        await outcome


def operation_emitter(on_event: Callable[[L0LifecycleEvent], Any] | None,
                      context: Mapping[str, Any] | None = None) -> EventEmitter:
    """The emitter of one operation's own events (start, tasks, winner, vote, ...)."""
    return EventEmitter(on_event, context)


__all__ = ["Deferred", "Task", "TaskOutcome", "TaskRunner", "TaskStatus", "call_back", "not_run",
           "operation_emitter"]
