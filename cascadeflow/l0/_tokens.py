"""Counting tokens for document windows: a real tokenizer when there is one, else an estimate.

tiktoken is used (when installed) for OpenAI models and as the nearest encoding for the
rest; without it the documented estimate is one token per four characters.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

logger = logging.getLogger("cascadeflow.l0")

CHARS_PER_TOKEN = 4
TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """The estimate used without a tokenizer: one token per four characters, rounded up.

    Example:
        >>> estimate_tokens("Hello world!")
        3
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@lru_cache(maxsize=16)
def tiktoken_encoding(model: str) -> Any:
    """The tiktoken encoding for ``model`` (``o200k_base`` for models tiktoken does not
    know), or ``None`` when tiktoken is not installed.

    Example:
        >>> tiktoken_encoding("gpt-4o").name
        'o200k_base'
    """
    try:
        import tiktoken
    except ImportError:
        return None
    _use_bundled_encodings()
    name = model.split("/", 1)[-1]
    try:
        try:
            return tiktoken.encoding_for_model(name)
        except KeyError:
            return tiktoken.get_encoding("o200k_base")
    except Exception:  # offline with no cached encoding: the estimate stands in
        logger.warning("no tiktoken encoding for %r could be loaded; token counts are "
                       "estimated (%d characters per token)", model, CHARS_PER_TOKEN,
                       exc_info=True)
        return None


def _use_bundled_encodings() -> None:
    """Point tiktoken at the encodings LiteLLM ships (found, not imported), so that
    counting works offline; an explicit ``TIKTOKEN_CACHE_DIR`` is left alone."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return
    bundled = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
    if bundled.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)


def token_counter(model: str | None, count_tokens: TokenCounter | None) -> TokenCounter:
    """The counter a window uses: ``count_tokens``, else ``model``'s tokenizer, else the
    estimate.

    Example:
        >>> token_counter(None, None)("abcdefgh")
        2
    """
    if count_tokens is not None:
        return count_tokens
    encoding = tiktoken_encoding(model) if model else None
    if encoding is None:
        return estimate_tokens

    def count(text: str) -> int:
        return len(encoding.encode_ordinary(text))

    return count


def token_spans(text: str, encoding: Any, size: int,
                overlap: int) -> list[tuple[int, int, int]]:
    """``text`` cut every ``size`` tokens (overlapping by ``overlap``): ``(start, end,
    tokens)`` with character offsets; the text is tokenized once.

    Only the cut points are converted to characters (decoding the tokens between them),
    so the cost stays close to encoding the text once. A cut that falls inside a
    multi-byte character moves to that character's start.

    Example:
        >>> token_spans("Hello world", tiktoken_encoding("gpt-4o"), 1, 0)
        [(0, 5, 1), (5, 11, 1)]
    """
    tokens = encoding.encode_ordinary(text)
    spans, start = [], 0
    while True:
        end = min(start + size, len(tokens))
        spans.append((start, end))
        if end >= len(tokens):
            break
        start = end - overlap
    offsets = _char_offsets(text, encoding, tokens, sorted({i for span in spans for i in span}))
    return [(offsets[a], offsets[b], b - a) for a, b in spans]


def _char_offsets(text: str, encoding: Any, tokens: list[int],
                  indices: list[int]) -> dict[int, int]:
    ascii_only = text.isascii()
    raw = b"" if ascii_only else text.encode("utf-8")
    offsets: dict[int, int] = {}
    previous_index = byte_position = last_byte = char_position = 0
    for index in indices:
        byte_position += len(encoding.decode_bytes(tokens[previous_index:index]))
        previous_index = index
        if ascii_only:
            offsets[index] = byte_position
            continue
        boundary = byte_position
        while boundary < len(raw) and (raw[boundary] & 0xC0) == 0x80:
            boundary -= 1  # inside a character: back to its first byte
        char_position += len(raw[last_byte:boundary].decode("utf-8"))
        last_byte = boundary
        offsets[index] = char_position
    return offsets


__all__ = [
    "CHARS_PER_TOKEN",
    "TokenCounter",
    "estimate_tokens",
    "tiktoken_encoding",
    "token_counter",
    "token_spans",
]
