"""Incremental readers over a growing text: each remembers how far it has read.

Every streaming rule is built on one of these so that a check costs time proportional to
the text added since the previous check, not to the length of the whole output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator


class LineReader:
    """Yields the complete lines added to a growing text since the previous call.

    Lines are sliced from the content itself, so nothing is buffered between calls; with
    ``final=True`` the last, unterminated line is yielded too.
    """

    __slots__ = ("_line_start", "_seen")

    def __init__(self) -> None:
        self._seen = 0
        self._line_start = 0

    def reset(self) -> None:
        self._seen = 0
        self._line_start = 0

    def lines(self, content: str, final: bool) -> Iterator[tuple[int, str]]:
        """Yield ``(offset, line)`` for each line completed since the previous call."""
        size = len(content)
        if size < self._seen:  # a different text: start over
            self.reset()
        newline = content.find("\n", self._seen)
        self._seen = size
        while newline != -1:
            start = self._line_start
            self._line_start = newline + 1
            yield start, content[start:newline]
            newline = content.find("\n", newline + 1)
        if final and self._line_start < size:
            start = self._line_start
            self._line_start = size
            yield start, content[start:]


class IncrementalSearch:
    """Finds each match of a pattern in a growing text exactly once.

    A match is accepted once at least one character follows it (or the text is final), so
    a word boundary or an optional tail at the edge of the stream is decided on real text;
    each scan starts ``overlap`` characters before the previous limit so that matches
    spanning two deltas are found. ``overlap`` must be at least the longest match. With
    ``scan_every`` > 1 a scan waits for that many new characters, which bounds the overlap's
    share of the work (regex scanning costs per character scanned).
    """

    __slots__ = ("_accepted_until", "overlap", "pattern", "scan_every")

    def __init__(self, pattern: re.Pattern[str], overlap: int, scan_every: int = 1) -> None:
        self.pattern = pattern
        self.overlap = overlap
        self.scan_every = scan_every  # wait for this many new characters (unless final)
        self._accepted_until = 0

    def reset(self) -> None:
        self._accepted_until = 0

    def matches(self, content: str, final: bool) -> list[re.Match[str]]:
        """Return the matches that end after the previous limit and before the new one."""
        size = len(content)
        if size < self._accepted_until:
            self._accepted_until = 0
        limit = size if final else size - 1
        previous = self._accepted_until
        if limit <= previous or (not final and limit - previous < self.scan_every):
            return []
        self._accepted_until = limit
        begin = previous - self.overlap if previous > self.overlap else 0
        return [
            match
            for match in self.pattern.finditer(content, begin, size)
            if previous < match.end() <= limit
        ]
