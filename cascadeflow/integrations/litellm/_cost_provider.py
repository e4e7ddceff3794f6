"""Per-call cost from LiteLLM's model map, then cascadeflow's price book, then a default.

``LiteLLMCostProvider`` keeps cascadeflow 1.2.0's interface. LiteLLM is imported on the
first lookup, not on import.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cascadeflow._exceptions import UnknownModelError
from cascadeflow.pricing import PriceBook, default_price_book
from cascadeflow.pricing._book import (
    as_price,
    as_token_limit,
    exact_cost_usd,
    require_token_count,
    same_litellm_provider,
)

logger = logging.getLogger(__name__)

#: Price per input token (USD) used for a model nobody prices, when fallback is enabled:
#: $1 per million tokens, the same default cascadeflow 1.2.0 used.
DEFAULT_INPUT_COST_PER_TOKEN = 1e-06
#: Price per output token (USD) for an unpriced model when fallback is enabled: $2 per million.
DEFAULT_OUTPUT_COST_PER_TOKEN = 2e-06
#: ``max_tokens`` reported by :meth:`LiteLLMCostProvider.get_model_cost` when nothing is known.
DEFAULT_MAX_TOKENS = 4096

_warned_lock = threading.Lock()
_warned_models: set[str] = set()


@dataclass(frozen=True, slots=True)
class _Rates:
    input_cost_per_token: float
    output_cost_per_token: float
    cache_read_cost_per_token: float | None
    cache_write_cost_per_token: float | None
    max_tokens: int | None
    supports_streaming: bool
    source: str


def _rates_from_litellm_entry(entry: Mapping[str, Any]) -> _Rates | None:
    input_cost = as_price(entry.get("input_cost_per_token"))
    if input_cost is None:
        return None  # priced per second / per image / not at all: not a per-token price
    output_cost = as_price(entry.get("output_cost_per_token"))
    if output_cost is None:
        if entry.get("mode") != "embedding":
            return None  # output priced otherwise: never bill it as free
        output_cost = 0.0  # embeddings produce no output tokens
    return _Rates(
        input_cost_per_token=input_cost,
        output_cost_per_token=output_cost,
        cache_read_cost_per_token=as_price(entry.get("cache_read_input_token_cost")),
        cache_write_cost_per_token=as_price(entry.get("cache_creation_input_token_cost")),
        max_tokens=as_token_limit(entry.get("max_output_tokens", entry.get("max_tokens"))),
        supports_streaming=entry.get("supports_streaming") is not False,
        source="litellm",
    )


def _litellm_model_map() -> Mapping[str, Any] | None:
    try:
        import litellm
    except ImportError:  # pragma: no cover - litellm is a dependency; kept for slim installs
        logger.debug("litellm is not importable; pricing from pricing/pricing.json only")
        return None
    model_map: Mapping[str, Any] = litellm.model_cost
    return model_map


class LiteLLMCostProvider:
    """The cost of a call, priced by LiteLLM's model map, then by ``pricing/pricing.json``.

    A model found in neither raises :class:`~cascadeflow._exceptions.UnknownModelError`
    when ``fallback_enabled`` is False. When it is True (the default) the model is priced at
    :data:`DEFAULT_INPUT_COST_PER_TOKEN` / :data:`DEFAULT_OUTPUT_COST_PER_TOKEN`
    ($1 / $2 per million tokens) and a warning is logged, once per model per process.

    ``model_map`` replaces LiteLLM's map (default: ``litellm.model_cost``, read on every
    lookup so models added with ``litellm.register_model`` count); ``price_book`` replaces
    :func:`~cascadeflow.pricing.default_price_book`.

    Example:
        >>> provider = LiteLLMCostProvider(fallback_enabled=False)
        >>> provider.calculate_cost("gpt-4o", input_tokens=1000, output_tokens=200)
        0.0045
    """

    def __init__(
        self,
        fallback_enabled: bool = True,
        *,
        model_map: Mapping[str, Any] | None = None,
        price_book: PriceBook | None = None,
    ) -> None:
        self.fallback_enabled = fallback_enabled
        self._model_map = model_map
        self._price_book = price_book

    def __repr__(self) -> str:
        return f"LiteLLMCostProvider(fallback_enabled={self.fallback_enabled})"

    def calculate_cost(
        self, model: str, input_tokens: int = 0, output_tokens: int = 0, **kwargs: Any
    ) -> float:
        """The USD cost of ``input_tokens`` in and ``output_tokens`` out of ``model``.

        ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` (keyword, LiteLLM's
        usage names) are billed on top of ``input_tokens`` at the model's cache prices, or at
        its input price when it has none; pass only uncached tokens as ``input_tokens``. Other
        keywords are accepted for compatibility with 1.2.0 and ignored.

        Example:
            >>> LiteLLMCostProvider().calculate_cost("gpt-4o-mini", 1000, 500)
            0.00045
        """
        prompt = require_token_count(input_tokens, "input_tokens")
        completion = require_token_count(output_tokens, "output_tokens")
        cache_read = require_token_count(
            kwargs.pop("cache_read_input_tokens", 0), "cache_read_input_tokens"
        )
        cache_write = require_token_count(
            kwargs.pop("cache_creation_input_tokens", 0), "cache_creation_input_tokens"
        )
        if kwargs:
            logger.debug("calculate_cost(%s) ignores %s", model, sorted(kwargs))
        rates = self._rates(model)
        read_price = rates.cache_read_cost_per_token
        write_price = rates.cache_write_cost_per_token
        total = exact_cost_usd(
            (rates.input_cost_per_token, prompt),
            (rates.output_cost_per_token, completion),
            (rates.input_cost_per_token if read_price is None else read_price, cache_read),
            (rates.input_cost_per_token if write_price is None else write_price, cache_write),
        )
        return float(total)

    def get_model_cost(self, model: str) -> dict[str, Any]:
        """Per-token prices and limits of ``model``.

        Keys: ``input_cost_per_token``, ``output_cost_per_token``, ``max_tokens`` (output
        limit), ``supports_streaming``, and ``source`` (``"litellm"``, ``"pricing_file"`` or
        ``"default"``).

        Example:
            >>> LiteLLMCostProvider().get_model_cost("gpt-4o")["output_cost_per_token"]
            1e-05
        """
        rates = self._rates(model)
        return {
            "input_cost_per_token": rates.input_cost_per_token,
            "output_cost_per_token": rates.output_cost_per_token,
            "max_tokens": DEFAULT_MAX_TOKENS if rates.max_tokens is None else rates.max_tokens,
            "supports_streaming": rates.supports_streaming,
            "source": rates.source,
        }

    # --- lookup -------------------------------------------------------------------------

    def _rates(self, model: str) -> _Rates:
        rates = self._from_litellm(model) or self._from_price_book(model)
        if rates is not None:
            return rates
        if not self.fallback_enabled:
            raise UnknownModelError(model, "not in LiteLLM's model map nor pricing/pricing.json")
        with _warned_lock:
            first_time = model not in _warned_models
            _warned_models.add(model)
        if first_time:
            logger.warning(
                "no price for model %r in LiteLLM's map or pricing/pricing.json; "
                "using the default $%s/$%s per million input/output tokens",
                model,
                DEFAULT_INPUT_COST_PER_TOKEN * 1e6,
                DEFAULT_OUTPUT_COST_PER_TOKEN * 1e6,
            )
        return _Rates(
            input_cost_per_token=DEFAULT_INPUT_COST_PER_TOKEN,
            output_cost_per_token=DEFAULT_OUTPUT_COST_PER_TOKEN,
            cache_read_cost_per_token=None,
            cache_write_cost_per_token=None,
            max_tokens=None,
            supports_streaming=True,
            source="default",
        )

    def _from_litellm(self, model: str) -> _Rates | None:
        model_map = self._model_map if self._model_map is not None else _litellm_model_map()
        if model_map is None:
            return None
        entry = model_map.get(model)
        if isinstance(entry, Mapping):
            rates = _rates_from_litellm_entry(entry)
            if rates is not None:
                return rates
        prefix, sep, rest = model.partition("/")
        entry = model_map.get(rest) if sep else None
        if isinstance(entry, Mapping):
            provider = entry.get("litellm_provider")
            if isinstance(provider, str) and same_litellm_provider(prefix, provider):
                return _rates_from_litellm_entry(entry)
        return None

    def _from_price_book(self, model: str) -> _Rates | None:
        book = self._price_book if self._price_book is not None else default_price_book()
        price = book.find(model)
        if price is None:
            return None
        return _Rates(
            input_cost_per_token=price.input_cost_per_token,
            output_cost_per_token=price.output_cost_per_token,
            cache_read_cost_per_token=price.cache_read_cost_per_token,
            cache_write_cost_per_token=price.cache_write_cost_per_token,
            max_tokens=price.max_output_tokens,
            supports_streaming=True,
            source="pricing_file",
        )


_default_provider = LiteLLMCostProvider()


def calculate_cost(
    model: str, input_tokens: int = 0, output_tokens: int = 0, **kwargs: Any
) -> float:
    """:meth:`LiteLLMCostProvider.calculate_cost` on a shared provider with fallback enabled.

    Example:
        >>> calculate_cost("gpt-4o", input_tokens=1000, output_tokens=200)
        0.0045
    """
    return _default_provider.calculate_cost(model, input_tokens, output_tokens, **kwargs)


def get_model_cost(model: str) -> dict[str, Any]:
    """:meth:`LiteLLMCostProvider.get_model_cost` on a shared provider with fallback enabled.

    Example:
        >>> get_model_cost("gpt-4o-mini")["input_cost_per_token"]
        1.5e-07
    """
    return _default_provider.get_model_cost(model)
