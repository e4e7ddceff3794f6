"""Prices of LLM calls from ``pricing/pricing.json``: cost estimation without importing LiteLLM.

Example:
    >>> from cascadeflow.pricing import estimate_cost
    >>> estimate_cost("gpt-4o", prompt_tokens=1000, completion_tokens=200)
    0.0045
"""

from __future__ import annotations

from cascadeflow.pricing._book import (
    PRICING_FILE_ENV,
    SCHEMA_VERSION,
    ModelPrice,
    PriceBook,
    default_price_book,
    default_pricing_path,
    estimate_cost,
)

__all__ = [
    "PRICING_FILE_ENV",
    "SCHEMA_VERSION",
    "ModelPrice",
    "PriceBook",
    "default_price_book",
    "default_pricing_path",
    "estimate_cost",
]
