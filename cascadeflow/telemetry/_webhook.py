"""Alert delivery to an HTTP endpoint, off the recording path, with retries and a signature."""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import threading
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from cascadeflow.telemetry.alerts import BudgetAlert

logger = logging.getLogger("cascadeflow.alerts")

#: The header carrying ``sha256=<hex HMAC of the body>`` when a secret is set.
SIGNATURE_HEADER = "X-Cascadeflow-Signature"


def sign(secret: str, body: bytes) -> str:
    """The value of :data:`SIGNATURE_HEADER` for ``body`` (what a receiver recomputes).

    Example:
        >>> sign("s3cret", b'{"text": "hi"}')[:7]
        'sha256='
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink:
    """Posts each alert as JSON to ``url`` from a background thread (``add_cost`` never waits).

    The body is :meth:`BudgetAlert.to_dict` (its ``text`` field makes it a valid Slack
    incoming-webhook payload). With ``secret``, the body's HMAC-SHA256 goes in the
    ``X-Cascadeflow-Signature`` header. Failed posts (a network error or a 5xx/429) are
    retried with tenacity (``attempts`` in all, exponential waits); an alert that still fails
    is counted in ``dead_letters`` and logged. ``flush()`` waits for pending deliveries; call
    it (or ``close()``) before the process exits, since the worker thread is a daemon.

    Example:
        >>> sink = WebhookSink("https://hooks.slack.com/services/T/B/X", secret="s3cret")
        >>> tracker = CostTracker(alert_thresholds=(0.8, 1.0), on_alert=sink)

    .. versionadded:: 0.3.0
    """

    def __init__(self, url: str, secret: str | None = None, timeout: float = 5.0, *,
                 attempts: int = 4, backoff: float = 0.2) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http(s) URL, got {url!r}")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts must be a positive int, got {attempts!r}")
        self.url = url
        self.secret = secret
        self.timeout = float(timeout)
        self.attempts = attempts
        self.backoff = backoff
        self.delivered = 0
        self.dead_letters = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __call__(self, alert: BudgetAlert) -> None:
        self._queue.put(orjson.dumps(alert.to_dict()))
        if self._worker is None:
            with self._start_lock:
                if self._worker is None:
                    self._worker = threading.Thread(target=self._run, name="cascadeflow-webhook",
                                                    daemon=True)
                    self._worker.start()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued alert is delivered or dead-lettered; False on timeout."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def close(self) -> None:
        """Deliver what is queued, then stop the worker."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=self.timeout) as client:
            while True:
                body = self._queue.get()
                try:
                    if body is None:
                        return
                    self._deliver(client, body)
                finally:
                    self._queue.task_done()

    def _deliver(self, client: object, body: bytes) -> None:
        import httpx
        from tenacity import (
            RetryError,
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        assert isinstance(client, httpx.Client)
        headers = {"content-type": "application/json"}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)

        def post() -> None:
            response = client.post(self.url, content=body, headers=headers)
            if response.status_code >= 500 or response.status_code == 429:
                raise _Retryable(f"HTTP {response.status_code}")
            response.raise_for_status()

        try:
            for attempt in Retrying(
                    stop=stop_after_attempt(self.attempts),
                    wait=wait_exponential(multiplier=self.backoff, max=5.0),
                    retry=retry_if_exception_type((_Retryable, httpx.TransportError))):
                with attempt:
                    post()
            self.delivered += 1
        except (RetryError, _Retryable, httpx.HTTPError) as exc:
            self.dead_letters += 1
            logger.error("webhook alert to %s failed after %d attempt(s): %s (dead letters: %d)",
                         self.url, self.attempts, exc, self.dead_letters)


class _Retryable(Exception):
    """A response worth another attempt (a 5xx or 429)."""
