"""Payloads of the events that operations over many streams emit (parallel, race, ...).

Like :mod:`cascadeflow.l0._payloads` for a single run: plain dicts at run time, documented
and type-checked by these ``TypedDict`` classes. Every one names its ``operation``
(``"parallel"``, ``"sequential"``, ``"batched"``, ``"pool"``, ``"race"``, ``"consensus"``,
``"pipeline"`` or ``"window"``).
"""

from __future__ import annotations

from typing import TypedDict


class OperationStartData(TypedDict):
    """``operation_start``: an operation began.

    Attributes:
        operation: which operation.
        tasks: how many tasks (pipeline steps, window chunks) it will run.

    Example:
        >>> next(e for e in seen if e.type == "operation_start").data["tasks"]
        3
    """

    operation: str
    tasks: int


class TaskStartData(TypedDict):
    """``task_start``: one of the operation's tasks began.

    Attributes:
        operation: which operation.
        index: the task's position in the input.

    Example:
        >>> [e.data["index"] for e in seen if e.type == "task_start"]
        [0, 1, 2]
    """

    operation: str
    index: int


class TaskEndData(TypedDict):
    """``task_end``: a task ended, however it ended.

    Attributes:
        operation: which operation.
        index: the task's position in the input.
        status: ``"success"``, ``"error"`` or ``"cancelled"``.
        duration: seconds the task ran.
        cost_usd: what the task's streams cost, or None when none reported a price.
        error: what a failed task raised, else None.

    Example:
        >>> {e.data["status"] for e in seen if e.type == "task_end"}
        {'success'}
    """

    operation: str
    index: int
    status: str
    duration: float
    cost_usd: float | None
    error: BaseException | None


class RaceWinnerData(TypedDict):
    """``race_winner``: a race has its winner.

    Attributes:
        operation: ``"race"``.
        index: the winning task.
        losers: the tasks cancelled (or failed) in its favour.
        cost_usd: what the whole race cost, or None.

    Example:
        >>> next(e for e in seen if e.type == "race_winner").data["index"]
        1
    """

    operation: str
    index: int
    losers: list[int]
    cost_usd: float | None


class ConsensusVoteData(TypedDict):
    """``consensus_vote``: a consensus counted its votes.

    Attributes:
        operation: ``"consensus"``.
        strategy: the strategy used (``majority``, ``unanimous``, ``weighted``, ``best``).
        status: ``"consensus"`` or ``"resolved"``.
        confidence: the winning answer's share.
        groups: how many distinct answers there were.

    Example:
        >>> next(e for e in seen if e.type == "consensus_vote").data["status"]
        'consensus'
    """

    operation: str
    strategy: str
    status: str
    confidence: float
    groups: int


class PipelineStepData(TypedDict):
    """``pipeline_step``: a pipeline step ended.

    Attributes:
        operation: ``"pipeline"``.
        name: the step's name.
        index: its position in the pipeline.
        status: the step's status (``success``, ``error``, ``skipped``).
        duration: seconds it ran.
        cost_usd: what its streams cost, or None.

    Example:
        >>> [e.data["name"] for e in seen if e.type == "pipeline_step"]
        ['summarise', 'translate']
    """

    operation: str
    name: str
    index: int
    status: str
    duration: float
    cost_usd: float | None


class WindowChunkData(TypedDict):
    """``window_chunk``: one chunk of a document window was processed.

    Attributes:
        operation: ``"window"``.
        index: the chunk's index.
        start: its first character's offset in the document.
        end: the offset after its last character.
        status: the chunk task's status.
        cost_usd: what its streams cost, or None.

    Example:
        >>> next(e for e in seen if e.type == "window_chunk").data["start"]
        0
    """

    operation: str
    index: int
    start: int
    end: int
    status: str
    cost_usd: float | None


class OperationEndData(TypedDict):
    """``operation_end``: an operation ended.

    Attributes:
        operation: which operation.
        status: ``"success"`` when every task succeeded, else ``"partial"``.
        duration: seconds from ``operation_start``.
        cost_usd: what all of its streams cost, or None.

    Example:
        >>> next(e for e in seen if e.type == "operation_end").data["status"]
        'success'
    """

    operation: str
    status: str
    duration: float
    cost_usd: float | None
