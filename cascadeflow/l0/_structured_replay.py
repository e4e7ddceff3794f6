"""Making a one-shot stream replayable, so structured output can retry it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any


class ReplayableStream:
    """A zero-argument factory over an iterator that can only be read once.

    The first call reads the source and records each item; every later call replays the
    recorded items and then keeps reading the source where the previous reader stopped.
    """

    def __init__(self, source: Any) -> None:
        if hasattr(source, "__aiter__"):
            self._async_source: AsyncIterator[Any] | None = source.__aiter__()
            self._sync_source: Iterator[Any] | None = None
        else:
            self._async_source = None
            self._sync_source = iter(source)
        self._items: list[Any] = []
        self._exhausted = False
        self.calls = 0

    def __call__(self) -> AsyncIterator[Any]:
        self.calls += 1
        return self._replay()

    async def _replay(self) -> AsyncIterator[Any]:
        position = 0
        while True:
            if position < len(self._items):
                yield self._items[position]
                position += 1
                continue
            if self._exhausted:
                return
            try:
                if self._async_source is not None:
                    item = await self._async_source.__anext__()
                else:
                    assert self._sync_source is not None
                    item = next(self._sync_source)
            except (StopAsyncIteration, StopIteration):
                self._exhausted = True
                return
            self._items.append(item)


def as_factory(stream: Any) -> Any:
    """A factory as given, or a plain (async) iterable wrapped to be replayable."""
    if callable(stream) and not hasattr(stream, "__aiter__") and not hasattr(stream, "__iter__"):
        return stream
    return ReplayableStream(stream)
