"""The ten providers cascadeflow documents and tests, and which provider a model string names.

Pure data plus the price book: nothing here imports LiteLLM.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cascadeflow.pricing import default_price_book

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What cascadeflow knows about one provider.

    Attributes:
        name: the key in :data:`SUPPORTED_PROVIDERS` (lower case), e.g. ``"groq"``.
        display_name: the name to show people, e.g. ``"Groq"``.
        value_prop: one sentence on when to pick this provider.
        pricing_available: whether the price book has per-token prices for its models
            (``False`` for self-hosted providers whose cost is your own hardware).
        requires_api_key: whether calls need a provider API key.
        example_models: LiteLLM model strings for this provider.

    Example:
        >>> get_provider_info("groq").display_name
        'Groq'
    """

    name: str
    display_name: str
    value_prop: str
    pricing_available: bool
    requires_api_key: bool
    example_models: tuple[str, ...]


#: The providers cascadeflow supports, by lower-case name (also the value of :func:`provider_of`).
SUPPORTED_PROVIDERS: dict[str, ProviderInfo] = {
    info.name: info
    for info in (
        ProviderInfo(
            name="openai",
            display_name="OpenAI",
            value_prop="The reference API: broad model range from frontier to nano-priced.",
            pricing_available=True,
            requires_api_key=True,
            example_models=("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5-mini", "o4-mini"),
        ),
        ProviderInfo(
            name="anthropic",
            display_name="Anthropic",
            value_prop="Claude models: strong at long documents, code and careful reasoning.",
            pricing_available=True,
            requires_api_key=True,
            example_models=(
                "anthropic/claude-sonnet-4-5",
                "anthropic/claude-haiku-4-5",
                "claude-opus-4-6",
                "claude-sonnet-4-6",
            ),
        ),
        ProviderInfo(
            name="groq",
            display_name="Groq",
            value_prop="Very low latency inference of open models on custom hardware.",
            pricing_available=True,
            requires_api_key=True,
            example_models=(
                "groq/openai/gpt-oss-120b",
                "groq/openai/gpt-oss-20b",
                "groq/qwen/qwen3.8-27b",
            ),
        ),
        ProviderInfo(
            name="together",
            display_name="Together AI",
            value_prop="Many open-weight models behind one API at low per-token prices.",
            pricing_available=True,
            requires_api_key=True,
            example_models=(
                "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
                "together_ai/meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                "together_ai/Qwen/Qwen2.5-72B-Instruct-Turbo",
            ),
        ),
        ProviderInfo(
            name="huggingface",
            display_name="Hugging Face",
            value_prop="Inference endpoints for the open-model hub; priced per endpoint, "
            "not per token.",
            pricing_available=False,
            requires_api_key=True,
            example_models=(
                "huggingface/meta-llama/Meta-Llama-3.1-8B-Instruct",
                "huggingface/mistralai/Mistral-7B-Instruct-v0.3",
            ),
        ),
        ProviderInfo(
            name="ollama",
            display_name="Ollama",
            value_prop="Models on your own machine: no per-token bill, data stays local.",
            pricing_available=False,
            requires_api_key=False,
            example_models=("ollama/llama3.1", "ollama/mistral", "ollama/codellama"),
        ),
        ProviderInfo(
            name="vllm",
            display_name="vLLM",
            value_prop="Self-hosted high-throughput serving of open models.",
            pricing_available=False,
            requires_api_key=False,
            example_models=(
                "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct",
                "hosted_vllm/Qwen/Qwen2.5-7B-Instruct",
            ),
        ),
        ProviderInfo(
            name="google",
            display_name="Google (Vertex AI / Gemini)",
            value_prop="Gemini models with very long context, via AI Studio or Vertex AI.",
            pricing_available=True,
            requires_api_key=True,
            example_models=(
                "gemini/gemini-2.5-pro",
                "gemini/gemini-2.5-flash",
                "gemini/gemini-2.5-flash-lite",
                "vertex_ai/gemini-2.5-flash",
            ),
        ),
        ProviderInfo(
            name="azure",
            display_name="Azure OpenAI",
            value_prop="OpenAI models inside an Azure tenancy, with its compliance and regions.",
            pricing_available=True,
            requires_api_key=True,
            example_models=("azure/gpt-4o", "azure/gpt-4o-mini", "azure/gpt-4.1"),
        ),
        ProviderInfo(
            name="deepseek",
            display_name="DeepSeek",
            value_prop="Low-priced capable chat and reasoning models, strong at code.",
            pricing_available=True,
            requires_api_key=True,
            example_models=("deepseek/deepseek-chat", "deepseek/deepseek-reasoner"),
        ),
    )
}

# LiteLLM routing prefixes (the part before the first "/") -> provider name.
_PREFIX_PROVIDERS: dict[str, str] = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "anthropic": "anthropic",
    "groq": "groq",
    "together_ai": "together",
    "together": "together",
    "huggingface": "huggingface",
    "ollama": "ollama",
    "ollama_chat": "ollama",
    "hosted_vllm": "vllm",
    "vllm": "vllm",
    "gemini": "google",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "palm": "google",
    "azure": "azure",
    "azure_text": "azure",
    "deepseek": "deepseek",
}

# Bare model names LiteLLM routes without a prefix, by the start of the name.
_NAME_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("text-embedding-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("claude-", "anthropic"),
    ("gemini-", "google"),
    ("deepseek-", "deepseek"),
)


def _provider_from_litellm_name(litellm_provider: str) -> str:
    # "vertex_ai-language-models", "vertex_ai-anthropic_models" ... are all billed by Google.
    if litellm_provider.startswith("vertex_ai"):
        return "google"
    return _PREFIX_PROVIDERS.get(litellm_provider, litellm_provider)


def provider_of(model: str) -> str:
    """The provider that serves a LiteLLM model string.

    One of the :data:`SUPPORTED_PROVIDERS` names when the model belongs to one of them,
    else LiteLLM's own provider name (``"mistral"``, ``"bedrock"``...), else ``"unknown"``.
    A known routing prefix decides first, then the price book's ``provider`` of the model,
    then a prefix that is a provider in the price book, then the name's family (``gpt-``...).

    Example:
        >>> provider_of("gpt-4o"), provider_of("groq/openai/gpt-oss-20b")
        ('openai', 'groq')
        >>> provider_of("ollama/llama3"), provider_of("gemini/gemini-2.5-pro")
        ('ollama', 'google')
    """
    prefix, sep, _ = model.partition("/")
    if sep and prefix in _PREFIX_PROVIDERS:
        return _PREFIX_PROVIDERS[prefix]
    book = default_price_book()
    price = book.find(model)
    if price is not None:
        return _provider_from_litellm_name(price.provider)
    if sep and prefix in book.providers():
        return _provider_from_litellm_name(prefix)
    for start, provider in _NAME_PROVIDERS:
        if model.startswith(start):
            return provider
    return "unknown"


def validate_provider(name: str) -> bool:
    """True when ``name`` (any case) is one of :data:`SUPPORTED_PROVIDERS`.

    An unknown name is logged at WARNING level together with the valid choices.

    Example:
        >>> validate_provider("OpenAI"), validate_provider("nope")
        (True, False)
    """
    if name.lower() in SUPPORTED_PROVIDERS:
        return True
    logger.warning(
        "provider %r is not supported; choose one of: %s", name, ", ".join(SUPPORTED_PROVIDERS)
    )
    return False


def get_provider_info(name: str) -> ProviderInfo | None:
    """The :class:`ProviderInfo` for ``name`` (any case), or ``None`` when unsupported.

    Example:
        >>> get_provider_info("DeepSeek").example_models[0]
        'deepseek/deepseek-chat'
    """
    return SUPPORTED_PROVIDERS.get(name.lower())
