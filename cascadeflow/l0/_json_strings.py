"""Reading one string literal of broken JSON: where it really ends, and its JSON form.

Models leave quotes unescaped, forget closing quotes, double them (``""key""``), use single
or curly quotes, and put raw control characters inside. :class:`StringReader` decides, at
each quote, whether it closes the string, from what follows it. It is the base of the
repairer in ``_json_repair``, which supplies the position and the open containers.
"""

from __future__ import annotations

import re

STRING_STOP = {
    '"': re.compile(r'["\\\x00-\x1f]'),
    "'": re.compile(r"['\\\x00-\x1f\"]"),
    "\u201d": re.compile(r'[\u201d\\\x00-\x1f"]'),
}
QUOTES = "\"'\u201c"  # the curly opening quote closes with \u201d
CLOSERS = "}])"
ELLIPSIS = re.compile(r"\.\.\.+|…")
KEY_AHEAD = re.compile(r"""(?:"[^"\n]*"|'[^'\n]*')\s*:""")
CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_FOLLOWS_VALUE = re.compile(
    r"""\s*(?://|/\*|\#|["'\u201c{\[\]}(\-\d]|\.\.\.|…|true\b|false\b|null\b"""
    r"""|[A-Za-z_$][\w$-]*\s*:|[A-Za-z_$][\w$-]*\s+"[^"\n]*"\s*:|$)""")
# After a closing quote: stray words up to the end of the member, with no quote among them.
_STRAY_WORDS_THEN_END = re.compile(r"""[ \t]+[A-Za-z_$][^"'\n,{}\[\]]*(?:[}\]\n]|$)""")
_UNICODE_ESCAPE = re.compile(r"[0-9a-fA-F]{4}")
_VALID_ESCAPES = frozenset('"\\/bfnrtu')


class StringReader:
    """The string-reading half of the repairer (see ``JsonRepairer``)."""

    text: str
    pos: int
    corrections: set[str]
    closers: list[str]  # the closer each open container waits for

    def string(self, quote: str, *, as_key: bool) -> str:
        text, size = self.text, len(self.text)
        if quote == "\u201c":
            quote = "\u201d"
            self.corrections.add("straightened_quotes")
        stop = STRING_STOP[quote]
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
                if escaped == "'":  # \' is an apostrophe, as in JavaScript and Python
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
                                           CONTROL_ESCAPES.get(escaped, "")))
                    self.corrections.add("escaped_backslashes")
                position += 1
            elif char == '"':  # inside a single- or curly-quoted string
                parts.append('\\"')
            else:
                parts.append(CONTROL_ESCAPES.get(char) or f"\\u{ord(char):04x}")
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
                return stripped[:-length].rstrip()
        return tail

    def missing_quote_before_comma(self, parts: list[str], quote_at: int,
                                   as_key: bool) -> int | None:
        """Where a value should have ended when ``"Ada, "age": 36`` lost its closing quote."""
        if as_key or KEY_AHEAD.match(self.text, quote_at) is None:
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
        if char in CLOSERS:
            return True
        if char == ",":
            return _FOLLOWS_VALUE.match(text, position + 1) is not None
        if position > after and char == "#":
            return True  # "value" # a comment
        if char in "\"'":  # a missing comma: a space, the next line, or a key follows
            return position > after or KEY_AHEAD.match(text, position) is not None
        if position > after and self.closers and self.closers[-1] != "}" and (
                char in "{[(" or char.isdigit()):
            return True  # ["a" 1]: a missing comma in an array
        if text.startswith(("//", "/*", "```"), position) or ELLIPSIS.match(text, position):
            return True
        # "data" AAAA }: words with no quote up to the end of the member are stray text
        return position > after and _STRAY_WORDS_THEN_END.match(text, after) is not None
