"""A tolerant JSON reader that writes back strict JSON text.

It reads what models produce (comments, single quotes, unquoted keys, Python literals,
trailing or missing commas, misordered or missing closers, truncation, raw control
characters in strings) and emits JSON. String contents are copied as they are; only raw
control characters are escaped and quotes re-escaped for the double-quoted form.
"""

from __future__ import annotations

import re

_STRING_STOP = {
    '"': re.compile(r'["\\\x00-\x1f]'),
    "'": re.compile(r"['\\\x00-\x1f\"]"),
}
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d*)?|[+-]")
_WORD = re.compile(r"[A-Za-z_$][\w$-]*")
_BARE_VALUE = re.compile(r"[^,}\]\n\r/#]+")
_SPACE = re.compile(r"\s+")
_FOLLOWS_VALUE = re.compile(
    r"""\s*(?://|/\*|\#|["'{\[\]}\-\d]|true\b|false\b|null\b|[A-Za-z_$][\w$-]*\s*:|$)""")
_KEY_AHEAD = re.compile(r"""(?:"[^"\n]*"|'[^'\n]*')\s*:""")
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_VALID_ESCAPES = frozenset('"\\/bfnrtu')
_LITERALS = {"true": "true", "false": "false", "null": "null", "True": "true",
             "False": "false", "None": "null", "undefined": "null", "NaN": "null",
             "Infinity": "null", "nil": "null"}
_CLOSERS = "}]"
_MAX_DEPTH = 500


class NotCorrectable(ValueError):
    """The text holds no JSON value that can be recovered."""


class _Missing(Exception):
    """No value where one was due (end of text, or a closer)."""


class JsonRepairer:
    """Reads one JSON value from ``text`` starting at ``start``; see :func:`repair`."""

    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.pos = start
        self.out: list[str] = []
        self.corrections: set[str] = set()
        self.depth = 0

    # -- whitespace and comments -------------------------------------------------------
    def skip(self) -> None:
        text, size = self.text, len(self.text)
        while self.pos < size:
            space = _SPACE.match(text, self.pos)
            if space is not None:
                self.pos = space.end()
                continue
            if text.startswith("//", self.pos) or text[self.pos] == "#":
                end = text.find("\n", self.pos)
                self.pos = size if end == -1 else end + 1
                self.corrections.add("removed_comments")
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                self.pos = size if end == -1 else end + 2
                self.corrections.add("removed_comments")
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    # -- values -------------------------------------------------------------------------
    def value(self) -> None:
        char = self.peek()
        if not char or char in _CLOSERS or char == ",":
            raise _Missing
        if char == "{":
            self.container("{", "}")
        elif char == "[":
            self.container("[", "]")
        elif char in "\"'":
            self.out.append(self.string(char, as_key=False))
        elif char in "+-.0123456789":
            self.number()
        else:
            self.word()

    def container(self, opener: str, closer: str) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise NotCorrectable("nesting too deep")
        self.pos += 1
        out = self.out
        out.append(opener)
        members = 0
        separated = True  # no member yet, or a separator after the last one
        is_object = opener == "{"
        while True:
            char = self.peek()
            if not char:
                self.corrections.add("closed_brackets")
                break
            if char == closer:
                if members and separated:
                    self.corrections.add("removed_trailing_commas")
                self.pos += 1
                break
            if char in _CLOSERS:  # misordered: close this one, let the parent read it
                self.corrections.add("fixed_closers")
                break
            if char in ",:":
                if separated:
                    self.corrections.add("removed_extra_commas")
                self.pos += 1
                separated = True
                continue
            if members and not separated:
                self.corrections.add("inserted_missing_commas")
            mark = len(out)
            if members:
                out.append(",")
            try:
                if is_object:
                    self.member()
                else:
                    self.value()
            except _Missing:
                del out[mark:]
                if not self.peek():
                    self.corrections.add("closed_brackets")
                    break
                continue
            members += 1
            separated = False
        out.append(closer)
        self.depth -= 1

    def member(self) -> None:
        char = self.peek()
        if char in "\"'":
            key = self.string(char, as_key=True)
        else:
            word = _WORD.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
            if word is None:
                self.pos += 1  # something that cannot start a key: drop it
                self.corrections.add("removed_unexpected")
                raise _Missing
            self.pos = word.end()
            key = '"' + word.group() + '"'
            self.corrections.add("quoted_keys")
        char = self.peek()
        if char == ":":
            self.pos += 1
        elif not char:
            raise _Missing  # truncated after the key: drop it
        elif char in ",}]":
            self.corrections.add("inserted_missing_values")
            self.out.append(key + ":null")
            return
        else:
            self.corrections.add("inserted_missing_colons")
        mark = len(self.out)
        self.out.append(key + ":")
        try:
            self.value()
        except _Missing:
            if not self.peek():
                del self.out[mark:]
                raise
            self.corrections.add("inserted_missing_values")
            self.out.append("null")

    def string(self, quote: str, *, as_key: bool) -> str:
        text, size = self.text, len(self.text)
        stop = _STRING_STOP[quote]
        if quote == "'":
            self.corrections.add("single_quotes")
        parts = ['"']
        position = self.pos + 1
        while True:
            match = stop.search(text, position)
            if match is None:
                parts.append(text[position:])
                parts.append('"')
                self.pos = size
                self.corrections.add("closed_string")
                return "".join(parts)
            parts.append(text[position:match.start()])
            char = match.group()
            position = match.end()
            if char == quote:
                if self.closes_string(position, as_key):
                    parts.append('"')
                    self.pos = position
                    return "".join(parts)
                parts.append('\\"' if quote == '"' else "'")
                self.corrections.add("escaped_inner_quotes")
            elif char == "\\":
                if position >= size:
                    parts.append('"')  # a dangling backslash at the cut: drop it
                    self.pos = size
                    self.corrections.add("closed_string")
                    return "".join(parts)
                escaped = text[position]
                if escaped == "'" and quote == "'":
                    parts.append("'")
                elif escaped == "u" and not re.fullmatch(r"[0-9a-fA-F]{4}",
                                                        text[position + 1:position + 5]):
                    if position + 5 > size:  # a \u escape cut short by truncation
                        parts.append('"')
                        self.pos = size
                        self.corrections.add("closed_string")
                        return "".join(parts)
                    parts.append("\\\\u")
                    self.corrections.add("escaped_backslashes")
                elif escaped in _VALID_ESCAPES:
                    parts.append("\\" + escaped)
                else:
                    parts.append("\\\\" + (escaped if escaped >= " " else
                                           _CONTROL_ESCAPES.get(escaped, "")))
                    self.corrections.add("escaped_backslashes")
                position += 1
            elif char == '"':  # inside a single-quoted string
                parts.append('\\"')
            else:
                parts.append(_CONTROL_ESCAPES.get(char) or f"\\u{ord(char):04x}")
                self.corrections.add("escaped_control_characters")

    def closes_string(self, after: int, as_key: bool) -> bool:
        """Whether the quote just before ``after`` ends the string (else it is content)."""
        text, size = self.text, len(self.text)
        position = after
        while position < size and text[position] in " \t\r\n":
            position += 1
        if position >= size:
            return True
        char = text[position]
        if char == ":":
            return True
        if as_key:  # a quote inside a key is rare; a missing colon is not
            return position > after or not (char.isalnum() or char in "'\"")
        if char in "}]":
            return True
        if char == ",":
            return _FOLLOWS_VALUE.match(text, position + 1) is not None
        if char in "\"'":  # a missing comma: the next line, or a key, follows
            return "\n" in text[after:position] or _KEY_AHEAD.match(text, position) is not None
        return text.startswith(("//", "/*"), position)

    def number(self) -> None:
        match = _NUMBER.match(self.text, self.pos)
        assert match is not None
        raw = match.group()
        self.pos = match.end()
        mantissa, _, exponent = raw.lower().partition("e")
        sign = "-" if mantissa.startswith("-") else ""
        mantissa = mantissa.lstrip("+-")
        whole, _, fraction = mantissa.partition(".")
        if not whole and not fraction:
            if self.text.startswith("Infinity", self.pos):  # "-Infinity"
                self.pos += len("Infinity")
                self.out.append("null")
                self.corrections.add("python_literals")
                return
            raise _Missing
        whole = whole.lstrip("0") or "0"
        number = sign + whole + ("." + fraction if fraction else "")
        exponent_digits = exponent.lstrip("+-")
        if exponent_digits:
            number += "e" + ("-" if exponent.startswith("-") else "") + exponent_digits
        if number != raw:
            self.corrections.add("fixed_numbers")
        self.out.append(number)

    def word(self) -> None:
        match = _WORD.match(self.text, self.pos)
        if match is not None:
            word = match.group()
            literal = _LITERALS.get(word)
            if literal is not None:
                self.pos = match.end()
                if literal != word:
                    self.corrections.add("python_literals")
                self.out.append(literal)
                return
            if match.end() == len(self.text):
                for full in ("true", "false", "null"):  # a literal cut by truncation
                    if full.startswith(word.lower()):
                        self.pos = match.end()
                        self.corrections.add("completed_literals")
                        self.out.append(full)
                        return
        if self.depth == 0:
            raise NotCorrectable("text does not start with a JSON value")
        bare = _BARE_VALUE.match(self.text, self.pos)
        if bare is None or not bare.group().strip():
            self.pos += 1
            self.corrections.add("removed_unexpected")
            raise _Missing
        self.pos = bare.end()
        value = bare.group().strip()
        self.corrections.add("quoted_bare_values")
        self.out.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')


def repair(text: str, start: int) -> tuple[str, int, set[str]]:
    """Read one value from ``text[start:]``: return its JSON text, where it ended, and the
    names of the corrections made. Raises :class:`NotCorrectable`."""
    repairer = JsonRepairer(text, start)
    try:
        repairer.value()
    except _Missing:
        raise NotCorrectable("no JSON value found") from None
    except RecursionError:
        raise NotCorrectable("nesting too deep") from None
    return "".join(repairer.out), repairer.pos, repairer.corrections
