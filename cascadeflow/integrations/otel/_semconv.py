"""OpenTelemetry GenAI semantic-convention names, units and bucket boundaries we emit.

Names follow the GenAI semantic conventions (development status; ``gen_ai`` metrics and
spans as of semantic-conventions 1.37+, schema below). ``OTEL_SEMCONV_STABILITY_OPT_IN``
containing ``gen_ai_latest_experimental`` drops the older ``gen_ai.system`` attribute,
which is otherwise emitted next to ``gen_ai.provider.name`` (the transition plan of the
conventions for instrumentations that used 1.36 or earlier).
"""

from __future__ import annotations

import os

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

# -- metrics ------------------------------------------------------------------------------
TOKEN_USAGE = "gen_ai.client.token.usage"
OPERATION_DURATION = "gen_ai.client.operation.duration"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"
COST_TOTAL = "cascadeflow.cost.total"
BUDGET_DECISIONS = "cascadeflow.budget.decisions"
BUDGET_REFUSALS = "cascadeflow.budget.refusals"
L0_RETRIES = "cascadeflow.l0.retries"
L0_FALLBACKS = "cascadeflow.l0.fallbacks"

#: ``gen_ai.client.token.usage`` buckets, as the conventions specify (tokens).
TOKEN_USAGE_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
    67108864)
#: ``gen_ai.client.operation.duration``, ``time_to_first_chunk`` and
#: ``time_per_output_chunk`` buckets, as the conventions specify (seconds).
DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

# -- attributes ---------------------------------------------------------------------------
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"  # before semantic-conventions 1.37
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
REQUEST_STREAM = "gen_ai.request.stream"
TOKEN_TYPE = "gen_ai.token.type"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION = "gen_ai.usage.cache_creation.input_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
COST_AMOUNT = "gen_ai.usage.cost.amount"  # proposed in the conventions
COST_CURRENCY = "gen_ai.usage.cost.currency"  # proposed in the conventions
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
ERROR_TYPE = "error.type"
USER_ID = "user.id"
USER_TIER = "cascadeflow.user.tier"
BUDGET_ACTION = "cascadeflow.budget.action"
BUDGET_SCOPE = "cascadeflow.budget.scope"
BUDGET_PERIOD = "cascadeflow.budget.period"
RETRY_REASON = "cascadeflow.l0.retry.reason"

CHAT = "chat"

# cascadeflow's provider names -> the conventions' well-known gen_ai.provider.name values.
_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "bedrock": "aws.bedrock",
    "google": "gcp.gen_ai",
    "vertex_ai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
    "moonshot": "moonshot_ai",
}


def provider_name(provider: str | None) -> str:
    """The ``gen_ai.provider.name`` value for a cascadeflow/LiteLLM provider name.

    Example:
        >>> provider_name("azure"), provider_name("openai")
        ('azure.ai.openai', 'openai')
    """
    if not provider:
        return "unknown"
    lowered = provider.lower()
    return _PROVIDERS.get(lowered, lowered)


def latest_experimental() -> bool:
    """Whether ``OTEL_SEMCONV_STABILITY_OPT_IN`` asks for the latest GenAI conventions only."""
    opted = os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    return "gen_ai_latest_experimental" in {part.strip() for part in opted.split(",")}


def capture_content() -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content."""
    value = os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "")
    return value.strip().lower() in {"true", "1", "yes", "span_only", "span_and_event"}
