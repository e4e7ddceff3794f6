"""A tolerant JSON reader that writes back strict JSON text.

It reads what models produce (comments, single quotes, unquoted keys, Python and JavaScript
literals, tuples, sets, ellipses, digit separators, trailing or missing commas, misplaced
or missing closers, stray words, truncation, raw control characters in strings) and emits
JSON. After a local error it recovers and reads on, so the rest of the document is kept.
String contents are copied as they are; only raw control characters are escaped and quotes
re-escaped for the double-quoted form. Nothing here uses ``assert``: bad input ends in
:class:`NotCorrectable`, never in another exception.
"""

from __future__ import annotations

import re

from cascadeflow.l0._json_strings import (
    CLOSERS,
    CONTROL_ESCAPES,
    ELLIPSIS,
    KEY_AHEAD,
    QUOTES,
    StringReader,
)

_NUMBER_TOKEN = re.compile(r"[+-]?[0-9.](?:[^\s,:\[\]{}()\"'#]|:(?=\d))*|[+-]")
_NUMBER = re.compile(r"([+-]?)(\d+(?:_\d+)*)?(?:\.(\d+(?:_\d+)*)?)?(?:[eE]([+-]?)(\d*))?")
_WORD = re.compile(r"[A-Za-z_$][\w$-]*")
_BARE_VALUE = re.compile(r"[^,}\]\n\r/#]+")
_BARE_VALUE_IN_TUPLE = re.compile(r"[^,}\])\n\r/#]+")
_SPACE = re.compile(r"\s+")
_ANY_KEY_AHEAD = re.compile(r"""\s*(?:"[^"\n]*"|'[^'\n]*'|[A-Za-z_$][\w$-]*)\s*:""")
_MEMBERS_AFTER_CLOSE = re.compile(r"""\s*,\s*(?:"[^"\n]*"|'[^'\n]*')\s*:""")
_SET_AHEAD = re.compile(r"""\s*(?:"[^"\n]*"|'[^'\n]*')\s*[,}]""")
_LITERALS = {"true": "true", "false": "false", "null": "null", "True": "true",
             "False": "false", "None": "null", "undefined": "null", "NaN": "null",
             "Infinity": "null", "nil": "null", "TRUE": "true", "FALSE": "false",
             "NULL": "null", "Null": "null"}
_CONTROL = re.compile(r"[\x00-\x1f]")
_MAX_DEPTH = 500


class NotCorrectable(ValueError):
    """The text holds no JSON value that can be recovered."""


class _Missing(Exception):
    """No value where one was due (end of text, a closer, or something dropped)."""


class _Elided(_Missing):
    """An ellipsis stood where a value was due: the model abbreviated; drop the member."""


def _quoted(raw: str) -> str:
    """``raw`` as a JSON string literal, its characters kept (escaped where JSON needs)."""
    escaped = raw.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda match: CONTROL_ESCAPES.get(match.group())
                              or f"\\u{ord(match.group()):04x}", escaped) + '"'


class JsonRepairer(StringReader):
    """Reads one JSON value from ``text`` starting at ``start``; see :func:`repair`."""

    def __init__(self, text: str, start: int = 0) -> None:
        self.text = text
        self.pos = start
        self.out: list[str] = []
        self.corrections: set[str] = set()
        self.closers: list[str] = []  # the closer each open container waits for

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
        if not char or char in CLOSERS or char == ",":
            raise _Missing
        if char in ".…":
            ellipsis = ELLIPSIS.match(self.text, self.pos)
            if ellipsis is not None:  # "[1, 2, ...]": the model abbreviated; drop the marker
                self.pos = ellipsis.end()
                self.corrections.add("removed_ellipses")
                raise _Elided
        if char == "{":
            if _SET_AHEAD.match(self.text, self.pos + 1):  # {"a", "b"}: a Python set
                self.corrections.add("sets_as_arrays")
                self.container("[", "}", "]")
            else:
                self.container("{", "}", "}")
        elif char == "[":
            self.container("[", "]", "]")
        elif char == "(":
            self.corrections.add("tuples_as_arrays")
            self.container("[", ")", "]")
        elif char in QUOTES:
            self.out.append(self.string(char, as_key=False))
        elif char in "+-.0123456789":
            self.number()
        else:
            self.word()

    def container(self, opener: str, closer: str, written_closer: str) -> None:
        if len(self.closers) >= _MAX_DEPTH:
            raise NotCorrectable("nesting too deep")
        self.closers.append(closer)
        self.pos += 1
        out = self.out
        opened_at = len(out)
        out.append(opener)
        commas = members = 0
        separated = True  # no member yet, or a separator after the last one
        is_object = opener == "{"
        while True:
            char = self.peek()
            if not char:
                self.corrections.add("closed_brackets")
                break
            if char == closer:
                self.pos += 1
                if (is_object and len(self.closers) == 1
                        and _MEMBERS_AFTER_CLOSE.match(self.text, self.pos)):
                    self.corrections.add("fixed_closers")  # {"a": 1}, "b": 2}: read on
                    separated = False
                    continue
                if members and separated:
                    self.corrections.add("removed_trailing_commas")
                break
            if char in CLOSERS:
                if self.wrong_closer_ends_container(char):
                    break
                continue
            if char in ",:":
                if separated:
                    self.corrections.add("removed_extra_commas")
                self.pos += 1
                commas += 1
                separated = True
                continue
            mark = len(out)
            if members:
                out.append(",")
            try:
                if is_object:
                    self.member()
                elif KEY_AHEAD.match(self.text, self.pos):
                    self.pairs_in_array()
                else:
                    self.value()
            except _Missing:
                del out[mark:]
                if not self.peek():
                    self.corrections.add("closed_brackets")
                    break
                continue
            if members and not separated:
                self.corrections.add("inserted_missing_commas")
            members += 1
            separated = False
        self.closers.pop()
        if closer == ")" and members == 1 and not commas:
            out[opened_at] = ""  # (1) is a parenthesized value, (1,) a tuple
            return
        out.append(written_closer)

    def wrong_closer_ends_container(self, char: str) -> bool:
        """Decide what a closer that is not this container's own means.

        Returns whether this container ends here (the closer is then consumed when it was a
        typo for ours, left for the parent otherwise); ``False`` means the closer was stray
        and has been dropped.
        """
        self.corrections.add("fixed_closers")
        ancestors = self.closers[:-1]
        if char not in ancestors:  # closes nothing that is open: a stray closer
            self.pos += 1
            return False
        if char != ancestors[-1]:  # closes a grandparent: close this one and let it read
            return True
        # It closes the parent. Either our closer is missing, or it is a typo for ours; the
        # text after it tells: a typo is followed by what the parent holds (a key in an
        # object, a value in an array), a missing closer by the grandparent's members.
        after = self.pos + 1
        follows = self.text[after:].lstrip()
        if follows.startswith(","):
            follows = follows[1:]
        if not follows.strip() or follows.lstrip()[:1] in CLOSERS:
            return True
        parent_is_object = ancestors[-1] == "}"
        if (_ANY_KEY_AHEAD.match(follows) is not None) == parent_is_object:
            self.pos = after  # a typo for our closer
        return True

    def pairs_in_array(self) -> None:
        """``["a": 1, "b": 2]``: consecutive key/value pairs in an array become one object."""
        self.corrections.add("wrapped_pairs_in_arrays")
        self.out.append("{")
        self.closers.append("}")
        first = True
        while True:
            mark = len(self.out)
            if not first:
                self.out.append(",")
            try:
                self.member()
            except _Missing:
                del self.out[mark:]
                break
            first = False
            if self.peek() == "," and _ANY_KEY_AHEAD.match(self.text, self.pos + 1):
                self.pos += 1
                continue
            break
        self.closers.pop()
        self.out.append("}")

    def member(self) -> None:
        char = self.peek()
        if ELLIPSIS.match(self.text, self.pos):
            self.value()  # drops the marker and raises _Elided
        if char in QUOTES:
            key = self.string(char, as_key=True)
        else:
            word = _WORD.match(self.text, self.pos) or _NUMBER_TOKEN.match(self.text, self.pos)
            if word is None:
                self.pos += 1  # something that cannot start a key: drop it
                self.corrections.add("removed_unexpected")
                raise _Missing
            self.pos = word.end()
            if self.peek() != ":":  # a word that is not a key: stray text between members
                self.corrections.add("removed_unexpected")
                raise _Missing
            key = _quoted(word.group())
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
        except _Elided:
            del self.out[mark:]
            raise
        except _Missing:
            if not self.peek():
                del self.out[mark:]  # truncated after the colon: drop the member
                raise
            self.corrections.add("inserted_missing_values")
            self.out.append("null")

    def number(self) -> None:
        token = _NUMBER_TOKEN.match(self.text, self.pos)
        raw = token.group() if token is not None else self.text[self.pos]
        for comment in ("//", "/*"):
            if comment in raw:
                raw = raw[:raw.index(comment)]
        start, self.pos = self.pos, self.pos + max(len(raw), 1)
        ellipsis = ELLIPSIS.search(raw)
        if ellipsis is not None and ellipsis.start() > 0 and _NUMBER.fullmatch(
                raw, 0, ellipsis.start()):
            raw = raw[:ellipsis.start()]  # "2..." or "2 ...": the number, then an ellipsis
            self.pos = start + ellipsis.start()
        if raw in ("+", "-"):
            if self.text.startswith("Infinity", self.pos):  # "-Infinity"
                self.pos += len("Infinity")
                self.out.append("null")
                self.corrections.add("python_literals")
                return
            raise _Missing
        number = _NUMBER.fullmatch(raw)
        if number is None or not (number.group(2) or number.group(3)):
            self.bare_token(raw)
            return
        sign, whole, fraction, _, exponent_digits = number.groups()
        whole = (whole or "").replace("_", "").lstrip("0") or "0"
        fraction = (fraction or "").replace("_", "")
        text = ("-" if sign == "-" else "") + whole + ("." + fraction if fraction else "")
        if exponent_digits:
            text += "e" + ("-" if number.group(4) == "-" else "") + exponent_digits
        if text != raw:
            self.corrections.add("fixed_numbers")
        self.out.append(text)

    def bare_token(self, raw: str) -> None:
        """A token that starts like a number but is not one (``1/3``, ``1.1.1``, an id)."""
        if not self.closers:
            raise NotCorrectable("text does not start with a JSON value")
        self.corrections.add("quoted_bare_values")
        self.out.append(_quoted(raw))

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
        if not self.closers:
            raise NotCorrectable("text does not start with a JSON value")
        in_tuple = ")" in self.closers
        bare = (_BARE_VALUE_IN_TUPLE if in_tuple else _BARE_VALUE).match(self.text, self.pos)
        if bare is None or not bare.group().strip():
            self.pos += 1
            self.corrections.add("removed_unexpected")
            raise _Missing
        end = bare.end()
        key = KEY_AHEAD.search(self.text, self.pos, end)
        if key is not None and key.start() > self.pos:  # value "key2": the comma is missing
            end = key.start()
        self.pos = end
        value = self.text[bare.start():end].strip()
        self.corrections.add("quoted_bare_values")
        self.out.append(_quoted(value))


def repair(text: str, start: int) -> tuple[str, int, set[str]]:
    """Read one value from ``text[start:]``: return its JSON text, where it ended, and the
    names of the corrections made. Raises :class:`NotCorrectable`, and nothing else."""
    repairer = JsonRepairer(text, start)
    try:
        repairer.value()
    except _Missing:
        raise NotCorrectable("no JSON value found") from None
    except RecursionError:
        raise NotCorrectable("nesting too deep") from None
    return "".join(repairer.out), repairer.pos, repairer.corrections
