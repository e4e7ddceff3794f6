"""Drift detection: signs that a model is derailing while it streams.

:class:`DriftDetector` reads only the text added since its previous check. With
``l0(..., drift=DriftDetector(), retry_on_drift=True)`` a detected drift retries the attempt.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from dataclasses import dataclass, field

from cascadeflow.l0.guardrails._content_rules import PatternRule, RepetitionRule
from cascadeflow.l0.guardrails._types import GuardrailContext

__all__ = ["DriftDetector", "DriftResult"]

CONFIDENCE = {
    "meta_commentary": 0.9,
    "repetition": 0.8,
    "tone_shift": 0.7,
    "markdown_collapse": 0.7,
    "entropy_spike": 0.6,
    "format_collapse": 0.55,
    "hedging": 0.5,
}

_FORMAL = re.compile(r"\b(?:therefore|thus|hence|moreover|furthermore|consequently|"
                     r"notwithstanding|whereas|accordingly)\b", re.IGNORECASE)
_INFORMAL = re.compile(r"\b(?:gonna|wanna|gotta|yeah|yep|nope|lol|dude|kinda|sorta|okay|"
                       r"btw|omg)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"```|^#{1,6}\s|\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\n]+\)|^\s*[-*]\s",
                       re.MULTILINE)
_FORMAT_COLLAPSE = re.compile(
    r"\s*(?:(?:sure|certainly|of course|okay|ok|absolutely)[!,.]?\s+)?"
    r"(?:here is|here's|here are|below is|let me|i'll|i will)\b[^\n:]{0,60}:",
    re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DriftResult:
    """The outcome of one :meth:`DriftDetector.check`.

    Attributes:
        detected: whether drift worth acting on was found (confidence at or above the
            detector's ``min_confidence``).
        types: the kinds found in this check: ``meta_commentary``, ``tone_shift``,
            ``repetition``, ``entropy_spike``, ``format_collapse``, ``markdown_collapse``,
            ``hedging``.
        confidence: the highest confidence among ``types`` (0 when none).
        details: a short description per type, for logs.

    Example:
        >>> DriftResult(False, [], 0.0).detected
        False
    """

    detected: bool
    types: list[str] = field(default_factory=list)
    confidence: float = 0.0
    details: list[str] = field(default_factory=list)


class DriftDetector:
    """Detects a derailing model, incrementally.

    Signals: meta commentary ("as an AI language model"), repetition (a sentence said
    again and again, or a looping tail), a tone shift between consecutive blocks of text
    (formal markers, then informal, or the reverse), an entropy spike (a burst of random
    characters against the stream's own history), format collapse (the output opens by
    narrating: "Here is the answer:"), markdown collapse (a block rich in Markdown followed
    by one with none) and hedging ("Sure!" opening the output). Each check reads only the
    new text; blocks are ``block_size`` characters.

    Example:
        >>> detector = DriftDetector()
        >>> detector.check("As an AI language model, I think cats are great pets.").types
        ['meta_commentary']
    """

    def __init__(self, *, meta_commentary: bool = True, repetition: bool = True,
                 tone_shift: bool = True, entropy_spike: bool = True,
                 format_collapse: bool = True, markdown_collapse: bool = True,
                 hedging: bool = True, min_confidence: float = 0.6,
                 entropy_threshold: float = 2.5, entropy_window: int = 50,
                 block_size: int = 400) -> None:
        self.min_confidence = min_confidence
        self.entropy_threshold = entropy_threshold
        self.block_size = block_size
        self._meta = PatternRule(["meta_commentary"], None, scan_every=32) \
            if meta_commentary else None
        self._repetition = RepetitionRule(
            sentence_repeats=3, min_sentence_length=20, window=600, probe_length=16,
            probe_repeats=4, severity="warning") if repetition else None
        self._hedging = PatternRule(["hedging"], None) if hedging else None
        self._tone_shift = tone_shift
        self._entropy_spike = entropy_spike
        self._format_collapse = format_collapse
        self._markdown_collapse = markdown_collapse
        self._entropy_window = entropy_window
        self.reset()

    def reset(self) -> None:
        """Forget everything seen: call it when a new attempt starts."""
        for rule in (self._meta, self._repetition, self._hedging):
            if rule is not None:
                rule.reset()
        self._seen = 0
        self._block_start = 0
        self._previous_block: tuple[int, int, int] | None = None  # formal, informal, md
        self._entropies: deque[float] = deque(maxlen=self._entropy_window)
        self._opening_checked = not self._format_collapse

    def check(self, content: str, delta: str = "") -> DriftResult:
        """Look at the text added since the previous check; report the drift found in it.

        ``content`` is the whole text so far; ``delta`` is accepted for symmetry with the
        runtime's call but the detector tracks its own position in ``content``.
        """
        if len(content) < self._seen:
            self.reset()
        new_text = content[self._seen:]
        self._seen = len(content)
        found: dict[str, str] = {}
        context = GuardrailContext(content, new_text, False, 0)
        for kind, rule in (("meta_commentary", self._meta), ("repetition", self._repetition),
                           ("hedging", self._hedging)):
            if rule is not None:
                violations = rule.check(context)
                if violations:
                    found[kind] = violations[0].message
        if not self._opening_checked and (len(content) >= 100 or "\n" in content):
            self._opening_checked = True
            if _FORMAT_COLLAPSE.match(content, 0, 100):
                found["format_collapse"] = "the output opens by narrating instead of answering"
        if self._entropy_spike and len(new_text) >= 8:
            self._check_entropy(new_text, found)
        if self._tone_shift or self._markdown_collapse:
            while len(content) - self._block_start >= self.block_size:
                end = self._block_start + self.block_size
                self._check_block(content[self._block_start:end], found)
                self._block_start = end
        types = list(found)
        confidence = max((CONFIDENCE[kind] for kind in types), default=0.0)
        return DriftResult(bool(types) and confidence >= self.min_confidence, types, confidence,
                           [f"{kind}: {detail}" for kind, detail in found.items()])

    def _check_entropy(self, text: str, found: dict[str, str]) -> None:
        size = len(text)
        entropy = -sum(count / size * math.log2(count / size)
                       for count in Counter(text).values())
        history = self._entropies
        if len(history) >= 10:
            mean = sum(history) / len(history)
            deviation = math.sqrt(sum((value - mean) ** 2 for value in history) / len(history))
            if entropy > mean + self.entropy_threshold * deviation and entropy - mean > 0.4:
                found["entropy_spike"] = (f"entropy {entropy:.2f} bits against a mean of "
                                          f"{mean:.2f}")
        history.append(entropy)

    def _check_block(self, block: str, found: dict[str, str]) -> None:
        formal = len(_FORMAL.findall(block))
        informal = len(_INFORMAL.findall(block))
        markdown = len(_MARKDOWN.findall(block))
        previous = self._previous_block
        self._previous_block = (formal, informal, markdown)
        if previous is None:
            return
        if self._tone_shift and ((previous[0] >= 2 and informal >= 3 and formal == 0)
                                 or (previous[1] >= 3 and formal >= 2 and informal == 0)):
            found["tone_shift"] = "the register changed between consecutive blocks"
        if self._markdown_collapse and previous[2] >= 4 and markdown == 0:
            found["markdown_collapse"] = "Markdown formatting stopped abruptly"
