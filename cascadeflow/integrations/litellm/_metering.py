"""The one path from a LiteLLM call to the ledger, shared by the callback, the guard and the proxy.

Before a call: estimate it (prompt tokens + output limit), ask ``tracker.enforce`` and
reserve the estimate. After it: price what was used (LiteLLM's ``response_cost``, else the
price book) and settle the reservation, or record a plain entry when there was none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import litellm

from cascadeflow._entry import CostEntry
from cascadeflow._exceptions import BudgetExceededError, PricingError
from cascadeflow.telemetry import CostTracker, EnforcementAction, EnforcementResult, Reservation
from cascadeflow.telemetry._observers import observed

from ._completion_events import (
    DecisionMemory,
    ResponseDetails,
    publish_failed,
    publish_recorded,
    response_details,
)
from ._cost_provider import calculate_cost
from ._logprobs import extract_logprobs
from ._providers import provider_of
from ._stats import StatsRecorder
from ._usage import CallScopes, usage_tokens

__all__ = ["Admission", "CallRequest", "Meter", "Usage"]

logger = logging.getLogger("cascadeflow.integrations.litellm")

#: Output tokens assumed for an estimate when the call sets no ``max_tokens`` (at most the
#: model's own output limit): enough to cover a typical long answer without reserving a
#: model's whole 64k-token ceiling for every call.
DEFAULT_MAX_OUTPUT_ESTIMATE = 4096
_PLAIN_KEYS = frozenset({"role", "content", "name"})


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What a call asks for, read before it is sent."""

    user_id: str | None
    user_tier: str | None
    model: str
    prompt_tokens: int
    max_output_tokens: int
    scopes: CallScopes | None = None

    def scope_kwargs(self) -> dict[str, Any]:
        """``team=``/``org=``/``key=``/``tags=`` for the tracker (empty without scopes)."""
        return {} if self.scopes is None else self.scopes.as_kwargs()


@dataclass(frozen=True, slots=True)
class Admission:
    """Enforcement's answer for one call: the model to call and the reservation held."""

    model: str
    action: EnforcementAction
    reservation: Reservation | None
    estimated_cost: float
    reason: str


@dataclass(frozen=True, slots=True)
class Usage:
    """What one finished call used and cost, ready to become a ``CostEntry``."""

    user_id: str | None
    user_tier: str | None
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    call_id: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Read from the response only when a ledger hook listens (spans, not the ledger).
    details: ResponseDetails | None = None
    scopes: CallScopes | None = None


@functools.lru_cache(maxsize=2048)
def _text_tokens(text: str) -> int:
    # Cached: system prompts and few-shot examples repeat on nearly every call.
    from litellm.litellm_core_utils.default_encoding import encoding

    return len(encoding.encode(text, disallowed_special=()))


def _plain_text_tokens(messages: Sequence[object]) -> int | None:
    """Tokens of messages that are only ``role``/``content``/``name`` strings, else None."""
    total = 3
    for message in messages:
        if not isinstance(message, Mapping):
            return None
        total += 4
        for key, value in message.items():
            if key not in _PLAIN_KEYS or (value is not None and not isinstance(value, str)):
                return None
            if key != "role" and value:
                total += _text_tokens(value)
    return total


@functools.lru_cache(maxsize=1024)
def _cached_provider(model: str) -> str:
    # Resolved on every recorded call; the answer depends on the bundled price book only.
    return provider_of(model)


def _limit_of(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


class Meter:
    """Estimates, enforces, reserves and records for one tracker.

    Example:
        >>> meter = Meter(tracker, StatsRecorder())
        >>> request = meter.read_request("gpt-4o", messages, {"max_tokens": 200}, "u1", None)
        >>> admission = meter.admit(request)
    """

    def __init__(
        self,
        tracker: CostTracker,
        stats: StatsRecorder,
        *,
        enforce: bool = True,
        max_output_estimate: int = DEFAULT_MAX_OUTPUT_ESTIMATE,
    ) -> None:
        self.tracker = tracker
        self.stats = stats
        self.enforce = enforce
        self.max_output_estimate = max_output_estimate
        self._decisions = DecisionMemory()

    # -- before the call ------------------------------------------------------
    def prompt_tokens(self, model: str, messages: object) -> int:
        """The prompt's token count, for the estimate made before a call.

        Plain-text chat messages are counted with tiktoken directly plus OpenAI's
        per-message framing (4 tokens a message, 3 for the reply): the same number LiteLLM's
        ``token_counter`` gives for them, at a fiftieth of its cost, which matters on every
        call. Anything else (images, tool calls) goes through ``token_counter``.
        """
        if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
            return 0
        fast = _plain_text_tokens(messages)
        if fast is not None:
            return fast
        try:
            return int(litellm.token_counter(model=model, messages=list(messages)))
        except Exception as exc:  # an odd message shape must not stop the call
            self.stats.error("counting prompt tokens", exc)
            return 0

    def max_output_tokens(self, model: str, params: Mapping[str, Any]) -> int:
        """``max_tokens`` (or ``max_completion_tokens``), else the model's limit, capped."""
        for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
            asked = _limit_of(params.get(name))
            if asked is not None:
                return asked
        price = self.tracker.pricing.find(model)
        ceiling = price.max_output_tokens if price is not None else None
        if ceiling is None:
            return self.max_output_estimate
        return min(ceiling, self.max_output_estimate)

    def read_request(
        self,
        model: str,
        messages: object,
        params: Mapping[str, Any],
        user_id: str | None,
        user_tier: str | None,
        *,
        scopes: CallScopes | None = None,
    ) -> CallRequest:
        """Estimate a call from its model, messages and parameters."""
        if user_tier is None and user_id is not None:
            user_tier = self.tracker.get_user_tier(user_id)
        return CallRequest(
            user_id=user_id,
            user_tier=user_tier,
            model=model,
            prompt_tokens=self.prompt_tokens(model, messages),
            max_output_tokens=self.max_output_tokens(model, params),
            scopes=scopes,
        )

    def _judge(self, request: CallRequest, result: EnforcementResult) -> None:
        action = result.action
        if action is EnforcementAction.BLOCK:
            self.stats.add("blocked")
            context = result.context
            raise BudgetExceededError(
                user_id=request.user_id or "",
                period=context.period_name,
                limit=context.budget_limit if context.budget_limit is not None else 0.0,
                spent=context.current_cost,
                requested=result.estimated_cost,
                scope=context.scope,
            )
        if action is EnforcementAction.DEGRADE:
            self.stats.add("degraded")
            logger.info("cascadeflow: %s", result.reason)
        elif action is EnforcementAction.WARN:
            self.stats.add("warned")
            logger.warning("cascadeflow: user %r: %s", request.user_id, result.reason)
        else:
            self.stats.add("allowed")

    def _lenient(self) -> bool:
        # In "warn" mode without callbacks the tracker never blocks, so a reservation
        # that does not fit lets the call through unreserved instead of refusing it.
        return (self.tracker.enforcement_mode == "warn"
                and self.tracker.enforcement_callbacks is None)

    def _unreserved(self, request: CallRequest, exc: BudgetExceededError) -> None:
        if not self._lenient():
            self.stats.add("blocked")
            raise exc
        self.stats.add("unreserved")
        logger.warning("cascadeflow: user %r is over budget (%s); enforcement_mode='warn' "
                       "lets the call through", request.user_id, exc)

    def _pass(self, request: CallRequest) -> Admission | None:
        if request.user_id is None or not self.enforce:
            return Admission(request.model, EnforcementAction.ALLOW, None, 0.0,
                             "no user" if request.user_id is None else "enforcement off")
        return None

    def admit(self, request: CallRequest) -> Admission:
        """Enforce and reserve for ``request``; raises ``BudgetExceededError`` when blocked."""
        passed = self._pass(request)
        if passed is not None:
            return passed
        assert request.user_id is not None
        scoped = request.scope_kwargs()
        result = self.tracker.enforce(
            request.user_id, request.model, prompt_tokens=request.prompt_tokens,
            max_output_tokens=request.max_output_tokens, user_tier=request.user_tier, **scoped)
        self._judge(request, result)
        reservation: Reservation | None = None
        try:
            reservation = self.tracker.reserve(
                request.user_id, result.estimated_cost, model=result.model,
                user_tier=request.user_tier,
                tokens=request.prompt_tokens + request.max_output_tokens, **scoped)
        except BudgetExceededError as exc:
            self._unreserved(request, exc)
        if reservation is not None and observed():
            self._decisions.remember(reservation.id, result)
        return Admission(result.model, result.action, reservation, result.estimated_cost,
                         result.reason)

    async def aadmit(self, request: CallRequest) -> Admission:
        """Async :meth:`admit`."""
        passed = self._pass(request)
        if passed is not None:
            return passed
        assert request.user_id is not None
        scoped = request.scope_kwargs()
        result = await self.tracker.aenforce(
            request.user_id, request.model, prompt_tokens=request.prompt_tokens,
            max_output_tokens=request.max_output_tokens, user_tier=request.user_tier, **scoped)
        self._judge(request, result)
        reservation: Reservation | None = None
        try:
            reservation = await self.tracker.areserve(
                request.user_id, result.estimated_cost, model=result.model,
                user_tier=request.user_tier,
                tokens=request.prompt_tokens + request.max_output_tokens, **scoped)
        except BudgetExceededError as exc:
            self._unreserved(request, exc)
        if reservation is not None and observed():
            self._decisions.remember(reservation.id, result)
        return Admission(result.model, result.action, reservation, result.estimated_cost,
                         result.reason)

    def hold(self, request: CallRequest) -> Reservation | None:
        """Reserve ``request``'s estimate for a call that leaves whatever the budget says.

        A sync LiteLLM call cannot be refused from a hook: when the estimate does not fit,
        it is held anyway (counted in ``over_budget``), so that the next ``can_afford``,
        ``remaining`` or reservation already sees it.
        """
        if request.user_id is None or not self.enforce:
            return None
        estimate = self.price(request.model, request.prompt_tokens, request.max_output_tokens)
        scopes = request.scope_kwargs()
        try:
            return self.tracker.reserve(request.user_id, estimate, model=request.model,
                                        user_tier=request.user_tier, **scopes)
        except BudgetExceededError:
            self.stats.add("over_budget")
            return self.tracker.hold(request.user_id, estimate, model=request.model,
                                     user_tier=request.user_tier, **scopes)

    # -- after the call -------------------------------------------------------
    def price(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost of the tokens on ``model``: the tracker's price book, else LiteLLM's map
        through :func:`calculate_cost` (which logs its documented default for unknown models)."""
        try:
            return self.tracker.pricing.estimate_cost(model, prompt_tokens, completion_tokens)
        except PricingError:
            return calculate_cost(model, prompt_tokens, completion_tokens)

    @staticmethod
    def provider(model: str, hint: object = None) -> str:
        """The provider of ``model`` (:func:`provider_of`), else LiteLLM's own answer."""
        found = _cached_provider(model)
        if found == "unknown" and isinstance(hint, str) and hint:
            return hint
        return found

    def completion_tokens(self, model: str, response: object) -> int:
        """Count the tokens of a response's text when the provider reported no usage."""
        texts: list[str] = []
        for choice in getattr(response, "choices", None) or ():
            message = getattr(choice, "message", None)
            content = getattr(message, "content", None)
            if isinstance(content, str):
                texts.append(content)
        text = "".join(texts)
        if not text:
            return 0
        try:
            return int(litellm.token_counter(model=model, text=text))
        except Exception as exc:  # never let counting break recording
            self.stats.error("counting completion tokens", exc)
            return max(len(text) // 4, 1)

    def usage_of(
        self,
        model: str,
        messages: object,
        response: object,
        *,
        response_cost: float | None,
        user_id: str | None,
        user_tier: str | None,
        call_id: str | None,
        provider_hint: object = None,
        metadata: Mapping[str, Any] | None = None,
        scopes: CallScopes | None = None,
    ) -> Usage:
        """What ``response`` used and cost; tokens are counted when usage is missing or zero."""
        found = usage_tokens(response)
        if found is None or found == (0, 0):
            prompt, completion = self.prompt_tokens(model, messages), 0
            completion = self.completion_tokens(model, response)
        else:
            prompt, completion = found
        cost = response_cost if response_cost is not None else self.price(
            model, prompt, completion)
        extra = dict(metadata or {})
        summary = extract_logprobs(response)
        if summary is not None:
            extra.update(summary.as_metadata())
        return Usage(user_id, user_tier, model, self.provider(model, provider_hint), prompt,
                     completion, cost, call_id, extra,
                     details=self._details(response, messages) if observed() else None,
                     scopes=scopes)

    def _details(self, response: object, messages: object) -> ResponseDetails | None:
        try:
            return response_details(response, messages)
        except Exception as exc:  # an odd response shape must not stop the recording
            self.stats.error("reading response details for observers", exc)
            return None

    @staticmethod
    def _entry_fields(usage: Usage) -> dict[str, Any]:
        return {
            "model": usage.model,
            "provider": usage.provider,
            "tokens": usage.prompt_tokens + usage.completion_tokens,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "query_id": usage.call_id,
            "metadata": dict(usage.metadata),
            "user_tier": usage.user_tier,
        }

    def record(self, usage: Usage, reservation: Reservation | None) -> CostEntry:
        """Settle ``reservation`` with ``usage`` (or add a plain entry without one)."""
        if reservation is not None:
            entry = reservation.settle(usage.cost, **self._entry_fields(usage))
        else:
            fields = self._entry_fields(usage)
            entry = self.tracker.add_cost(
                fields["model"], fields["provider"], fields["tokens"], usage.cost,
                query_id=usage.call_id, metadata=fields["metadata"], user_id=usage.user_id,
                user_tier=usage.user_tier, prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                **({} if usage.scopes is None else usage.scopes.as_kwargs()))
        self.stats.add("recorded")
        if observed():
            self._report_recorded(usage, entry, reservation)
        return entry

    async def arecord(self, usage: Usage, reservation: Reservation | None) -> CostEntry:
        """Async :meth:`record`."""
        if reservation is not None:
            entry = await reservation.asettle(usage.cost, **self._entry_fields(usage))
        else:
            fields = self._entry_fields(usage)
            entry = await self.tracker.aadd_cost(
                fields["model"], fields["provider"], fields["tokens"], usage.cost,
                query_id=usage.call_id, metadata=fields["metadata"], user_id=usage.user_id,
                user_tier=usage.user_tier, prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                **({} if usage.scopes is None else usage.scopes.as_kwargs()))
        self.stats.add("recorded")
        if observed():
            self._report_recorded(usage, entry, reservation)
        return entry

    def failed(self, model: str, error: BaseException | None, *, user_id: str | None,
               user_tier: str | None, stream: bool, duration: float | None, source: str,
               reservation: Reservation | None = None) -> None:
        """Tell ledger hooks that an attempt on ``model`` failed (the stats count it too)."""
        self.stats.failure(user_id, model)
        if not observed():
            return
        try:
            publish_failed(model, self.provider(model), error, user_id=user_id,
                           user_tier=user_tier, stream=stream, duration=duration,
                           source=source, decision=self._decisions.take(
                               reservation.id if reservation is not None else None))
        except Exception as exc:  # observers must never break a call
            self.stats.error("reporting a failed completion to observers", exc)

    def _report_recorded(self, usage: Usage, entry: CostEntry,
                         reservation: Reservation | None) -> None:
        try:
            publish_recorded(usage, entry, self._decisions.take(
                reservation.id if reservation is not None else None))
        except Exception as exc:  # the entry is stored; only the report is lost, and counted
            self.stats.error("reporting a completion to observers", exc)

    def release(self, reservation: Reservation | None) -> None:
        """Free ``reservation`` after a failed call (idempotent)."""
        if reservation is not None and reservation.release():
            self.stats.add("released")

    async def arelease(self, reservation: Reservation | None) -> None:
        """Async :meth:`release`."""
        if reservation is not None and await reservation.arelease():
            self.stats.add("released")
