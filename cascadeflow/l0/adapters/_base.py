"""The adapter seam: what an adapter is, and the registry that picks one for a stream.

An adapter turns a provider's stream into :class:`L0Event` objects. Built-in adapters also
expose a per-chunk decoder, which lets the runtime decode in its own loop instead of
stacking another async generator on every token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from cascadeflow.l0._types import L0Event


@runtime_checkable
class L0Adapter(Protocol):
    """Turns one kind of provider stream into an async iterator of :class:`L0Event`.

    ``detect`` receives either the stream object the factory returned or, when no adapter
    recognised that object, the stream's first chunk; it must be cheap and never consume
    anything. ``wrap`` yields events; raising (or yielding an ``error`` event) makes the
    runtime treat the attempt as failed.

    Example:
        >>> class Upper:
        ...     name = "upper"
        ...     def detect(self, stream): return False
        ...     async def wrap(self, stream):
        ...         async for text in stream:
        ...             yield L0Event("token", text.upper())
        >>> register_adapter(Upper())
    """

    name: str

    def detect(self, stream: Any) -> bool: ...

    def wrap(self, stream: Any) -> AsyncIterator[L0Event]: ...


class ChunkDecoder(Protocol):
    """Per-attempt decoding state of a built-in adapter.

    ``feed`` turns one chunk into an event (or ``None`` when the chunk carries nothing to
    show, such as a tool-call fragment); ``finish`` returns what is only known at the end
    (assembled tool calls, then a ``complete`` event with the usage).
    """

    def feed(self, chunk: Any) -> L0Event | None: ...

    def finish(self) -> list[L0Event]: ...


class DecodingAdapter:
    """Base of adapters built on a :class:`ChunkDecoder`; ``wrap`` is derived from it."""

    name = "decoding"

    def detect(self, stream: Any) -> bool:
        """Whether this adapter understands ``stream`` (or one of its chunks)."""
        raise NotImplementedError

    def decoder(self) -> ChunkDecoder:
        """A fresh decoder for one attempt."""
        raise NotImplementedError

    async def wrap(self, stream: Any) -> AsyncIterator[L0Event]:
        """Decode ``stream`` chunk by chunk."""
        decoder = self.decoder()
        async for chunk in stream:
            event = decoder.feed(chunk)
            if event is not None:
                yield event
        for event in decoder.finish():
            yield event


def module_of(obj: Any) -> str:
    """The top-level package an object's class comes from (``openai``, ``litellm``, ...)."""
    return type(obj).__module__.partition(".")[0]


_registry: list[L0Adapter] = []
_builtins: list[L0Adapter] = []


def register_adapter(adapter: L0Adapter, *, first: bool = True) -> None:
    """Add ``adapter`` to the registry (ahead of the built-ins unless ``first=False``).

    Example:
        >>> register_adapter(MyProviderAdapter())
    """
    if not isinstance(adapter, L0Adapter):
        raise TypeError("an adapter needs a name, detect(stream) and wrap(stream)")
    unregister_adapter(adapter.name)
    if first:
        _registry.insert(0, adapter)
    else:
        _registry.append(adapter)


def unregister_adapter(name: str) -> None:
    """Remove the registered adapter called ``name`` (built-ins cannot be removed)."""
    _registry[:] = [adapter for adapter in _registry if adapter.name != name]


def _install_builtins(adapters: list[L0Adapter]) -> None:
    _builtins[:] = adapters


def registered_adapters() -> list[L0Adapter]:
    """Every adapter in the order :func:`detect_adapter` tries them."""
    return [*_registry, *_builtins]


def detect_adapter(stream: Any) -> L0Adapter | None:
    """The first adapter whose ``detect`` accepts ``stream`` (a stream or a first chunk).

    Example:
        >>> detect_adapter(openai_chunk).name
        'openai'
    """
    for adapter in _registry:
        if adapter.detect(stream):
            return adapter
    for adapter in _builtins:
        if adapter.detect(stream):
            return adapter
    return None


def get_adapter(name: str) -> L0Adapter:
    """The adapter called ``name``; raises ``KeyError`` when there is none.

    Example:
        >>> get_adapter("anthropic").name
        'anthropic'
    """
    for adapter in registered_adapters():
        if adapter.name == name:
            return adapter
    known = ", ".join(adapter.name for adapter in registered_adapters())
    raise KeyError(f"no L0 adapter named {name!r} (known: {known})")


__all__ = [
    "ChunkDecoder",
    "DecodingAdapter",
    "L0Adapter",
    "detect_adapter",
    "get_adapter",
    "module_of",
    "register_adapter",
    "registered_adapters",
    "unregister_adapter",
]
