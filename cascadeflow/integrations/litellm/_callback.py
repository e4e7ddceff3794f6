"""``CascadeFlowLiteLLMCallback``: a LiteLLM ``CustomLogger`` that meters every call per user.

Success events (sync, async, streamed) become exactly one ``CostEntry`` per LiteLLM call id;
``async_pre_call_deployment_hook`` enforces and reserves before an ``acompletion`` leaves;
``log_pre_api_call`` holds a sync call's estimate in the caller's thread before it leaves;
a plain stream dropped before its end is billed for what it delivered;
``async_pre_call_hook`` does the same inside LiteLLM's proxy, refusing with HTTP 429.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from cascadeflow._exceptions import BudgetExceededError
from cascadeflow.telemetry import CostTracker, Reservation

from ._metering import Meter, Usage
from ._stats import IntegrationStats, StatsRecorder
from ._stream_watch import WatchedStream, bill_collected, install, unwatch, watch
from ._streams import StreamMeter, StreamTally
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
        # Calls seen leaving whose success/failure (or dropped stream) is not recorded yet.
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._settled = threading.Condition(self._lock)
        self._streams: dict[str, WatchedStream] = {}
        install()

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

    def _leaving(self, call_id: str, reservation: Reservation | None = None,
                 stream: WatchedStream | None = None) -> None:
        """Remember a call that leaves (its hold, its stream) until its outcome is recorded."""
        with self._lock:
            pending = self._pending
            pending[call_id] = None
            if len(pending) > _REMEMBERED_CALLS:
                pending.popitem(last=False)
            if reservation is not None:
                self._admitted[call_id] = reservation
                if len(self._admitted) > _REMEMBERED_CALLS:
                    self._admitted.popitem(last=False)
            if stream is not None:
                self._streams[call_id] = stream

    def _done(self, call_id: str | None) -> None:
        """The call's outcome is recorded: nothing more is pending for it."""
        if call_id is None:
            return
        with self._settled:
            stream = self._streams.pop(call_id, None)
            if self._pending.pop(call_id, 0) is None:
                self._settled.notify_all()
        if stream is not None:
            unwatch(call_id)

    @property
    def pending(self) -> int:
        """Calls that left and whose success or failure is not recorded yet.

        Example:
            >>> callback.pending     # 0 once flush() returned True
            0
        """
        with self._lock:
            return len(self._pending)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every call this callback saw leave is recorded; False on timeout.

        LiteLLM delivers sync success events from a thread pool after the call returned;
        use this in tests, scripts and at shutdown before reading the ledger. Streams
        already dropped are collected first, so they are billed. From inside a running
        event loop use :meth:`aflush` (async events need the loop to run).

        Example:
            >>> litellm.completion(model="gpt-4o-mini", messages=msgs, user="u1",
            ...                    mock_response="hi")
            >>> callback.flush()
            True
        """
        gc.collect()
        deadline = time.monotonic() + timeout
        while True:
            # A stream LiteLLM's threads let go of meanwhile is billed here, not in the
            # finaliser (which may run inside a lock): look again every few milliseconds.
            bill_collected()
            with self._settled:
                if not self._pending:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._settled.wait(min(left, 0.01))

    async def aflush(self, timeout: float = 5.0) -> bool:
        """Async :meth:`flush`: lets the event loop deliver LiteLLM's async events.

        Example:
            >>> await litellm.acompletion(model="gpt-4o-mini", messages=msgs, user="u1",
            ...                           mock_response="hi")
            >>> await callback.aflush()
            True
        """
        gc.collect()
        deadline = time.monotonic() + timeout
        while True:
            bill_collected()
            if not self.pending:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.002)

    def _identity(self, kwargs: Mapping[str, Any]) -> tuple[str | None, str | None]:
        user = user_of(kwargs, self.user_key)
        tier = tier_of(kwargs, self.tier_key)
        if tier is None and user is not None:
            tier = self.tracker.get_user_tier(user)
        return user, tier

    async def _aidentity(self, kwargs: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """Async :meth:`_identity`: the tier is read without blocking the event loop."""
        user = user_of(kwargs, self.user_key)
        tier = tier_of(kwargs, self.tier_key)
        if tier is None and user is not None:
            tier = await self.tracker.aget_user_tier(user)
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
        user, tier = await self._aidentity(kwargs)
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

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        """Called by LiteLLM in the caller's thread just before a call leaves.

        A sync call's estimate is held here (it cannot be refused: an estimate that does
        not fit is held anyway and counted in ``stats.over_budget``), so that the moment
        ``completion()`` returns, ``can_afford`` and ``remaining`` include it. Streams
        are watched, so that one dropped before its end is billed for what it delivered.
        """
        try:
            bill_collected()
            self._leave(model, messages, kwargs)
        except Exception as exc:
            self._stats.error("pre-call reservation", exc)

    def _leave(self, model: Any, messages: Any, kwargs: Mapping[str, Any]) -> None:
        call_id = call_id_of(kwargs)
        # Only completions are awaited by flush(): other call types may report nothing.
        if (call_id is None or is_guarded(kwargs)
                or _call_type_name(kwargs.get("call_type")) not in _ESTIMABLE_CALLS):
            return
        if not isinstance(model, str):
            self._leaving(call_id)
            return
        params = kwargs.get("litellm_params")
        # An acompletion was admitted (and reserved) by async_pre_call_deployment_hook.
        is_async = type(params) is dict and params.get("acompletion") is True
        request = reservation = stream = None
        if not is_async and self.enforce:
            user, tier = self._identity(kwargs)
            if user is not None:
                optional = kwargs.get("optional_params")
                request = self._meter.read_request(
                    model, messages, optional if type(optional) is dict else kwargs, user, tier,
                    scopes=self.scopes(kwargs))
                reservation = self._meter.hold(request)
        if kwargs.get("stream"):
            prompt = (request.prompt_tokens if request is not None
                      else self._meter.prompt_tokens(model, messages))
            stream = WatchedStream(call_id, model, prompt, kwargs, self._stream_ended)
        self._leaving(call_id, reservation, stream)
        if stream is not None:
            watch(stream)

    def _stream_ended(self, stream: WatchedStream, outcome: str) -> None:
        """Bill a plain stream that ended without a success event, from what it delivered."""
        if not self._claim(stream.call_id):
            self._done(stream.call_id)
            return
        try:
            reservation = self._take(stream.call_id)
            meter = StreamMeter(stream.model, stream.prompt_tokens, lambda tally: None)
            for chunk in stream.chunks:
                meter.observe(chunk)
            tally: StreamTally = meter.tally("failed" if outcome == "failed" else "abandoned")
            if tally.outcome == "abandoned":
                self._stats.add("abandoned_streams")
            user, tier = self._identity(stream.kwargs)
            metadata = {"source": "litellm_callback", "stream": True,
                        "stream_outcome": tally.outcome, "chunks": tally.chunks,
                        "tokens_from_usage": tally.from_usage}
            cost = self._meter.price(tally.model, tally.prompt_tokens, tally.completion_tokens)
            self._meter.record(Usage(user, tier, tally.model, self._meter.provider(tally.model),
                                     tally.prompt_tokens, tally.completion_tokens, cost,
                                     stream.call_id, metadata,
                                     scopes=self.scopes(stream.kwargs)), reservation)
        finally:
            self._done(stream.call_id)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        """LiteLLM proxy hook: enforce before routing; over budget is HTTP 429."""
        from ._proxy import admit_proxy_request

        return await admit_proxy_request(self, user_api_key_dict, data, call_type)

    # -- after the call ----------------------------------------------------------
    def _usage(
        self, kwargs: Mapping[str, Any], response_obj: Any, start_time: Any, end_time: Any,
        identity: tuple[str | None, str | None] | None = None,
    ) -> Usage:
        user, tier = identity if identity is not None else self._identity(kwargs)
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
            extra["stream_outcome"] = "completed"
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

    def _claim_success(self, call_id: str | None) -> tuple[bool, Reservation | None]:
        """Claim the call's first success event and take its reservation, in one step."""
        if call_id is None:
            return True, None
        with self._lock:
            finished = self._finished
            if call_id in finished:
                duplicate = True
            else:
                duplicate = False
                finished[call_id] = None
                if len(finished) > _REMEMBERED_CALLS:
                    finished.popitem(last=False)
                reservation = self._admitted.pop(call_id, None)
        if duplicate:
            self._stats.add("duplicates")
            return False, None
        return True, reservation

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Record a sync call's cost (or settle its reservation)."""
        call_id = call_id_of(kwargs)
        bill_collected()
        try:
            if not self._guarded(kwargs):
                wanted, reservation = self._claim_success(call_id)
                if wanted:
                    self._meter.record(
                        self._usage(kwargs, response_obj, start_time, end_time), reservation)
        except Exception as exc:
            self._stats.error("recording a success event", exc)
        finally:
            self._done(call_id)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Record an async call's cost (or settle its reservation)."""
        call_id = call_id_of(kwargs)
        bill_collected()
        try:
            if not self._guarded(kwargs):
                wanted, reservation = self._claim_success(call_id)
                if wanted:
                    identity = await self._aidentity(kwargs)
                    await self._meter.arecord(
                        self._usage(kwargs, response_obj, start_time, end_time, identity),
                        reservation)
        except Exception as exc:
            self._stats.error("recording a success event", exc)
        finally:
            self._done(call_id)

    def _failure(self, kwargs: Mapping[str, Any], start_time: Any = None, end_time: Any = None
                 ) -> tuple[Reservation | None, Usage | None]:
        """Count a failed call; return its reservation and any cost the provider billed."""
        call_id = call_id_of(kwargs)
        if self._guarded(kwargs):
            return None, None
        with self._lock:
            stream = self._streams.get(call_id) if call_id is not None else None
            billed_already = call_id is not None and call_id in self._finished
        if billed_already:  # a stream closed before this event came: billed as delivered
            user, _ = self._identity(kwargs)
            model = kwargs.get("model")
            self._stats.failure(user, model if isinstance(model, str) else "unknown")
            return None, None
        if stream is not None and stream.state is not None:
            self._stream_ended(stream, "failed")  # billed for what it delivered, once
            user, _ = self._identity(kwargs)
            self._stats.failure(user, stream.model)
            return None, None
        if not self._claim(f"failed:{call_id}" if call_id else None):
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
        finally:
            self._done(call_id_of(kwargs))

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
        finally:
            self._done(call_id_of(kwargs))

