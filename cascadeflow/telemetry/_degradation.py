"""Degradation: which cheaper model to use when a budget runs low.

Each step of :data:`DEFAULT_DEGRADATION_MAP` is cheaper than the one before it by the price
book (see :func:`is_cheaper_per_token`), so degrading never costs more per token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from cascadeflow.pricing import ModelPrice, PriceBook, default_price_book

logger = logging.getLogger(__name__)

DegradationMap = Mapping[str, str | None]

#: Model -> next cheaper model of the same family (``None``: the family's cheapest).
#: Names are LiteLLM model strings as they appear in ``pricing/pricing.json``.
DEFAULT_DEGRADATION_MAP: dict[str, str | None] = {
    # OpenAI
    "gpt-4": "gpt-4-turbo",
    "gpt-4-turbo": "gpt-4o",
    "gpt-4o": "gpt-4o-mini",
    "gpt-4o-mini": "gpt-5-nano",
    "gpt-3.5-turbo": "gpt-4o-mini",
    "gpt-4.1": "gpt-4.1-mini",
    "gpt-4.1-mini": "gpt-4.1-nano",
    "gpt-4.1-nano": "gpt-5-nano",
    "gpt-5.5": "gpt-5.4",
    "gpt-5.4": "gpt-5.4-mini",
    "gpt-5.4-mini": "gpt-5.4-nano",
    "gpt-5.4-nano": "gpt-5-nano",
    "gpt-5.2": "gpt-5-mini",
    "gpt-5.1": "gpt-5-mini",
    "gpt-5": "gpt-5-mini",
    "gpt-5-mini": "gpt-5-nano",
    "gpt-5-nano": None,
    "o1": "o3",
    "o3": "o4-mini",
    "o3-mini": "gpt-5-mini",
    "o4-mini": "gpt-5-mini",
    # Anthropic
    "claude-opus-5": "claude-sonnet-5",
    "claude-sonnet-5": "claude-haiku-4-5",
    "claude-opus-4-8": "claude-sonnet-4-6",
    "claude-opus-4-7": "claude-sonnet-4-6",
    "claude-opus-4-6": "claude-sonnet-4-6",
    "claude-opus-4-5": "claude-sonnet-4-5",
    "claude-sonnet-4-6": "claude-haiku-4-5",
    "claude-sonnet-4-5": "claude-haiku-4-5",
    "claude-haiku-4-5": None,
    # Google Gemini (AI Studio names)
    "gemini/gemini-3.1-pro-preview": "gemini/gemini-2.5-pro",
    "gemini/gemini-2.5-pro": "gemini/gemini-2.5-flash",
    "gemini/gemini-3.5-flash": "gemini/gemini-3-flash-preview",
    "gemini/gemini-3-flash-preview": "gemini/gemini-2.5-flash",
    "gemini/gemini-2.5-flash": "gemini/gemini-2.5-flash-lite",
    "gemini/gemini-3.1-flash-lite": "gemini/gemini-2.5-flash-lite",
    "gemini/gemini-2.5-flash-lite": None,
    # Groq
    "groq/qwen/qwen3.8-27b": "groq/openai/gpt-oss-120b",
    "groq/openai/gpt-oss-120b": "groq/openai/gpt-oss-20b",
    "groq/openai/gpt-oss-20b": None,
    # Together AI
    "together_ai/meta-llama/Llama-3.1-405B-Instruct": (
        "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"
    ),
    "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo": (
        "together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
    ),
    "together_ai/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo": (
        "together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo"
    ),
    "together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": None,
    "together_ai/deepseek-ai/DeepSeek-R1-0528": "together_ai/deepseek-ai/DeepSeek-V3.1",
    "together_ai/deepseek-ai/DeepSeek-V3.1": "together_ai/deepseek-ai/DeepSeek-V4.1-Flash",
    "together_ai/deepseek-ai/DeepSeek-V4.1-Flash": None,
    "together_ai/deepseek-ai/DeepSeek-V3": "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "together_ai/Qwen/Qwen2.5-72B-Instruct-Turbo": "together_ai/Qwen/Qwen2.5-7B-Instruct-Turbo",
    "together_ai/Qwen/Qwen2.5-7B-Instruct-Turbo": None,
    # DeepSeek
    "deepseek/deepseek-v4-pro": "deepseek/deepseek-chat",
    "deepseek/deepseek-r1": "deepseek/deepseek-chat",
    "deepseek/deepseek-reasoner": "deepseek/deepseek-coder",
    "deepseek/deepseek-chat": "deepseek/deepseek-coder",
    "deepseek/deepseek-coder": None,
    # Mistral
    "mistral/mistral-medium-latest": "mistral/mistral-small-latest",
    "mistral/mistral-large-latest": "mistral/mistral-small-latest",
    "mistral/mistral-small-latest": "mistral/ministral-8b-latest",
    "mistral/magistral-medium-latest": "mistral/magistral-small-latest",
    "mistral/magistral-small-latest": "mistral/ministral-8b-latest",
    "mistral/codestral-latest": "mistral/ministral-8b-latest",
    "mistral/open-mistral-nemo": "mistral/ministral-8b-latest",
    "mistral/ministral-8b-latest": "mistral/ministral-3b-latest",
    "mistral/ministral-3b-latest": None,
}


def is_cheaper_per_token(cheaper: ModelPrice, dearer: ModelPrice) -> bool:
    """True when ``cheaper`` costs less per token than ``dearer`` for every mix of tokens.

    "Cheaper per token" means: neither the input nor the output price is higher, and the sum
    of the two is strictly lower. Every step of :data:`DEFAULT_DEGRADATION_MAP` satisfies it.

    Example:
        >>> book = default_price_book()
        >>> is_cheaper_per_token(book.get("gpt-4o-mini"), book.get("gpt-4o"))
        True
    """
    return (
        cheaper.input_cost_per_token <= dearer.input_cost_per_token
        and cheaper.output_cost_per_token <= dearer.output_cost_per_token
        and cheaper.input_cost_per_token + cheaper.output_cost_per_token
        < dearer.input_cost_per_token + dearer.output_cost_per_token
    )


def _map_key(model: str, mapping: DegradationMap, book: PriceBook | None) -> str | None:
    """The key of ``mapping`` that stands for ``model``: itself, or the same priced model
    spelled another way ("openai/gpt-4o" for "gpt-4o")."""
    if model in mapping:
        return model
    book = book if book is not None else default_price_book()
    price = book.find(model)
    if price is None:
        return None
    for key in mapping:
        other = book.find(key)
        if other is not None and other.model == price.model:
            return key
    return None


def get_cheaper_model(
    model: str,
    degradation_map: DegradationMap | None = None,
    *,
    price_book: PriceBook | None = None,
) -> str | None:
    """The next cheaper model after ``model``, or ``None`` for a family's cheapest model and
    for a model the map does not know (1.2.0 wrongly answered "gpt-3.5-turbo" there).

    ``model`` may be spelled with or without its LiteLLM provider prefix; ``price_book``
    (default: :func:`~cascadeflow.pricing.default_price_book`) decides what is the same model.

    Example:
        >>> get_cheaper_model("gpt-4o")
        'gpt-4o-mini'
        >>> get_cheaper_model("my-own-model") is None
        True
        >>> get_cheaper_model("gpt-4", degradation_map={"gpt-4": "gpt-4o-mini"})
        'gpt-4o-mini'
    """
    mapping = DEFAULT_DEGRADATION_MAP if degradation_map is None else degradation_map
    key = _map_key(model, mapping, price_book)
    if key is None:
        logger.debug("no degradation for %s: not in the degradation map", model)
        return None
    return mapping[key]


def get_degradation_chain(
    model: str,
    degradation_map: DegradationMap | None = None,
    *,
    price_book: PriceBook | None = None,
) -> list[str]:
    """The cheaper models after ``model``, nearest first (empty when there is none).

    Loop-safe: a custom map with a cycle ends the chain before it repeats a model.

    Example:
        >>> get_degradation_chain("gpt-4o")
        ['gpt-4o-mini', 'gpt-5-nano']
        >>> get_degradation_chain("a", degradation_map={"a": "b", "b": "a"})
        ['b']
    """
    mapping = DEFAULT_DEGRADATION_MAP if degradation_map is None else degradation_map
    chain: list[str] = []
    seen = {model}
    current = model
    while True:
        cheaper = get_cheaper_model(current, mapping, price_book=price_book)
        if cheaper is None:
            return chain
        if cheaper in seen:
            logger.warning(
                "degradation map has a loop: %s leads back to %s; chain cut there", current, cheaper
            )
            return chain
        chain.append(cheaper)
        seen.add(cheaper)
        current = cheaper


def estimate_cost_savings(
    from_model: str, to_model: str, *, price_book: PriceBook | None = None
) -> float | None:
    """The fraction (0..1) saved per token by calling ``to_model`` instead of ``from_model``.

    Computed from the price book on the sum of the input and output per-token prices;
    ``0.0`` when ``to_model`` is not cheaper; ``None`` when either model has no price.

    Example:
        >>> round(estimate_cost_savings("gpt-4o", "gpt-4o-mini"), 3)
        0.94
    """
    book = price_book if price_book is not None else default_price_book()
    dearer, cheaper = book.find(from_model), book.find(to_model)
    if dearer is None or cheaper is None:
        logger.debug("no savings estimate: %s or %s has no price", from_model, to_model)
        return None
    from_cost = dearer.input_cost_per_token + dearer.output_cost_per_token
    to_cost = cheaper.input_cost_per_token + cheaper.output_cost_per_token
    if from_cost <= 0:
        return 0.0
    return max(0.0, min(1.0, (from_cost - to_cost) / from_cost))


__all__ = [
    "DEFAULT_DEGRADATION_MAP",
    "estimate_cost_savings",
    "get_cheaper_model",
    "get_degradation_chain",
    "is_cheaper_per_token",
]
