"""The seam between L0 and metering: an attempt meter hears each attempt start, grow and end.

``l0(..., budget=meter)`` accepts any :class:`AttemptMeter`; L0 never imports the ledger.
The meter may refuse an attempt before its factory is called, stop a stream as its tokens
arrive, and bills each attempt once when it ends (``cascadeflow.BudgetGuard`` is one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import anyio

from cascadeflow.l0._events import LifecycleEventType

if TYPE_CHECKING:
    from cascadeflow.l0._runtime import _Run

AttemptOutcome = Literal["completed", "retried", "abandoned", "failed", "budget"]

#: Token count the runtime uses for "never ask again".
NEVER = 1 << 62


@dataclass(frozen=True, slots=True)
class AttemptStart:
    """An attempt about to call its factory.

    Attributes:
        stream_id: the run's id (``result.stream_id``), shared by all its attempts.
        attempt: 1-based number of the attempt within the run (retries and fallbacks count).
        fallback_index: 0 for the primary stream, ``n`` for the n-th fallback.
        last_chance: True when no fallback follows, so a refusal ends the run.

    Example:
        >>> AttemptStart("run-1", 1, 0, True).attempt
        1
    """

    stream_id: str
    attempt: int
    fallback_index: int
    last_chance: bool


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """An attempt that is over, however it ended.

    Attributes:
        stream_id, attempt, fallback_index: as in :class:`AttemptStart`.
        outcome: ``"completed"``; ``"retried"`` (failed, and a retry or fallback follows);
            ``"failed"`` (failed, and the run ends with an error); ``"abandoned"`` (the
            consumer stopped reading, closed the result, aborted or was cancelled);
            ``"budget"`` (the meter stopped it).
        token_count: tokens delivered to the consumer by this attempt.
        model: the model named by the stream's chunks, when the adapter knows it.
        usage: the provider's usage report, when the stream sent one.
        error: what ended a failed, retried or cut attempt.

    Example:
        >>> AttemptEnd("run-1", 1, 0, "completed", 12, None, None, None).outcome
        'completed'
    """

    stream_id: str
    attempt: int
    fallback_index: int
    outcome: AttemptOutcome
    token_count: int
    model: str | None
    usage: Mapping[str, Any] | None
    error: BaseException | None


@runtime_checkable
class AttemptMeter(Protocol):
    """What ``l0(..., budget=...)`` accepts: hooks told about every attempt of a run.

    - ``attempt_started`` runs before the attempt's factory is called. Raise to refuse
      the attempt: the next fallback is tried instead, and when none is left the error
      propagates from the iteration unchanged (never retried). Return the token count at
      which ``tokens_delivered`` is first wanted, or ``None`` for never.
    - ``tokens_delivered(start, token_count, model)`` runs when the attempt's token count
      reaches the number last asked for, *before* that token is handed out. Raise to stop
      the stream: that token is withheld, the attempt ends with outcome ``"budget"`` and
      the error propagates from the iteration (never retried); ``result.state.content``
      keeps the text delivered. Return the next count wanted, or ``None``. ``start`` is
      the attempt's :class:`AttemptStart` (one meter may serve many concurrent runs).
    - ``attempt_ended`` runs exactly once per started attempt; it returns the USD billed
      for it (summed into ``result.telemetry.cost_usd``) or ``None``.

    Example:
        >>> class Counter:
        ...     async def attempt_started(self, start):
        ...         return 100          # tell me at the 100th token
        ...     def tokens_delivered(self, start, token_count, model):
        ...         raise RuntimeError("enough")
        ...     async def attempt_ended(self, end):
        ...         return None
        >>> result = await l0(factory, budget=Counter())
    """

    async def attempt_started(self, start: AttemptStart) -> int | None:
        """Prepare (or refuse) an attempt; return when to be told about tokens."""
        ...

    def tokens_delivered(self, start: AttemptStart, token_count: int,
                         model: str | None) -> int | None:
        """Check the running total; raise to stop; return when to be told next."""
        ...

    async def attempt_ended(self, end: AttemptEnd) -> float | None:
        """Bill the attempt once; return its cost in USD, if known."""
        ...


class MeteredRun:
    """The runtime's side of the seam: calls the meter and remembers the attempt in flight."""

    __slots__ = ("_open", "cut", "meter", "stream_id")

    def __init__(self, meter: AttemptMeter, stream_id: str) -> None:
        if not isinstance(meter, AttemptMeter):
            raise TypeError("budget= must implement AttemptMeter (attempt_started, "
                            f"tokens_delivered, attempt_ended), got {type(meter).__name__}")
        self.meter = meter
        self.stream_id = stream_id
        self.cut: BaseException | None = None
        self._open: AttemptStart | None = None

    async def admit(self, run: _Run, index: int) -> bool:
        """Ask the meter for the run's next attempt (on factory ``index``).

        False moves the run on to the next fallback; a refusal with no fallback left is
        raised. Either way it is in ``run.errors`` and reported as a ``budget`` event.
        """
        last = index + 1 == len(run.factories)
        start = AttemptStart(self.stream_id, run.attempt + 1, index, last)
        try:
            first = await self.meter.attempt_started(start)
        except Exception as refused:
            run.errors.append(refused)
            run._emit(LifecycleEventType.BUDGET, refused=True, error=refused, token_count=0)
            if last:
                raise
            return False
        self._open = start
        self.cut = None
        run._next_meter = NEVER if first is None else max(int(first), 1)
        return True

    def tokens(self, count: int, decoder: object) -> int:
        """Report ``count`` tokens; a raise stops the stream (remembered as ``cut``)."""
        try:
            assert self._open is not None
            following = self.meter.tokens_delivered(self._open, count,
                                                    getattr(decoder, "model", None))
        except BaseException as stop:
            self.cut = stop
            raise
        return NEVER if following is None else max(int(following), count + 1)

    def stopped(self, run: _Run) -> BaseException:
        """The meter stopped the stream: withhold the token that triggered it (it never
        reached the consumer), record the error and report a ``budget`` event."""
        state = run.state
        parts = state._parts
        if len(parts) > state._prefix_parts:
            parts.pop()
        if state._content_cache[0] > len(parts):
            state._content_cache = (0, "")
        assert self.cut is not None
        run.errors.append(self.cut)
        run._emit(LifecycleEventType.BUDGET, refused=False, error=self.cut,
                  token_count=state.token_count)
        return self.cut

    async def end(self, run: _Run, outcome: AttemptOutcome,
                  error: BaseException | None) -> None:
        """Tell the meter the open attempt is over (once), shielded from cancellation, and
        add what it billed to ``run.telemetry.cost_usd``."""
        start, self._open = self._open, None
        if start is None:
            return
        state, decoder = run.state, run._decoder
        end = AttemptEnd(start.stream_id, start.attempt, start.fallback_index, outcome,
                         state.token_count, getattr(decoder, "model", None),
                         state.usage or getattr(decoder, "usage", None), error)
        billed: float | None = None
        with anyio.CancelScope(shield=True):
            billed = await self.meter.attempt_ended(end)
        if billed is not None:
            run.telemetry.cost_usd = (run.telemetry.cost_usd or 0.0) + billed


__all__ = ["NEVER", "AttemptEnd", "AttemptMeter", "AttemptOutcome", "AttemptStart",
           "MeteredRun"]
