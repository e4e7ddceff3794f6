"""Stream sources: calling factories, entering context managers, peeking and closing.

Everything the runtime does to obtain a stream and let it go, kept apart from the loop
that consumes it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import FunctionType
from typing import Any

from cascadeflow.l0._errors import L0Error
from cascadeflow.l0._result import StreamFactory

logger = logging.getLogger("cascadeflow.l0")


def _takes_argument(factory: Callable[..., Any]) -> bool:
    if type(factory) is FunctionType and not hasattr(factory, "__wrapped__"):
        # A plain function: its code object answers without building a Signature (which
        # costs more than the rest of starting a run; operations over many streams start
        # hundreds).
        code = factory.__code__
        return code.co_argcount > 0 or bool(code.co_flags & inspect.CO_VARARGS)
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        for p in parameters
    )


class Factory:
    """A stream source: a factory (called per attempt) or a single-use stream object."""

    __slots__ = ("_make", "_single_use", "_used", "takes_argument")

    def __init__(self, source: StreamFactory | Any) -> None:
        self._used = False
        if callable(source) and not hasattr(source, "__aiter__"):
            self._make: Callable[..., Any] = source
            self._single_use = False
            self.takes_argument = _takes_argument(source)
        elif hasattr(source, "__aiter__"):
            self._make = lambda: source
            self._single_use = True
            self.takes_argument = False
        else:
            raise TypeError("l0() needs a stream factory (a callable returning an async "
                            f"iterable) or an async iterable, not {type(source).__name__}")

    def call(self, continuation: Any) -> Any:
        """Produce the stream for one attempt."""
        if self._single_use and self._used:
            raise L0Error("a stream object can be consumed once; pass a factory to retry")
        self._used = True
        return self._make(continuation) if self.takes_argument else self._make()


class Entered:
    """A stream opened from an async context manager (``messages.stream()``)."""

    __slots__ = ("manager", "stream")

    def __init__(self, manager: Any, stream: Any) -> None:
        self.manager = manager
        self.stream = stream


class Ready:
    """An awaitable that is already done (no event loop round trip)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # pragma: no cover - makes this a generator


class Prepended:
    """Yields a chunk already read (to detect the adapter), then the rest of the stream."""

    __slots__ = ("_first", "_iterator")

    def __init__(self, first: Any, iterator: AsyncIterator[Any]) -> None:
        self._first: tuple[Any, ...] = (first,)
        self._iterator = iterator

    def __aiter__(self) -> Prepended:
        return self

    def __anext__(self) -> Awaitable[Any]:
        if self._first:
            value, self._first = self._first[0], ()
            return Ready(value)
        return self._iterator.__anext__()


async def close_source(source: Any) -> None:
    """Close a stream (or exit its context manager), logging rather than raising."""
    if source is None:
        return
    try:
        if isinstance(source, Entered):
            await source.manager.__aexit__(None, None, None)
            return
        closer = getattr(source, "aclose", None) or getattr(source, "close", None)
        if closer is not None:
            outcome = closer()
            if inspect.isawaitable(outcome):
                await outcome
    except Exception:  # closing a dead stream must not hide why it died
        logger.debug("closing a stream failed", exc_info=True)


def build_guardrails(guardrails: Any) -> Any:
    """A guardrail engine: the one given, or one built from rules (imported lazily)."""
    if hasattr(guardrails, "check_streaming"):
        return guardrails
    from cascadeflow.l0.guardrails import GuardrailEngine

    return GuardrailEngine(list(guardrails))


def build_drift(drift: Any) -> Any:
    """A drift detector: the one given, or the default one for ``drift=True``."""
    if drift is True:
        from cascadeflow.l0.drift import DriftDetector

        return DriftDetector()
    return drift


__all__ = ["Entered", "Factory", "Prepended", "Ready", "build_drift", "build_guardrails",
           "close_source"]
