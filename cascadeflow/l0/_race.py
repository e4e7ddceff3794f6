"""``race``: the first task to complete successfully wins; the others are cancelled at once.

Ties go to the completion observed first (never to set order); losers' streams are
closed, so what they delivered is settled and reported in :class:`RaceResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from cascadeflow.l0._errors import L0Error
from cascadeflow.l0._events import LifecycleEventType
from cascadeflow.l0._parallel import AggregatedTelemetry, aggregate, end_operation, total_cost
from cascadeflow.l0._tasks import Task, TaskOutcome, TaskRunner, not_run, operation_emitter

if TYPE_CHECKING:
    from cascadeflow.l0._events import L0LifecycleEvent
    from cascadeflow.l0._result import L0Result


class RaceError(L0Error):
    """Every task of a race failed; ``errors[i]`` is why task i failed.

    Example:
        >>> try:
        ...     await race([failing_a, failing_b])
        ... except RaceError as error:
        ...     len(error.errors)
        2
    """

    def __init__(self, errors: Sequence[BaseException | None],
                 outcomes: Sequence[TaskOutcome] = ()) -> None:
        self.errors = list(errors)
        self.outcomes = list(outcomes)
        described = "; ".join(f"task {index}: {type(error).__name__}: {error}"
                              for index, error in enumerate(self.errors) if error is not None)
        super().__init__(f"every task of the race failed ({described})")

    def __reduce__(self) -> tuple[type[RaceError], tuple[object, ...]]:
        return (RaceError, (self.errors,))


@dataclass(frozen=True, slots=True)
class RaceResult:
    """The winner of a race and what the losers did.

    Attributes:
        value: the winner's value (its final text for a stream task).
        winner_index: the winner's position in the input.
        result: the winner's ``L0Result`` (``None`` for a plain callable).
        losers: every other task's :class:`TaskOutcome` (cancelled, failed or never
            started), with the partial text in ``outcome.result.state.content`` and
            ``cost_usd``.
        outcomes: every task's outcome, winner included, in input order.
        duration: seconds until the race ended (losers closed).
        telemetry: summed over every task, losers included.

    Example:
        >>> result = await race([fast_model, slow_model])
        >>> result.winner_index, [loser.status for loser in result.losers]
        (0, ['cancelled'])
    """

    value: Any
    winner_index: int
    result: L0Result | None
    losers: list[TaskOutcome]
    outcomes: list[TaskOutcome]
    duration: float
    telemetry: AggregatedTelemetry

    @property
    def cost_usd(self) -> float | None:
        """What the race cost: the winner and every loser's delivered tokens."""
        return self.telemetry.cost_usd

    @property
    def losers_cost_usd(self) -> float | None:
        """What the losers cost (billed although their answers were dropped)."""
        return total_cost(self.losers)


async def race(tasks: Iterable[Task], *, budget: Any = None,
               on_event: Callable[[L0LifecycleEvent], Any] | None = None,
               **l0_options: Any) -> RaceResult:
    """Start every task at once; the first to complete successfully wins.

    Failures do not win: the race goes on until a task succeeds, and raises
    :class:`RaceError` with every failure when none does. As soon as there is a winner the
    other tasks are cancelled and their streams closed (a guarded LiteLLM stream is then
    billed for what it delivered, which shows in each loser's ``cost_usd``). Tasks are as
    for :func:`parallel`; ``budget`` and ``on_event`` too (plus a ``race_winner`` event).

    Example:
        >>> result = await race([gpt_factory, claude_factory])
        >>> result.value, result.winner_index, result.cost_usd
        ('Hello', 1, 0.00021)

    .. versionadded:: 0.1.0
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("race() needs at least one task")
    emitter = operation_emitter(on_event)
    runner = TaskRunner(dict(l0_options), budget, emitter, "race", on_event)
    outcomes = [not_run(index) for index in range(len(tasks))]
    winner: list[int] = []
    started = time.perf_counter()
    emitter.emit(LifecycleEventType.OPERATION_START, 0, 0, operation="race", tasks=len(tasks))

    async with anyio.create_task_group() as group:
        async def run(index: int) -> None:
            outcome = await runner.run(tasks[index], index,
                                       lambda done: outcomes.__setitem__(index, done))
            # Checked and set with no await in between: the first success observed wins.
            if outcome.status == "success" and not winner:
                winner.append(index)
                group.cancel_scope.cancel()

        for index in range(len(tasks)):
            group.start_soon(run, index)

    duration = time.perf_counter() - started
    telemetry = aggregate(outcomes, duration)
    if not winner:
        end_operation(emitter, "race", ["error"], duration, telemetry.cost_usd)
        raise RaceError([outcome.error for outcome in outcomes], outcomes)
    first = outcomes[winner[0]]
    losers = [outcome for outcome in outcomes if outcome.index != first.index]
    emitter.emit(LifecycleEventType.RACE_WINNER, 0, 0, operation="race", index=first.index,
                 losers=[loser.index for loser in losers], cost_usd=telemetry.cost_usd)
    end_operation(emitter, "race", ["success"], duration, telemetry.cost_usd)
    return RaceResult(first.value, first.index, first.result, losers, outcomes, duration,
                      telemetry)


__all__ = ["RaceError", "RaceResult", "race"]
