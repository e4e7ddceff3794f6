"""LiteLLMCostProvider: LiteLLM's prices first, then pricing.json, then a logged default."""

from __future__ import annotations

import doctest
import logging
import uuid
from collections.abc import Iterator

import litellm
import pytest

from cascadeflow._exceptions import UnknownModelError
from cascadeflow.integrations.litellm import _cost_provider
from cascadeflow.integrations.litellm._cost_provider import (
    DEFAULT_INPUT_COST_PER_TOKEN,
    DEFAULT_MAX_TOKENS,
    DEFAULT_OUTPUT_COST_PER_TOKEN,
    LiteLLMCostProvider,
    calculate_cost,
    get_model_cost,
)
from cascadeflow.pricing import PriceBook, default_price_book

LOGGER = "cascadeflow.integrations.litellm._cost_provider"


@pytest.fixture
def strict() -> LiteLLMCostProvider:
    return LiteLLMCostProvider(fallback_enabled=False)


@pytest.fixture
def unpriced_model() -> str:
    """A model name no price source knows, fresh per test (the warning is once per model)."""
    return f"house-model-{uuid.uuid4().hex}"


@pytest.fixture
def registered_model() -> Iterator[str]:
    """A model added to LiteLLM's live map with register_model, removed afterwards."""
    name = f"custom-{uuid.uuid4().hex}"
    litellm.register_model(
        {
            name: {
                "litellm_provider": "openai",
                "mode": "chat",
                "input_cost_per_token": 3e-06,
                "output_cost_per_token": 7e-06,
                "max_output_tokens": 1234,
            }
        }
    )
    yield name
    litellm.model_cost.pop(name, None)


def test_cost_matches_litellms_own_cost_per_token(strict: LiteLLMCostProvider) -> None:
    prompt_cost, completion_cost = litellm.cost_per_token(
        model="gpt-4o", prompt_tokens=1000, completion_tokens=200
    )
    ours = strict.calculate_cost("gpt-4o", input_tokens=1000, output_tokens=200)
    assert ours == pytest.approx(prompt_cost + completion_cost, rel=1e-12)
    entry = litellm.model_cost["gpt-4o"]
    assert ours == pytest.approx(
        1000 * entry["input_cost_per_token"] + 200 * entry["output_cost_per_token"], rel=1e-12
    )


def test_model_cost_comes_from_litellms_map(strict: LiteLLMCostProvider) -> None:
    entry = litellm.model_cost["claude-haiku-4-5"]
    assert strict.get_model_cost("claude-haiku-4-5") == {
        "input_cost_per_token": entry["input_cost_per_token"],
        "output_cost_per_token": entry["output_cost_per_token"],
        "max_tokens": entry["max_output_tokens"],
        "supports_streaming": True,
        "source": "litellm",
    }


def test_provider_prefixed_names_find_litellms_bare_entry(strict: LiteLLMCostProvider) -> None:
    assert strict.get_model_cost("openai/gpt-4o")["source"] == "litellm"
    assert strict.calculate_cost("openai/gpt-4o", 1000, 200) == strict.calculate_cost(
        "gpt-4o", 1000, 200
    )
    # A prefix naming another provider does not borrow OpenAI's price.
    with pytest.raises(UnknownModelError):
        strict.get_model_cost("groq/gpt-4o")


def test_models_registered_with_litellm_at_runtime_are_priced(
    strict: LiteLLMCostProvider, registered_model: str
) -> None:
    assert strict.calculate_cost(registered_model, 1_000_000, 1_000_000) == 10.0
    assert strict.get_model_cost(registered_model)["max_tokens"] == 1234


def _prefixed_only_chat_model() -> tuple[str, str]:
    """A chat model LiteLLM's installed map lists only under ``provider/name``.

    Chosen from the installed map (the first in name order) so the test follows whichever
    LiteLLM release is installed instead of one release's model list.
    """
    book = default_price_book()
    for key in sorted(litellm.model_cost):
        entry = litellm.model_cost[key]
        prefix, _, bare = key.partition("/")
        if (not bare or "/" in bare or bare in litellm.model_cost
                or entry.get("mode") != "chat" or entry.get("litellm_provider") != prefix
                or not entry.get("input_cost_per_token")
                or not entry.get("output_cost_per_token")):
            continue
        if LiteLLMCostProvider(fallback_enabled=False, price_book=book)._from_litellm(bare):
            continue  # LiteLLM resolves the bare name itself
        try:
            book.estimate_cost(bare, 1, 1)
        except UnknownModelError:
            continue
        return key, bare
    raise AssertionError("the installed LiteLLM map has no provider-prefixed-only chat model")


def test_pricing_file_prices_what_litellms_map_does_not_name(
    strict: LiteLLMCostProvider,
) -> None:
    # LiteLLM lists it only as "<provider>/<name>"; the price book adds the prefix.
    prefixed, bare = _prefixed_only_chat_model()
    assert bare not in litellm.model_cost
    cost = strict.get_model_cost(bare)
    assert cost["source"] == "pricing_file"
    assert cost["input_cost_per_token"] == litellm.model_cost[prefixed]["input_cost_per_token"]
    assert strict.calculate_cost(bare, 1000, 1000) == pytest.approx(
        default_price_book().estimate_cost(prefixed, 1000, 1000)
    )


def test_a_given_model_map_and_price_book_replace_the_defaults() -> None:
    book = PriceBook.from_dict(
        {
            "schema_version": 1,
            "models": {
                "book-model": {
                    "provider": "openai",
                    "mode": "chat",
                    "input_cost_per_token": 1e-06,
                    "output_cost_per_token": 1e-06,
                    "max_output_tokens": 99,
                }
            },
        }
    )
    provider = LiteLLMCostProvider(
        fallback_enabled=False,
        model_map={
            "map-model": {"mode": "embedding", "input_cost_per_token": 2e-06},
            "half-priced": {"mode": "chat", "input_cost_per_token": 2e-06},
        },
        price_book=book,
    )
    assert provider.calculate_cost("map-model", 10, 0) == 2e-05  # an embedding: no output
    with pytest.raises(UnknownModelError):  # a chat model without output price is not free
        provider.calculate_cost("half-priced", 10, 10)
    assert provider.get_model_cost("book-model")["max_tokens"] == 99
    with pytest.raises(UnknownModelError):
        provider.calculate_cost("gpt-4o", 1, 1)


def test_unknown_model_raises_when_fallback_is_disabled(
    strict: LiteLLMCostProvider, unpriced_model: str
) -> None:
    with pytest.raises(UnknownModelError) as excinfo:
        strict.calculate_cost(unpriced_model, 10, 10)
    assert excinfo.value.model == unpriced_model
    with pytest.raises(UnknownModelError):
        strict.get_model_cost(unpriced_model)


def test_model_without_per_token_price_is_unknown_not_free(strict: LiteLLMCostProvider) -> None:
    # An image model priced per image in the installed map: no per-token price anywhere.
    book = default_price_book()
    per_image = []
    for name in sorted(litellm.model_cost):
        entry = litellm.model_cost[name]
        if entry.get("mode") != "image_generation" or "input_cost_per_token" in entry:
            continue
        try:
            book.estimate_cost(name, 10, 0)
        except UnknownModelError:
            per_image.append(name)
    assert per_image, "the installed LiteLLM map has no image model priced per image"
    for name in per_image[:5]:
        with pytest.raises(UnknownModelError):
            strict.calculate_cost(name, 10, 0)


def test_fallback_uses_the_documented_default_and_warns_once_per_model(
    unpriced_model: str, caplog: pytest.LogCaptureFixture
) -> None:
    provider = LiteLLMCostProvider()  # fallback enabled by default
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        first = provider.calculate_cost(unpriced_model, 1_000_000, 1_000_000)
        second = LiteLLMCostProvider().calculate_cost(unpriced_model, 1_000_000, 0)
        info = provider.get_model_cost(unpriced_model)
    assert first == pytest.approx(
        (DEFAULT_INPUT_COST_PER_TOKEN + DEFAULT_OUTPUT_COST_PER_TOKEN) * 1_000_000
    )
    assert first == pytest.approx(3.0) and second == pytest.approx(1.0)
    assert info == {
        "input_cost_per_token": DEFAULT_INPUT_COST_PER_TOKEN,
        "output_cost_per_token": DEFAULT_OUTPUT_COST_PER_TOKEN,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "supports_streaming": True,
        "source": "default",
    }
    warnings = [r for r in caplog.records if unpriced_model in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING

    other = f"{unpriced_model}-other"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        provider.calculate_cost(other, 1, 1)
    assert any(other in r.getMessage() for r in caplog.records)


def test_cache_tokens_are_billed_at_cache_prices(strict: LiteLLMCostProvider) -> None:
    entry = litellm.model_cost["claude-haiku-4-5"]
    cost = strict.calculate_cost(
        "claude-haiku-4-5",
        input_tokens=1000,
        output_tokens=100,
        cache_read_input_tokens=10_000,
        cache_creation_input_tokens=2000,
    )
    expected = (
        1000 * entry["input_cost_per_token"]
        + 100 * entry["output_cost_per_token"]
        + 10_000 * entry["cache_read_input_token_cost"]
        + 2000 * entry["cache_creation_input_token_cost"]
    )
    assert cost == pytest.approx(expected, rel=1e-12)
    no_cache = strict.calculate_cost("claude-haiku-4-5", input_tokens=1000, output_tokens=100)
    assert cost > no_cache


def test_cache_tokens_of_a_model_without_cache_prices_cost_the_input_price() -> None:
    provider = LiteLLMCostProvider(
        fallback_enabled=False,
        model_map={"m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 0.0}},
    )
    assert provider.calculate_cost("m", 0, 0, cache_read_input_tokens=1000) == 0.001


def test_other_keywords_are_accepted_for_compatibility(strict: LiteLLMCostProvider) -> None:
    assert strict.calculate_cost("gpt-4o", 1000, 200, custom_llm_provider="openai") == 0.0045


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"output_tokens": 2.5}, "output_tokens"),
        ({"cache_read_input_tokens": -3}, "cache_read_input_tokens"),
    ],
)
def test_bad_token_counts_raise_value_error_naming_the_argument(
    strict: LiteLLMCostProvider, kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        strict.calculate_cost("gpt-4o", **kwargs)  # type: ignore[arg-type]


def test_module_level_functions_use_a_fallback_enabled_provider(unpriced_model: str) -> None:
    assert calculate_cost("gpt-4o", input_tokens=1000, output_tokens=200) == 0.0045
    assert get_model_cost("gpt-4o-mini")["input_cost_per_token"] == 1.5e-07
    assert get_model_cost(unpriced_model)["source"] == "default"


def test_docstring_examples_hold() -> None:
    results = doctest.testmod(_cost_provider)
    assert results.attempted > 0
    assert results.failed == 0
