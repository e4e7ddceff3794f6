"""Fake a provider's HTTP endpoint for the OpenAI and Anthropic SDKs, whichever httpx they use.

The SDKs send through ``httpx`` in older builds and through their fork ``httpx2`` in newer
ones; respx patches only ``httpx``. Both modules ship a ``MockTransport``, so the tests hand
the SDK a client of *its own* HTTP module with a mock transport that answers in-process.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


def sdk_http_module(sdk: str) -> ModuleType:
    """The HTTP module (``httpx`` or ``httpx2``) that the SDK package ``sdk`` sends through."""
    base = importlib.import_module(f"{sdk}._base_client")
    for name in ("httpx2", "httpx"):
        module = vars(base).get(name)
        if isinstance(module, ModuleType):
            return module
    raise RuntimeError(f"{sdk}._base_client imports neither httpx nor httpx2")


def mock_async_client(sdk: str, endpoint: Callable[[Any], Any]) -> Any:
    """An async client of the SDK's HTTP module whose every request is answered by ``endpoint``.

    ``endpoint(request)`` returns ``response(sdk, status, ...)``.
    """
    http = sdk_http_module(sdk)
    return http.AsyncClient(transport=http.MockTransport(endpoint))


def response(sdk: str, status: int, **kwargs: Any) -> Any:
    """A response object of the SDK's HTTP module (``content=``, ``json=``, ``headers=``)."""
    return sdk_http_module(sdk).Response(status, **kwargs)
