"""Adding cascadeflow's callback to LiteLLM (once per tracker) and taking it out again."""

from __future__ import annotations

import threading
from typing import Any

import litellm

from cascadeflow.telemetry import CostTracker

from ._callback import CascadeFlowLiteLLMCallback

__all__ = ["default_tracker", "register", "registered_callback", "unregister"]

# Every list LiteLLM copies a CustomLogger into once it has seen it in ``litellm.callbacks``.
_CALLBACK_LISTS = (
    "callbacks",
    "input_callback",
    "success_callback",
    "failure_callback",
    "service_callback",
    "_async_input_callback",
    "_async_success_callback",
    "_async_failure_callback",
)

_lock = threading.RLock()
_default: CostTracker | None = None


def _registered() -> list[CascadeFlowLiteLLMCallback]:
    found: list[CascadeFlowLiteLLMCallback] = []
    for name in _CALLBACK_LISTS:
        for callback in getattr(litellm, name, None) or ():
            if isinstance(callback, CascadeFlowLiteLLMCallback) and callback not in found:
                found.append(callback)
    return found


def registered_callback(tracker: CostTracker) -> CascadeFlowLiteLLMCallback | None:
    """The callback registered for ``tracker``, if there is one."""
    with _lock:
        return next((cb for cb in _registered() if cb.tracker is tracker), None)


def default_tracker() -> CostTracker | None:
    """The tracker of the latest :func:`register` call still registered."""
    with _lock:
        return _default


def register(tracker: CostTracker, **opts: Any) -> CascadeFlowLiteLLMCallback:
    """Meter every LiteLLM call into ``tracker``, keeping LiteLLM's other callbacks.

    ``opts`` are :class:`CascadeFlowLiteLLMCallback`'s keyword options (``enforce``,
    ``user_key``, ``tier_key``). Registering the same tracker again returns the callback
    already in place, so no call is ever counted twice. The tracker also becomes the
    default of the guarded :func:`completion` and :func:`acompletion`.

    Example:
        >>> callback = register(CostTracker(enforcement_mode="block"))
        >>> litellm.completion(model="gpt-4o-mini", messages=msgs, user="u1",
        ...                    mock_response="hi")

    .. versionadded:: 0.1.0
    """
    global _default
    with _lock:
        existing = registered_callback(tracker)
        if existing is None:
            existing = CascadeFlowLiteLLMCallback(tracker, **opts)
            litellm.callbacks.append(existing)
        _default = tracker
        return existing


def unregister(callback: CascadeFlowLiteLLMCallback) -> None:
    """Take ``callback`` out of every LiteLLM callback list; other callbacks stay.

    Example:
        >>> unregister(callback)
    """
    global _default
    with _lock:
        for name in _CALLBACK_LISTS:
            entries = getattr(litellm, name, None)
            if isinstance(entries, list):
                entries[:] = [entry for entry in entries if entry is not callback]
        if _default is callback.tracker and registered_callback(callback.tracker) is None:
            remaining = _registered()
            _default = remaining[-1].tracker if remaining else None
