"""The Sentry observer and budget breadcrumbs, through sentry-sdk with a capturing transport."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from cascadeflow.integrations.sentry import budget_breadcrumbs, sentry_observer
from cascadeflow.l0 import L0ExhaustedError, RetryConfig, l0
from cascadeflow.telemetry import BudgetConfig, BudgetExceededError, CostTracker
from tests.l0.conftest import HTTPError, Scripted, SleepRecorder

WORDS = ["Hello ", "brave ", "new ", "world"]


class CapturingTransport(Transport):
    """Keeps every event sentry-sdk would have sent."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Any) -> None:
        for item in envelope.items:
            event = item.get_event()
            if event is not None:
                self.events.append(event)


@pytest.fixture
def sent() -> Iterator[list[dict[str, Any]]]:
    transport = CapturingTransport()
    sentry_sdk.init(dsn="https://public@sentry.example.invalid/1", transport=transport,
                    default_integrations=False, auto_enabling_integrations=False)
    sentry_sdk.get_isolation_scope().clear_breadcrumbs()
    yield transport.events
    budget_breadcrumbs(False)
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def _crumbs(event: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return [crumb for crumb in event["breadcrumbs"]["values"] if crumb["category"] == category]


async def test_a_run_that_finally_fails_is_captured_once_with_its_telemetry(
        sent: list[dict[str, Any]]) -> None:
    observer = sentry_observer()
    sleeps = SleepRecorder()
    result = await l0(Scripted([ConnectionResetError("reset")]),
                      fallback_streams=[Scripted([HTTPError(503)])],
                      retry=RetryConfig(max_retries=1), sleep=sleeps, on_event=observer,
                      context={"request_id": "r-42"})
    with pytest.raises(L0ExhaustedError):
        await result.text()
    sentry_sdk.flush()
    [event] = sent
    assert event["level"] == "error"
    assert event["exception"]["values"][-1]["type"] == "L0ExhaustedError"
    context = event["contexts"]["l0"]
    assert context["stream_id"] == result.stream_id
    assert context["attempts"] == result.telemetry.attempts
    assert context["retries"] == result.telemetry.retries and context["fallbacks"] == 1
    assert event["extra"]["l0.context.request_id"] == "r-42"
    assert event["tags"]["l0.outcome"] == "failed"
    crumbs = _crumbs(event, "cascadeflow.l0")
    assert any(c["message"].startswith("retry (network_error)") for c in crumbs)
    assert any(c["message"] == "fallback to stream 1" for c in crumbs)


async def test_a_transient_error_recovered_by_a_retry_is_never_captured(
        sent: list[dict[str, Any]]) -> None:
    observer = sentry_observer()
    result = await l0(Scripted(["Hel", ConnectionResetError("reset")], WORDS),
                      sleep=SleepRecorder(), on_event=observer)
    assert await result.text() == "Hello brave new world"
    sentry_sdk.flush()
    assert sent == []
    sentry_sdk.capture_message("later")  # the breadcrumbs stay on the scope for what follows
    sentry_sdk.flush()
    [later] = sent
    assert [c["data"]["reason"] for c in _crumbs(later, "cascadeflow.l0")
            if c["message"].startswith("retry")] == ["network_error"]


async def test_min_severity_fatal_skips_ordinary_failures(sent: list[dict[str, Any]]) -> None:
    observer = sentry_observer(min_severity="fatal")
    result = await l0(Scripted([HTTPError(503)]), retry=None, on_event=observer)
    with pytest.raises(HTTPError):
        await result.text()
    sentry_sdk.flush()
    assert sent == []


async def test_nothing_is_sent_before_sentry_is_initialised() -> None:
    observer = sentry_observer(budget_breadcrumbs_too=False)
    result = await l0(Scripted([HTTPError(503)]), retry=None, on_event=observer)
    with pytest.raises(HTTPError):
        await result.text()
    assert not sentry_sdk.get_client().is_active()


def test_budget_refusals_and_blocks_become_breadcrumbs(sent: list[dict[str, Any]]) -> None:
    sentry_observer()
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("erin", BudgetConfig(daily=0.01))
    with pytest.raises(BudgetExceededError):
        tracker.reserve("erin", 0.02)
    tracker.set_user_budget("dan", BudgetConfig(daily=0.0))
    tracker.enforce("dan", "gpt-4o", 0.01)
    sentry_sdk.capture_message("checkout failed")
    sentry_sdk.flush()
    [event] = sent
    refused, blocked = _crumbs(event, "cascadeflow.budget")
    assert refused["data"] == {"user_id": "erin", "scope": "user", "period": "daily",
                               "limit": 0.01, "spent": 0.0, "requested": 0.02}
    assert blocked["data"]["user_id"] == "dan" and blocked["data"]["action"] == "block"


async def test_aborted_runs_are_warnings_captured_only_from_min_severity_warning(
        sent: list[dict[str, Any]]) -> None:
    from cascadeflow.l0 import L0AbortedError

    for observer in (sentry_observer(), sentry_observer(min_severity="warning")):
        result = await l0(Scripted(WORDS), on_event=observer)
        with pytest.raises(L0AbortedError):
            async for event in result:
                if event.type == "token":
                    result.abort()
    sentry_sdk.flush()
    [event] = sent
    assert event["level"] == "warning" and event["tags"]["l0.outcome"] == "aborted"
    assert event["exception"]["values"][-1]["type"] == "L0AbortedError"
