"""Error classification, Retry-After, backoff formulas and the retry manager."""

from __future__ import annotations

import socket
import ssl
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cascadeflow.l0 import (
    BackoffStrategy,
    ErrorCategory,
    L0StreamError,
    L0TimeoutError,
    RetryConfig,
    RetryManager,
    calculate_backoff,
    categorize_error,
    is_network_error,
    is_retryable,
)
from cascadeflow.l0._classify import retry_after_of
from tests.l0.conftest import HTTPError


def _openai_error(status: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request)
    classes = {401: openai.AuthenticationError, 429: openai.RateLimitError,
               400: openai.BadRequestError, 500: openai.InternalServerError}
    return classes[status]("error", response=response, body=None)


@pytest.mark.parametrize(("error", "category"), [
    (ConnectionResetError(), ErrorCategory.NETWORK),
    (ConnectionRefusedError(), ErrorCategory.NETWORK),
    (socket.gaierror(-2, "Name or service not known"), ErrorCategory.NETWORK),
    (TimeoutError(), ErrorCategory.NETWORK),
    (httpx.ReadError("boom"), ErrorCategory.NETWORK),
    (openai.APIConnectionError(request=httpx.Request("GET", "https://x")),
     ErrorCategory.NETWORK),
    (L0TimeoutError("inter_token", 1.0), ErrorCategory.TRANSIENT),
    (HTTPError(429), ErrorCategory.TRANSIENT),
    (HTTPError(503), ErrorCategory.TRANSIENT),
    (HTTPError(501), ErrorCategory.FATAL),
    (HTTPError(401), ErrorCategory.FATAL),
    (HTTPError(403), ErrorCategory.FATAL),
    (HTTPError(400), ErrorCategory.FATAL),
    (HTTPError(422), ErrorCategory.FATAL),
    (ssl.SSLCertVerificationError("certificate verify failed"), ErrorCategory.FATAL),
    (ValueError("bad"), ErrorCategory.INTERNAL),
    (RuntimeError("the model produced garbage"), ErrorCategory.MODEL),
    (L0StreamError("overloaded", error_type="overloaded_error"), ErrorCategory.TRANSIENT),
    (L0StreamError("something odd"), ErrorCategory.PROVIDER),
])
def test_errors_are_categorised_by_type_and_status(error: BaseException,
                                                   category: ErrorCategory) -> None:
    assert categorize_error(error) is category


def test_sdk_errors_use_their_status_codes() -> None:
    assert categorize_error(_openai_error(401)) is ErrorCategory.FATAL
    assert categorize_error(_openai_error(400)) is ErrorCategory.FATAL
    assert categorize_error(_openai_error(429)) is ErrorCategory.TRANSIENT
    assert categorize_error(_openai_error(500)) is ErrorCategory.TRANSIENT


def test_message_patterns_match_whole_words_only() -> None:
    assert not is_network_error(RuntimeError("the request could not be processed"))
    assert categorize_error(RuntimeError("tickets for the concert")) is ErrorCategory.MODEL
    assert is_network_error(RuntimeError("read ECONNRESET"))
    assert categorize_error(RuntimeError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                                         "verify failed")) is ErrorCategory.FATAL


def test_ssl_certificate_error_wrapped_by_http_client_is_fatal() -> None:
    try:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as inner:
            raise httpx.ConnectError("connect failed") from inner
    except httpx.ConnectError as outer:
        assert categorize_error(outer) is ErrorCategory.FATAL
        assert not is_retryable(outer)


def test_retry_after_from_headers_seconds_date_and_attribute() -> None:
    assert retry_after_of(_openai_error(429, {"retry-after": "12"})) == 12.0
    assert retry_after_of(HTTPError(429, headers={"retry-after-ms": "1500"})) == 1.5
    when = datetime(2030, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    now = (when - timedelta(seconds=30)).timestamp()
    header = {"Retry-After": format_datetime(when, usegmt=True)}
    assert retry_after_of(HTTPError(429, headers=header), now=now) == pytest.approx(30.0)

    class Throttled(Exception):
        retry_after = 4

    assert retry_after_of(Throttled()) == 4.0
    assert retry_after_of(HTTPError(429)) is None


def test_retry_after_wins_over_backoff_and_can_be_capped() -> None:
    error = HTTPError(429, headers={"retry-after": "45"})
    assert RetryManager(RetryConfig()).decide(error).delay == 45.0
    assert RetryManager(RetryConfig(max_retry_after=20)).decide(error).delay == 20.0


def test_network_errors_use_their_error_type_delay() -> None:
    manager = RetryManager(RetryConfig(backoff=BackoffStrategy.FIXED))
    assert manager.decide(socket.gaierror(-2, "dns")).delay == 3.0
    assert manager.decide(ConnectionRefusedError()).delay == 2.0


def test_should_retry_can_veto() -> None:
    manager = RetryManager(RetryConfig(should_retry=lambda error, found: False))
    assert not manager.decide(ConnectionResetError()).retry


def test_retry_on_limits_reasons() -> None:
    from cascadeflow.l0 import RetryReason

    manager = RetryManager(RetryConfig(retry_on=frozenset({RetryReason.RATE_LIMIT})))
    assert not manager.decide(ConnectionResetError()).retry
    assert manager.decide(HTTPError(429)).retry


def test_backoff_formulas() -> None:
    assert [calculate_backoff("exponential", n, 1.0, 10.0) for n in range(5)] == [
        1.0, 2.0, 4.0, 8.0, 10.0]
    assert [calculate_backoff("linear", n, 0.5, 10.0) for n in range(3)] == [0.5, 1.0, 1.5]
    assert calculate_backoff(BackoffStrategy.FIXED, 7, 2.0, 10.0) == 2.0


@given(
    strategy=st.sampled_from(list(BackoffStrategy)),
    retry_index=st.integers(min_value=0, max_value=60),
    base=st.floats(min_value=0.0, max_value=100.0, allow_nan=False),
    cap=st.floats(min_value=0.0, max_value=1000.0, allow_nan=False),
)
def test_backoff_stays_within_bounds(strategy: BackoffStrategy, retry_index: int,
                                     base: float, cap: float) -> None:
    delay = calculate_backoff(strategy, retry_index, base, cap)
    assert 0.0 <= delay <= cap
    if strategy is BackoffStrategy.FIXED:
        assert delay == min(base, cap) or base == 0 or cap == 0
    if strategy is BackoffStrategy.FIXED_JITTER and base > 0 and cap > 0:
        assert min(base / 2, cap) <= delay + 1e-9
    if strategy is BackoffStrategy.EXPONENTIAL and base > 0 and cap > 0:
        assert delay == pytest.approx(min(base * 2.0 ** retry_index, cap))
