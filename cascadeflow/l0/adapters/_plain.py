"""Adapter for streams that are already text: async iterables of ``str`` or ``L0Event``."""

from __future__ import annotations

from typing import Any

from cascadeflow.l0._errors import L0StreamError
from cascadeflow.l0._types import L0Event, TokenEvent
from cascadeflow.l0.adapters._base import ChunkDecoder, DecodingAdapter


class PlainDecoder:
    """Strings become token events; ``L0Event`` objects pass through unchanged."""

    __slots__ = ("_completed",)

    def __init__(self) -> None:
        self._completed = False

    def feed(self, chunk: Any) -> L0Event | None:
        """A token event for a string; the event itself for an ``L0Event``."""
        if chunk.__class__ is str:
            if not chunk:
                return None
            event = TokenEvent()
            event.value = chunk
            return event
        if isinstance(chunk, L0Event):
            if chunk.type == "complete":
                self._completed = True
            return chunk
        if isinstance(chunk, str):
            return L0Event("token", str(chunk)) if chunk else None
        raise L0StreamError(f"plain adapter got a {type(chunk).__name__}, not str or L0Event")

    def finish(self) -> list[L0Event]:
        """A ``complete`` event unless the stream sent its own."""
        return [] if self._completed else [L0Event("complete")]


class PlainAdapter(DecodingAdapter):
    """Async iterables of strings or of :class:`L0Event` (the fallback when nothing else fits).

    Example:
        >>> async def words():
        ...     for word in ["Hello", " world"]:
        ...         yield word
        >>> await (await l0(words)).text()
        'Hello world'
    """

    name = "plain"

    def detect(self, stream: Any) -> bool:
        """A ``str`` or ``L0Event`` (as a stream's first chunk)."""
        return isinstance(stream, (str, L0Event))

    def decoder(self) -> ChunkDecoder:
        """A fresh :class:`PlainDecoder`."""
        return PlainDecoder()


__all__ = ["PlainAdapter", "PlainDecoder"]
