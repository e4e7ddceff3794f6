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
_SENTENCE_START = re.compile(r"[.!?\n][^.!?\n]*\Z")
_CONTEXT_REACH = 300  # characters of paragraph read on each side of a match


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
        line_start = content.rfind("\n", 0, position) + 1
        while self._read_until < line_start:
            end = content.find("\n", self._read_until, line_start)
            if end == -1:
                break
            self._read_line(content[self._read_until:end])
            self._read_until = end + 1
        return self._fence is not None

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


class MatchJudge:
    """Decides what a match of a :class:`PatternCategory` means where it stands."""

    __slots__ = ("_explained", "_fences", "_reported")

    def __init__(self, categories: dict[str, PatternCategory]) -> None:
        self._fences = FenceTracker()
        self._explained = {name: re.compile(category.explained_by, re.IGNORECASE)
                           for name, category in categories.items() if category.explained_by}
        self._reported = {name: re.compile(category.reported_by, re.IGNORECASE)
                          for name, category in categories.items() if category.reported_by}

    def reset(self) -> None:
        self._fences.reset()

    def placement(self, category: PatternCategory, content: str, start: int) -> bool:
        """Whether the match at ``start`` stands where it counts: not in code or quotes,
        not reported speech. Decided from the text before the match, once per match."""
        line_start = content.rfind("\n", 0, start) + 1
        before = content[line_start:start]
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
            paragraph_end = content.find("\n\n", end)
            if paragraph_end == -1:
                if not completed and len(content) - end < _CONTEXT_REACH:
                    return "wait"
                paragraph_end = len(content)
            paragraph_start = content.rfind("\n\n", 0, start)
            paragraph_start = 0 if paragraph_start == -1 else paragraph_start + 2
            context_start = max(paragraph_start, start - _CONTEXT_REACH)
            context_end = min(paragraph_end, end + _CONTEXT_REACH)
            if (explained.search(content, context_start, start)
                    or explained.search(content, end, context_end)):
                return "ignore" if category.when_explained == "ignore" else "warn"
        if category.doubtful_in_tables:
            line_start = content.rfind("\n", 0, start) + 1
            if content[line_start:start].lstrip().startswith("|"):
                return "warn"
        return "report"
