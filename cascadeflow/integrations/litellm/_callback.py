"""``CascadeFlowLiteLLMCallback``: a LiteLLM ``CustomLogger`` that meters every call per user.

Success events (sync, async, streamed) become exactly one ``CostEntry`` per LiteLLM call id;
``async_pre_call_deployment_hook`` enforces and reserves before an ``acompletion`` leaves;
``async_pre_call_hook`` does the same inside LiteLLM's proxy, refusing with HTTP 429.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from cascadeflow._exceptions import BudgetExceededError
from cascadeflow.telemetry import CostTracker, Reservation

from ._metering import Meter, Usage
from ._stats import IntegrationStats, StatsRecorder
from ._usage import (
    CallScopes,
    call_id_of,
    is_guarded,
    response_cost_of,
    scopes_of,
    tier_of,
    user_of,
)

__all__ = ["CascadeFlowLiteLLMCallback"]

# Call types whose requests are chat/text completions we can estimate before sending.
_ESTIMABLE_CALLS = frozenset({"completion", "acompletion", "text_completion", "atext_completion"})
# How many call ids are remembered to drop duplicate events and pair pre-call with result.
_REMEMBERED_CALLS = 100_000


def _call_type_name(call_type: object) -> str:
    value = getattr(call_type, "value", call_type)
    return str(value) if value is not None else ""


def _latency_ms(start_time: object, end_time: object) -> float | None:
    if isinstance(start_time, datetime) and isinstance(end_time, datetime):
        return round((end_time - start_time).total_seconds() * 1000.0, 3)
    if isinstance(start_time, int | float) and isinstance(end_time, int | float):
        return round((float(end_time) - float(start_time)) * 1000.0, 3)
    return None


def _provider_hint(kwargs: Mapping[str, Any]) -> object:
    hint = kwargs.get("custom_llm_provider")
    if hint is None:
        params = kwargs.get("litellm_params")
        if isinstance(params, Mapping):
            hint = params.get("custom_llm_provider")
    return hint


class CascadeFlowLiteLLMCallback(CustomLogger):
    """Records every LiteLLM completion against its user and enforces budgets before calls.

    The user is ``kwargs["user"]`` (LiteLLM's ``user=``), else ``metadata[user_key]``; the
    tier is ``metadata[tier_key]``, else the tier the tracker remembers for the user.

    Args:
        tracker: the ledger to record into and enforce from.
        enforce: run ``tracker.enforce`` and reserve before ``acompletion`` and proxy calls
            (BLOCK raises ``BudgetExceededError``, DEGRADE switches the model). With False
            the callback only meters.
        user_key: metadata key holding the user when ``user=`` is not given.
        tier_key: metadata key holding the user's tier.
        team_key, org_key, tags_key: metadata keys of the team, organisation and tags
            (LiteLLM's own ``team_id``, ``org_id`` and ``tags`` by default); their budgets,
            caps, quotas and rate limits are checked with the user's.

    Errors inside the callback never break the caller's request: they are logged once
    per kind and counted in :attr:`stats`.

    Example:
        >>> import litellm
        >>> callback = CascadeFlowLiteLLMCallback(tracker)
        >>> litellm.callbacks = [callback]
        >>> litellm.completion(model="gpt-4o-mini", messages=msgs, user="u1",
        ...                    mock_response="hi")
        >>> tracker.by_user["u1"] > 0   # once LiteLLM has delivered the success event
        True

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        tracker: CostTracker,
        *,
        enforce: bool = True,
        user_key: str = "user_id",
        tier_key: str = "user_tier",
        team_key: str = "team_id",
        org_key: str = "org_id",
        tags_key: str = "tags",
    ) -> None:
        super().__init__()
        self.tracker = tracker
        self.enforce = enforce
        self.user_key = user_key
        self.tier_key = tier_key
        self.team_key = team_key
        self.org_key = org_key
        self.tags_key = tags_key
        self._stats = StatsRecorder()
        self._meter = Meter(tracker, self._stats, enforce=enforce)
        self._lock = threading.Lock()
        self._admitted: OrderedDict[str, Reservation | None] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()

    def __repr__(self) -> str:
        return (f"CascadeFlowLiteLLMCallback(enforce={self.enforce}, "
                f"user_key={self.user_key!r}, tier_key={self.tier_key!r})")

    @property
    def stats(self) -> IntegrationStats:
        """What the callback has done so far (recorded, blocked, failures, errors, ...)."""
        return self._stats.snapshot()

    @property
    def meter(self) -> Meter:
        """The estimating/recording engine this callback shares with the guarded completion."""
        return self._meter

    # -- bookkeeping by LiteLLM call id -----------------------------------------
    def hold(self, call_id: str, reservation: Reservation | None) -> None:
        """Remember that ``call_id`` was admitted (with its reservation, if any)."""
        with self._lock:
            self._admitted[call_id] = reservation
            while len(self._admitted) > _REMEMBERED_CALLS:
                # The oldest call never reported back; its reservation expires on its own.
                self._admitted.popitem(last=False)

    def is_admitted(self, call_id: str | None) -> bool:
        """True when ``call_id`` already went through enforcement."""
        with self._lock:
            return call_id is not None and call_id in self._admitted

    def _take(self, call_id: str | None) -> Reservation | None:
        if call_id is None:
            return None
        with self._lock:
            return self._admitted.pop(call_id, None)

    def _claim(self, key: str | None) -> bool:
        """True the first time ``key`` finishes; False for LiteLLM's repeated events."""
        if key is None:
            return True
        with self._lock:
            if key in self._finished:
                duplicate = True
            else:
                duplicate = False
                self._finished[key] = None
                while len(self._finished) > _REMEMBERED_CALLS:
                    self._finished.popitem(last=False)
        if duplicate:
            self._stats.add("duplicates")
        return not duplicate

    def _identity(self, kwargs: Mapping[str, Any]) -> tuple[str | None, str | None]:
        user = user_of(kwargs, self.user_key)
        tier = tier_of(kwargs, self.tier_key)
        if tier is None and user is not None:
            tier = self.tracker.get_user_tier(user)
        return user, tier

    def scopes(self, kwargs: Mapping[str, Any]) -> CallScopes:
        """The team, org, key and tags a call carries (see :func:`scopes_of`)."""
        return scopes_of(kwargs, team_key=self.team_key, org_key=self.org_key,
                         tags_key=self.tags_key)

    # -- before the call ---------------------------------------------------------
    async def async_pre_call_deployment_hook(
        self, kwargs: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        """Enforce and reserve before an SDK ``acompletion`` is sent.

        Raises ``BudgetExceededError`` to block; returns kwargs with a cheaper ``model``
        to degrade; returns None to let the call through unchanged.
        """
        if not self.enforce or is_guarded(kwargs):
            return None
        call_id = call_id_of(kwargs)
        model = kwargs.get("model")
        if (self.is_admitted(call_id) or not isinstance(model, str)
                or _call_type_name(call_type) not in _ESTIMABLE_CALLS):
            return None
        user, tier = self._identity(kwargs)
        if user is None:
            return None
        try:
            request = self._meter.read_request(model, kwargs.get("messages"), kwargs, user, tier,
                                               scopes=self.scopes(kwargs))
            admission = await self._meter.aadmit(request)
        except BudgetExceededError:
            raise
        except Exception as exc:
            self._stats.error("pre-call enforcement", exc)
            return None
        if call_id is not None:
            self.hold(call_id, admission.reservation)
        if admission.model != model:
            changed = dict(kwargs)
            changed["model"] = admission.model
            return changed
        return None

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        """LiteLLM proxy hook: enforce before routing; over budget is HTTP 429."""
        from ._proxy import admit_proxy_request

        return await admit_proxy_request(self, user_api_key_dict, data, call_type)

    # -- after the call ----------------------------------------------------------
    def _usage(
        self, kwargs: Mapping[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> Usage:
        user, tier = self._identity(kwargs)
        model = kwargs.get("model")
        if not isinstance(model, str) or not model:
            model = str(getattr(response_obj, "model", None) or "unknown")
        extra: dict[str, Any] = {"source": "litellm_callback"}
        latency = _latency_ms(start_time, end_time)
        if latency is not None:
            extra["latency_ms"] = latency
        if kwargs.get("stream"):
            extra["stream"] = True
            first_chunk = _latency_ms(start_time, kwargs.get("completion_start_time"))
            if first_chunk is not None:
                extra["time_to_first_chunk_ms"] = first_chunk
        return self._meter.usage_of(
            model, kwargs.get("messages"), response_obj,
            response_cost=response_cost_of(kwargs, response_obj), user_id=user,
            user_tier=tier, call_id=call_id_of(kwargs), provider_hint=_provider_hint(kwargs),
            metadata=extra, scopes=self.scopes(kwargs))

    def _guarded(self, kwargs: Mapping[str, Any]) -> bool:
        if is_guarded(kwargs):
            self._stats.add("left_to_guard")
            return True
        return False

    def _success_wanted(self, kwargs: Mapping[str, Any]) -> bool:
        return not self._guarded(kwargs) and self._claim(call_id_of(kwargs))

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Record a sync call's cost (or settle its reservation)."""
        try:
            if self._success_wanted(kwargs):
                reservation = self._take(call_id_of(kwargs))
                self._meter.record(self._usage(kwargs, response_obj, start_time, end_time),
                                   reservation)
        except Exception as exc:
            self._stats.error("recording a success event", exc)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Record an async call's cost (or settle its reservation)."""
        try:
            if self._success_wanted(kwargs):
                reservation = self._take(call_id_of(kwargs))
                await self._meter.arecord(
                    self._usage(kwargs, response_obj, start_time, end_time), reservation)
        except Exception as exc:
            self._stats.error("recording a success event", exc)

    def _failure(self, kwargs: Mapping[str, Any], start_time: Any = None, end_time: Any = None
                 ) -> tuple[Reservation | None, Usage | None]:
        """Count a failed call; return its reservation and any cost the provider billed."""
        call_id = call_id_of(kwargs)
        if self._guarded(kwargs) or not self._claim(f"failed:{call_id}" if call_id else None):
            return None, None
        reservation = self._take(call_id)
        if isinstance(kwargs.get("exception"), BudgetExceededError):
            return reservation, None  # refused by us before sending: counted as blocked
        user, tier = self._identity(kwargs)
        model = kwargs.get("model")
        latency = _latency_ms(start_time, end_time)
        self._meter.failed(model if isinstance(model, str) else "unknown",
                           kwargs.get("exception"), user_id=user, user_tier=tier,
                           stream=bool(kwargs.get("stream")),
                           duration=latency / 1000.0 if latency is not None else None,
                           source="litellm_callback", reservation=reservation)
        billed = response_cost_of(kwargs)
        if not billed or not isinstance(model, str):
            return reservation, None
        metadata = {"source": "litellm_callback", "failed": True}
        return reservation, Usage(user, tier, model, self._meter.provider(model), 0, 0, billed,
                                  call_id, metadata)

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Release a failed call's reservation and count the failure."""
        try:
            reservation, billed = self._failure(kwargs, start_time, end_time)
            if billed is not None:
                self._meter.record(billed, reservation)
            else:
                self._meter.release(reservation)
        except Exception as exc:
            self._stats.error("recording a failure event", exc)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Async :meth:`log_failure_event`."""
        try:
            reservation, billed = self._failure(kwargs, start_time, end_time)
            if billed is not None:
                await self._meter.arecord(billed, reservation)
            else:
                await self._meter.arelease(reservation)
        except Exception as exc:
            self._stats.error("recording a failure event", exc)

