"""Deciding what an error is: by exception type and status code first, message last.

Message patterns are a last resort and match whole words, so "could not be processed" is
not a network error and "concert" is not an SSL error.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from cascadeflow.l0._errors import (
    L0AbortedError,
    L0DriftError,
    L0Error,
    L0GuardrailError,
    L0StreamError,
    L0TimeoutError,
)
from cascadeflow.l0._types import ErrorCategory, RetryReason


@dataclass(frozen=True, slots=True)
class ErrorClassification:
    """What :func:`classify_error` found out about one error.

    ``network_type`` names the network failure (``connection_dropped``, ``econnreset``,
    ``econnrefused``, ``dns_error``, ``timeout``, ...) and picks its error-type delay;
    ``retry_after`` is the provider's Retry-After in seconds, when it sent one.
    """

    category: ErrorCategory
    reason: RetryReason
    status_code: int | None = None
    network_type: str | None = None
    retry_after: float | None = None


# Exception class names (anywhere in the MRO) of HTTP clients and SDKs, so that neither
# httpx, aiohttp, openai, anthropic nor litellm has to be imported to recognise them.
_NETWORK_CLASS_TYPES = {
    "ConnectError": "econnrefused",
    "ConnectTimeout": "timeout",
    "ReadTimeout": "timeout",
    "WriteTimeout": "timeout",
    "PoolTimeout": "timeout",
    "TimeoutException": "timeout",
    "APITimeoutError": "timeout",
    "Timeout": "timeout",
    "ReadError": "connection_dropped",
    "WriteError": "connection_dropped",
    "RemoteProtocolError": "connection_dropped",
    "LocalProtocolError": "connection_dropped",
    "NetworkError": "connection_dropped",
    "TransportError": "connection_dropped",
    "IncompleteRead": "partial_chunks",
    "ChunkedEncodingError": "partial_chunks",
    "ClientPayloadError": "partial_chunks",
    "ServerDisconnectedError": "connection_dropped",
    "ClientConnectionError": "connection_dropped",
    "ClientConnectorError": "econnrefused",
    "APIConnectionError": "connection_dropped",
    "ServiceUnavailableError": "connection_dropped",
    "EndOfStream": "connection_dropped",
    "BrokenResourceError": "connection_dropped",
    "ClosedResourceError": "connection_dropped",
}

_ERRNO_TYPES = {
    errno.ECONNRESET: "econnreset",
    errno.ECONNREFUSED: "econnrefused",
    errno.ECONNABORTED: "connection_dropped",
    errno.EPIPE: "connection_dropped",
    errno.ETIMEDOUT: "timeout",
    errno.EHOSTUNREACH: "econnrefused",
    errno.ENETUNREACH: "econnrefused",
    errno.ENETDOWN: "econnrefused",
}

# Errors a bug in the caller's code raises; retrying them only repeats the bug.
_INTERNAL_TYPES = (
    ValueError, TypeError, KeyError, IndexError, AttributeError, NameError, AssertionError,
    NotImplementedError, ImportError, LookupError, ArithmeticError, RecursionError,
)

_TRANSIENT_PROVIDER_TYPES = {
    "overloaded_error": (529, RetryReason.SERVER_ERROR),
    "rate_limit_error": (429, RetryReason.RATE_LIMIT),
    "api_error": (500, RetryReason.SERVER_ERROR),
    "server_error": (500, RetryReason.SERVER_ERROR),
    "timeout_error": (504, RetryReason.SERVER_ERROR),
}

_PATTERNS: tuple[tuple[re.Pattern[str], ErrorCategory, RetryReason, str | None], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), category, reason, network_type)
    for pattern, category, reason, network_type in (
        (r"\bcertificate verify failed\b|\bCERTIFICATE_VERIFY_FAILED\b|"
         r"\bself[- ]signed certificate\b", ErrorCategory.FATAL, RetryReason.UNKNOWN, None),
        (r"\bECONNRESET\b|\bconnection reset\b", ErrorCategory.NETWORK,
         RetryReason.NETWORK_ERROR, "econnreset"),
        (r"\bECONNREFUSED\b|\bconnection refused\b", ErrorCategory.NETWORK,
         RetryReason.NETWORK_ERROR, "econnrefused"),
        (r"\bENOTFOUND\b|\bEAI_AGAIN\b|\bgetaddrinfo\b|\bname resolution\b|"
         r"\bname or service not known\b|\bDNS\b", ErrorCategory.NETWORK,
         RetryReason.NETWORK_ERROR, "dns_error"),
        (r"\bconnection (?:aborted|closed|dropped|lost)\b|\bsocket hang up\b|"
         r"\bbroken pipe\b|\bpeer closed connection\b", ErrorCategory.NETWORK,
         RetryReason.NETWORK_ERROR, "connection_dropped"),
        (r"\btimed out\b|\btimeout\b|\bETIMEDOUT\b", ErrorCategory.NETWORK,
         RetryReason.TIMEOUT, "timeout"),
        (r"\brate[ _-]?limit(?:ed)?\b|\btoo many requests\b", ErrorCategory.TRANSIENT,
         RetryReason.RATE_LIMIT, None),
        (r"\boverloaded\b|\bservice unavailable\b|\bbad gateway\b|\bgateway timeout\b",
         ErrorCategory.TRANSIENT, RetryReason.SERVER_ERROR, None),
        (r"\binvalid api key\b|\bunauthori[sz]ed\b|\bauthentication\b|\bforbidden\b",
         ErrorCategory.FATAL, RetryReason.UNKNOWN, None),
    )
)


def status_code_of(error: BaseException) -> int | None:
    """The HTTP status an SDK error carries (``status_code``, ``status``, ``response``)."""
    for attribute in ("status_code", "status", "http_status"):
        value = getattr(error, attribute, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(error, "response", None)
    value = getattr(response, "status_code", None) if response is not None else None
    if isinstance(value, int) and 100 <= value <= 599:
        return value
    return None


def retry_after_of(error: BaseException, *, now: float | None = None) -> float | None:
    """Seconds the provider asked us to wait, from ``retry_after`` or a Retry-After header.

    Reads ``error.retry_after`` (seconds), then the ``retry-after-ms`` / ``retry-after``
    headers of ``error.headers`` or ``error.response.headers``; a header may be seconds or
    an HTTP date. Returns ``None`` when absent or unreadable.

    Example:
        >>> class RateLimited(Exception):
        ...     headers = {"retry-after": "7"}
        >>> retry_after_of(RateLimited())
        7.0
    """
    direct = getattr(error, "retry_after", None)
    if isinstance(direct, (int, float)) and not isinstance(direct, bool) and direct >= 0:
        return float(direct)
    headers = getattr(error, "headers", None)
    if headers is None:
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None) if response is not None else None
    if headers is None or not hasattr(headers, "get"):
        return None
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return None if value is None else str(value).strip()


def _network_type_from_class(error: BaseException) -> str | None:
    for klass in type(error).__mro__:
        found = _NETWORK_CLASS_TYPES.get(klass.__name__)
        if found is not None:
            return found
    return None


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _classify_by_status(status: int, retry_after: float | None) -> ErrorClassification:
    if status == 429:
        return ErrorClassification(ErrorCategory.TRANSIENT, RetryReason.RATE_LIMIT, status,
                                   retry_after=retry_after)
    if status == 408:
        return ErrorClassification(ErrorCategory.TRANSIENT, RetryReason.TIMEOUT, status,
                                   network_type="timeout", retry_after=retry_after)
    if 500 <= status <= 599 and status != 501:
        return ErrorClassification(ErrorCategory.TRANSIENT, RetryReason.SERVER_ERROR, status,
                                   retry_after=retry_after)
    # 400-class request errors, 401/403 and 501 are answered the same way on every retry.
    return ErrorClassification(ErrorCategory.FATAL, RetryReason.UNKNOWN, status,
                               retry_after=retry_after)


def classify_error(error: BaseException) -> ErrorClassification:
    """Classify ``error`` fully (category, retry reason, status, network type, Retry-After).

    Example:
        >>> classify_error(ConnectionResetError()).network_type
        'econnreset'
    """
    if isinstance(error, L0TimeoutError):
        return ErrorClassification(ErrorCategory.TRANSIENT, RetryReason.TIMEOUT,
                                   network_type="timeout")
    if isinstance(error, L0GuardrailError):
        return ErrorClassification(ErrorCategory.CONTENT, RetryReason.GUARDRAIL_VIOLATION)
    if isinstance(error, L0DriftError):
        return ErrorClassification(ErrorCategory.CONTENT, RetryReason.DRIFT)
    if isinstance(error, L0AbortedError):
        return ErrorClassification(ErrorCategory.FATAL, RetryReason.UNKNOWN)
    retry_after = retry_after_of(error)
    if isinstance(error, L0StreamError):
        if error.status_code is not None:
            return _classify_by_status(error.status_code, retry_after)
        known = _TRANSIENT_PROVIDER_TYPES.get(error.error_type or "")
        if known is not None:
            return ErrorClassification(ErrorCategory.TRANSIENT, known[1], known[0],
                                       retry_after=retry_after)
        by_message = _classify_by_message(str(error))
        if by_message is not None:
            return by_message
        return ErrorClassification(ErrorCategory.PROVIDER, RetryReason.PROVIDER_ERROR)
    if isinstance(error, L0Error):
        return ErrorClassification(ErrorCategory.INTERNAL, RetryReason.UNKNOWN)
    chain = _causes(error)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return ErrorClassification(ErrorCategory.FATAL, RetryReason.UNKNOWN)
    status = status_code_of(error)
    if status is not None:
        return _classify_by_status(status, retry_after)
    for link in chain:
        found = _classify_by_type(link)
        if found is not None:
            return found
    if isinstance(error, _INTERNAL_TYPES):
        return ErrorClassification(ErrorCategory.INTERNAL, RetryReason.UNKNOWN)
    by_message = _classify_by_message(str(error))
    if by_message is not None:
        return by_message
    return ErrorClassification(ErrorCategory.MODEL, RetryReason.MODEL_ERROR)


def _classify_by_type(error: BaseException) -> ErrorClassification | None:
    network = ErrorCategory.NETWORK
    if isinstance(error, socket.gaierror):
        return ErrorClassification(network, RetryReason.NETWORK_ERROR, network_type="dns_error")
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return ErrorClassification(network, RetryReason.TIMEOUT, network_type="timeout")
    if isinstance(error, ConnectionResetError):
        return ErrorClassification(network, RetryReason.NETWORK_ERROR, network_type="econnreset")
    if isinstance(error, ConnectionRefusedError):
        return ErrorClassification(network, RetryReason.NETWORK_ERROR,
                                   network_type="econnrefused")
    if isinstance(error, (ConnectionError, ssl.SSLError, EOFError)):
        return ErrorClassification(network, RetryReason.NETWORK_ERROR,
                                   network_type="connection_dropped")
    if isinstance(error, OSError) and error.errno in _ERRNO_TYPES:
        return ErrorClassification(network, RetryReason.NETWORK_ERROR,
                                   network_type=_ERRNO_TYPES[error.errno])
    by_class = _network_type_from_class(error)
    if by_class is not None:
        reason = RetryReason.TIMEOUT if by_class == "timeout" else RetryReason.NETWORK_ERROR
        return ErrorClassification(network, reason, network_type=by_class)
    return None


def _classify_by_message(message: str) -> ErrorClassification | None:
    for pattern, category, reason, network_type in _PATTERNS:
        if pattern.search(message):
            return ErrorClassification(category, reason, network_type=network_type)
    return None


def categorize_error(error: BaseException) -> ErrorCategory:
    """The :class:`ErrorCategory` of ``error``.

    Type and status code decide first (401, 403 and other 4xx are fatal; 429 and 5xx other
    than 501 are transient; connection, DNS and timeout errors are network errors; a plain
    ``ValueError`` is internal); word-bounded message patterns decide only when nothing
    else does; anything left is a model error.

    Example:
        >>> categorize_error(ConnectionResetError("reset by peer"))
        <ErrorCategory.NETWORK: 'network'>
        >>> categorize_error(ValueError("bad argument"))
        <ErrorCategory.INTERNAL: 'internal'>
    """
    return classify_error(error).category


def is_network_error(error: BaseException) -> bool:
    """Whether ``error`` is a network failure (connection, DNS, socket timeout, ...).

    Example:
        >>> is_network_error(RuntimeError("request could not be processed"))
        False
    """
    return classify_error(error).category is ErrorCategory.NETWORK


_RETRYABLE = frozenset({ErrorCategory.NETWORK, ErrorCategory.TRANSIENT, ErrorCategory.MODEL,
                        ErrorCategory.CONTENT, ErrorCategory.PROVIDER})


def is_retryable(error: BaseException) -> bool:
    """Whether the default policy would retry ``error`` (fatal and internal errors: never).

    Example:
        >>> is_retryable(TimeoutError())
        True
    """
    return classify_error(error).category in _RETRYABLE


__all__ = [
    "ErrorClassification",
    "categorize_error",
    "classify_error",
    "is_network_error",
    "is_retryable",
    "retry_after_of",
    "status_code_of",
]
