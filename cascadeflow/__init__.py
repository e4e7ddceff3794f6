"""cascadeflow: per-user LLM budgets on top of LiteLLM, and dependable token streams (L0)."""

from __future__ import annotations

__version__ = "0.1.0"
