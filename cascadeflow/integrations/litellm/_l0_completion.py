"""One call for both halves: L0's retries, fallbacks and guardrails over guarded LiteLLM
streams, with the user's budget enforced before every attempt and kept inside the stream.

Every attempt is enforced (BLOCK refuses it, DEGRADE moves it to a cheaper model) and
reserved before it is sent, streamed through ``l0()``, cut by a :class:`BudgetGuard`
before it passes what the user has left, and settled as one ledger entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import litellm

from cascadeflow.l0 import RetryConfig, TimeoutConfig, l0
from cascadeflow.telemetry import BudgetGuard, CostTracker, EnforcementAction

from ._guard import _meter_for
from ._metering import CallRequest, Meter
from ._registry import registered_callback
from ._usage import GUARD_MARKER, CallScopes, scopes_of, tier_of

if TYPE_CHECKING:
    from pydantic import BaseModel

    from cascadeflow.l0 import AttemptEnd, AttemptStart, L0LifecycleEvent, L0Result
    from cascadeflow.l0.structured import StructuredResult

__all__ = ["l0_completion", "l0_structured"]

Fallback = str | Mapping[str, Any]
_DEFAULT_RETRY = RetryConfig()
#: ``metadata["enforcement"]`` of an attempt whose estimate did not fit and that started
#: with what was left, the budget guard cutting it there.
_CAPPED = "capped"
_DEFAULT_TIMEOUT = TimeoutConfig()


def _routes(model: str, kwargs: Mapping[str, Any],
            fallbacks: Fallback | Sequence[Fallback] | None,
            tracker: CostTracker) -> list[dict[str, Any]]:
    """The LiteLLM arguments of the primary and of each fallback, in order."""
    from cascadeflow.telemetry import get_degradation_chain

    if not isinstance(model, str) or not model:
        raise TypeError(f"l0_completion() needs a model name, got {model!r}")
    primary = {**kwargs, "model": model}
    if fallbacks is None:
        items: list[object] = []
    elif isinstance(fallbacks, str | Mapping):
        items = [fallbacks]
    else:
        items = list(fallbacks)
    routes = [primary]
    for item in items:
        if item == "degrade":
            chain = get_degradation_chain(model, tracker.degradation_map,
                                          price_book=tracker.pricing)
            routes += [{**primary, "model": step} for step in chain]
        elif isinstance(item, str) and item:
            routes.append({**primary, "model": item})
        elif isinstance(item, Mapping) and isinstance(item.get("model", model), str):
            routes.append({**primary, **item})
        else:
            raise TypeError("each fallback is a model name, a mapping of LiteLLM arguments "
                            f"or 'degrade', got {item!r}")
    return routes


class _RouteGuard(BudgetGuard):
    """A BudgetGuard whose attempts are enforced first: the fallback's model, or the cheaper
    one DEGRADE picks; BLOCK refuses the attempt (l0 then tries the next fallback)."""

    def __init__(self, meter: Meter, user_id: str, user_tier: str | None,
                 routes: list[dict[str, Any]], prompt_tokens: int, *, cap: bool,
                 scopes: CallScopes) -> None:
        super().__init__(meter.tracker, user_id, user_tier=user_tier,
                         prompt_tokens=prompt_tokens, **scopes.as_kwargs())
        self.meter = meter
        self.routes = routes
        self.cap = cap
        self.current_model = routes[0]["model"]
        self._chosen: dict[tuple[str, int], tuple[str, str]] = {}

    async def attempt_model(self, start: AttemptStart) -> str:
        route = self.routes[start.fallback_index]
        requested = route["model"]
        limit = self.meter.max_output_tokens(requested, route)
        request = CallRequest(self.user_id, self.user_tier, requested, self.prompt_tokens, limit)
        result = await self.tracker.aenforce(
            self.user_id, requested, prompt_tokens=self.prompt_tokens,
            max_output_tokens=limit, user_tier=self.user_tier, **self.scopes)
        action: str = result.action.value
        if (result.action is EnforcementAction.BLOCK and self.cap
                and result.context.budget_exceeded):
            # The whole estimate does not fit, but the guard never lets the stream pass
            # what is left: start with that (it refuses when not even one token fits).
            action = _CAPPED
        else:
            self.meter._judge(request, result)  # BLOCK raises BudgetExceededError
        self.max_output_tokens = limit
        self.current_model = result.model
        self._chosen[(start.stream_id, start.attempt)] = (requested, action)
        return result.model

    async def _tightest(self) -> tuple[str, int, int | None]:
        found = await super()._tightest()
        return found if self.cap else (found[0], found[1], None)

    def entry_metadata(self, end: AttemptEnd) -> dict[str, Any]:
        requested, action = self._chosen.pop((end.stream_id, end.attempt), ("", ""))
        return {"source": "l0_completion", "requested_model": requested,
                "enforcement": action}


async def _prepare(model: str, messages: Any, user: str | None, tracker: CostTracker | None,
             fallbacks: Fallback | Sequence[Fallback] | None, budget: bool,
             litellm_kwargs: dict[str, Any]) -> tuple[list[Callable[[], Any]], _RouteGuard | None]:
    meter, user_key, tier_key = _meter_for(tracker)
    metadata = litellm_kwargs.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
    if user is None and metadata.get(user_key) is not None:
        user = str(metadata[user_key])
    routes = _routes(model, litellm_kwargs, fallbacks, meter.tracker)
    guard = None
    if user is not None:
        tier = tier_of(litellm_kwargs, tier_key) or await meter.tracker.aget_user_tier(user)
        callback = registered_callback(meter.tracker)
        scopes = (callback.scopes(litellm_kwargs) if callback is not None
                  else scopes_of(litellm_kwargs))
        guard = _RouteGuard(meter, user, tier, routes, meter.prompt_tokens(model, messages),
                            cap=budget, scopes=scopes)
        metadata[GUARD_MARKER] = True  # the guard bills it: the callback leaves it alone

    def factory_for(route: dict[str, Any]) -> Callable[[], Any]:
        async def open_stream() -> Any:
            sent = dict(route)
            if guard is not None:
                sent["model"] = guard.current_model
            sent.update(messages=messages, stream=True, metadata=metadata)
            if user is not None:
                sent["user"] = user
            # Usage on the last chunk settles a completed attempt exactly; L0 owns retries.
            sent.setdefault("stream_options", {"include_usage": True})
            sent.setdefault("max_retries", 0)
            return await litellm.acompletion(**sent)

        return open_stream

    return [factory_for(route) for route in routes], guard


async def l0_completion(
    *,
    model: str,
    messages: Any,
    user: str | None = None,
    tracker: CostTracker | None = None,
    fallbacks: Fallback | Sequence[Fallback] | None = None,
    retry: RetryConfig | None = _DEFAULT_RETRY,
    timeout: TimeoutConfig | None = _DEFAULT_TIMEOUT,
    guardrails: Any = (),
    drift: Any = None,
    budget: bool = True,
    on_event: Callable[[L0LifecycleEvent], Any] | None = None,
    **litellm_kwargs: Any,
) -> L0Result:
    """A LiteLLM stream with L0's reliability and the user's budget, in one call.

    Every attempt (the first, each retry, each fallback) is enforced and reserved before
    it is sent: BLOCK refuses it, DEGRADE sends it to the cheaper model the tracker picks.
    It streams through :func:`cascadeflow.l0.l0` (timeouts, guardrails, drift, ``retry``:
    L0's policy decides every retry, LiteLLM's own retries are off). With ``budget=True`` a
    :class:`~cascadeflow.BudgetGuard` holds at most what the user has left and cuts the
    stream before it passes it (``BudgetExceededError`` from the iteration, the partial
    text in ``result.state.content``); so an attempt whose whole estimate does not fit is
    not blocked but starts with what is left (``enforcement="capped"``), and only one for
    which not even the prompt and one token fit is refused. Each attempt is one ledger
    entry whose metadata names ``l0_attempt``, ``l0_fallback_index``, ``l0_outcome``,
    ``requested_model`` and ``enforcement``; ``result.telemetry.cost_usd`` sums them.

    ``fallbacks``: a list of model names, mappings of LiteLLM arguments overriding the
    primary's (another provider's ``model``, ``api_base``, ``api_key``, ...) or
    ``"degrade"`` for the model's degradation chain (the tracker's map). The next fallback
    is tried when the primary's retries are spent or the user cannot afford another
    attempt at the current model; when none fits, ``BudgetExceededError``.

    ``user`` (else ``metadata["user_id"]``) is whose budget pays; without one, the calls
    are plain LiteLLM calls the registered callback meters. ``tracker=None`` uses the
    tracker given to :func:`register`. Other keywords go to ``litellm.acompletion``.

    Example:
        >>> result = await l0_completion(
        ...     model="gpt-4o", messages=msgs, user="ana", fallbacks="degrade",
        ...     guardrails=recommended(), retry=RetryConfig(attempts=2))
        >>> text = await result.text()
        >>> result.telemetry.cost_usd      # every attempt, retries included

    .. versionadded:: 0.1.0
    """
    factories, guard = await _prepare(model, messages, user, tracker, fallbacks, budget,
                                litellm_kwargs)
    return await l0(factories[0], fallback_streams=factories[1:], retry=retry,
                    timeout=timeout, guardrails=guardrails, drift=drift, on_event=on_event,
                    budget=guard)


async def l0_structured(
    schema: type[BaseModel],
    *,
    model: str,
    messages: Any,
    user: str | None = None,
    tracker: CostTracker | None = None,
    fallbacks: Fallback | Sequence[Fallback] | None = None,
    retry: RetryConfig | None = _DEFAULT_RETRY,
    timeout: TimeoutConfig | None = _DEFAULT_TIMEOUT,
    guardrails: Any = (),
    drift: Any = None,
    budget: bool = True,
    on_event: Callable[[L0LifecycleEvent], Any] | None = None,
    auto_correct: bool = True,
    strict: bool = False,
    **litellm_kwargs: Any,
) -> StructuredResult[Any]:
    """:func:`l0_completion` whose text is parsed, repaired and validated as ``schema``.

    Same arguments, plus ``auto_correct`` and ``strict`` (see
    :func:`cascadeflow.l0.structured`); a parse or validation failure runs the stream
    again, up to ``retry.attempts`` times, and every attempt is one ledger entry.

    Example:
        >>> result = await l0_structured(Person, model="gpt-4o-mini", messages=msgs,
        ...                              user="ana")
        >>> result.data.name

    .. versionadded:: 0.1.0
    """
    from cascadeflow.l0 import structured

    factories, guard = await _prepare(model, messages, user, tracker, fallbacks, budget,
                                litellm_kwargs)
    return await structured(schema, factories[0], fallback_streams=factories[1:],
                            auto_correct=auto_correct, strict=strict, retry=retry,
                            timeout=timeout, guardrails=guardrails, drift=drift,
                            on_event=on_event, budget=guard)
