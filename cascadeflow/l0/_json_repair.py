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

_STRING_STOP = {
    '"': re.compile(r'["\\\x00-\x1f]'),
    "'": re.compile(r"['\\\x00-\x1f\"]"),
    "\u201d": re.compile(r'[\u201d\\\x00-\x1f"]'),
}
_QUOTES = "\"'\u201c"  # the curly opening quote closes with \u201d
# A run that starts like a number, up to the next delimiter: "12", "1_000", "1/3", "57ee-4".
_NUMBER_TOKEN = re.compile(r"[+-]?[0-9.](?:[^\s,:\[\]{}()\"'#]|:(?=\d))*|[+-]")
_NUMBER = re.compile(r"([+-]?)(\d+(?:_\d+)*)?(?:\.(\d+(?:_\d+)*)?)?(?:[eE]([+-]?)(\d*))?")
_WORD = re.compile(r"[A-Za-z_$][\w$-]*")
_BARE_VALUE = re.compile(r"[^,}\]\n\r/#]+")
_BARE_VALUE_IN_TUPLE = re.compile(r"[^,}\])\n\r/#]+")
_SPACE = re.compile(r"\s+")
_FOLLOWS_VALUE = re.compile(
    r"""\s*(?://|/\*|\#|["'\u201c{\[\]}(\-\d]|\.\.\.|…|true\b|false\b|null\b"""
    r"""|[A-Za-z_$][\w$-]*\s*:|[A-Za-z_$][\w$-]*\s+"[^"\n]*"\s*:|$)""")
# After a closing quote: stray words up to the end of the member, with no quote among them.
_STRAY_WORDS_THEN_END = re.compile(r"""[ \t]+[A-Za-z_$][^"'\n,{}\[\]]*(?:[}\]\n]|$)""")
_KEY_AHEAD = re.compile(r"""(?:"[^"\n]*"|'[^'\n]*')\s*:""")
_ANY_KEY_AHEAD = re.compile(r"""\s*(?:"[^"\n]*"|'[^'\n]*'|[A-Za-z_$][\w$-]*)\s*:""")
_MEMBERS_AFTER_CLOSE = re.compile(r"""\s*,\s*(?:"[^"\n]*"|'[^'\n]*')\s*:""")
_SET_AHEAD = re.compile(r"""\s*(?:"[^"\n]*"|'[^'\n]*')\s*[,}]""")
_ELLIPSIS = re.compile(r"\.\.\.+|…")
_UNICODE_ESCAPE = re.compile(r"[0-9a-fA-F]{4}")
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_VALID_ESCAPES = frozenset('"\\/bfnrtu')
_LITERALS = {"true": "true", "false": "false", "null": "null", "True": "true",
             "False": "false", "None": "null", "undefined": "null", "NaN": "null",
             "Infinity": "null", "nil": "null", "TRUE": "true", "FALSE": "false",
             "NULL": "null", "Null": "null"}
_CONTROL = re.compile(r"[\x00-\x1f]")
_CLOSERS = "}])"
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
    return '"' + _CONTROL.sub(lambda match: _CONTROL_ESCAPES.get(match.group())
                              or f"\\u{ord(match.group()):04x}", escaped) + '"'


class JsonRepairer:
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
        if not char or char in _CLOSERS or char == ",":
            raise _Missing
        if char in ".…":
            ellipsis = _ELLIPSIS.match(self.text, self.pos)
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
        elif char in _QUOTES:
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
                self.pos += 1
                if (is_object and len(self.closers) == 1
                        and _MEMBERS_AFTER_CLOSE.match(self.text, self.pos)):
                    self.corrections.add("fixed_closers")  # {"a": 1}, "b": 2}: read on
                    separated = False
                    continue
                if members and separated:
                    self.corrections.add("removed_trailing_commas")
                break
            if char in _CLOSERS:
                if self.wrong_closer_ends_container(char):
                    break
                continue
            if char in ",:":
                if separated:
                    self.corrections.add("removed_extra_commas")
                self.pos += 1
                separated = True
                continue
            mark = len(out)
            if members:
                out.append(",")
            try:
                if is_object:
                    self.member()
                elif _KEY_AHEAD.match(self.text, self.pos):
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
        out.append(written_closer)
        self.closers.pop()

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
        if not follows.strip() or follows.lstrip()[:1] in _CLOSERS:
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
        if _ELLIPSIS.match(self.text, self.pos):
            self.value()  # drops the marker and raises _Missing
        if char in _QUOTES:
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
        except _Elided:
            del self.out[mark:]
            raise
        except _Missing:
            if not self.peek():
                del self.out[mark:]  # truncated after the colon: drop the member
                raise
            self.corrections.add("inserted_missing_values")
            self.out.append("null")

    def string(self, quote: str, *, as_key: bool) -> str:
        text, size = self.text, len(self.text)
        if quote == "\u201c":
            quote = "\u201d"
            self.corrections.add("straightened_quotes")
        stop = _STRING_STOP[quote]
        if quote == "'":
            self.corrections.add("single_quotes")
        position = self.pos + 1
        doubled = (text.startswith(quote, position) and position + 1 < size
                   and (text[position + 1].isalnum() or text[position + 1] == "_"))
        if doubled:  # ""key"": the model doubled the quotes
            position += 1
            self.corrections.add("fixed_doubled_quotes")
        parts = ['"']
        while True:
            match = stop.search(text, position)
            if match is None:
                parts.append(self.unterminated_tail(text[position:]))
                parts.append('"')
                self.pos = size
                self.corrections.add("closed_string")
                return "".join(parts)
            parts.append(text[position:match.start()])
            char = match.group()
            position = match.end()
            if char == quote:
                if doubled and text.startswith(quote, position):
                    parts.append('"')
                    self.pos = position + 1
                    return "".join(parts)
                if self.closes_string(position, as_key):
                    parts.append('"')
                    self.pos = position
                    return "".join(parts)
                comma = self.missing_quote_before_comma(parts, match.start(), as_key)
                if comma is not None:  # "Ada, "age": the quote before the comma is missing
                    self.pos = comma
                    self.corrections.add("closed_string")
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
                elif escaped == "u" and not _UNICODE_ESCAPE.fullmatch(
                        text, position + 1, position + 5):
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
            elif char == '"':  # inside a single- or curly-quoted string
                parts.append('\\"')
            else:
                parts.append(_CONTROL_ESCAPES.get(char) or f"\\u{ord(char):04x}")
                self.corrections.add("escaped_control_characters")

    def unterminated_tail(self, tail: str) -> str:
        """A string that runs to the end: closers typed after a forgotten quote close it."""
        if "{" in tail or "[" in tail or "(" in tail:
            return tail
        stripped = tail.rstrip()
        if stripped.endswith("```"):  # the fence around the answer, not content
            stripped = stripped[:-3].rstrip()
        closing = "".join(reversed(self.closers))
        for length in range(len(closing), 0, -1):
            if stripped.endswith(closing[:length]):
                return stripped[:-length]
        return tail

    def missing_quote_before_comma(self, parts: list[str], quote_at: int,
                                   as_key: bool) -> int | None:
        """Where a value should have ended when ``"Ada, "age": 36`` lost its closing quote."""
        if as_key or _KEY_AHEAD.match(self.text, quote_at) is None:
            return None
        content = parts[-1]
        comma = content.rstrip().endswith(",")
        if not comma:
            return None
        body = content.rstrip()[:-1]
        parts[-1] = body
        parts.append('"')
        return quote_at - (len(content) - len(body))

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
        if char in _CLOSERS:
            return True
        if char == ",":
            return _FOLLOWS_VALUE.match(text, position + 1) is not None
        if position > after and char == "#":
            return True  # "value" # a comment
        if char in "\"'":  # a missing comma: a space, the next line, or a key follows
            return position > after or _KEY_AHEAD.match(text, position) is not None
        if position > after and self.closers and self.closers[-1] != "}" and (
                char in "{[(" or char.isdigit()):
            return True  # ["a" 1]: a missing comma in an array
        if text.startswith(("//", "/*"), position) or _ELLIPSIS.match(text, position):
            return True
        # "data" AAAA }: words with no quote up to the end of the member are stray text
        return position > after and _STRAY_WORDS_THEN_END.match(text, after) is not None

    def number(self) -> None:
        token = _NUMBER_TOKEN.match(self.text, self.pos)
        raw = token.group() if token is not None else self.text[self.pos]
        for comment in ("//", "/*"):
            if comment in raw:
                raw = raw[:raw.index(comment)]
        start, self.pos = self.pos, self.pos + max(len(raw), 1)
        ellipsis = _ELLIPSIS.search(raw)
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
        key = _KEY_AHEAD.search(self.text, self.pos, end)
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
