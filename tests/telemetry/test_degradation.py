"""Degradation: every default step is priced and cheaper; unknown models and loops end safely."""

from __future__ import annotations

import doctest
import itertools
import logging

import pytest

from cascadeflow.pricing import PriceBook, default_price_book
from cascadeflow.telemetry import _degradation
from cascadeflow.telemetry._degradation import (
    DEFAULT_DEGRADATION_MAP,
    estimate_cost_savings,
    get_cheaper_model,
    get_degradation_chain,
    is_cheaper_per_token,
)

STEPS = [(model, cheaper) for model, cheaper in DEFAULT_DEGRADATION_MAP.items() if cheaper]


def test_every_model_in_the_default_map_is_priced_in_the_pricing_data() -> None:
    book = default_price_book()
    names = set(DEFAULT_DEGRADATION_MAP) | {v for v in DEFAULT_DEGRADATION_MAP.values() if v}
    unpriced = sorted(name for name in names if name not in book)
    assert unpriced == []
    # The map uses the pricing file's own spelling, not a prefix-stripped or aliased one.
    assert all(book.get(name).model == name for name in names)


@pytest.mark.parametrize(("model", "cheaper"), STEPS, ids=[f"{a}->{b}" for a, b in STEPS])
def test_every_default_step_is_strictly_cheaper_per_token(model: str, cheaper: str) -> None:
    book = default_price_book()
    dear, cheap = book.get(model), book.get(cheaper)
    assert cheap.input_cost_per_token <= dear.input_cost_per_token
    assert cheap.output_cost_per_token <= dear.output_cost_per_token
    assert (
        cheap.input_cost_per_token + cheap.output_cost_per_token
        < dear.input_cost_per_token + dear.output_cost_per_token
    )
    # Whatever the token mix, the cheaper model's bill is never higher.
    for prompt, completion in [(1, 0), (0, 1), (1000, 1000), (10_000, 17)]:
        assert book.estimate_cost_nanos(cheaper, prompt, completion) <= book.estimate_cost_nanos(
            model, prompt, completion
        )


def test_every_default_chain_is_strictly_cheaper_at_each_step_and_ends_at_a_cheapest() -> None:
    book = default_price_book()
    for model in DEFAULT_DEGRADATION_MAP:
        chain = [model, *get_degradation_chain(model)]
        for dearer, cheaper in itertools.pairwise(chain):
            assert is_cheaper_per_token(book.get(cheaper), book.get(dearer)), (dearer, cheaper)
        assert DEFAULT_DEGRADATION_MAP[chain[-1]] is None
        assert len(set(chain)) == len(chain)


def test_default_map_covers_todays_families() -> None:
    book = default_price_book()
    providers = {book.get(model).provider for model in DEFAULT_DEGRADATION_MAP}
    assert {
        "openai",
        "anthropic",
        "gemini",
        "groq",
        "together_ai",
        "deepseek",
        "mistral",
    } <= providers


def test_cheaper_model_follows_the_map() -> None:
    assert get_cheaper_model("gpt-4o") == "gpt-4o-mini"
    assert get_cheaper_model("claude-sonnet-4-5") == "claude-haiku-4-5"
    assert get_cheaper_model("groq/openai/gpt-oss-120b") == "groq/openai/gpt-oss-20b"


def test_cheapest_model_has_no_cheaper_model() -> None:
    assert get_cheaper_model("gpt-5-nano") is None
    assert get_degradation_chain("gpt-5-nano") == []


def test_unknown_model_has_no_cheaper_model_not_a_generic_fallback() -> None:
    assert get_cheaper_model("my-house-model") is None
    assert get_cheaper_model("gpt-3.5-turbo-instruct-unknown") is None
    assert get_degradation_chain("my-house-model") == []


def test_a_provider_prefixed_spelling_finds_the_same_map_entry() -> None:
    assert get_cheaper_model("openai/gpt-4o") == "gpt-4o-mini"
    assert get_cheaper_model("anthropic/claude-sonnet-4-5") == "claude-haiku-4-5"
    assert get_cheaper_model("ministral-3b-latest") is None  # mistral's cheapest, unprefixed


def test_chain_lists_the_models_after_the_given_one_nearest_first() -> None:
    assert get_degradation_chain("gpt-4") == ["gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "gpt-5-nano"]


def test_custom_map_replaces_the_default() -> None:
    custom: dict[str, str | None] = {"big": "small", "small": None}
    assert get_cheaper_model("big", custom) == "small"
    assert get_cheaper_model("small", custom) is None
    assert get_cheaper_model("gpt-4o", custom) is None
    assert get_degradation_chain("big", degradation_map=custom) == ["small"]


def test_cyclic_custom_map_terminates_and_logs_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    cyclic: dict[str, str | None] = {"a": "b", "b": "c", "c": "a"}
    with caplog.at_level(logging.WARNING, logger="cascadeflow.telemetry._degradation"):
        assert get_degradation_chain("a", cyclic) == ["b", "c"]
    assert "loop" in caplog.text
    assert get_degradation_chain("x", {"x": "x"}) == []


def test_savings_come_from_real_prices() -> None:
    book = default_price_book()
    dear, cheap = book.get("gpt-4o"), book.get("gpt-4o-mini")
    expected = 1 - (cheap.input_cost_per_token + cheap.output_cost_per_token) / (
        dear.input_cost_per_token + dear.output_cost_per_token
    )
    savings = estimate_cost_savings("gpt-4o", "gpt-4o-mini")
    assert savings == pytest.approx(expected)
    assert 0.9 < expected < 1.0


def test_savings_are_zero_when_degrading_to_a_dearer_model_and_none_when_unknown() -> None:
    assert estimate_cost_savings("gpt-4o-mini", "gpt-4o") == 0.0
    assert estimate_cost_savings("gpt-4o", "gpt-4o") == 0.0
    assert estimate_cost_savings("gpt-4o", "my-house-model") is None
    assert estimate_cost_savings("my-house-model", "gpt-4o") is None


def test_a_given_price_book_is_used_instead_of_the_default() -> None:
    book = PriceBook.from_dict(
        {
            "schema_version": 1,
            "models": {
                name: {
                    "provider": "x",
                    "mode": "chat",
                    "input_cost_per_token": price,
                    "output_cost_per_token": price,
                }
                for name, price in {"x/large": 4e-06, "x/small": 1e-06}.items()
            },
        }
    )
    assert estimate_cost_savings("x/large", "x/small", price_book=book) == pytest.approx(0.75)
    assert estimate_cost_savings("gpt-4o", "gpt-4o-mini", price_book=book) is None
    custom: dict[str, str | None] = {"x/large": "x/small"}
    assert get_cheaper_model("large", custom, price_book=book) == "x/small"


def test_docstring_examples_hold() -> None:
    results = doctest.testmod(_degradation)
    assert results.attempted > 0
    assert results.failed == 0
