"""cascadeflow's LiteLLM integration: per-user metering and budgets for every completion.

Three ways in:

* :func:`register` a :class:`CascadeFlowLiteLLMCallback` and call LiteLLM as usual;
* ask ``tracker.can_afford(user, estimate)`` before expensive work;
* call the guarded :func:`completion` / :func:`acompletion` drop-ins, which enforce and
  reserve before every attempt (sync calls included) and meter streams however they end;
* or both halves in one call: :func:`l0_completion` / :func:`l0_structured` stream through
  L0 (retries, fallbacks, guardrails) with the budget enforced per attempt and a
  :class:`~cascadeflow.BudgetGuard` inside the stream.

Inside LiteLLM's proxy the same callback refuses over-budget requests with HTTP 429.

Example:
    >>> from cascadeflow.integrations.litellm import register
    >>> from cascadeflow.telemetry import BudgetConfig, CostTracker
    >>> tracker = CostTracker(user_budgets={"free": BudgetConfig(daily=0.10)},
    ...                       enforcement_mode="block")
    >>> callback = register(tracker)
"""

from __future__ import annotations

from ._budget_tracker import LiteLLMBudgetTracker
from ._callback import CascadeFlowLiteLLMCallback
from ._cost_provider import LiteLLMCostProvider, calculate_cost, get_model_cost
from ._guard import acompletion, completion
from ._l0_completion import l0_completion, l0_structured
from ._logprobs import LogprobSummary, extract_logprobs
from ._providers import (
    SUPPORTED_PROVIDERS,
    ProviderInfo,
    get_provider_info,
    provider_of,
    validate_provider,
)
from ._proxy import refusal_message
from ._registry import register, unregister
from ._retry import RetryPolicy, retry_after_seconds
from ._stats import IntegrationStats
from ._streams import AsyncGuardedStream, GuardedStream, StreamTally

__all__ = [
    "SUPPORTED_PROVIDERS",
    "AsyncGuardedStream",
    "CascadeFlowLiteLLMCallback",
    "GuardedStream",
    "IntegrationStats",
    "LiteLLMBudgetTracker",
    "LiteLLMCostProvider",
    "LogprobSummary",
    "ProviderInfo",
    "RetryPolicy",
    "StreamTally",
    "acompletion",
    "calculate_cost",
    "completion",
    "extract_logprobs",
    "get_model_cost",
    "get_provider_info",
    "l0_completion",
    "l0_structured",
    "provider_of",
    "refusal_message",
    "register",
    "retry_after_seconds",
    "unregister",
    "validate_provider",
]
