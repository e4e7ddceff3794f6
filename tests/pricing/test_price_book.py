"""The price book: lookups, exact nano-dollar estimates, explicit errors, no LiteLLM import."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cascadeflow._exceptions import PricingError, UnknownModelError
from cascadeflow.pricing import (
    PRICING_FILE_ENV,
    ModelPrice,
    PriceBook,
    _book,
    _sync,
    default_price_book,
    default_pricing_path,
    estimate_cost,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_default_file_is_the_checkouts_pricing_json() -> None:
    assert default_pricing_path() == REPO_ROOT / "pricing" / "pricing.json"


def test_gpt_4o_has_litellms_prices_and_limits() -> None:
    price = default_price_book().get("gpt-4o")
    assert price == ModelPrice(
        model="gpt-4o",
        provider="openai",
        mode="chat",
        input_cost_per_token=2.5e-06,
        output_cost_per_token=1e-05,
        cache_read_cost_per_token=1.25e-06,
        cache_write_cost_per_token=None,
        max_input_tokens=128000,
        max_output_tokens=16384,
    )


def test_default_book_knows_its_schema_and_litellm_version() -> None:
    book = default_price_book()
    assert book.schema_version == 1
    assert book.litellm_version is not None and book.litellm_version.startswith("1.")
    assert len(book.models()) > 1000
    assert book.models() == sorted(book.models())


def test_estimate_cost_nanos_is_exact_integer_nanodollars() -> None:
    # 1000 * 2.5e-06 + 200 * 1e-05 = 0.0025 + 0.002 USD
    assert default_price_book().estimate_cost_nanos("gpt-4o", 1000, 200) == 4_500_000
    assert estimate_cost("gpt-4o", 1000, 200) == 0.0045


def test_nanos_use_decimal_prices_not_float_products(book_from: Callable[..., PriceBook]) -> None:
    book = book_from({"m": ("openai", 4.5e-09, 0.0), "n": ("openai", 2.5e-09, 0.0)})
    # As floats, 3 * 4.5e-09 * 1e9 == 13.499999999999998 and rounds to 13; exactly it is 13.5.
    assert round(3 * 4.5e-09 * 1e9) == 13
    assert book.estimate_cost_nanos("m", 3, 0) == 14  # 13.5 rounded half-even
    assert book.estimate_cost_nanos("n", 101, 0) == 252  # 252.5 rounded half-even
    assert book.estimate_cost_nanos("n", 1, 0) == 2  # 2.5 rounded half-even


def test_nanos_stay_exact_for_huge_token_counts(book_from: Callable[..., PriceBook]) -> None:
    book = book_from({"m": ("openai", 1.1e-06, 3.3e-06)})
    tokens = 10**12
    assert book.estimate_cost_nanos("m", tokens, tokens) == 4_400 * 10**12


def test_embedding_output_is_free_and_input_is_priced() -> None:
    book = default_price_book()
    price = book.get("text-embedding-3-small")
    assert price.mode == "embedding" and price.output_cost_per_token == 0.0
    assert book.estimate_cost_nanos("text-embedding-3-small", 1_000_000, 0) == 20_000_000


def test_provider_prefix_is_stripped_when_the_map_lists_the_bare_name() -> None:
    book = default_price_book()
    assert book.get("openai/gpt-4o") == book.get("gpt-4o")
    assert book.get("anthropic/claude-haiku-4-5").model == "claude-haiku-4-5"


def test_provider_prefix_is_added_when_the_map_lists_only_the_prefixed_name() -> None:
    book = default_price_book()
    price = book.get("ministral-3b-latest")
    assert price.model == "mistral/ministral-3b-latest"
    assert price.provider == "mistral"


def test_bare_name_listed_at_different_prices_under_two_prefixes_is_not_guessed(
    book_from: Callable[..., PriceBook],
) -> None:
    book = book_from(
        {
            "azure/big-model": ("azure", 8e-06, 2.4e-05),
            "mistral/big-model": ("mistral", 5e-07, 1e-06),
        }
    )
    assert book.find("big-model") is None
    assert book.get("mistral/big-model").input_cost_per_token == 5e-07


def test_reseller_entries_are_not_aliased_as_the_first_party_name(
    book_from: Callable[..., PriceBook],
) -> None:
    book = book_from(
        {"openrouter/anthropic/claude-x": ("openrouter", 3e-06, 1.5e-05), "other": ("openai", 1, 1)}
    )
    assert "anthropic/claude-x" not in book
    assert "openrouter/anthropic/claude-x" in book


def test_lookup_is_case_sensitive() -> None:
    book = default_price_book()
    assert "gpt-4o" in book
    assert "GPT-4O" not in book
    assert book.find("GPT-4O") is None


def test_unknown_model_raises_unknown_model_error_never_zero() -> None:
    book = default_price_book()
    with pytest.raises(UnknownModelError) as excinfo:
        book.get("no-such-model-xyz")
    assert excinfo.value.model == "no-such-model-xyz"
    assert "no-such-model-xyz" in str(excinfo.value)
    assert isinstance(excinfo.value, PricingError) and isinstance(excinfo.value, KeyError)
    with pytest.raises(UnknownModelError):
        book.estimate_cost("no-such-model-xyz", 10, 10)
    with pytest.raises(UnknownModelError):
        estimate_cost("no-such-model-xyz", 10, 10)
    assert book.find("no-such-model-xyz") is None
    assert 42 not in book


@pytest.mark.parametrize(
    ("prompt", "completion", "named"),
    [
        (-1, 0, "prompt_tokens"),
        (0, -5, "completion_tokens"),
        (1.5, 0, "prompt_tokens"),
        (0, "3", "completion_tokens"),
        (True, 0, "prompt_tokens"),
    ],
)
def test_bad_token_counts_raise_value_error_naming_the_argument(
    prompt: Any, completion: Any, named: str
) -> None:
    book = default_price_book()
    with pytest.raises(ValueError, match=named):
        book.estimate_cost("gpt-4o", prompt, completion)
    with pytest.raises(ValueError, match=named):
        book.estimate_cost_nanos("gpt-4o", prompt, completion)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"schema_version": 2, "models": {}}, "schema_version 2"),
        ({"models": {}}, "schema_version"),
        ({"schema_version": 1}, "models"),
        ({"schema_version": 1, "models": {"m": {"provider": "x", "mode": "chat"}}}, "m"),
        (
            {
                "schema_version": 1,
                "models": {
                    "m": {
                        "provider": "x",
                        "mode": "chat",
                        "input_cost_per_token": -1e-06,
                        "output_cost_per_token": 0.0,
                    }
                },
            },
            "input_cost_per_token",
        ),
        (
            {
                "schema_version": 1,
                "models": {
                    "m": {
                        "provider": "x",
                        "mode": "chat",
                        "input_cost_per_token": "cheap",
                        "output_cost_per_token": 0.0,
                    }
                },
            },
            "input_cost_per_token",
        ),
        ({"schema_version": 1, "models": {"m": ["not", "an", "object"]}}, "object"),
    ],
)
def test_malformed_pricing_data_is_rejected(data: dict[str, Any], message: str) -> None:
    with pytest.raises(PricingError, match=message):
        PriceBook.from_dict(data)


def test_load_reports_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="cannot read"):
        PriceBook.load(tmp_path / "missing.json")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"schema_version": 1, "models": {', encoding="utf-8")
    with pytest.raises(PricingError, match="not valid JSON"):
        PriceBook.load(corrupt)


def test_default_book_is_cached_and_honours_the_env_override(
    monkeypatch: pytest.MonkeyPatch, write_json: Callable[[str, object], Path]
) -> None:
    monkeypatch.delenv(PRICING_FILE_ENV, raising=False)
    assert default_price_book() is default_price_book()
    custom = write_json(
        "custom.json",
        {
            "schema_version": 1,
            "litellm_version": None,
            "models": {
                "house-model": {
                    "provider": "openai",
                    "mode": "chat",
                    "input_cost_per_token": 1e-06,
                    "output_cost_per_token": 2e-06,
                }
            },
        },
    )
    monkeypatch.setenv(PRICING_FILE_ENV, str(custom))
    book = default_price_book()
    assert book.models() == ["house-model"]
    assert estimate_cost("house-model", 1_000, 1_000) == 0.003
    with pytest.raises(UnknownModelError):
        estimate_cost("gpt-4o", 1, 1)
    monkeypatch.delenv(PRICING_FILE_ENV)
    assert "gpt-4o" in default_price_book()


def test_without_checkout_file_the_packaged_copy_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Stand in for an installed wheel: no checkout file, the package's own pricing.json.
    packaged = tmp_path / "pricing.json"
    packaged.write_text(
        json.dumps({"schema_version": 1, "litellm_version": "wheel", "models": {}}),
        encoding="utf-8",
    )
    monkeypatch.setattr(_book, "default_pricing_path", lambda: None)
    monkeypatch.setattr(_book.importlib.resources, "files", lambda package: tmp_path)
    assert PriceBook.load().litellm_version == "wheel"


def test_importing_pricing_does_not_import_litellm() -> None:
    code = (
        "import sys\n"
        "import cascadeflow.pricing as pricing\n"
        "assert pricing.estimate_cost('gpt-4o', 10, 10) > 0\n"
        "assert 'litellm' not in sys.modules, 'litellm was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_a_stripped_prefix_must_name_the_provider_of_the_entry_it_finds() -> None:
    book = default_price_book()
    # A self-hosted vLLM model is not priced as some cloud reseller's model of the same name.
    assert book.find("hosted_vllm/Qwen/Qwen2.5-7B-Instruct") is None
    assert book.find("groq/gpt-4o") is None
    assert book.get("vertex_ai/gemini-2.5-flash").model == "gemini-2.5-flash"
    assert book.get("ollama_chat/llama3").model == "ollama/llama3"


def test_providers_lists_the_litellm_provider_names_in_the_book() -> None:
    providers = default_price_book().providers()
    assert {"openai", "anthropic", "groq", "gemini", "together_ai"} <= providers


@pytest.mark.parametrize("module", [_book, _sync], ids=["_book", "_sync"])
def test_docstring_examples_hold(module: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)  # examples read "pricing/pricing.json" relative to the checkout
    monkeypatch.delenv(PRICING_FILE_ENV, raising=False)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert results.attempted > 0
    assert results.failed == 0
