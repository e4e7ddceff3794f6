"""``consensus``: run several streams and vote on what they said (text or a pydantic schema).

Text outputs are grouped by :mod:`~cascadeflow.l0._similarity` (different numbers never
agree); structured outputs are voted field by field and the value is built from the
winning fields. The minority never wins a majority vote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cascadeflow.l0._errors import L0Error
from cascadeflow.l0._events import LifecycleEventType
from cascadeflow.l0._parallel import AggregatedTelemetry, aggregate, end_operation, run_all
from cascadeflow.l0._similarity import group_similar, similarity
from cascadeflow.l0._tasks import Task, TaskOutcome, TaskRunner, operation_emitter

if TYPE_CHECKING:
    from cascadeflow.l0._events import L0LifecycleEvent

Strategy = Literal["unanimous", "majority", "weighted", "best"]
Resolution = Literal["vote", "merge", "best", "fail"]
ConsensusStatus = Literal["consensus", "resolved"]
_STRATEGIES = ("unanimous", "majority", "weighted", "best")
_RESOLUTIONS = ("vote", "merge", "best", "fail")


class ConsensusError(L0Error):
    """No consensus: every task failed, or agreement fell short with ``resolve="fail"``.

    Example:
        >>> try:
        ...     await consensus(tasks, strategy="unanimous", resolve="fail")
        ... except ConsensusError as error:
        ...     error.outcomes[0].value
        'Paris'
    """

    def __init__(self, message: str, outcomes: Sequence[TaskOutcome] = ()) -> None:
        self.outcomes = list(outcomes)
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ConsensusError], tuple[object, ...]]:
        return (ConsensusError, (str(self),))


@dataclass(frozen=True, slots=True)
class Vote:
    """One distinct answer (or field value) and who gave it.

    Attributes:
        value: the answer (for text, the output of its heaviest voter).
        indices: the tasks that gave it (positions in the input).
        share: its part of the vote, 0.0 to 1.0 (by weight for ``weighted`` and ``best``,
            by count otherwise).
        field: the schema field voted on; ``None`` for whole text outputs.

    Example:
        >>> [(vote.value, vote.indices) for vote in result.disagreements]
        [('42', (0, 1)), ('43', (2,))]
    """

    value: Any
    indices: tuple[int, ...]
    share: float
    field: str | None = None


@dataclass(frozen=True, slots=True)
class FieldConsensus:
    """The vote on one field of a structured consensus.

    Attributes:
        value: the winning value (the one in ``ConsensusResult.value``).
        share: the winner's part of the vote.
        votes: every distinct value, heaviest first.

    Example:
        >>> result.field_consensus["age"].value, result.field_consensus["age"].share
        (31, 0.6666666666666666)
    """

    value: Any
    share: float
    votes: tuple[Vote, ...]

    @property
    def unanimous(self) -> bool:
        """Whether every output gave this field the same value."""
        return len(self.votes) == 1


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """What several streams agreed on.

    Attributes:
        value: the agreed text, or the schema instance built from the winning fields.
        confidence: the winner's share of the vote (for a schema, the mean of the fields').
        outputs: every task's :class:`TaskOutcome`, in input order (cost per task).
        agreements: the answers (fields, for a schema) that every output shared.
        disagreements: for text, every group of answers when there was more than one;
            for a schema, one :class:`Vote` per value of each contested field.
        field_consensus: per field, for a schema; ``None`` for text.
        status: ``"consensus"`` when the strategy's agreement was reached, ``"resolved"``
            when ``resolve`` had to decide.
        telemetry: summed over the tasks (``telemetry.cost_usd``: what all of them cost).

    Example:
        >>> result = await consensus([gpt, claude, gemini])
        >>> result.value, result.confidence, result.status
        ('The answer is 42.', 0.6666666666666666, 'consensus')
    """

    value: Any
    confidence: float
    outputs: list[TaskOutcome]
    agreements: list[Vote]
    disagreements: list[Vote]
    field_consensus: dict[str, FieldConsensus] | None
    status: ConsensusStatus
    telemetry: AggregatedTelemetry

    @property
    def cost_usd(self) -> float | None:
        """What every stream of the consensus cost."""
        return self.telemetry.cost_usd


def _check(strategy: str, resolve: str, threshold: float, minimum_agreement: float,
           weights: Sequence[float] | None, count: int) -> None:
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}, not {strategy!r}")
    if resolve not in _RESOLUTIONS:
        raise ValueError(f"resolve must be one of {_RESOLUTIONS}, not {resolve!r}")
    for name, value in (("threshold", threshold), ("minimum_agreement", minimum_agreement)):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], not {value!r}")
    if count == 0:
        raise ValueError("consensus() needs at least one task")
    if weights is not None:
        if len(weights) != count:
            raise ValueError(f"weights has {len(weights)} entries for {count} tasks")
        if any(weight < 0 for weight in weights):
            raise ValueError("weights must not be negative")


class _Ballot:
    """The successful outputs with their weights, and how to rank groups of them."""

    def __init__(self, outcomes: Sequence[TaskOutcome], weights: Sequence[float] | None,
                 by_weight: bool) -> None:
        self.voters = [outcome for outcome in outcomes if outcome.status == "success"]
        self.weight = {outcome.index: (weights[outcome.index] if weights is not None else 1.0)
                       for outcome in self.voters}
        self.by_weight = by_weight
        self.total = (sum(self.weight.values()) if by_weight else float(len(self.voters))) or 1.0

    def share(self, indices: Sequence[int]) -> float:
        mass = sum(self.weight[i] for i in indices) if self.by_weight else len(indices)
        return mass / self.total

    def rank(self, indices: Sequence[int]) -> tuple[float, float, int]:
        # Heaviest first; then the most voters (or weight); then the earliest task.
        count, weight = float(len(indices)), sum(self.weight[i] for i in indices)
        primary, secondary = (weight, count) if self.by_weight else (count, weight)
        return (-primary, -secondary, min(indices))

    def best_index(self, texts: dict[int, str] | None) -> int:
        """The heaviest voter; among equals the most central text, then the earliest."""
        def centrality(index: int) -> float:
            if texts is None:
                return 0.0
            return sum(similarity(texts[index], texts[other]) for other in texts)

        return min(self.weight, key=lambda i: (-self.weight[i], -centrality(i), i))


async def consensus(tasks: Iterable[Task], *, strategy: Strategy = "majority",
                    threshold: float = 0.8, resolve: Resolution = "vote",
                    weights: Sequence[float] | None = None, minimum_agreement: float = 0.6,
                    schema: Any = None, budget: Any = None,
                    on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                    **l0_options: Any) -> ConsensusResult:
    """Run every task and return what they agree on.

    Strategies: ``unanimous`` (every pair of outputs agrees), ``majority`` (the answer
    with the most outputs, if its share reaches ``minimum_agreement``), ``weighted`` (the
    same by ``weights``), ``best`` (the output of the highest weight; among equal weights
    the one most similar to the others). When agreement falls short, ``resolve`` decides:
    ``vote`` (the answer with the most votes), ``merge`` (text: every distinct answer,
    heaviest first; schema: field-by-field votes), ``best`` (the highest-weight output) or
    ``fail`` (raise :class:`ConsensusError`). Text outputs are the same answer when their
    similarity reaches ``threshold`` (different numbers never are). With a pydantic
    ``schema`` every task is a structured run and the vote is field by field. Failed tasks
    do not vote. Tasks, ``budget`` and ``on_event`` are as for :func:`parallel`.

    Example:
        >>> result = await consensus([ask("gpt-4o"), ask("claude"), ask("gemini")],
        ...                          strategy="weighted", weights=[2, 1, 1])
        >>> result.value, result.cost_usd
        ('42', 0.0031)

    .. versionadded:: 0.1.0
    """
    tasks = list(tasks)
    _check(strategy, resolve, threshold, minimum_agreement, weights, len(tasks))
    emitter = operation_emitter(on_event)
    runner = TaskRunner(dict(l0_options), budget, emitter, "consensus", on_event, schema)
    started = time.perf_counter()
    emitter.emit(LifecycleEventType.OPERATION_START, 0, 0, operation="consensus",
                 tasks=len(tasks))
    outcomes = await run_all(runner, tasks, concurrency=len(tasks), fail_fast=False,
                             on_progress=None)
    duration = time.perf_counter() - started
    telemetry = aggregate(outcomes, duration)
    ballot = _Ballot(outcomes, weights, by_weight=strategy in ("weighted", "best"))
    if not ballot.voters:
        end_operation(emitter, "consensus", ["error"], duration, telemetry.cost_usd)
        raise ConsensusError("every task of the consensus failed", outcomes)
    if schema is not None:
        decided = _vote_fields(ballot, schema, strategy, resolve, minimum_agreement)
    else:
        decided = _vote_text(ballot, strategy, resolve, threshold, minimum_agreement)
    if decided is None:
        end_operation(emitter, "consensus", ["error"], duration, telemetry.cost_usd)
        raise ConsensusError(f"no {strategy} consensus (minimum agreement "
                             f"{minimum_agreement}) and resolve='fail'", outcomes)
    value, confidence, agreements, disagreements, fields, status = decided
    emitter.emit(LifecycleEventType.CONSENSUS_VOTE, 0, 0, operation="consensus",
                 strategy=strategy, status=status, confidence=confidence,
                 groups=len(disagreements) or 1)
    end_operation(emitter, "consensus", ["success"], duration, telemetry.cost_usd)
    return ConsensusResult(value, confidence, outcomes, agreements, disagreements, fields,
                           status, telemetry)


_Decided = tuple[Any, float, list[Vote], list[Vote], dict[str, FieldConsensus] | None,
                 ConsensusStatus]


def _vote_text(ballot: _Ballot, strategy: str, resolve: str, threshold: float,
               minimum_agreement: float) -> _Decided | None:
    texts = {voter.index: str(voter.value) for voter in ballot.voters}
    order = list(texts)
    groups = sorted(([order[i] for i in group] for group in group_similar(
        [texts[index] for index in order], threshold)), key=ballot.rank)

    def representative(indices: Sequence[int]) -> str:
        return texts[min(indices, key=lambda i: (-ballot.weight[i], i))]

    votes = [Vote(representative(group), tuple(group), ballot.share(group)) for group in groups]
    agreements = votes[:1] if len(votes) == 1 else []
    disagreements = votes if len(votes) > 1 else []
    top = votes[0]
    if strategy == "best":
        chosen = ballot.best_index(texts)
        group = next(vote for vote in votes if chosen in vote.indices)
        reached = group.share >= minimum_agreement
        return (texts[chosen], group.share, agreements, disagreements, None,
                "consensus" if reached else "resolved")
    if strategy == "unanimous":
        reached = len(votes) == 1
    else:
        clear_lead = len(votes) == 1 or ballot.rank(top.indices)[:2] != ballot.rank(
            votes[1].indices)[:2]
        reached = top.share >= minimum_agreement and clear_lead
    if reached:
        return top.value, top.share, agreements, disagreements, None, "consensus"
    if resolve == "fail":
        return None
    if resolve == "merge":
        merged = "\n\n".join(vote.value for vote in votes)
        return merged, top.share, agreements, disagreements, None, "resolved"
    if resolve == "best":
        chosen = ballot.best_index(texts)
        return texts[chosen], ballot.share([chosen]), agreements, disagreements, None, \
            "resolved"
    return top.value, top.share, agreements, disagreements, None, "resolved"


def _as_model(schema: Any, value: Any) -> Any:
    if isinstance(value, schema):
        return value
    if isinstance(value, str):
        return schema.model_validate_json(value)
    return schema.model_validate(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _vote_fields(ballot: _Ballot, schema: Any, strategy: str, resolve: str,
                 minimum_agreement: float) -> _Decided | None:
    # A plain callable may return a dict or JSON text rather than the model: validate it.
    dumps = {voter.index: _as_model(schema, voter.value).model_dump(mode="json")
             for voter in ballot.voters}
    best = ballot.best_index(None)
    fields: dict[str, FieldConsensus] = {}
    for name in schema.model_fields:
        by_value: dict[str, list[int]] = {}
        for index, dump in dumps.items():
            by_value.setdefault(_canonical(dump.get(name)), []).append(index)
        groups = sorted(by_value.values(), key=ballot.rank)
        votes = tuple(Vote(dumps[group[0]].get(name), tuple(group), ballot.share(group), name)
                      for group in groups)
        winner = votes[0]
        if strategy == "best":
            winner = next(vote for vote in votes if best in vote.indices)
        fields[name] = FieldConsensus(winner.value, winner.share, votes)
    if strategy == "unanimous":
        reached = all(field.unanimous for field in fields.values())
    else:
        reached = all(field.share >= minimum_agreement for field in fields.values())
    agreements = [field.votes[0] for field in fields.values() if field.unanimous]
    disagreements = [vote for field in fields.values() if not field.unanimous
                     for vote in field.votes]
    confidence = sum(field.share for field in fields.values()) / (len(fields) or 1)
    if not reached and resolve == "fail":
        return None
    if not reached and resolve == "best":
        chosen = schema.model_validate(dumps[best])
        fields = {name: FieldConsensus(dumps[best].get(name), ballot.share(
            next(vote.indices for vote in field.votes if best in vote.indices)), field.votes)
            for name, field in fields.items()}
        return chosen, confidence, agreements, disagreements, fields, "resolved"
    value = schema.model_validate({name: field.value for name, field in fields.items()})
    return (value, confidence, agreements, disagreements, fields,
            "consensus" if reached else "resolved")


__all__ = ["ConsensusError", "ConsensusResult", "FieldConsensus", "Vote", "consensus"]
