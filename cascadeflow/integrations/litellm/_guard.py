"""Guarded drop-ins for ``litellm.completion`` and ``litellm.acompletion``.

Each attempt is enforced and reserved before it is sent (sync calls too, which no LiteLLM
hook can block), settled from the response after it, or, for streams, from the usage chunk
or the tokens actually delivered, however the stream ends. Rate limits and connection
errors retry the whole call (honouring Retry-After); every attempt is metered.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import litellm

from cascadeflow._exceptions import BudgetExceededError
from cascadeflow.telemetry import CostTracker

from ._metering import Admission, CallRequest, Meter, Usage
from ._registry import default_tracker, registered_callback
from ._retry import RetryPolicy, async_retrying, sync_retrying
from ._stats import StatsRecorder
from ._streams import AsyncGuardedStream, GuardedStream, StreamMeter, StreamTally
from ._usage import GUARD_MARKER, CallScopes, response_cost_of, scopes_of, tier_of, user_of

__all__ = ["acompletion", "completion"]

_DEFAULT_RETRY = RetryPolicy()
_meters: weakref.WeakKeyDictionary[CostTracker, tuple[Meter, str, str]] = (
    weakref.WeakKeyDictionary())


def _meter_for(tracker: CostTracker | None) -> tuple[Meter, str, str]:
    """The meter (and user/tier keys) to use: the registered callback's, else a private one."""
    chosen = tracker if tracker is not None else default_tracker()
    if chosen is None:
        raise ValueError("no tracker: pass tracker=... or call register(tracker) first")
    callback = registered_callback(chosen)
    if callback is not None:
        return callback.meter, callback.user_key, callback.tier_key
    found = _meters.get(chosen)
    if found is None:
        found = (Meter(chosen, StatsRecorder()), "user_id", "user_tier")
        _meters[chosen] = found
    return found


@dataclass(frozen=True, slots=True)
class _Call:
    """One guarded call, parsed once and attempted one or more times."""

    meter: Meter
    model: str
    messages: Any
    kwargs: dict[str, Any]
    user_id: str | None
    user_tier: str | None
    scopes: CallScopes | None = None

    def request(self) -> CallRequest:
        return self.meter.read_request(self.model, self.messages, self.kwargs, self.user_id,
                                       self.user_tier, scopes=self.scopes)

    def call_kwargs(self, admission: Admission, call_id: str) -> dict[str, Any]:
        metadata = self.kwargs.get("metadata")
        sent = dict(self.kwargs)
        sent.update(model=admission.model, messages=self.messages, litellm_call_id=call_id,
                    metadata={**(metadata if isinstance(metadata, Mapping) else {}),
                              GUARD_MARKER: True})
        # We retry the whole call ourselves; the SDK's own retries would hide attempts.
        sent.setdefault("max_retries", 0)
        return sent

    def failed(self, admission: Admission, exc: BaseException, started: float) -> None:
        if not isinstance(exc, BudgetExceededError):
            self.meter.failed(admission.model, exc, user_id=self.user_id,
                              user_tier=self.user_tier, stream=bool(self.kwargs.get("stream")),
                              duration=time.perf_counter() - started,
                              source="guarded_completion", reservation=admission.reservation)

    def _usage(self, admission: Admission, response: Any, call_id: str, attempt: int,
               started: float) -> Usage:
        hidden = getattr(response, "_hidden_params", None)
        return self.meter.usage_of(
            admission.model, self.messages, response,
            response_cost=response_cost_of({}, response), user_id=self.user_id,
            user_tier=self.user_tier, call_id=call_id,
            provider_hint=hidden.get("custom_llm_provider") if isinstance(hidden, dict)
            else None,
            metadata=self._metadata(attempt, started), scopes=self.scopes)

    def record(self, admission: Admission, response: Any, call_id: str, attempt: int,
               started: float) -> None:
        try:
            self.meter.record(self._usage(admission, response, call_id, attempt, started),
                              admission.reservation)
        except Exception as exc:  # the caller has its answer; the miss is logged and counted
            self.meter.stats.error("recording a guarded completion", exc)

    async def arecord(self, admission: Admission, response: Any, call_id: str, attempt: int,
                      started: float) -> None:
        try:
            await self.meter.arecord(
                self._usage(admission, response, call_id, attempt, started),
                admission.reservation)
        except Exception as exc:  # the caller has its answer; the miss is logged and counted
            self.meter.stats.error("recording a guarded completion", exc)

    @staticmethod
    def _metadata(attempt: int, started: float) -> dict[str, Any]:
        return {"source": "guarded_completion", "attempt": attempt,
                "latency_ms": round((time.perf_counter() - started) * 1000.0, 3)}

    def stream_meter(self, admission: Admission, request: CallRequest, call_id: str,
                     attempt: int, started: float) -> StreamMeter:
        def settle(tally: StreamTally) -> float | None:
            try:
                if tally.outcome == "abandoned":
                    self.meter.stats.add("abandoned_streams")
                elif tally.outcome == "failed":
                    self.meter.stats.failure(self.user_id, admission.model)
                metadata = self._metadata(attempt, started)
                metadata.update(stream=True, stream_outcome=tally.outcome,
                                tokens_from_usage=tally.from_usage, chunks=tally.chunks)
                if tally.first_chunk_at is not None:
                    metadata["time_to_first_chunk_ms"] = round(
                        (tally.first_chunk_at - started) * 1000.0, 3)
                cost = self.meter.price(tally.model, tally.prompt_tokens, tally.completion_tokens)
                usage = Usage(self.user_id, self.user_tier, tally.model,
                              self.meter.provider(tally.model), tally.prompt_tokens,
                              tally.completion_tokens, cost, call_id, metadata, scopes=self.scopes)
                self.meter.record(usage, admission.reservation)
            except Exception as exc:
                self.meter.stats.error("settling a guarded stream", exc)
                return None
            return float(cost)

        return StreamMeter(admission.model, request.prompt_tokens, settle)


def _parse(args: tuple[Any, ...], kwargs: dict[str, Any], tracker: CostTracker | None,
           *, read_tier: bool = True) -> _Call:
    if len(args) > 2:
        raise TypeError("completion() takes model and messages positionally; pass the rest "
                        "by keyword")
    meter, user_key, tier_key = _meter_for(tracker)
    rest = dict(kwargs)
    model = args[0] if args else rest.pop("model", None)
    messages = args[1] if len(args) > 1 else rest.pop("messages", None)
    if not isinstance(model, str) or not model:
        raise TypeError("completion() needs a model name")
    user = user_of(rest, user_key)
    tier = tier_of(rest, tier_key)
    if tier is None and user is not None and read_tier:
        tier = meter.tracker.get_user_tier(user)
    callback = registered_callback(meter.tracker)
    scopes = callback.scopes(rest) if callback is not None else scopes_of(rest)
    return _Call(meter, model, messages, rest, user, tier, scopes)


def completion(*args: Any, tracker: CostTracker | None = None,
               retry: RetryPolicy | None = None, **kwargs: Any) -> Any:
    """``litellm.completion`` with the user's budget enforced before every attempt.

    The tracker is ``tracker`` else the one given to :func:`register`. BLOCK raises
    :class:`~cascadeflow.BudgetExceededError` before anything is sent; DEGRADE calls the
    cheaper model. A stream comes back wrapped: it settles from the usage chunk or from
    the tokens delivered, also when abandoned (``close()``/``break``) or failing midway.
    Rate limits and connection errors are retried per ``retry`` (default 3 attempts).

    Example:
        >>> response = completion(model="gpt-4o-mini", messages=msgs, user="u1",
        ...                       tracker=tracker, mock_response="hi")
        >>> tracker.by_user["u1"] > 0
        True

    .. versionadded:: 0.1.0
    """
    call = _parse(args, kwargs, tracker)
    attempt_number = 0
    for attempt in sync_retrying(retry or _DEFAULT_RETRY):
        with attempt:
            attempt_number += 1
            return _attempt(call, attempt_number)
    raise AssertionError("unreachable: tenacity re-raises the last error")


def _attempt(call: _Call, attempt: int) -> Any:
    request = call.request()
    admission = call.meter.admit(request)
    call_id = str(uuid.uuid4())
    started = time.perf_counter()
    try:
        response = litellm.completion(**call.call_kwargs(admission, call_id))
    except BaseException as exc:
        call.meter.release(admission.reservation)
        call.failed(admission, exc, started)
        raise
    if call.kwargs.get("stream"):
        return GuardedStream(response,
                             call.stream_meter(admission, request, call_id, attempt, started))
    call.record(admission, response, call_id, attempt, started)
    return response


async def acompletion(*args: Any, tracker: CostTracker | None = None,
                      retry: RetryPolicy | None = None, **kwargs: Any) -> Any:
    """``litellm.acompletion`` with the user's budget enforced before every attempt.

    Same behaviour as :func:`completion`; streams come back as an async iterator that
    settles when finished, failed, ``aclose()``-d or dropped.

    Example:
        >>> response = await acompletion(model="gpt-4o-mini", messages=msgs, user="u1",
        ...                              tracker=tracker, mock_response="hi")

    .. versionadded:: 0.1.0
    """
    call = _parse(args, kwargs, tracker, read_tier=False)
    if call.user_tier is None and call.user_id is not None:  # read off the event loop
        call = replace(call, user_tier=await call.meter.tracker.aget_user_tier(call.user_id))
    attempt_number = 0
    async for attempt in async_retrying(retry or _DEFAULT_RETRY):
        with attempt:
            attempt_number += 1
            return await _aattempt(call, attempt_number)
    raise AssertionError("unreachable: tenacity re-raises the last error")


async def _aattempt(call: _Call, attempt: int) -> Any:
    request = call.request()
    admission = await call.meter.aadmit(request)
    call_id = str(uuid.uuid4())
    started = time.perf_counter()
    try:
        response = await litellm.acompletion(**call.call_kwargs(admission, call_id))
    except BaseException as exc:
        await call.meter.arelease(admission.reservation)
        call.failed(admission, exc, started)
        raise
    if call.kwargs.get("stream"):
        return AsyncGuardedStream(
            response, call.stream_meter(admission, request, call_id, attempt, started))
    await call.arecord(admission, response, call_id, attempt, started)
    return response
