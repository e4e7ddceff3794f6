"""Budget enforcement inside LiteLLM's proxy: the ``async_pre_call_hook`` side of the callback.

A request over budget is refused with HTTP 429 before the proxy routes it, with a message
naming the user, the period and the limit; DEGRADE rewrites the requested model.
"""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING, Any

from cascadeflow._exceptions import BudgetExceededError

from ._usage import CallScopes, call_id_of, user_of

if TYPE_CHECKING:
    from ._callback import CascadeFlowLiteLLMCallback

__all__ = ["admit_proxy_request", "refusal_message"]

_COMPLETION_CALLS = frozenset({"completion", "acompletion", "text_completion", "atext_completion"})


def refusal_message(exc: BudgetExceededError) -> str:
    """The 429 body: which scope is over which period's limit, and by how much."""
    if exc.scope == f"user:{exc.user_id}" and exc.retry_after is None and (
            not exc.period.endswith((" requests", " tokens"))):
        return (f"cascadeflow: user {exc.user_id!r} is over the {exc.period} budget: "
                f"limit ${exc.limit:.6f}, spent ${exc.spent:.6f}, "
                f"this request needs ~${exc.requested:.6f}")
    return f"cascadeflow: {exc} (scope {exc.scope}, {exc.period})"


def _refusal_headers(exc: BudgetExceededError) -> dict[str, str] | None:
    # A rate limit says when to come back; a spent budget has no such time.
    if exc.retry_after is None:
        return None
    return {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}


def _proxy_scopes(callback: CascadeFlowLiteLLMCallback, user_api_key_dict: Any,
                  data: dict[str, Any]) -> CallScopes:
    """The request's team, org and tags, with the authenticated key's team, org and hash."""
    named = callback.scopes(data)
    team = getattr(user_api_key_dict, "team_id", None)
    org = getattr(user_api_key_dict, "org_id", None)
    # LiteLLM keeps the hash of the virtual key in `token` (and in `api_key` for sk- keys).
    key = getattr(user_api_key_dict, "token", None) or getattr(user_api_key_dict, "api_key", None)
    return CallScopes(
        team=team if isinstance(team, str) and team else named.team,
        org=org if isinstance(org, str) and org else named.org,
        key=key if isinstance(key, str) and key else named.key,
        tags=named.tags,
    )


def _proxy_user(callback: CascadeFlowLiteLLMCallback, user_api_key_dict: Any,
                data: dict[str, Any]) -> str | None:
    user = user_of(data, callback.user_key)
    if user is not None:
        return user
    for name in ("end_user_id", "user_id"):
        value = getattr(user_api_key_dict, name, None)
        if isinstance(value, str) and value:
            return value
    return None


async def admit_proxy_request(
    callback: CascadeFlowLiteLLMCallback,
    user_api_key_dict: Any,
    data: dict[str, Any],
    call_type: Any,
) -> dict[str, Any] | None:
    """Enforce and reserve for one proxy request; raise HTTP 429 when it is over budget.

    The user is the request's ``user`` field, else ``metadata[user_key]``, else the
    end user or user of the API key. The authenticated key's team, org and hash (from
    ``user_api_key_dict``) and the request's tags are checked with the user, so budgets
    and rate limits can be set on LiteLLM's own virtual keys and teams. The reservation
    is keyed by LiteLLM's call id so the success or failure event settles or releases it.
    A refusal is HTTP 429 naming the scope and period, with ``Retry-After`` for a rate
    limit.
    """
    from fastapi import HTTPException

    kind = str(getattr(call_type, "value", call_type))
    model = data.get("model")
    if not callback.enforce or kind not in _COMPLETION_CALLS or not isinstance(model, str):
        return None
    user = _proxy_user(callback, user_api_key_dict, data)
    if user is None:
        return None
    if data.get("user") is None:
        data["user"] = user  # so the success event is recorded against the same user
    call_id = call_id_of(data)
    if call_id is None:
        call_id = str(uuid.uuid4())
        data["litellm_call_id"] = call_id
    meter = callback.meter
    tier = data.get("metadata", {}).get(callback.tier_key) if isinstance(
        data.get("metadata"), dict) else None
    try:
        # A tier another worker stored is read off the event loop.
        known = str(tier) if tier is not None else await meter.tracker.aget_user_tier(user)
        request = meter.read_request(model, data.get("messages"), data, user, known,
                                     scopes=_proxy_scopes(callback, user_api_key_dict, data))
        admission = await meter.aadmit(request)
    except BudgetExceededError as exc:
        raise HTTPException(status_code=429, detail=refusal_message(exc),
                            headers=_refusal_headers(exc)) from exc
    except Exception as exc:
        meter.stats.error("proxy pre-call enforcement", exc)
        return None
    callback.hold(call_id, admission.reservation)
    if admission.model != model:
        data["model"] = admission.model
    return data
