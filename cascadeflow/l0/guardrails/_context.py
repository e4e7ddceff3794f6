"""Where a pattern match stands: in code, in quotes, in a table, in text explaining it.

A pattern rule asks :class:`MatchJudge` what a match means before reporting it, so that
"Use {{ user.name }} in the Jinja template" or a ChatML token in a code block is not taken
for an unfilled placeholder or a leak. Each question looks at the match's line, sentence or
paragraph only, so the cost stays proportional to the matches, not to the whole text.
"""

from __future__ import annotations

import re
from typing import Literal

from cascadeflow.l0.guardrails._patterns import PatternCategory

Verdict = Literal["report", "warn", "ignore", "wait"]

_FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_WORDS = re.compile(r"[a-z][a-z0-9-]*")  # applied to lowered text
_SENTENCE_START = re.compile(r"[.!?\n][^.!?\n]*\Z")
_CONTEXT_REACH = 300  # characters read on each side of a match, so a match costs O(1)


def _line_start(content: str, position: int) -> int:
    """Where the line holding ``position`` starts (at most ``_CONTEXT_REACH`` back)."""
    reach = max(0, position - _CONTEXT_REACH)
    newline = content.rfind("\n", reach, position)
    return reach if newline == -1 else newline + 1


class FenceTracker:
    """Knows whether a position of a growing text lies inside a fenced code block.

    Lines are read once, in order, up to the line of the position asked about; positions
    are expected in increasing order (a position before the lines already read gets the
    state at the last line read).
    """

    __slots__ = ("_fence", "_read_until")

    def __init__(self) -> None:
        self._read_until = 0
        self._fence: str | None = None

    def reset(self) -> None:
        self._read_until = 0
        self._fence = None

    def inside(self, content: str, position: int) -> bool:
        while True:  # read the complete lines before ``position`` not read yet
            end = content.find("\n", self._read_until, position)
            if end == -1:
                return self._fence is not None
            self._read_line(content[self._read_until:end])
            self._read_until = end + 1

    def _read_line(self, line: str) -> None:
        if "`" not in line and "~" not in line:
            return
        fence = _FENCE_LINE.match(line)
        if fence is None:
            return
        marker = fence.group(1)
        if self._fence is None:
            if not (marker[0] == "`" and "`" in fence.group(2)):
                self._fence = marker
        elif (marker[0] == self._fence[0] and len(marker) >= len(self._fence)
              and not fence.group(2).strip()):
            self._fence = None


class _WordSet:
    """Words and stems (``"templat*"``) looked up in a stretch of text, case-insensitively.

    The stretch is split into words once and intersected with the set (C speed); only the
    few stems need a regex. One regex alternation of every word would be tried at every
    position of the text, several times slower.
    """

    __slots__ = ("_stems", "_words")

    def __init__(self, words: tuple[str, ...]) -> None:
        self._words = frozenset(word.lower() for word in words if not word.endswith("*"))
        stems = [re.escape(word[:-1].lower()) for word in words if word.endswith("*")]
        self._stems = re.compile(rf"\b(?:{'|'.join(stems)})") if stems else None

    def any_in(self, content: str, start: int, end: int) -> bool:
        text = content[start:end].lower()
        if not self._words.isdisjoint(_WORDS.findall(text)):
            return True
        return self._stems is not None and self._stems.search(text) is not None


class MatchJudge:
    """Decides what a match of a :class:`PatternCategory` means where it stands."""

    __slots__ = ("_explained", "_fences", "_reported")

    def __init__(self, categories: dict[str, PatternCategory]) -> None:
        self._fences = FenceTracker()
        self._explained = {name: _WordSet(category.explained_by)
                           for name, category in categories.items() if category.explained_by}
        self._reported = {name: re.compile(category.reported_by, re.IGNORECASE)
                          for name, category in categories.items() if category.reported_by}

    def reset(self) -> None:
        self._fences.reset()

    def placement(self, category: PatternCategory, content: str, start: int) -> bool:
        """Whether the match at ``start`` stands where it counts: not in code or quotes,
        not reported speech. Decided from the text before the match, once per match."""
        before = content[_line_start(content, start):start]
        if category.outside_code and (before.count("`") % 2 == 1
                                      or self._fences.inside(content, start)):
            return False
        if category.outside_quotes and (before.count('"') % 2 == 1
                                        or before.count("\u201c") > before.count("\u201d")):
            return False
        reported = self._reported.get(category.name)
        if reported is not None:
            reach = max(0, start - _CONTEXT_REACH)
            sentence = _SENTENCE_START.search(content, reach, start)
            if reported.search(content, sentence.start() if sentence else reach, start):
                return False
        return True

    def verdict(self, category: PatternCategory, content: str, start: int, end: int,
                completed: bool) -> Verdict:
        """For a match that stands where it counts: ``report`` at the category's severity,
        ``warn``, ``ignore``, or ``wait`` for more text (the paragraph is not complete)."""
        explained = self._explained.get(category.name)
        if explained is not None:
            reach_end = end + _CONTEXT_REACH
            paragraph_end = content.find("\n\n", end, reach_end)
            if paragraph_end == -1:
                if not completed and len(content) < reach_end:
                    return "wait"
                paragraph_end = min(len(content), reach_end)
            reach_start = max(0, start - _CONTEXT_REACH)
            paragraph_start = content.rfind("\n\n", reach_start, start)
            context_start = reach_start if paragraph_start == -1 else paragraph_start + 2
            context_end = paragraph_end
            if (explained.any_in(content, context_start, start)
                    or explained.any_in(content, end, context_end)):
                return "ignore" if category.when_explained == "ignore" else "warn"
        in_table = content[_line_start(content, start):start].lstrip().startswith("|")
        if category.doubtful_in_tables and in_table:
            return "warn"
        return "report"
