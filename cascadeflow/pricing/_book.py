"""The price book: per-token prices read from ``pricing/pricing.json``, without LiteLLM.

The file is written by ``scripts/sync_pricing.py`` from LiteLLM's model map; reading it
needs only the standard library, so the ledger can price a request without importing LiteLLM.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from pathlib import Path
from typing import Any

from cascadeflow._exceptions import PricingError, UnknownModelError

#: The version of the pricing file layout this module reads and ``sync_pricing`` writes.
SCHEMA_VERSION = 1

#: Environment variable naming a pricing file that replaces the default one.
PRICING_FILE_ENV = "CASCADEFLOW_PRICING_FILE"

# LiteLLM routing prefixes that may be missing from a (small) map's provider values but are
# used in model strings ("hosted_vllm/...", "anthropic/..."); always treated as prefixes.
_KNOWN_ROUTING_PREFIXES = frozenset(
    {
        "anthropic",
        "azure",
        "deepseek",
        "gemini",
        "groq",
        "hosted_vllm",
        "huggingface",
        "mistral",
        "ollama",
        "ollama_chat",
        "openai",
        "together_ai",
        "vertex_ai",
        "vllm",
    }
)

_NANOS_PER_USD = Decimal(1_000_000_000)
# Token counts times prices with up to ~17 significant digits: 60 digits is never inexact.
_EXACT = Context(prec=60)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The price and limits of one model, as LiteLLM's model map lists them.

    Prices are USD per token; ``None`` means the map gives no such price or limit.

    Example:
        >>> price = default_price_book().get("gpt-4o")
        >>> price.provider, price.input_cost_per_token
        ('openai', 2.5e-06)
    """

    model: str
    provider: str
    mode: str
    input_cost_per_token: float
    output_cost_per_token: float
    cache_read_cost_per_token: float | None
    cache_write_cost_per_token: float | None
    max_input_tokens: int | None
    max_output_tokens: int | None


def require_token_count(value: object, name: str) -> int:
    """``value`` if it is a non-negative int (not a bool), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def as_price(value: object) -> float | None:
    """``value`` as a per-token price if it is a finite number >= 0 (not a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def as_token_limit(value: object) -> int | None:
    """``value`` as a token limit if it is a whole number >= 0 (``1e6`` counts), else ``None``."""
    number = as_price(value)
    return int(number) if number is not None and number.is_integer() else None


def _price_field(
    entry: Mapping[str, Any], model: str, name: str, *, required: bool
) -> float | None:
    value = entry.get(name)
    if value is None:
        if required:
            raise PricingError(f"pricing entry {model!r} has no {name}")
        return None
    price = as_price(value)
    if price is None:
        raise PricingError(f"pricing entry {model!r}: {name} must be a number >= 0, got {value!r}")
    return price


def _limit_field(entry: Mapping[str, Any], model: str, name: str) -> int | None:
    value = entry.get(name)
    limit = as_token_limit(value)
    if value is not None and limit is None:
        raise PricingError(f"pricing entry {model!r}: {name} must be a non-negative integer")
    return limit


def _parse_entry(model: str, entry: object) -> ModelPrice:
    if not isinstance(entry, Mapping):
        raise PricingError(f"pricing entry {model!r} must be an object")
    provider = entry.get("provider")
    mode = entry.get("mode")
    if not isinstance(provider, str) or not isinstance(mode, str):
        raise PricingError(f"pricing entry {model!r} needs string 'provider' and 'mode'")
    input_cost = _price_field(entry, model, "input_cost_per_token", required=True)
    output_cost = _price_field(entry, model, "output_cost_per_token", required=True)
    assert input_cost is not None and output_cost is not None  # required=True guarantees it
    return ModelPrice(
        model=model,
        provider=provider,
        mode=mode,
        input_cost_per_token=input_cost,
        output_cost_per_token=output_cost,
        cache_read_cost_per_token=_price_field(
            entry, model, "cache_read_cost_per_token", required=False
        ),
        cache_write_cost_per_token=_price_field(
            entry, model, "cache_write_cost_per_token", required=False
        ),
        max_input_tokens=_limit_field(entry, model, "max_input_tokens"),
        max_output_tokens=_limit_field(entry, model, "max_output_tokens"),
    )


def same_litellm_provider(prefix: str, provider: str) -> bool:
    """Whether the routing prefix ``prefix`` ("vertex_ai") names LiteLLM provider ``provider``."""
    # LiteLLM spells one provider several ways: "vertex_ai/..." for "vertex_ai-language-models",
    # "ollama_chat/..." for "ollama", "together/..." for "together_ai".
    return (
        prefix == provider
        or provider.startswith(prefix + "-")
        or prefix.startswith(provider + "_")
        or provider.startswith(prefix + "_")
    )


def exact_cost_usd(*terms: tuple[float, int]) -> Decimal:
    """The exact USD sum of ``price_per_token * tokens`` terms, prices read as written.

    Example:
        >>> float(exact_cost_usd((2.5e-06, 1000), (1e-05, 200)))
        0.0045
    """
    total = Decimal(0)
    for price, tokens in terms:
        total = _EXACT.add(total, _EXACT.multiply(Decimal(str(price)), Decimal(tokens)))
    return total


def _nanos_per_token(price: float) -> Decimal:
    # str(float) is the shortest decimal that round-trips, i.e. exactly what the file says.
    return _EXACT.multiply(Decimal(str(price)), _NANOS_PER_USD)


class PriceBook:
    """Per-token prices of the models in LiteLLM's map, looked up by LiteLLM model string.

    Lookup tries the exact name first, then the name with a LiteLLM provider prefix
    stripped (``"openai/gpt-4o"`` finds ``"gpt-4o"``) or added (``"ministral-3b-latest"``
    finds ``"mistral/ministral-3b-latest"``); otherwise names are case-sensitive. An unknown
    model raises :class:`~cascadeflow._exceptions.UnknownModelError`: never a silent zero.

    Example:
        >>> book = PriceBook.load()
        >>> book.estimate_cost_nanos("gpt-4o", prompt_tokens=1000, completion_tokens=200)
        4500000
    """

    __slots__ = ("_aliases", "_nanos", "_prefixes", "_prices", "litellm_version", "schema_version")

    def __init__(
        self,
        prices: Mapping[str, ModelPrice],
        *,
        schema_version: int = SCHEMA_VERSION,
        litellm_version: str | None = None,
    ) -> None:
        self.schema_version = schema_version
        self.litellm_version = litellm_version
        self._prices: dict[str, ModelPrice] = dict(prices)
        # Exact per-token prices in nano-dollars, computed on a model's first estimate.
        self._nanos: dict[str, tuple[Decimal, Decimal]] = {}
        self._prefixes = self._routing_prefixes()
        self._aliases = self._prefix_aliases()

    # --- construction -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceBook:
        """Build a price book from the parsed contents of a pricing file.

        Raises :class:`~cascadeflow._exceptions.PricingError` when the data does not have
        the pricing file's shape (a newer schema, a missing price, a negative price...).

        Example:
            >>> book = PriceBook.from_dict({"schema_version": 1, "models": {"m": {
            ...     "provider": "openai", "mode": "chat",
            ...     "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}})
            >>> book.estimate_cost("m", 10, 10)
            3e-05
        """
        if not isinstance(data, Mapping):
            raise PricingError("pricing data must be a JSON object")
        schema_version = data.get("schema_version")
        if isinstance(schema_version, bool) or not isinstance(schema_version, int):
            raise PricingError("pricing data has no integer 'schema_version'")
        if schema_version > SCHEMA_VERSION or schema_version < 1:
            raise PricingError(
                f"pricing schema_version {schema_version} is not supported "
                f"(this cascadeflow reads version {SCHEMA_VERSION})"
            )
        litellm_version = data.get("litellm_version")
        if litellm_version is not None and not isinstance(litellm_version, str):
            raise PricingError("pricing 'litellm_version' must be a string or null")
        models = data.get("models")
        if not isinstance(models, Mapping):
            raise PricingError("pricing data has no 'models' object")
        prices = {str(name): _parse_entry(str(name), entry) for name, entry in models.items()}
        return cls(prices, schema_version=schema_version, litellm_version=litellm_version)

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceBook:
        """Read a pricing file; ``None`` reads the default one (see :func:`default_pricing_path`).

        Example:
            >>> book = PriceBook.load("pricing/pricing.json")
            >>> "gpt-4o" in book
            True
        """
        if path is None:
            text = _read_default_file()
            where = "the default pricing file"
        else:
            where = str(path)
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise PricingError(f"cannot read pricing file {where}: {exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PricingError(f"pricing file {where} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    # --- lookup -------------------------------------------------------------------------

    def find(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or ``None`` when the book does not know it.

        Example:
            >>> default_price_book().find("openai/gpt-4o").model
            'gpt-4o'
        """
        name = self._resolve(model)
        return None if name is None else self._prices[name]

    def get(self, model: str) -> ModelPrice:
        """The price of ``model``; raises ``UnknownModelError`` when the book does not know it.

        Example:
            >>> default_price_book().get("gpt-4o").output_cost_per_token
            1e-05
        """
        price = self.find(model)
        if price is None:
            raise UnknownModelError(
                model, "run `cascadeflow sync-pricing` or set CASCADEFLOW_PRICING_FILE"
            )
        return price

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self._resolve(model) is not None

    def __len__(self) -> int:
        return len(self._prices)

    def models(self) -> list[str]:
        """Every model name in the book, sorted."""
        return sorted(self._prices)

    def __repr__(self) -> str:
        return (
            f"PriceBook({len(self._prices)} models, schema_version={self.schema_version}, "
            f"litellm_version={self.litellm_version!r})"
        )

    # --- estimation ---------------------------------------------------------------------

    def estimate_cost_nanos(self, model: str, prompt_tokens: int, completion_tokens: int) -> int:
        """The exact cost in integer nano-dollars (rounded half-even once, at the end).

        Example:
            >>> default_price_book().estimate_cost_nanos("gpt-4o", 1000, 200)
            4500000
        """
        return int(
            self._exact_cost_nanos(model, prompt_tokens, completion_tokens).to_integral_value(
                rounding=ROUND_HALF_EVEN
            )
        )

    def estimate_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost in USD of ``prompt_tokens`` in and ``completion_tokens`` out of ``model``.

        Example:
            >>> default_price_book().estimate_cost("gpt-4o", 1000, 200)
            0.0045
        """
        exact = self._exact_cost_nanos(model, prompt_tokens, completion_tokens)
        return float(_EXACT.divide(exact, _NANOS_PER_USD))

    def _exact_cost_nanos(self, model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
        prompt = require_token_count(prompt_tokens, "prompt_tokens")
        completion = require_token_count(completion_tokens, "completion_tokens")
        name = self.get(model).model
        nanos = self._nanos.get(name)
        if nanos is None:
            price = self._prices[name]
            nanos = (
                _nanos_per_token(price.input_cost_per_token),
                _nanos_per_token(price.output_cost_per_token),
            )
            self._nanos[name] = nanos
        input_nanos, output_nanos = nanos
        return _EXACT.add(
            _EXACT.multiply(input_nanos, Decimal(prompt)),
            _EXACT.multiply(output_nanos, Decimal(completion)),
        )

    # --- name resolution ----------------------------------------------------------------

    def _routing_prefixes(self) -> frozenset[str]:
        providers = {p.provider for p in self._prices.values()}
        # "vertex_ai/..." keys carry providers such as "vertex_ai-language-models".
        prefixed = {
            name.split("/", 1)[0]
            for name, p in self._prices.items()
            if "/" in name and p.provider.startswith(name.split("/", 1)[0])
        }
        return frozenset(providers | prefixed | _KNOWN_ROUTING_PREFIXES)

    def _prefix_aliases(self) -> dict[str, str]:
        # Map "rest" to "provider/rest" for names the map lists only with a prefix. A name
        # listed under several prefixes at different prices ("mistral-large-latest" under
        # azure/ and mistral/) gets no alias: guessing would misprice, so it stays unknown.
        # Aggregator entries ("openrouter/anthropic/x") are never aliased as "anthropic/x".
        candidates: dict[str, list[str]] = {}
        for name in sorted(self._prices):
            prefix, sep, rest = name.partition("/")
            if not sep or prefix not in self._prefixes or rest in self._prices:
                continue
            if rest.partition("/")[0] in self._prefixes:
                continue
            candidates.setdefault(rest, []).append(name)

        def rates(name: str) -> tuple[float, float]:
            price = self._prices[name]
            return price.input_cost_per_token, price.output_cost_per_token

        return {
            rest: names[0]
            for rest, names in candidates.items()
            if len({rates(name) for name in names}) == 1
        }

    def _resolve(self, model: str) -> str | None:
        if model in self._prices:
            return model
        prefix, sep, rest = model.partition("/")
        if not sep or prefix not in self._prefixes:
            return self._aliases.get(model)
        # "openai/gpt-4o" is "gpt-4o"; but "hosted_vllm/Qwen/x" is not deepinfra's "Qwen/x":
        # a stripped prefix must name the provider of the entry it leads to.
        name = rest if rest in self._prices else self._aliases.get(rest)
        if name is not None and same_litellm_provider(prefix, self._prices[name].provider):
            return name
        return None

    def providers(self) -> frozenset[str]:
        """Every LiteLLM provider name (``litellm_provider``) that has a model in the book."""
        return frozenset(p.provider for p in self._prices.values())


def default_pricing_path() -> Path | None:
    """The checkout's ``pricing/pricing.json`` when running from a checkout, else ``None``.

    ``None`` means the copy packaged inside the wheel (``cascadeflow/pricing/pricing.json``)
    is used.
    """
    candidate = Path(__file__).resolve().parents[2] / "pricing" / "pricing.json"
    return candidate if candidate.is_file() else None


def _read_default_file() -> str:
    checkout = default_pricing_path()
    try:
        if checkout is not None:
            return checkout.read_text(encoding="utf-8")
        packaged = importlib.resources.files("cascadeflow.pricing") / "pricing.json"
        return packaged.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricingError(f"cannot read the default pricing file: {exc}") from exc


@functools.lru_cache(maxsize=8)
def _cached_book(path: str | None) -> PriceBook:
    return PriceBook.load(path)


def default_price_book() -> PriceBook:
    """The shared price book: ``$CASCADEFLOW_PRICING_FILE`` if set, else the default file.

    Loaded once per file and cached.

    Example:
        >>> default_price_book().get("gpt-4o-mini").provider
        'openai'
    """
    override = os.environ.get(PRICING_FILE_ENV) or None
    return _cached_book(override)


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """The USD cost of a call to ``model``, priced by :func:`default_price_book`.

    Raises ``UnknownModelError`` for a model the book does not know, and ``ValueError``
    for a negative or non-integer token count.

    Example:
        >>> estimate_cost("gpt-4o-mini", prompt_tokens=1000, completion_tokens=500)
        0.00045
    """
    return default_price_book().estimate_cost(model, prompt_tokens, completion_tokens)
