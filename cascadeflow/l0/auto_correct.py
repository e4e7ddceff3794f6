"""Repairing the JSON models produce: fences, prose, comments, quotes, commas, truncation.

:func:`auto_correct_json` returns valid JSON text, or says plainly that there is none.
Valid JSON is returned untouched, and string contents are never changed except that raw
control characters are escaped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from cascadeflow.l0._json_repair import NotCorrectable, repair

__all__ = [
    "CorrectionResult",
    "SeveralValues",
    "auto_correct_json",
    "balance_braces",
    "extract_json_from_markdown",
    "remove_trailing_commas",
]


@dataclass(frozen=True, slots=True)
class CorrectionResult:
    """The outcome of :func:`auto_correct_json`.

    Attributes:
        text: valid JSON when ``valid`` is true; otherwise the input, unchanged.
        corrected: whether ``text`` differs from the input (a repair was made).
        corrections: names of the repairs made, e.g. ``"removed_trailing_commas"``,
            ``"closed_brackets"``, ``"single_quotes"``, ``"extracted_from_markdown"``.
        valid: whether ``text`` parses as JSON. ``False`` means the input is not
            correctable (no JSON value could be recovered); ``error`` says why.
        error: why the input is not correctable, else ``None``.

    Example:
        >>> auto_correct_json('{"a": 1,}')
        CorrectionResult(text='{"a":1}', corrected=True, corrections=('removed_trailing_commas',), valid=True, error=None)
    """  # noqa: E501

    text: str
    corrected: bool
    corrections: tuple[str, ...] = ()
    valid: bool = True
    error: str | None = None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _is_json(text: str) -> bool:
    """Whether ``text`` is strict JSON (Python's parser alone also accepts NaN, Infinity)."""
    try:
        json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return False
    return True


_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)",
                    re.DOTALL | re.MULTILINE)


def extract_json_from_markdown(text: str) -> str:
    """Return the JSON inside the first fitting fenced code block, else ``text`` unchanged.

    A block labelled ``json`` (or ``json5``, ``jsonc``) wins, then the first block whose
    content starts with ``{`` or ``[``, then the first block. A fence that is never closed
    (a truncated answer) runs to the end of the text. Text that itself starts with ``{``
    or ``[`` is returned unchanged (a fence there is inside the JSON).

    Example:
        >>> extract_json_from_markdown('Here:\\n```json\\n{"a": 1}\\n```\\nBye')
        '{"a": 1}'
    """
    stripped = text.lstrip()
    if not stripped or stripped[0] in "{[" or ("```" not in text and "~~~" not in text):
        return text
    blocks = [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(text)]
    if not blocks:
        return text
    for language, body in blocks:
        if language in ("json", "json5", "jsonc"):
            return body.strip()
    for _, body in blocks:
        if body.lstrip()[:1] in ("{", "["):
            return body.strip()
    return blocks[0][1].strip()


_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:[^"\\]|\\.)*"|,(?=\s*[}\]])', re.DOTALL)


def remove_trailing_commas(text: str) -> str:
    """Remove commas that directly precede a ``}`` or ``]``, outside strings only.

    Example:
        >>> remove_trailing_commas('{"a": [1, 2,], "b": "x,]",}')
        '{"a": [1, 2], "b": "x,]"}'
    """
    return _STRING_OR_TRAILING_COMMA.sub(
        lambda match: match.group() if match.group() != "," else "", text)


_STRUCTURE = re.compile(r'["\\{}\[\]]')


def balance_braces(text: str) -> str:
    """Close an unterminated string and every open bracket, innermost first.

    ``{"a": [1, 2`` becomes ``{"a": [1, 2]}``; ``{"a": "hel`` becomes ``{"a": "hel"}``.
    A backslash cut off at the very end of a string is dropped. Closers already present are
    left as they are; for a full repair use :func:`auto_correct_json`.

    Example:
        >>> balance_braces('{"a": [1, {"b": "x')
        '{"a": [1, {"b": "x"}]}'
    """
    stack: list[str] = []
    in_string = False
    position = 0
    size = len(text)
    while True:
        match = _STRUCTURE.search(text, position)
        if match is None:
            break
        char = match.group()
        position = match.end()
        if in_string:
            if char == "\\":
                if position >= size:
                    text = text[:-1]
                    break
                position += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            stack.append("}")
        elif char == "[":
            stack.append("]")
        elif char == "\\":
            continue
        elif stack and stack[-1] == char:
            stack.pop()
    return text + ('"' if in_string else "") + "".join(reversed(stack))


_NUMBER_PREFIX = re.compile(r"-?\d*\.?\d*(?:[eE][+-]?\d*)?")
_LITERAL_WORDS = ("true", "false", "null", "True", "False", "None")
_PLAUSIBLE_TUPLE = re.compile(r"""\(\s*(?:["'(\[{\-\d])""")
_PLAUSIBLE_START = re.compile(
    r"""[{\[](?=\s*(?:["'{\[\]}\-\d]|[A-Za-z_$][\w$-]*\s*:|true\b|false\b|null\b|$))""")


def _find_start(body: str) -> int | None:
    """Where the JSON value in ``body`` starts, skipping any prose before it."""
    stripped = body.strip()
    if not stripped:
        return None
    first = len(body) - len(body.lstrip())
    char = stripped[0]
    if char in "{[\"'" or (char == "(" and _PLAUSIBLE_TUPLE.match(stripped)):
        return first
    if _NUMBER_PREFIX.fullmatch(stripped) or any(
            word.startswith(stripped) for word in _LITERAL_WORDS):
        return first
    plausible = _PLAUSIBLE_START.search(body)
    if plausible is not None:
        return plausible.start()
    fallback = min((i for i in (body.find("{"), body.find("[")) if i != -1), default=-1)
    return fallback if fallback != -1 else None


SeveralValues = Literal["first", "list"]
"""What :func:`auto_correct_json` returns for text holding several top-level values:
``"first"`` (the default) or ``"list"`` (all of them, as one array).

Example:
    >>> auto_correct_json('[1]\\n[2]', several_values="list").text
    '[[1],[2]]'
"""

_NEXT_VALUE = re.compile(r"[\s,]*(?=[{\[])")


def _more_values(body: str, end: int, fixes: set[str]) -> tuple[list[str], int]:
    """The objects and arrays after the first value (``{...}\\n{...}``, JSON lines), and
    where the last of them ended."""
    values: list[str] = []
    while True:
        following = _NEXT_VALUE.match(body, end)
        if following is None:
            return values, end
        try:
            value, end, more_fixes = repair(body, following.end())
        except NotCorrectable:
            return values, end
        values.append(value)
        fixes |= more_fixes


def auto_correct_json(text: str, *, several_values: SeveralValues = "first") -> CorrectionResult:
    """Repair the JSON in a model's answer; return valid JSON text or say it is not correctable.

    Valid JSON comes back untouched (``corrected=False``). Otherwise this extracts JSON from
    a Markdown fence or from surrounding prose, removes ``//``, ``/* */`` and ``#``
    comments outside strings, converts single-quoted (and curly-quoted) strings, quotes
    unquoted keys and bare values, maps Python and JavaScript literals (``True``, ``None``,
    ``undefined``, ``NaN``, ``Infinity``) to JSON, reads tuples ``(1, 2)`` and sets of
    strings ``{"a", "b"}`` as arrays, drops ellipses (``...``, ``…``) standing for elided
    items, removes digit separators (``1_000``), keeps values that only start like numbers
    (``1/3``, ``10-20``, ``1.1.1``, ids such as ``57eeeeb1-450b-...``) as strings, removes
    trailing and extra commas, inserts missing commas, and closes a truncated document (an
    unterminated string, then the open brackets, innermost first; a key cut off before its
    value is dropped).

    After a local error it reads on, so the rest of the document is kept: a misplaced
    closer (``["a", "b"}`` followed by more members), a key/value pair inside an array
    (``["key": "value"]`` becomes ``[{"key": "value"}]``), stray words between members,
    doubled quotes (``""key""``), an unescaped quote inside a string, a comment after a
    value. Nothing inside a string is changed except that raw control characters are
    escaped: ``"http://x.com"`` survives.

    Text holding several top-level values (``{...}\\n{...}``, JSON lines) gives the first
    by default; ``several_values="list"`` gives every object and array found, as one list.

    When no JSON value can be recovered the result has ``valid=False``, ``text`` is the
    input and ``error`` says why. This function does not raise for any ``str`` (with or
    without ``python -O``), and every ``valid=True`` result has been parsed as strict JSON.

    Example:
        >>> auto_correct_json("```json\\n{'a': [1, 2, ...\\n").text
        '{"a":[1,2]}'
        >>> auto_correct_json('{"id": 1}\\n{"id": 2}', several_values="list").text
        '[{"id":1},{"id":2}]'
        >>> auto_correct_json("no json here").valid
        False
    """
    if several_values not in ("first", "list"):
        raise ValueError(f"several_values must be 'first' or 'list', not {several_values!r}")
    if _is_json(text):
        return CorrectionResult(text, False)
    corrections: list[str] = []
    body = extract_json_from_markdown(text)
    if body is not text and body != text:
        corrections.append("extracted_from_markdown")
        if _is_json(body):
            return CorrectionResult(body, True, tuple(corrections))
    start = _find_start(body)
    if start is None:
        return CorrectionResult(text, False, (), False, "no JSON value found")
    if body[:start].strip():
        corrections.append("removed_prose")
    try:
        repaired, end, fixes = repair(body, start)
    except NotCorrectable as exc:
        return CorrectionResult(text, False, (), False, str(exc))
    if several_values == "list":
        more, end = _more_values(body, end, fixes)
        if more:
            repaired = "[" + ",".join([repaired, *more]) + "]"
            corrections.append("collected_several_values")
    rest = body[end:].strip()
    if rest and not rest.startswith(("//", "/*", "#", "```")):
        corrections.append("removed_trailing_text")
    corrections.extend(sorted(fixes))
    if not _is_json(repaired):  # a safety net: never hand back text that does not parse
        return CorrectionResult(text, False, (), False, "repair did not produce valid JSON")
    return CorrectionResult(repaired, repaired != text, tuple(corrections))
