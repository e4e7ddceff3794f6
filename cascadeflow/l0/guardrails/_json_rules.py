"""JSON guardrails: a resumable structure scanner while streaming, a full parse at the end."""

from __future__ import annotations

import json
import re

from cascadeflow.l0.guardrails._types import GuardrailContext, GuardrailViolation, Severity

_OUTSIDE_STRING = re.compile(r'["{}\[\]]')
_INSIDE_STRING = re.compile(r'["\\]')
_CLOSER_OF = {"{": "}", "[": "]"}


class JsonStructureRule:
    """Checks bracket structure of JSON output as it streams (see :func:`json_rule`)."""

    streaming = True

    def __init__(self, severity: Severity = "error", *, name: str = "json") -> None:
        self.name = name
        self.severity: Severity = severity
        self.reset()

    def reset(self) -> None:
        self._seen = 0
        self._active: bool | None = None  # undecided until the first non-blank character
        self._stack: list[str] = []
        self._in_string = False
        self._escaped = False  # a backslash ended the previous delta inside a string
        self._broken = False

    def _violation(self, message: str, position: int | None, suggestion: str) -> GuardrailViolation:
        return GuardrailViolation(self.name, message, self.severity, True, position, suggestion)

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        content = context.content
        if len(content) < self._seen:
            self.reset()
        found: list[GuardrailViolation] = []
        if self._active is None:
            stripped = content.lstrip()
            if stripped:
                self._active = stripped[0] in "{["
                self._seen = len(content) - len(stripped)
        if self._active and not self._broken:
            error = self._scan(content)
            if error is not None:
                self._broken = True
                found.append(error)
        if context.completed and self._active and not self._broken:
            if self._in_string:
                found.append(self._violation(
                    "unterminated string at end of JSON output", len(content),
                    "close the string, or retry"))
            elif self._stack:
                closers = "".join(_CLOSER_OF[opener] for opener in reversed(self._stack))
                found.append(self._violation(
                    f"JSON output ends with {len(self._stack)} unclosed bracket(s); "
                    f"expected {closers!r}", len(content), f"append {closers!r}, or retry"))
        return found

    def _scan(self, content: str) -> GuardrailViolation | None:
        position = self._seen
        size = len(content)
        stack = self._stack
        in_string = self._in_string
        if self._escaped and position < size:
            position += 1
            self._escaped = False
        while position < size:
            if in_string:
                match = _INSIDE_STRING.search(content, position)
                if match is None:
                    position = size
                    break
                position = match.end()
                if match.group() == "\\":
                    if position >= size:
                        self._escaped = True
                        break
                    position += 1
                else:
                    in_string = False
                continue
            match = _OUTSIDE_STRING.search(content, position)
            if match is None:
                position = size
                break
            char = match.group()
            position = match.end()
            if char == '"':
                in_string = True
            elif char in "{[":
                stack.append(char)
            elif not stack:
                self._seen, self._in_string = position, in_string
                return self._violation(
                    f"unexpected {char!r}: no open bracket to close", position - 1,
                    f"remove the extra {char!r}")
            elif _CLOSER_OF[stack[-1]] != char:
                expected = _CLOSER_OF[stack[-1]]
                self._seen, self._in_string = position, in_string
                return self._violation(
                    f"misordered closer {char!r}: expected {expected!r}", position - 1,
                    f"close with {expected!r} first")
            else:
                stack.pop()
        self._seen, self._in_string = position, in_string
        return None


class StrictJsonRule:
    """Parses the completed output as JSON (see :func:`strict_json_rule`)."""

    streaming = False

    def __init__(self, severity: Severity = "error", *, name: str = "strict-json") -> None:
        self.name = name
        self.severity: Severity = severity

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        if not context.completed:
            return []
        try:
            value = json.loads(context.content)
        except ValueError as exc:
            position = getattr(exc, "pos", None)
            return [GuardrailViolation(self.name, f"output is not valid JSON: {exc}",
                                       self.severity, True, position,
                                       "retry, or repair it with auto_correct_json()")]
        if not isinstance(value, (dict, list)):
            return [GuardrailViolation(self.name, "JSON root must be an object or an array, "
                                       f"got {type(value).__name__}", self.severity, True, 0,
                                       "ask for an object or an array")]
        return []


def json_rule(severity: Severity = "error") -> JsonStructureRule:
    """Check JSON structure while it streams.

    Applies when the output's first non-blank character is ``{`` or ``[``. While streaming
    it reports an unexpected closer (nothing open) or a misordered one (``]`` where ``}``
    is due); at completion it reports an unterminated string or unclosed brackets. Work per
    check is proportional to the new text: the scanner resumes where it stopped.

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> rule = json_rule()
        >>> rule.check(GuardrailContext('{"a": [1, 2}', completed=False))[0].message
        "misordered closer '}': expected ']'"
    """
    return JsonStructureRule(severity)


def strict_json_rule(severity: Severity = "error") -> StrictJsonRule:
    """Require the completed output to parse as JSON with an object or array at the root.

    Runs at completion only (``streaming=False``).

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailContext
        >>> strict_json_rule().check(GuardrailContext("42", completed=True))[0].rule
        'strict-json'
    """
    return StrictJsonRule(severity)
