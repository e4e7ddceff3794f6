"""How consensus compares text outputs: normalised, word by word, numbers kept apart.

Two outputs that state different numbers never agree, and short answers ("yes", "Paris")
must match exactly after normalisation, so a vote cannot merge different answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher

_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[-+]?\d+(?:[.,]\d+)*|\w+", re.UNICODE)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_SHORT_ANSWER_WORDS = 3


def normalise(text: str) -> str:
    """Case-folded words of ``text``, punctuation and spacing dropped (numbers kept whole).

    Example:
        >>> normalise("  The answer is 42.  ")
        'the answer is 42'
    """
    folded = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(_WORD.findall(folded))


def numbers_of(text: str) -> list[str]:
    """The numbers ``text`` states, in order (``1,000`` and ``1000`` are the same number).

    Example:
        >>> numbers_of("between 1,000 and 2.5")
        ['1000', '2.5']
    """
    return _NUMBER.findall(_THOUSANDS.sub("", text))


def similarity(first: str, second: str) -> float:
    """How alike two outputs are, from 0.0 to 1.0, after :func:`normalise`.

    Outputs stating different numbers score 0.0; short answers (three words or fewer)
    score 1.0 only when equal; otherwise the word-level match ratio.

    Example:
        >>> similarity("The answer is 42.", "the answer is 42")
        1.0
        >>> similarity("The answer is 42.", "The answer is 43.")
        0.0
    """
    left, right = normalise(first), normalise(second)
    if left == right:
        return 1.0
    if numbers_of(left) != numbers_of(right):
        return 0.0
    left_words, right_words = left.split(), right.split()
    if min(len(left_words), len(right_words)) <= _SHORT_ANSWER_WORDS:
        return 0.0
    return SequenceMatcher(None, left_words, right_words, autojunk=False).ratio()


def group_similar(texts: Sequence[str], threshold: float) -> list[list[int]]:
    """Indices of ``texts`` grouped so that every pair inside a group is similar.

    A text joins the first group all of whose members it matches at ``threshold`` or
    more (no chaining: A~B and B~C does not put A with C unless A~C).

    Example:
        >>> group_similar(["42", "forty", "42."], 0.8)
        [[0, 2], [1]]
    """
    groups: list[list[int]] = []
    for index, text in enumerate(texts):
        for group in groups:
            if all(similarity(text, texts[member]) >= threshold for member in group):
                group.append(index)
                break
        else:
            groups.append([index])
    return groups


__all__ = ["group_similar", "normalise", "numbers_of", "similarity"]
