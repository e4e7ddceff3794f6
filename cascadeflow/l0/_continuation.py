"""Continuation from a checkpoint: what the next factory call receives, and overlap removal.

A model asked to continue a text often repeats its last words. The trimmer drops the
longest prefix of the new stream that repeats the end of the checkpoint, even when that
repetition arrives split over several tokens.
"""

from __future__ import annotations

#: Overlaps shorter than this are kept: one repeated character is usually a coincidence.
MIN_OVERLAP = 2
#: Only this many characters at the checkpoint's end are searched for a repetition.
MAX_OVERLAP = 500


def remove_overlap(checkpoint: str, text: str, *, min_overlap: int = MIN_OVERLAP,
                   max_overlap: int = MAX_OVERLAP) -> str:
    """``text`` without its longest prefix that repeats the end of ``checkpoint``.

    Example:
        >>> remove_overlap("The quick brown", "brown fox")
        ' fox'
        >>> remove_overlap("The quick brown", " fox")
        ' fox'
    """
    tail = checkpoint[-max_overlap:] if max_overlap > 0 else ""
    for size in range(min(len(tail), len(text)), max(min_overlap, 1) - 1, -1):
        if tail.endswith(text[:size]):
            return text[size:]
    return text


class OverlapTrimmer:
    """Streaming form of :func:`remove_overlap`: feed tokens, get the text to emit.

    Tokens are held back only while what arrived so far could still be a repetition of the
    checkpoint's end (it occurs in the checkpoint's tail); then the overlap is cut once and
    everything after passes straight through.

    Example:
        >>> trimmer = OverlapTrimmer("Hello wor")
        >>> trimmer.feed("w"), trimmer.feed("orld"), trimmer.feed("!")
        ('', 'ld', '!')
    """

    __slots__ = ("_buffer", "_done", "_max", "_min", "_tail")

    def __init__(self, checkpoint: str, *, min_overlap: int = MIN_OVERLAP,
                 max_overlap: int = MAX_OVERLAP) -> None:
        self._tail = checkpoint[-max_overlap:] if max_overlap > 0 else ""
        self._min = min_overlap
        self._max = max_overlap
        self._buffer = ""
        self._done = not self._tail

    @property
    def done(self) -> bool:
        """Whether the overlap has been decided (tokens now pass unchanged)."""
        return self._done

    def feed(self, token: str) -> str:
        """The text to emit for ``token`` ("" while still deciding)."""
        if self._done:
            return token
        buffered = self._buffer + token
        if buffered in self._tail:
            self._buffer = buffered
            return ""
        return self._resolve(buffered)

    def flush(self) -> str:
        """Decide with what has arrived (the stream ended); return the text to emit."""
        if self._done:
            return ""
        return self._resolve(self._buffer)

    def _resolve(self, buffered: str) -> str:
        self._done = True
        self._buffer = ""
        return remove_overlap(self._tail, buffered, min_overlap=self._min,
                              max_overlap=self._max)


def default_continuation(checkpoint: str) -> str:
    """The default ``build_continuation``: hand the checkpoint text to the factory."""
    return checkpoint


__all__ = ["MIN_OVERLAP", "OverlapTrimmer", "default_continuation", "remove_overlap"]
