"""Stream adapters: turn OpenAI, LiteLLM, Anthropic and plain streams into ``L0Event``s.

``detect_adapter`` picks one for a stream (or its first chunk); ``register_adapter`` adds
your own ahead of the built-ins.
"""

from __future__ import annotations

from cascadeflow.l0.adapters._anthropic import AnthropicAdapter
from cascadeflow.l0.adapters._base import (
    ChunkDecoder,
    DecodingAdapter,
    L0Adapter,
    _install_builtins,
    detect_adapter,
    get_adapter,
    register_adapter,
    registered_adapters,
    unregister_adapter,
)
from cascadeflow.l0.adapters._openai import LiteLLMAdapter, OpenAIAdapter, ToolCallAssembler
from cascadeflow.l0.adapters._plain import PlainAdapter

_install_builtins([OpenAIAdapter(), LiteLLMAdapter(), AnthropicAdapter(), PlainAdapter()])

__all__ = [
    "AnthropicAdapter",
    "ChunkDecoder",
    "DecodingAdapter",
    "L0Adapter",
    "LiteLLMAdapter",
    "OpenAIAdapter",
    "PlainAdapter",
    "ToolCallAssembler",
    "detect_adapter",
    "get_adapter",
    "register_adapter",
    "registered_adapters",
    "unregister_adapter",
]
