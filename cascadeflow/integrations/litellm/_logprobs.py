"""Reading token log-probabilities out of a completion and turning them into a confidence.

Works on LiteLLM's ``ModelResponse`` objects and on plain dicts of the OpenAI shape, for
the chat form (``choices[0].logprobs.content[*].logprob``) and the legacy completion form
(``choices[0].logprobs.token_logprobs``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["LogprobSummary", "extract_logprobs"]

# A confidence is a probability strictly inside (0, 1): a mean logprob of exactly 0 (or
# one underflowing to -inf) would otherwise claim certainty (or impossibility).
_CONFIDENCE_FLOOR = 1e-9
_CONFIDENCE_CEILING = 1.0 - 1e-9


@dataclass(frozen=True, slots=True)
class LogprobSummary:
    """The log-probabilities of one response's first choice.

    Attributes:
        tokens: the generated tokens, in order (empty strings when the provider sent none).
        token_logprobs: the natural-log probability of each token.
        mean_logprob: the arithmetic mean of ``token_logprobs``.
        confidence: ``exp(mean_logprob)``, the geometric-mean token probability, kept
            strictly inside (0, 1).

    Example:
        >>> summary = extract_logprobs(response)
        >>> summary.confidence if summary else None
        0.93
    """

    tokens: tuple[str, ...]
    token_logprobs: tuple[float, ...]
    mean_logprob: float
    confidence: float

    def as_metadata(self) -> dict[str, float | int]:
        """The compact form kept in a ``CostEntry``'s metadata."""
        return {
            "logprob_mean": self.mean_logprob,
            "logprob_confidence": self.confidence,
            "logprob_tokens": len(self.token_logprobs),
        }


def _field(obj: object, name: str) -> object:
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _first_choice(response: object) -> object:
    choices = _field(response, "choices")
    if type(choices) is list:
        return choices[0] if choices else None
    if isinstance(choices, Sequence) and not isinstance(choices, str) and choices:
        return choices[0]
    return None


def _as_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if not math.isnan(number) else None


def _pairs(logprobs: object) -> list[tuple[str, float]]:
    content = _field(logprobs, "content")
    if isinstance(content, Sequence) and not isinstance(content, str):
        pairs: list[tuple[str, float]] = []
        for item in content:
            value = _as_float(_field(item, "logprob"))
            if value is not None:
                token = _field(item, "token")
                pairs.append((token if isinstance(token, str) else "", value))
        return pairs
    legacy = _field(logprobs, "token_logprobs")
    if isinstance(legacy, Sequence) and not isinstance(legacy, str):
        tokens = _field(logprobs, "tokens")
        names = list(tokens) if isinstance(tokens, Sequence) and not isinstance(tokens, str) else []
        legacy_pairs: list[tuple[str, float]] = []
        for index, item in enumerate(legacy):
            value = _as_float(item)
            if value is not None:
                name = names[index] if index < len(names) else ""
                legacy_pairs.append((name if isinstance(name, str) else "", value))
        return legacy_pairs
    return []


def extract_logprobs(response: object) -> LogprobSummary | None:
    """The token log-probabilities of ``response``'s first choice, or ``None`` without any.

    Confidence is the geometric mean of the token probabilities, ``exp(mean logprob)``,
    a number in (0, 1) that is comparable across responses of different lengths.

    Example:
        >>> response = litellm.completion(model="gpt-4o-mini", messages=msgs, logprobs=True)
        >>> summary = extract_logprobs(response)
        >>> summary is None or 0.0 < summary.confidence < 1.0
        True

    .. versionadded:: 0.1.0
    """
    choice = _first_choice(response)
    if choice is None:
        return None
    logprobs = _field(choice, "logprobs")
    if logprobs is None:
        return None
    pairs = _pairs(logprobs)
    if not pairs:
        return None
    values = tuple(value for _, value in pairs)
    mean = math.fsum(values) / len(values)
    confidence = math.exp(mean) if mean > -745.0 else 0.0
    confidence = min(max(confidence, _CONFIDENCE_FLOOR), _CONFIDENCE_CEILING)
    return LogprobSummary(
        tokens=tuple(token for token, _ in pairs),
        token_logprobs=values,
        mean_logprob=mean,
        confidence=confidence,
    )
