"""Markdown and LaTeX guardrails, read line by line as the text streams."""

from __future__ import annotations

import re

from cascadeflow.l0.guardrails._scan import LineReader
from cascadeflow.l0.guardrails._types import GuardrailContext, GuardrailViolation, Severity

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _table_cells(line: str) -> int:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    return len(_UNESCAPED_PIPE.findall(inner)) + 1


class MarkdownRule:
    """Checks code fences and tables (see :func:`markdown_rule`)."""

    streaming = True

    def __init__(self, severity: Severity = "error", *, name: str = "markdown") -> None:
        self.name = name
        self.severity: Severity = severity
        self._lines = LineReader()
        self.reset()

    def reset(self) -> None:
        self._lines.reset()
        self._fence: str | None = None  # the opening marker of the open fence
        self._fence_at = 0
        self._table_columns: int | None = None  # columns of the current table's header
        self._table_reported = False

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        found: list[GuardrailViolation] = []
        for offset, line in self._lines.lines(context.content, context.completed):
            self._read_line(offset, line, found)
        if context.completed and self._fence is not None:
            found.append(GuardrailViolation(
                self.name, f"code fence {self._fence!r} opened and never closed",
                self.severity, True, self._fence_at, f"close it with {self._fence!r}"))
        return found

    def _read_line(self, offset: int, line: str, found: list[GuardrailViolation]) -> None:
        if "`" in line or "~" in line:
            fence = _FENCE.match(line)
            if fence is not None:
                marker = fence.group(1)
                if self._fence is None:
                    if not (marker[0] == "`" and "`" in fence.group(2)):
                        self._fence, self._fence_at = marker, offset
                        self._table_columns = None
                    return
                if (marker[0] == self._fence[0] and len(marker) >= len(self._fence)
                        and not fence.group(2).strip()):
                    self._fence = None
                    return
        if self._fence is not None:
            return
        stripped = line.strip()
        if not stripped.startswith("|"):
            self._table_columns = None
            self._table_reported = False
            return
        if self._table_columns is None:
            self._table_columns = _table_cells(stripped)
            return
        cells = _table_cells(stripped)
        if cells != self._table_columns and not self._table_reported:
            self._table_reported = True
            found.append(GuardrailViolation(
                self.name, f"table row has {cells} column(s), the header has "
                f"{self._table_columns}", "warning", True, offset,
                "give every row as many cells as the header"))


# \begin{env}, \end{env}, \[, \], $$, an escaped \$ (skipped) and a lone $
_LATEX_TOKEN = re.compile(r"\\(begin|end)\{([^}]*)\}|\\\[|\\\]|\\\$|\$\$|\$")
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]{2,}")


class LatexRule:
    """Checks LaTeX environments and math delimiters (see :func:`latex_rule`)."""

    streaming = True

    def __init__(self, severity: Severity = "error", *, name: str = "latex") -> None:
        self.name = name
        self.severity: Severity = severity
        self._lines = LineReader()
        self.reset()

    def reset(self) -> None:
        self._lines.reset()
        self._environments: list[tuple[str, int]] = []
        self._display_at: int | None = None  # offset of an open \[
        self._double_dollar_at: int | None = None
        self._single_dollars = 0
        self._last_single_dollar = 0
        self._looks_like_latex = False
        self._broken = False

    def _violation(self, message: str, position: int, suggestion: str,
                   severity: Severity | None = None) -> GuardrailViolation:
        return GuardrailViolation(self.name, message, severity or self.severity, True,
                                  position, suggestion)

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        found: list[GuardrailViolation] = []
        for offset, line in self._lines.lines(context.content, context.completed):
            if self._broken:
                break
            if "\\" in line or "$" in line:
                self._read_line(offset, line, found)
        if context.completed and not self._broken:
            self._check_closed(len(context.content), found)
        return found

    def _read_line(self, offset: int, line: str, found: list[GuardrailViolation]) -> None:
        if not self._looks_like_latex and _LATEX_COMMAND.search(line):
            self._looks_like_latex = True
        for token in _LATEX_TOKEN.finditer(line):
            position = offset + token.start()
            text = token.group()
            if token.group(1) == "begin":
                self._looks_like_latex = True
                self._environments.append((token.group(2), position))
            elif token.group(1) == "end":
                name = token.group(2)
                if not self._environments or self._environments[-1][0] != name:
                    expected = self._environments[-1][0] if self._environments else None
                    self._broken = True
                    found.append(self._violation(
                        f"\\end{{{name}}} " + (f"closes \\begin{{{expected}}}" if expected
                                               else "has no matching \\begin"),
                        position, f"close \\begin{{{expected}}} first" if expected
                        else f"remove \\end{{{name}}}"))
                    return
                self._environments.pop()
            elif text == "\\[":
                self._looks_like_latex = True
                if self._display_at is not None:
                    self._broken = True
                    found.append(self._violation("nested \\[ inside display math", position,
                                                 "close the first \\[ with \\]"))
                    return
                self._display_at = position
            elif text == "\\]":
                if self._display_at is None:
                    self._broken = True
                    found.append(self._violation("\\] without an opening \\[", position,
                                                 "remove it or add \\["))
                    return
                self._display_at = None
            elif text == "$$":
                self._looks_like_latex = True
                self._double_dollar_at = None if self._double_dollar_at is not None else position
            elif text == "$":
                self._single_dollars += 1
                self._last_single_dollar = position

    def _check_closed(self, end: int, found: list[GuardrailViolation]) -> None:
        for name, position in reversed(self._environments):
            found.append(self._violation(f"\\begin{{{name}}} is never closed", position,
                                         f"add \\end{{{name}}}"))
        if self._display_at is not None:
            found.append(self._violation("display math \\[ is never closed", self._display_at,
                                         "add \\]"))
        if self._double_dollar_at is not None:
            found.append(self._violation("$$ math is never closed", self._double_dollar_at,
                                         "add the closing $$"))
        # A lone $ is common in prose (prices), so an odd count is only a hint, and only
        # in text that otherwise looks like LaTeX.
        if self._single_dollars % 2 and self._looks_like_latex:
            found.append(self._violation("inline math $ is never closed",
                                         self._last_single_dollar, "add the closing $",
                                         "warning"))


def markdown_rule(severity: Severity = "error") -> MarkdownRule:
    """Check Markdown: unclosed code fences (at completion) and table column mismatches.

    A fence left open at the end is reported with ``severity``; a table row whose column
    count differs from its header is a warning (once per table), reported while streaming.
    Lines are read once each, as they complete.

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> markdown_rule().check(GuardrailContext("```py\\nx = 1\\n", completed=True))[0].rule
        'markdown'
    """
    return MarkdownRule(severity)


def latex_rule(severity: Severity = "error") -> LatexRule:
    """Check LaTeX: ``\\begin``/``\\end`` pairs, ``\\[ \\]``, ``$$`` and ``$`` balance.

    A misordered ``\\end`` or a stray ``\\]`` is reported while streaming; environments and
    math left open are reported at completion (an odd number of ``$`` only as a warning,
    and only when the text otherwise looks like LaTeX, because prices use ``$``).

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> text = "\\\\begin{align}x\\\\end{equation}\\n"
        >>> latex_rule().check(GuardrailContext(text))[0].message
        '\\\\end{equation} closes \\\\begin{align}'
    """
    return LatexRule(severity)
