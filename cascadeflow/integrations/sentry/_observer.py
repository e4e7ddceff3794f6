"""The Sentry observers: L0 lifecycle events and ledger refusals through sentry-sdk's API.

Retries, fallbacks, guardrail violations and drift become breadcrumbs on the current
scope; a run that finally fails is captured once, with its L0 telemetry as context; a
transient error that a retry recovered is never captured. Budget refusals and blocks from
every tracker become breadcrumbs too (a ledger hook).
"""

from __future__ import annotations

import threading
from typing import Any, Literal

import sentry_sdk

from cascadeflow.l0 import L0LifecycleEvent, LifecycleEventType
from cascadeflow.telemetry import (
    EnforcementAction,
    EnforcementDecided,
    LedgerEvent,
    ReservationRefused,
    add_ledger_hook,
    remove_ledger_hook,
)

Severity = Literal["warning", "error", "fatal"]
_RANK = {"warning": 0, "error": 1, "fatal": 2}
_E = LifecycleEventType
_FATAL_CATEGORIES = frozenset({"fatal", "internal"})


def _active() -> bool:
    return sentry_sdk.get_client().is_active()


def _error_name(error: object) -> str:
    return type(error).__qualname__ if isinstance(error, BaseException) else "unknown"


class SentryObserver:
    """An ``on_event`` observer reporting L0 runs to Sentry; see :func:`sentry_observer`.

    Example:
        >>> observer = SentryObserver(min_severity="fatal")
        >>> result = await l0(factory, on_event=observer)
    """

    def __init__(self, min_severity: Severity = "error") -> None:
        if min_severity not in _RANK:
            raise ValueError(f"min_severity must be one of {sorted(_RANK)}, "
                             f"got {min_severity!r}")
        self.min_severity = min_severity
        # Each run's last failed attempt: its category says whether the failure was fatal.
        self._last_error: dict[str, tuple[BaseException, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: L0LifecycleEvent) -> None:
        kind = event.type
        if kind == _E.ERROR.value:
            with self._lock:  # kept until the run ends: captured only if nothing recovers
                self._last_error[event.stream_id] = (event.data["error"],
                                                     event.data["category"])
            if not _active():
                return
            self._breadcrumb(event, "error", f"attempt {event.attempt} failed: "
                             f"{_error_name(event.data['error'])}",
                             {"category": event.data["category"]})
        elif kind == _E.SESSION_END.value:
            with self._lock:
                last = self._last_error.pop(event.stream_id, None)
            if _active():
                self._end(event, last)
        elif not _active():
            return
        elif kind == _E.RETRY.value:
            data = event.data
            self._breadcrumb(event, "warning", f"retry ({data['reason']})",
                             {"reason": data["reason"], "delay": data["delay"],
                              "error_type": _error_name(data["error"])})
        elif kind == _E.FALLBACK.value:
            self._breadcrumb(event, "warning", f"fallback to stream {event.data['index']}",
                             {"index": event.data["index"]})
        elif kind == _E.VIOLATION.value:
            violation = event.data["violation"]
            severity = str(getattr(violation, "severity", "error"))
            self._breadcrumb(event, severity if severity in _RANK else "error",
                             f"guardrail {getattr(violation, 'rule', 'unknown')}: "
                             f"{getattr(violation, 'message', '')}",
                             {"rule": getattr(violation, "rule", None),
                              "recoverable": getattr(violation, "recoverable", None)})
        elif kind == _E.DRIFT.value:
            self._breadcrumb(event, "warning", "drift detected",
                             {"types": list(event.data["types"]),
                              "confidence": event.data["confidence"]})

    @staticmethod
    def _breadcrumb(event: L0LifecycleEvent, level: str, message: str,
                    data: dict[str, Any]) -> None:
        sentry_sdk.add_breadcrumb(
            category="cascadeflow.l0", type="default", level=level, message=message,
            data={**data, "stream_id": event.stream_id, "attempt": event.attempt,
                  "fallback_index": event.fallback_index})

    def _end(self, event: L0LifecycleEvent,
             last: tuple[BaseException, str] | None) -> None:
        data = event.data
        outcome = data["outcome"]
        if outcome == "failed":
            fatal = last is not None and last[1] in _FATAL_CATEGORIES
            level = "fatal" if fatal else "error"
        elif outcome == "aborted":
            level = "warning"
        else:
            return  # completed (retries included), abandoned or cancelled: nothing to report
        if _RANK[level] < _RANK[self.min_severity]:
            return
        with sentry_sdk.new_scope() as scope:
            scope.set_level(level)  # type: ignore[arg-type]
            scope.set_tag("l0.outcome", outcome)
            scope.set_context("l0", {
                "stream_id": event.stream_id,
                "attempts": data["attempts"],
                "retries": dict(data["retries"]),
                "fallbacks": data["fallbacks"],
                "violations": data["violations"],
                "token_count": data["token_count"],
                "duration": data["duration"],
                "time_to_first_token": data["time_to_first_token"],
                "error_type": data["error_type"],
            })
            for key, value in event.context.items():
                scope.set_extra(f"l0.context.{key}", value)
            error = data.get("error") or (last[0] if last is not None else None)
            if error is not None:
                sentry_sdk.capture_exception(error)
            else:
                sentry_sdk.capture_message(f"l0 run {outcome}: {data['error_type'] or ''}")


def sentry_observer(min_severity: Severity = "error", *,
                    budget_breadcrumbs_too: bool = True) -> SentryObserver:
    """An ``on_event`` observer that reports L0 runs to Sentry.

    Breadcrumbs: failed attempts, retries, fallbacks, guardrail violations and drift.
    Events: one per run that finally fails (level ``error``, or ``fatal`` for a
    non-retryable error), with the run's telemetry as the ``l0`` context and your
    ``context=`` as extras; aborted runs are level ``warning``. Only levels at or above
    ``min_severity`` are captured. Runs that recover are never captured. With
    ``budget_breadcrumbs_too`` it also turns on :func:`budget_breadcrumbs`. Nothing is sent
    while ``sentry_sdk`` is not initialised.

    Example:
        >>> observer = sentry_observer()
        >>> result = await l0(factory, on_event=observer)
        >>> add_event_hook(observer)     # or: every run of the process

    .. versionadded:: 0.1
    """
    observer = SentryObserver(min_severity)
    if budget_breadcrumbs_too:
        budget_breadcrumbs()
    return observer


def _ledger_breadcrumb(event: LedgerEvent) -> None:
    if not _active():
        return
    if isinstance(event, ReservationRefused):
        sentry_sdk.add_breadcrumb(
            category="cascadeflow.budget", type="default", level="warning",
            message=f"budget refused for user {event.user_id}: {event.period} "
                    f"limit ${event.limit:.6f}, spent ${event.spent:.6f}, "
                    f"requested ${event.requested:.6f}",
            data={"user_id": event.user_id, "scope": event.scope_kind,
                  "period": event.period, "limit": event.limit, "spent": event.spent,
                  "requested": event.requested})
    elif (isinstance(event, EnforcementDecided)
          and event.result.action is EnforcementAction.BLOCK):
        sentry_sdk.add_breadcrumb(
            category="cascadeflow.budget", type="default", level="warning",
            message=f"request blocked for user {event.user_id}: {event.result.reason}",
            data={"user_id": event.user_id, "model": event.model,
                  "action": event.result.action.value})


def budget_breadcrumbs(enabled: bool = True) -> None:
    """Turn the budget-refusal (and block) breadcrumbs of every tracker on or off.

    Example:
        >>> budget_breadcrumbs()          # on
        >>> budget_breadcrumbs(False)     # off

    .. versionadded:: 0.1
    """
    if enabled:
        add_ledger_hook(_ledger_breadcrumb)
    else:
        remove_ledger_hook(_ledger_breadcrumb)


__all__ = ["SentryObserver", "budget_breadcrumbs", "sentry_observer"]
