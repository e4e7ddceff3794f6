"""Metering a stream by what it actually delivered, whether it ends, fails or is abandoned.

LiteLLM fires no callback for a stream the caller stops reading, so the guarded completion
wraps the stream: it counts the text handed to the caller and, once the stream is over for
any reason, settles exactly once from the usage chunk if the provider sent one, else from
the delivered tokens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import litellm

from ._usage import usage_tokens

__all__ = ["AsyncGuardedStream", "GuardedStream", "StreamMeter", "StreamTally"]

logger = logging.getLogger("cascadeflow.integrations.litellm")

StreamOutcome = Literal["completed", "abandoned", "failed"]


@dataclass(frozen=True, slots=True)
class StreamTally:
    """What one stream delivered when it ended.

    Attributes:
        model: the model the stream came from.
        prompt_tokens: from the usage chunk, else the prompt as counted before the call.
        completion_tokens: from the usage chunk, else the delivered text counted.
        from_usage: True when the provider's usage chunk gave the numbers.
        outcome: ``"completed"``, ``"abandoned"`` (the caller stopped reading) or
            ``"failed"`` (the stream raised midway).
        chunks: how many chunks reached the caller.
        first_chunk_at: ``time.perf_counter()`` when the first chunk reached the caller.
    """

    model: str
    prompt_tokens: int
    completion_tokens: int
    from_usage: bool
    outcome: StreamOutcome
    chunks: int
    first_chunk_at: float | None = None


def _delta_text(chunk: object) -> str:
    choices = getattr(chunk, "choices", None)
    if not choices:
        return ""
    delta = getattr(choices[0], "delta", None)
    if delta is None:
        return ""
    parts: list[str] = []
    content = getattr(delta, "content", None)
    if isinstance(content, str):
        parts.append(content)
    reasoning = getattr(delta, "reasoning_content", None)
    if isinstance(reasoning, str):
        parts.append(reasoning)
    for call in getattr(delta, "tool_calls", None) or ():
        function = getattr(call, "function", None)
        for value in (getattr(function, "name", None), getattr(function, "arguments", None)):
            if isinstance(value, str):
                parts.append(value)
    return "".join(parts)


class StreamMeter:
    """Counts a stream's deliveries and reports a :class:`StreamTally` exactly once.

    Example:
        >>> meter = StreamMeter("gpt-4o-mini", prompt_tokens=12, on_finish=print)
        >>> for chunk in stream:
        ...     meter.observe(chunk)
        >>> meter.finish("completed")
    """

    def __init__(
        self, model: str, prompt_tokens: int,
        on_finish: Callable[[StreamTally], float | None]
    ) -> None:
        self._model = model
        self._prompt_tokens = prompt_tokens
        self._on_finish = on_finish
        self._pieces: list[str] = []
        self._usage: tuple[int, int] | None = None
        self._chunks = 0
        self._first_chunk_at: float | None = None
        self._done = False
        self._lock = threading.Lock()
        self.cost_usd: float | None = None  # what on_finish priced the stream at

    @property
    def finished(self) -> bool:
        """True once the tally was reported."""
        return self._done

    def observe(self, chunk: object) -> None:
        """Count one chunk handed to the caller."""
        self._chunks += 1
        if self._first_chunk_at is None:
            self._first_chunk_at = time.perf_counter()
        text = _delta_text(chunk)
        if text:
            self._pieces.append(text)
        found = usage_tokens(chunk)
        if found is not None and (found[0] or found[1]):
            self._usage = found

    def tally(self, outcome: StreamOutcome) -> StreamTally:
        """What was delivered so far, as it would be reported for ``outcome``."""
        if self._usage is not None:
            prompt, completion = self._usage
            return StreamTally(self._model, prompt, completion, True, outcome, self._chunks,
                               self._first_chunk_at)
        text = "".join(self._pieces)
        completion = litellm.token_counter(model=self._model, text=text) if text else 0
        return StreamTally(self._model, self._prompt_tokens, completion, False, outcome,
                           self._chunks, self._first_chunk_at)

    def finish(self, outcome: StreamOutcome) -> None:
        """Report the tally for ``outcome`` unless it was already reported."""
        with self._lock:
            if self._done:
                return
            self._done = True
        self.cost_usd = self._on_finish(self.tally(outcome))


class GuardedStream:
    """A LiteLLM stream that settles its reservation however it ends.

    Iterate it like the stream it wraps; other attributes are the wrapped stream's.
    ``close()`` (or leaving a ``with`` block, or dropping it) before the end settles
    from the tokens delivered so far.
    """

    def __init__(self, inner: Any, meter: StreamMeter) -> None:
        self._inner = inner
        self._iterator: Iterator[Any] = iter(inner)
        self._meter = meter

    def __iter__(self) -> GuardedStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._meter.finish("completed")
            raise
        except BaseException:
            self._meter.finish("failed")
            raise
        self._meter.observe(chunk)
        return chunk

    @property
    def cost_usd(self) -> float | None:
        """What the stream was billed once it ended (``None`` before); L0's operations
        over many streams read it to report each stream's cost."""
        return self._meter.cost_usd

    def close(self) -> None:
        """Stop reading: settle from what was delivered and close the wrapped stream."""
        self._meter.finish("abandoned")
        closer = getattr(self._inner, "close", None)
        if callable(closer):
            closer()

    def __enter__(self) -> GuardedStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        meter = self.__dict__.get("_meter")
        if meter is not None and not meter.finished:
            try:
                meter.finish("abandoned")
            except Exception:  # a finaliser must not raise; the failure is still reported
                logger.exception("cascadeflow: settling an abandoned stream failed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_inner"], name)


class AsyncGuardedStream:
    """The async twin of :class:`GuardedStream`; ``aclose()`` stops reading early."""

    def __init__(self, inner: Any, meter: StreamMeter) -> None:
        self._inner = inner
        self._iterator: AsyncIterator[Any] = inner.__aiter__()
        self._meter = meter

    def __aiter__(self) -> AsyncGuardedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._meter.finish("completed")
            raise
        except BaseException:
            self._meter.finish("failed")
            raise
        self._meter.observe(chunk)
        return chunk

    @property
    def cost_usd(self) -> float | None:
        """What the stream was billed once it ended (``None`` before)."""
        return self._meter.cost_usd

    async def aclose(self) -> None:
        """Stop reading: settle from what was delivered and close the wrapped stream."""
        self._meter.finish("abandoned")
        closer = getattr(self._inner, "aclose", None)
        if callable(closer):
            await closer()

    async def __aenter__(self) -> AsyncGuardedStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        meter = self.__dict__.get("_meter")
        if meter is not None and not meter.finished:
            try:
                meter.finish("abandoned")
            except Exception:  # a finaliser must not raise; the failure is still reported
                logger.exception("cascadeflow: settling an abandoned stream failed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_inner"], name)
