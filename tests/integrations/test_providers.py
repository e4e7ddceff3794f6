"""The ten supported providers, their example models, and provider_of()."""

from __future__ import annotations

import dataclasses
import doctest
import logging

import pytest

from cascadeflow.integrations.litellm import _providers
from cascadeflow.integrations.litellm._providers import (
    SUPPORTED_PROVIDERS,
    ProviderInfo,
    get_provider_info,
    provider_of,
    validate_provider,
)
from cascadeflow.pricing import default_price_book


def test_exactly_the_ten_documented_providers_are_supported() -> None:
    assert set(SUPPORTED_PROVIDERS) == {
        "openai",
        "anthropic",
        "groq",
        "together",
        "huggingface",
        "ollama",
        "vllm",
        "google",
        "azure",
        "deepseek",
    }
    for name, info in SUPPORTED_PROVIDERS.items():
        assert isinstance(info, ProviderInfo)
        assert info.name == name
        assert info.display_name and info.value_prop and info.example_models


def test_display_names_say_which_product_is_meant() -> None:
    assert SUPPORTED_PROVIDERS["azure"].display_name == "Azure OpenAI"
    assert SUPPORTED_PROVIDERS["huggingface"].display_name == "Hugging Face"
    assert "Vertex" in SUPPORTED_PROVIDERS["google"].display_name
    assert "Gemini" in SUPPORTED_PROVIDERS["google"].display_name


def test_provider_info_is_frozen() -> None:
    info = SUPPORTED_PROVIDERS["openai"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"  # type: ignore[misc]


def test_every_example_model_of_a_priced_provider_resolves_in_the_pricing_data() -> None:
    book = default_price_book()
    unpriced = [
        (info.name, model)
        for info in SUPPORTED_PROVIDERS.values()
        if info.pricing_available
        for model in info.example_models
        if model not in book
    ]
    assert unpriced == []


def test_self_hosted_providers_need_no_api_key_and_have_no_token_prices() -> None:
    for name in ("ollama", "vllm"):
        info = SUPPORTED_PROVIDERS[name]
        assert not info.requires_api_key
        assert not info.pricing_available
    assert SUPPORTED_PROVIDERS["openai"].requires_api_key


def test_every_example_model_maps_back_to_its_provider() -> None:
    for info in SUPPORTED_PROVIDERS.values():
        for model in info.example_models:
            assert provider_of(model) == info.name, model


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4o", "openai"),
        ("openai/gpt-4o", "openai"),
        ("text-embedding-3-small", "openai"),
        ("o3", "openai"),
        ("anthropic/claude-haiku-4-5", "anthropic"),
        ("claude-3-haiku-20240307", "anthropic"),
        ("groq/openai/gpt-oss-20b", "groq"),
        ("llama-guard-3-8b", "groq"),  # found in the pricing data under groq/
        ("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "together"),
        ("huggingface/meta-llama/Meta-Llama-3.1-8B-Instruct", "huggingface"),
        ("ollama/llama3", "ollama"),
        ("ollama_chat/llama3.1", "ollama"),
        ("hosted_vllm/my-finetune", "vllm"),
        ("gemini/gemini-2.5-pro", "google"),
        ("gemini-2.0-flash", "google"),  # Vertex AI entry in the pricing data
        ("vertex_ai/claude-sonnet-4-5", "google"),
        ("azure/gpt-4o", "azure"),
        ("deepseek/deepseek-chat", "deepseek"),
        ("deepseek-chat", "deepseek"),
        ("mistral/mistral-large-latest", "mistral"),  # not one of the ten: LiteLLM's name
        ("bedrock/some-new-model", "bedrock"),
        ("claude-9-unreleased", "anthropic"),  # by family name
        ("my-house-model", "unknown"),
    ],
)
def test_provider_of_maps_litellm_model_strings(model: str, provider: str) -> None:
    assert provider_of(model) == provider


def test_validate_provider_is_case_insensitive() -> None:
    assert validate_provider("openai")
    assert validate_provider("OpenAI")
    assert validate_provider("DEEPSEEK")


def test_unknown_provider_is_rejected_and_the_valid_choices_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="cascadeflow.integrations.litellm._providers"):
        assert not validate_provider("acme-llm")
    assert "acme-llm" in caplog.text
    for name in SUPPORTED_PROVIDERS:
        assert name in caplog.text


def test_get_provider_info_is_case_insensitive_and_none_for_unknown() -> None:
    info = get_provider_info("Groq")
    assert info is SUPPORTED_PROVIDERS["groq"]
    assert get_provider_info("acme-llm") is None


def test_docstring_examples_hold() -> None:
    results = doctest.testmod(_providers)
    assert results.attempted > 0
    assert results.failed == 0
