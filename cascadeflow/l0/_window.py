"""Document windows: a long document cut into overlapping chunks, each processed by ``l0()``.

``size`` and ``overlap`` are in the strategy's unit (characters for ``char``, tokens
otherwise, counted by one counter for every strategy). Chunks cover the document, overlap
as configured, and the last chunk never lies inside the one before it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, overload

from cascadeflow.l0._events import LifecycleEventType
from cascadeflow.l0._parallel import ParallelResult, collect, end_operation, run_all
from cascadeflow.l0._tasks import Deferred, TaskRunner, operation_emitter
from cascadeflow.l0._tokens import (
    CHARS_PER_TOKEN,
    TokenCounter,
    estimate_tokens,
    tiktoken_encoding,
    token_counter,
    token_spans,
)

if TYPE_CHECKING:
    from cascadeflow.l0._events import L0LifecycleEvent

WindowStrategy = Literal["token", "char", "paragraph", "sentence"]
_STRATEGIES = ("token", "char", "paragraph", "sentence")
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class WindowChunk:
    """One chunk of a document: ``document[start:end] == content``.

    Example:
        >>> create_window("abcdef", size=4, overlap=1, strategy="char")[1]
        WindowChunk(index=1, content='def', start=3, end=6, token_count=3)
    """

    index: int
    content: str
    start: int
    end: int
    token_count: int


def _unit_spans(units: int, size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Spans of ``size`` units stepping by ``size - overlap``; the last one ends the text."""
    start = 0
    while True:
        end = min(start + size, units)
        yield start, end
        if end >= units:
            return
        start = end - overlap


def _segments(document: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Contiguous spans covering ``document``, each ending after one of ``pattern``'s gaps."""
    spans, start = [], 0
    for gap in pattern.finditer(document):
        if gap.end() > start:
            spans.append((start, gap.end()))
            start = gap.end()
    if start < len(document):
        spans.append((start, len(document)))
    return spans


class _Cutter:
    """Cuts a document with one token counter (exactly, by searching for the cut points)."""

    def __init__(self, document: str, count: TokenCounter, encoding: Any = None) -> None:
        self.document = document
        self.count = count
        self.encoding = encoding  # when the counter is this encoding: cut by token index

    def split(self, start: int, stop: int, size: int) -> list[tuple[int, int, int]]:
        """``[start, stop)`` cut into spans of at most ``size`` tokens, with their counts."""
        if self.encoding is not None:
            return [(start + a, start + b, tokens) for a, b, tokens in
                    token_spans(self.document[start:stop], self.encoding, size, 0)]
        return [(a, b, self.count(self.document[a:b]))
                for a, b in self.spans(start, stop, size, 0)]

    def longest(self, start: int, stop: int, budget: int) -> int:
        """The furthest end in ``(start, stop]`` whose text from ``start`` fits ``budget``."""
        low, high = start + 1, stop  # the answer is at least one character
        while low < high:
            middle = (low + high + 1) // 2
            if self.count(self.document[start:middle]) <= budget:
                low = middle
            else:
                high = middle - 1
        return low

    def earliest(self, start: int, end: int, budget: int) -> int:
        """The earliest start in ``[start, end]`` whose text up to ``end`` fits ``budget``."""
        low, high = start, end
        while low < high:
            middle = (low + high) // 2
            if self.count(self.document[middle:end]) <= budget:
                high = middle
            else:
                low = middle + 1
        return low

    def spans(self, start: int, stop: int, size: int, overlap: int) -> list[tuple[int, int]]:
        """``[start, stop)`` cut into spans of at most ``size`` tokens overlapping by
        ``overlap`` (each span reaches past the previous one)."""
        spans: list[tuple[int, int]] = []
        last_end = start
        while True:
            end = self.longest(start, stop, size)
            if end <= last_end:  # the overlap left no room: go on where the last span ended
                start = last_end
                end = self.longest(start, stop, size)
            spans.append((start, end))
            last_end = end
            if end >= stop:
                return spans
            next_start = self.earliest(start + 1, end, overlap) if overlap else end
            start = min(next_start, end)


def _pack(cutter: _Cutter, segments: list[tuple[int, int]], size: int,
          overlap: int) -> list[tuple[int, int]]:
    """Whole segments (paragraphs, sentences) packed into spans of at most ``size`` tokens;
    a segment larger than ``size`` is cut on its own."""
    pieces: list[tuple[int, int, int]] = []
    for start, end in segments:
        tokens = cutter.count(cutter.document[start:end])
        if tokens <= size:
            pieces.append((start, end, tokens))
        else:
            pieces += cutter.split(start, end, size)
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(pieces):
        last, total = first, 0
        while last < len(pieces) and total + pieces[last][2] <= size:
            total += pieces[last][2]
            last += 1
        spans.append((pieces[first][0], pieces[last - 1][1]))
        if last == len(pieces):
            break
        # Carry whole trailing pieces as overlap, as long as the next piece still fits.
        back, carried = last, 0
        while back - 1 > first and carried + pieces[back - 1][2] <= overlap:
            back -= 1
            carried += pieces[back][2]
        while carried + pieces[last][2] > size:
            carried -= pieces[back][2]
            back += 1
        first = back
    return spans


def _spans(document: str, size: int, overlap: int, strategy: str, count: TokenCounter,
           model: str | None, exact: bool) -> list[tuple[int, int, int | None]]:
    length = len(document)
    if strategy == "char":
        return [(a, b, None) for a, b in _unit_spans(length, size, overlap)]
    if strategy == "token":
        encoding = tiktoken_encoding(model) if model and not exact else None
        if encoding is not None:  # the document is tokenized once, then cut by token index
            return list(token_spans(document, encoding, size, overlap))
        if count is estimate_tokens:
            step = CHARS_PER_TOKEN
            return [(a, b, None) for a, b in _unit_spans(length, size * step, overlap * step)]
        return [(a, b, None) for a, b in _Cutter(document, count).spans(0, length, size,
                                                                        overlap)]
    pattern = _PARAGRAPH_END if strategy == "paragraph" else _SENTENCE_END
    encoding = tiktoken_encoding(model) if model and not exact else None
    spans = _pack(_Cutter(document, count, encoding), _segments(document, pattern), size,
                  overlap)
    return [(a, b, None) for a, b in spans]


class DocumentWindow(Sequence[WindowChunk]):
    """A document cut into :class:`WindowChunk` s; process them with ``l0()``.

    Example:
        >>> window = create_window(book, size=1500, overlap=100, model="gpt-4o")
        >>> result = await window.process_all(lambda chunk: summarise(chunk.content))
        >>> window.merge_results(result)
        'Summary of part one.\\n\\nSummary of part two.'
    """

    def __init__(self, document: str, chunks: Sequence[WindowChunk], *, size: int,
                 overlap: int, strategy: WindowStrategy) -> None:
        self.document = document
        self.chunks = tuple(chunks)
        self.size = size
        self.overlap = overlap
        self.strategy = strategy

    @overload
    def __getitem__(self, index: int) -> WindowChunk: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[WindowChunk]: ...
    def __getitem__(self, index: int | slice) -> WindowChunk | Sequence[WindowChunk]:
        return self.chunks[index]

    def __len__(self) -> int:
        return len(self.chunks)

    def __repr__(self) -> str:
        return (f"DocumentWindow({len(self.chunks)} chunks, strategy={self.strategy!r}, "
                f"size={self.size}, overlap={self.overlap})")

    async def process_all(self, fn: Callable[[WindowChunk], Any], *, concurrency: int = 5,
                          budget: Any = None,
                          on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                          **l0_options: Any) -> ParallelResult:
        """Run ``fn(chunk)`` (a stream factory or ``l0()`` options, may be async) for every
        chunk, ``concurrency`` at a time; ``results[i]`` belongs to chunk i.

        Example:
            >>> result = await window.process_all(lambda chunk: {"stream": ask(chunk)})
            >>> result.success_count == len(window)
            True
        """
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive integer, not {concurrency!r}")
        emitter = operation_emitter(on_event)
        runner = TaskRunner(dict(l0_options), budget, emitter, "window", on_event)
        started = time.perf_counter()
        emitter.emit(LifecycleEventType.OPERATION_START, 0, 0, operation="window",
                     tasks=len(self.chunks))
        tasks = [Deferred(partial(fn, chunk)) for chunk in self.chunks]
        outcomes = await run_all(runner, tasks, concurrency=concurrency, fail_fast=False,
                                 on_progress=None)
        for chunk, outcome in zip(self.chunks, outcomes, strict=True):
            emitter.emit(LifecycleEventType.WINDOW_CHUNK, 0, 0, operation="window",
                         index=chunk.index, start=chunk.start, end=chunk.end,
                         status=outcome.status, cost_usd=outcome.cost_usd)
        result = collect(outcomes, started)
        end_operation(emitter, "window", result.statuses, result.duration, result.cost_usd)
        return result

    async def process_sequential(self, fn: Callable[[WindowChunk], Any], *,
                                 budget: Any = None,
                                 on_event: Callable[[L0LifecycleEvent], Any] | None = None,
                                 **l0_options: Any) -> ParallelResult:
        """Like :meth:`process_all`, one chunk at a time, in order.

        Example:
            >>> (await window.process_sequential(summarise)).statuses[0]
            'success'
        """
        return await self.process_all(fn, concurrency=1, budget=budget, on_event=on_event,
                                      **l0_options)

    @staticmethod
    def merge_results(results: ParallelResult | Sequence[Any], separator: str = "\n\n") -> str:
        """The successful chunk results, in chunk order, joined by ``separator``.

        Example:
            >>> DocumentWindow.merge_results(["one", None, "two"], " ")
            'one two'
        """
        values = results.results if isinstance(results, ParallelResult) else results
        return separator.join(str(value) for value in values if value is not None)


def create_window(document: str, *, size: int = 2000, overlap: int = 200,
                  strategy: WindowStrategy = "token", count_tokens: TokenCounter | None = None,
                  model: str | None = None) -> DocumentWindow:
    """Cut ``document`` into overlapping chunks of at most ``size`` units.

    ``size`` and ``overlap`` are characters for ``strategy="char"`` and tokens otherwise.
    ``token`` cuts by token; ``paragraph`` and ``sentence`` keep whole paragraphs or
    sentences together (cutting only one larger than ``size``) and overlap by whole ones.
    Tokens are counted by ``count_tokens`` if given, else by ``model``'s tiktoken encoding
    (tiktoken installed), else estimated as one token per four characters. Every chunk's
    ``start``/``end`` are character offsets: ``document[start:end] == content``.

    Example:
        >>> window = create_window("a" * 250, size=100, overlap=10, strategy="char")
        >>> [(chunk.start, chunk.end) for chunk in window]
        [(0, 100), (90, 190), (180, 250)]

    .. versionadded:: 0.1.0
    """
    if not isinstance(document, str):
        raise TypeError(f"create_window() needs the document as str, not "
                        f"{type(document).__name__}")
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}, not {strategy!r}")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, not {size!r}")
    if not isinstance(overlap, int) or not 0 <= overlap < size:
        raise ValueError(f"overlap must be an integer from 0 to size - 1 ({size - 1}), "
                         f"not {overlap!r}")
    count = token_counter(model, count_tokens)
    chunks: list[WindowChunk] = []
    if document:
        for index, (start, end, known) in enumerate(
                _spans(document, size, overlap, strategy, count, model,
                       exact=count_tokens is not None)):
            content = document[start:end]
            tokens = known if known is not None else count(content)
            chunks.append(WindowChunk(index, content, start, end, tokens))
    return DocumentWindow(document, chunks, size=size, overlap=overlap, strategy=strategy)


__all__ = ["DocumentWindow", "WindowChunk", "WindowStrategy", "create_window"]
