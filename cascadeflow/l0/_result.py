"""What ``l0()`` hands back (:class:`L0Result`), its options, and the abort signal.

The result is lazy: nothing is requested from the provider until its stream is iterated
(or ``text()`` is awaited).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from cascadeflow.l0._retry import RetryConfig
from cascadeflow.l0._types import CheckIntervals, L0Event, L0Telemetry, TimeoutConfig

if TYPE_CHECKING:
    from cascadeflow.l0._events import L0LifecycleEvent
    from cascadeflow.l0._meter import AttemptMeter
    from cascadeflow.l0._runtime import _Run
    from cascadeflow.l0._state import L0State
    from cascadeflow.l0.adapters import L0Adapter


class AbortSignal:
    """A flag that aborts every run it is passed to, at once, even mid-wait.

    Any object with an ``is_set()`` method (``asyncio.Event``, ``anyio.Event``,
    ``threading.Event``) works as ``signal=`` too, but is only checked between tokens and
    before attempts; an ``AbortSignal`` also interrupts a stalled wait.

    Example:
        >>> signal = AbortSignal()
        >>> result = await l0(factory, signal=signal)
        >>> signal.abort()   # iteration now raises L0AbortedError
    """

    __slots__ = ("_aborted", "_listeners")

    def __init__(self) -> None:
        self._aborted = False
        self._listeners: list[Callable[[], None]] = []

    @property
    def aborted(self) -> bool:
        """Whether :meth:`abort` was called."""
        return self._aborted

    def is_set(self) -> bool:
        """Same as :attr:`aborted` (so it reads like an event)."""
        return self._aborted

    def abort(self) -> None:
        """Abort every run using this signal (call it from the event loop's thread)."""
        self._aborted = True
        for listener in list(self._listeners):
            listener()

    def _subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)


StreamFactory = Callable[..., Any]
_DEFAULT_RETRY = RetryConfig()
_DEFAULT_TIMEOUT = TimeoutConfig()


@dataclass(frozen=True, slots=True)
class L0Options:
    """Everything ``l0()`` was asked to do, as one validated value (``result.options``).

    See :func:`cascadeflow.l0.l0` for what each field means.
    """

    stream: StreamFactory
    fallback_streams: Sequence[StreamFactory] = ()
    retry: RetryConfig | None = _DEFAULT_RETRY
    timeout: TimeoutConfig | None = _DEFAULT_TIMEOUT
    guardrails: Any = ()
    check_intervals: CheckIntervals | None = None
    continue_from_checkpoint: bool = False
    build_continuation: Callable[[str], Any] | None = None
    on_event: Callable[[L0LifecycleEvent], Any] | None = None
    signal: Any = None
    context: Mapping[str, Any] | None = None
    adapter: L0Adapter | str | None = None
    drift: Any = None
    retry_on_drift: bool = True
    sleep: Callable[[float], Awaitable[Any]] = anyio.sleep
    budget: AttemptMeter | None = None


class L0Result:
    """A run in progress: iterate ``stream`` (or the result itself) for :class:`L0Event`s.

    ``state`` and ``telemetry`` fill in as the stream is consumed; ``errors`` lists every
    error met, recovered or not. ``abort()`` makes iteration raise ``L0AbortedError``.
    Use ``async with`` (or ``aclose()``) when you may stop iterating early, so the provider
    stream is closed promptly.

    Example:
        >>> result = await l0(factory)
        >>> async for event in result:
        ...     if event.type == "token":
        ...         print(event.value, end="")
        >>> result.state.completed
        True
    """

    __slots__ = ("_run", "stream")

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.stream: AsyncIterator[L0Event] = run.stream()

    @property
    def state(self) -> L0State:
        """The run's live :class:`L0State`."""
        return self._run.state

    @property
    def telemetry(self) -> L0Telemetry:
        """The run's :class:`L0Telemetry` (complete once the stream ended)."""
        return self._run.telemetry

    @property
    def errors(self) -> list[BaseException]:
        """Every error met so far, in order."""
        return self._run.errors

    @property
    def options(self) -> L0Options:
        """The options the run was started with."""
        return self._run.options

    @property
    def stream_id(self) -> str:
        """The id every lifecycle event of this run carries."""
        return self._run.emitter.stream_id

    def abort(self) -> None:
        """Stop the run: the next (or the pending) step of iteration raises L0AbortedError."""
        self._run.abort()

    async def text(self) -> str:
        """Consume the rest of the stream and return the final text.

        Raises whatever ended the run unsuccessfully (``L0ExhaustedError``,
        ``L0GuardrailError``, ``L0AbortedError``, a fatal provider error, ...).
        """
        async for _ in self.stream:
            pass
        if self._run.failure is not None:  # the stream already ended in failure
            raise self._run.failure
        return self._run.state.content

    async def aclose(self) -> None:
        """Stop iterating and close the provider stream."""
        closer = getattr(self.stream, "aclose", None)
        if closer is not None:
            await closer()

    def __aiter__(self) -> AsyncIterator[L0Event]:
        return self.stream

    async def __aenter__(self) -> L0Result:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def consume_stream(result: L0Result) -> list[L0Event]:
    """Drain ``result`` and return every event it yielded.

    Example:
        >>> events = await consume_stream(await l0(factory))
        >>> events[-1].type
        'complete'
    """
    return [event async for event in result.stream]


async def get_text(result: L0Result) -> str:
    """Drain ``result`` and return the final text (same as ``await result.text()``).

    Example:
        >>> await get_text(await l0(factory))
        'Hello world'
    """
    return await result.text()


__all__ = ["AbortSignal", "L0Options", "L0Result", "StreamFactory", "consume_stream",
           "get_text"]
