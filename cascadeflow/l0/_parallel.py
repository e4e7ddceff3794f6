"""Many streams at once: ``parallel``, ``sequential``, ``batched`` and a reusable pool.

Every task runs through ``l0()`` inside one anyio task group; results keep input order
and every task ends with a status, so a skipped task never poses as a success.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from cascadeflow.l0._events import LifecycleEventType
from cascadeflow.l0._tasks import (
    Task,
    TaskOutcome,
    TaskRunner,
    TaskStatus,
    call_back,
    not_run,
    operation_emitter,
)

if TYPE_CHECKING:
    from types import TracebackType

    from cascadeflow.l0._events import EventEmitter, L0LifecycleEvent

ProgressCallback = Callable[[int, int], Any]


@dataclass(frozen=True, slots=True)
class AggregatedTelemetry:
    """Measurements summed over the tasks of one operation.

    Attributes:
        tasks: how many tasks the operation had.
        attempts: factory calls over every stream (retries and fallbacks included).
        token_count: tokens delivered over every stream.
        retries: retries by reason, summed.
        fallbacks: fallbacks taken, summed.
        average_time_to_first_token: mean over the streams that produced a token (seconds).
        fastest_time_to_first_token: the smallest of those.
        cost_usd: what every stream cost, losers and failures included; ``None`` when no
            stream reported a cost (see ``budget=``).
        duration: wall-clock seconds of the whole operation.

    Example:
        >>> (await parallel([a, b])).telemetry.token_count
        42
    """

    tasks: int = 0
    attempts: int = 0
    token_count: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    average_time_to_first_token: float | None = None
    fastest_time_to_first_token: float | None = None
    cost_usd: float | None = None
    duration: float = 0.0

    @property
    def total_retries(self) -> int:
        """Every retry, whatever its reason."""
        return sum(self.retries.values())


def total_cost(outcomes: Iterable[TaskOutcome]) -> float | None:
    """The summed cost of ``outcomes``, ``None`` when none of them reported one.

    Example:
        >>> total_cost([])
    """
    costs = [outcome.cost_usd for outcome in outcomes if outcome.cost_usd is not None]
    return float(sum(costs)) if costs else None


def aggregate(outcomes: Sequence[TaskOutcome], duration: float) -> AggregatedTelemetry:
    """Sum the telemetry of ``outcomes`` (what every operation reports)."""
    attempts = tokens = fallbacks = 0
    retries: dict[str, int] = {}
    first_tokens: list[float] = []
    for outcome in outcomes:
        if outcome.result is None:
            continue
        telemetry = outcome.result.telemetry
        attempts += telemetry.attempts
        fallbacks += telemetry.fallbacks
        tokens += outcome.result.state.token_count
        for reason, count in telemetry.retries.items():
            retries[reason] = retries.get(reason, 0) + count
        if telemetry.time_to_first_token is not None:
            first_tokens.append(telemetry.time_to_first_token)
    return AggregatedTelemetry(
        tasks=len(outcomes), attempts=attempts, token_count=tokens, retries=retries,
        fallbacks=fallbacks,
        average_time_to_first_token=sum(first_tokens) / len(first_tokens) if first_tokens
        else None,
        fastest_time_to_first_token=min(first_tokens) if first_tokens else None,
        cost_usd=total_cost(outcomes), duration=duration)


@dataclass(frozen=True, slots=True)
class ParallelResult:
    """What ``parallel`` (``sequential``, ``batched``, a pool) produced, in input order.

    ``results[i]`` is task i's value (``None`` unless ``statuses[i] == "success"``),
    ``errors[i]`` its error; ``outcomes[i]`` keeps its ``L0Result``, duration and cost.

    Example:
        >>> result = await parallel([factory_a, factory_b])
        >>> result.statuses, result.success_count
        (['success', 'success'], 2)
    """

    results: list[Any]
    errors: list[BaseException | None]
    statuses: list[TaskStatus]
    success_count: int
    failure_count: int
    cancelled_count: int
    duration: float
    telemetry: AggregatedTelemetry
    outcomes: list[TaskOutcome] = field(default_factory=list)

    @property
    def all_succeeded(self) -> bool:
        """Whether every task succeeded."""
        return self.success_count == len(self.statuses)

    @property
    def cost_usd(self) -> float | None:
        """What every stream of the operation cost (``telemetry.cost_usd``)."""
        return self.telemetry.cost_usd

    def successful_results(self) -> list[Any]:
        """The values of the tasks that succeeded, in input order."""
        return [outcome.value for outcome in self.outcomes if outcome.status == "success"]


def collect(outcomes: Sequence[TaskOutcome], started: float) -> ParallelResult:
    """Build a :class:`ParallelResult` from per-task outcomes."""
    duration = time.perf_counter() - started
    statuses = [outcome.status for outcome in outcomes]
    return ParallelResult(
        results=[outcome.value for outcome in outcomes],
        errors=[outcome.error for outcome in outcomes],
        statuses=statuses,
        success_count=statuses.count("success"),
        failure_count=statuses.count("error"),
        cancelled_count=statuses.count("cancelled"),
        duration=duration,
        telemetry=aggregate(outcomes, duration),
        outcomes=list(outcomes))


def _check_count(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


async def run_all(runner: TaskRunner, tasks: Sequence[Task], *, concurrency: int,
                  fail_fast: bool, on_progress: ProgressCallback | None,
                  first_index: int = 0, total: int | None = None,
                  done_before: int = 0) -> list[TaskOutcome]:
    """Run ``tasks`` ``concurrency`` at a time, started in input order; every task ends
    with an outcome (``cancelled`` for one that never started)."""
    outcomes = [not_run(first_index + offset) for offset in range(len(tasks))]
    overall = total if total is not None else len(tasks)
    cursor = {"next": 0, "finished": done_before}

    async with anyio.create_task_group() as group:
        async def worker() -> None:
            # Workers take the next task in input order (not a race for a semaphore, whose
            # winner the scheduler picks), so fail_fast cancels exactly the later tasks.
            while cursor["next"] < len(tasks) and not group.cancel_scope.cancel_called:
                offset = cursor["next"]
                cursor["next"] += 1
                outcome = await runner.run(tasks[offset], first_index + offset,
                                           partial(outcomes.__setitem__, offset))
                if fail_fast and outcome.status == "error":
                    group.cancel_scope.cancel()
                cursor["finished"] += 1
                if on_progress is not None:
                    with anyio.CancelScope(shield=outcome.status == "error" and fail_fast):
                        await call_back(on_progress, cursor["finished"], overall)

        for _ in range(min(concurrency, len(tasks))):
            group.start_soon(worker)
    return outcomes


async def _operation(name: str, tasks: Sequence[Task], *, concurrency: int, fail_fast: bool,
                     on_progress: ProgressCallback | None, budget: Any,
                     on_event: Callable[[L0LifecycleEvent], Any] | None,
                     l0_options: Mapping[str, Any],
                     batch_size: int | None = None) -> ParallelResult:
    tasks = list(tasks)
    emitter = operation_emitter(on_event)
    runner = TaskRunner(dict(l0_options), budget, emitter, name, on_event)
    started = time.perf_counter()
    emitter.emit(LifecycleEventType.OPERATION_START, 0, 0, operation=name, tasks=len(tasks))
    if batch_size is None:
        outcomes = await run_all(runner, tasks, concurrency=concurrency, fail_fast=fail_fast,
                                 on_progress=on_progress)
    else:
        outcomes = []
        for first in range(0, len(tasks), batch_size):
            outcomes += await run_all(runner, tasks[first:first + batch_size],
                                      concurrency=batch_size, fail_fast=False,
                                      on_progress=on_progress, first_index=first,
                                      total=len(tasks), done_before=first)
    result = collect(outcomes, started)
    end_operation(emitter, name, result.statuses, result.duration, result.cost_usd)
    return result


def end_operation(emitter: EventEmitter, name: str, statuses: Sequence[str], duration: float,
                  cost_usd: float | None) -> None:
    """Emit ``operation_end`` (status ``success`` only when every task succeeded)."""
    status = "success" if all(status == "success" for status in statuses) else "partial"
    emitter.emit(LifecycleEventType.OPERATION_END, 0, 0, operation=name, status=status,
                 duration=duration, cost_usd=cost_usd)


async def parallel(tasks: Iterable[Task], *, concurrency: int = 5, fail_fast: bool = False,
                   on_progress: ProgressCallback | None = None, budget: Any = None,
                   on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                   **l0_options: Any) -> ParallelResult:
    """Run many streams at once, at most ``concurrency`` at a time, keeping input order.

    A task is a stream factory, a mapping (or :class:`L0Options`) of ``l0()`` keywords
    (with ``schema=`` a pydantic model for a structured task), or a zero-argument callable
    (async or not) whose value is kept; ``l0_options`` apply to every stream task under its
    own keywords. With ``fail_fast`` the first error cancels the rest: those tasks end with
    status ``"cancelled"``. ``on_progress(done, total)`` is called (and awaited) after each
    task. ``budget`` is an attempt meter for ``l0(budget=...)`` or a zero-argument factory
    making one per task. ``on_event`` hears the operation's events and every stream's.

    Example:
        >>> result = await parallel([summarise, translate, classify], concurrency=2)
        >>> result.results[0], result.telemetry.cost_usd
        ('A short summary.', 0.00042)

    .. versionadded:: 0.1.0
    """
    _check_count("concurrency", concurrency)
    return await _operation("parallel", list(tasks), concurrency=concurrency,
                            fail_fast=fail_fast, on_progress=on_progress, budget=budget,
                            on_event=on_event, l0_options=l0_options)


async def sequential(tasks: Iterable[Task], *, fail_fast: bool = False,
                     on_progress: ProgressCallback | None = None, budget: Any = None,
                     on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                     **l0_options: Any) -> ParallelResult:
    """Run the tasks one after another (``parallel`` with ``concurrency=1``).

    Example:
        >>> (await sequential([first, second])).statuses
        ['success', 'success']

    .. versionadded:: 0.1.0
    """
    return await _operation("sequential", list(tasks), concurrency=1, fail_fast=fail_fast,
                            on_progress=on_progress, budget=budget, on_event=on_event,
                            l0_options=l0_options)


async def batched(tasks: Iterable[Task], batch_size: int, *,
                  on_progress: ProgressCallback | None = None, budget: Any = None,
                  on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                  **l0_options: Any) -> ParallelResult:
    """Run the tasks in batches of ``batch_size`` (a batch starts when the previous ended).

    Every result is kept: a failing task records its error and the others go on.

    Example:
        >>> result = await batched(tasks, batch_size=10)
        >>> result.failure_count, len(result.results) == len(tasks)
        (1, True)

    .. versionadded:: 0.1.0
    """
    _check_count("batch_size", batch_size)
    return await _operation("batched", list(tasks), concurrency=batch_size, fail_fast=False,
                            on_progress=on_progress, budget=budget, on_event=on_event,
                            l0_options=l0_options, batch_size=batch_size)


class L0Pool:
    """A pool of ``workers`` running submitted tasks with shared ``l0()`` options.

    Inside ``async with`` the workers start on each task as it is submitted; ``drain()``
    waits for every task submitted so far. Outside it, ``drain()`` runs the queued tasks.

    Example:
        >>> async with create_pool(3, retry=RetryConfig(attempts=2)) as pool:
        ...     for factory in factories:
        ...         pool.submit(factory)
        ...     result = await pool.drain()
    """

    def __init__(self, workers: int, *, budget: Any = None,
                 on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                 **shared_l0_options: Any) -> None:
        _check_count("workers", workers)
        self.workers = workers
        self._runner = TaskRunner(dict(shared_l0_options), budget, operation_emitter(on_event),
                                  "pool", on_event)
        self._tasks: list[Task] = []
        self._outcomes: list[TaskOutcome | None] = []
        self._limiter = anyio.CapacityLimiter(workers)
        self._group: anyio.abc.TaskGroup | None = None
        self._settled: anyio.Event | None = None
        self._running = 0
        self._started = time.perf_counter()

    def submit(self, task: Task) -> int:
        """Queue ``task`` (started at once inside ``async with``); returns its index."""
        index = len(self._tasks)
        self._tasks.append(task)
        self._outcomes.append(None)
        if self._group is not None:
            self._running += 1
            self._group.start_soon(self._work, index)
        return index

    @property
    def pending(self) -> int:
        """Tasks submitted and not finished yet."""
        return sum(outcome is None for outcome in self._outcomes)

    async def _work(self, index: int) -> None:
        try:
            async with self._limiter:
                await self._runner.run(self._tasks[index], index,
                                       lambda done: self._outcomes.__setitem__(index, done))
        finally:
            self._running -= 1
            if self._running == 0 and self._settled is not None:
                self._settled.set()

    async def drain(self) -> ParallelResult:
        """Wait for every submitted task and return their results in submission order."""
        if self._group is None:
            queued = [index for index, outcome in enumerate(self._outcomes) if outcome is None]
            done = await run_all(self._runner, [self._tasks[index] for index in queued],
                                 concurrency=self.workers, fail_fast=False, on_progress=None)
            for index, outcome in zip(queued, done, strict=True):
                self._outcomes[index] = TaskOutcome(index, outcome.status, outcome.value,
                                                    outcome.error, outcome.result,
                                                    outcome.duration, outcome.cost_usd)
        else:
            while self._running:
                self._settled = anyio.Event()
                await self._settled.wait()
        outcomes = [outcome if outcome is not None else not_run(index)
                    for index, outcome in enumerate(self._outcomes)]
        return collect(outcomes, self._started)

    async def __aenter__(self) -> L0Pool:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._started = time.perf_counter()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        group, self._group = self._group, None
        assert group is not None
        return await group.__aexit__(exc_type, exc, tb)


def create_pool(workers: int, *, budget: Any = None,
                on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                **shared_l0_options: Any) -> L0Pool:
    """A reusable :class:`L0Pool` of ``workers`` sharing ``l0()`` options and budget.

    Example:
        >>> async with create_pool(4, timeout=TimeoutConfig(initial_token=10)) as pool:
        ...     pool.submit(factory)
        ...     (await pool.drain()).results
        ['Hello']

    .. versionadded:: 0.1.0
    """
    return L0Pool(workers, budget=budget, on_event=on_event, **shared_l0_options)


__all__ = ["AggregatedTelemetry", "L0Pool", "ParallelResult", "aggregate", "batched",
           "collect", "create_pool", "parallel", "run_all", "sequential", "total_cost"]
