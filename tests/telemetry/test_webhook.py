"""WebhookSink against a real HTTP server on loopback: a 500 then success, the HMAC
signature, dead letters, and add_cost never waiting on delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cascadeflow import BudgetConfig, CostTracker, WebhookSink


class _Receiver:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses  # served in turn; the last one repeats
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()},
                                          body))
                status = (receiver.statuses.pop(0) if len(receiver.statuses) > 1
                          else receiver.statuses[0])
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[_Receiver]:
    made = _Receiver(list(getattr(request, "param", [200])))
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.mark.parametrize("receiver", [[500, 200]], indirect=True)
def test_a_500_is_retried_and_the_body_is_signed(receiver: _Receiver) -> None:
    sink = WebhookSink(receiver.url, secret="s3cret", timeout=2.0, backoff=0.01)
    tracker = CostTracker(alert_thresholds=(0.5,), on_alert=sink)
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 0.6, user_id="alice")
    assert sink.flush(timeout=30)
    sink.close()
    assert len(receiver.requests) == 2
    assert sink.delivered == 1 and sink.dead_letters == 0
    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["x-cascadeflow-signature"] == expected
    payload = json.loads(body)
    assert payload["kind"] == "threshold" and payload["threshold"] == 0.5
    assert payload["user_id"] == "alice" and payload["limit"] == 1.0
    assert "60% of the daily budget used" in payload["text"]


@pytest.mark.parametrize("receiver", [[503]], indirect=True)
def test_an_endpoint_that_keeps_failing_is_dead_lettered(receiver: _Receiver) -> None:
    sink = WebhookSink(receiver.url, attempts=3, backoff=0.01)
    tracker = CostTracker(alert_thresholds=(0.5, 1.0), on_alert=sink)
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 2.0, user_id="alice")
    assert tracker.total_cost == 2.0
    assert sink.flush(timeout=30)
    sink.close()
    assert sink.dead_letters == 2 and sink.delivered == 0
    assert len(receiver.requests) == 6
    assert "x-cascadeflow-signature" not in receiver.requests[0][0]


def test_an_unreachable_endpoint_is_dead_lettered(receiver: _Receiver) -> None:
    url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()
    sink = WebhookSink(url, attempts=2, backoff=0.01, timeout=1.0)
    tracker = CostTracker(alert_thresholds=(0.5,), on_alert=sink)
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 0.9, user_id="alice")
    assert sink.flush(timeout=30)
    assert sink.dead_letters == 1


def test_bad_webhook_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="url"):
        WebhookSink("ftp://example.com")
    with pytest.raises(ValueError, match="timeout"):
        WebhookSink("http://127.0.0.1:9/x", timeout=0)
