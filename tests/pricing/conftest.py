"""Fixtures for the price book and the pricing sync: small model maps and pricing files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cascadeflow.pricing import PriceBook

BookFactory = Callable[[dict[str, tuple[str, float, float]]], PriceBook]


def _litellm_entry(
    provider: str, input_cost: float, output_cost: float, mode: str = "chat", **extra: Any
) -> dict[str, Any]:
    return {
        "litellm_provider": provider,
        "mode": mode,
        "input_cost_per_token": input_cost,
        "output_cost_per_token": output_cost,
        **extra,
    }


@pytest.fixture
def model_map() -> dict[str, Any]:
    """A small LiteLLM-style model map with a mix of modes, prefixes and priced-otherwise models."""
    return {
        "sample_spec": {"mode": "one of: chat, embedding", "input_cost_per_token": 0.0},
        "gpt-4o": _litellm_entry(
            "openai",
            2.5e-06,
            1e-05,
            cache_read_input_token_cost=1.25e-06,
            max_input_tokens=128000,
            max_output_tokens=16384,
        ),
        "claude-haiku-4-5": _litellm_entry(
            "anthropic", 1e-06, 5e-06, cache_creation_input_token_cost=1.25e-06
        ),
        "groq/llama-3.1-8b-instant": _litellm_entry("groq", 5e-08, 8e-08),
        "text-embedding-3-small": {
            "litellm_provider": "openai",
            "mode": "embedding",
            "input_cost_per_token": 2e-08,
        },
        "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation"},
        "per-second-model": {"litellm_provider": "replicate", "mode": "chat"},
        "input-only-chat": {
            "litellm_provider": "openai",
            "mode": "chat",
            "input_cost_per_token": 1e-06,
        },
    }


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[[str, object], Path]:
    """Write an object as JSON to a file under tmp_path and return its path."""

    def write(name: str, data: object) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write


@pytest.fixture
def book_from() -> BookFactory:
    """Build a PriceBook from {model: (provider, input_cost_per_token, output_cost_per_token)}."""

    def build(models: dict[str, tuple[str, float, float]]) -> PriceBook:
        return PriceBook.from_dict(
            {
                "schema_version": 1,
                "litellm_version": "test",
                "models": {
                    name: {
                        "provider": provider,
                        "mode": "chat",
                        "input_cost_per_token": input_cost,
                        "output_cost_per_token": output_cost,
                    }
                    for name, (provider, input_cost, output_cost) in models.items()
                },
            }
        )

    return build
