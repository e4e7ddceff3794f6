"""Reading who asked, what was used and what it cost out of LiteLLM's kwargs and responses.

LiteLLM hands the same facts to different hooks in different places (``kwargs["metadata"]``
before the call, ``kwargs["litellm_params"]["metadata"]`` in logging events, the proxy's
``data``); these functions know where to look so the callback and the guard agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeGuard

__all__ = [
    "GUARD_MARKER",
    "CallScopes",
    "call_id_of",
    "is_guarded",
    "metadata_of",
    "response_cost_of",
    "scopes_of",
    "tier_of",
    "usage_tokens",
    "user_of",
]

#: Metadata key the guarded completion sets so the callback leaves its calls alone
#: (the guard meters them itself, including streams abandoned midway).
GUARD_MARKER = "cascadeflow_guarded"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _is_mapping(obj: object) -> TypeGuard[Mapping[str, Any]]:
    # A plain dict is what LiteLLM passes nearly always; the ABC check costs several times more.
    return type(obj) is dict or (obj is not None and isinstance(obj, Mapping))


_MISSING = object()


def _field(obj: object, name: str) -> object:
    if type(obj) is dict:
        return obj.get(name)
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    return obj.get(name) if _is_mapping(obj) else None


def _count(value: object) -> int:
    if type(value) is int:
        return value if value > 0 else 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(int(value), 0)


def usage_tokens(response: object) -> tuple[int, int] | None:
    """``(prompt_tokens, completion_tokens)`` from a response's or chunk's usage, if any."""
    usage = _field(response, "usage")
    if usage is None:
        return None
    prompt = _count(_field(usage, "prompt_tokens") or _field(usage, "input_tokens"))
    completion = _count(_field(usage, "completion_tokens") or _field(usage, "output_tokens"))
    return prompt, completion


def _finite_cost(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def response_cost_of(kwargs: Mapping[str, Any], response: object = None) -> float | None:
    """The cost LiteLLM computed for the call (``response_cost``), if it computed one."""
    cost = _finite_cost(kwargs.get("response_cost"))
    if cost is not None:
        return cost
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, Mapping):
        return _finite_cost(hidden.get("response_cost"))
    return None


def metadata_of(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The caller's metadata, wherever this hook's kwargs carry it."""
    direct = kwargs.get("metadata")
    if _is_mapping(direct):
        return direct
    params = kwargs.get("litellm_params")
    if _is_mapping(params):
        nested = params.get("metadata")
        if _is_mapping(nested):
            return nested
    return _EMPTY


def user_of(kwargs: Mapping[str, Any], user_key: str) -> str | None:
    """The user a call is for: ``kwargs["user"]``, else ``metadata[user_key]``."""
    user = kwargs.get("user")
    if user is None:
        params = kwargs.get("litellm_params")
        optional = kwargs.get("optional_params")
        for source in (optional, params):
            if _is_mapping(source) and source.get("user") is not None:
                user = source.get("user")
                break
    if user is None:
        user = metadata_of(kwargs).get(user_key)
    return str(user) if user is not None and user != "" else None


def tier_of(kwargs: Mapping[str, Any], tier_key: str) -> str | None:
    """The tier named in the call's metadata, if any."""
    tier = metadata_of(kwargs).get(tier_key)
    return str(tier) if tier is not None and tier != "" else None


@dataclass(frozen=True, slots=True)
class CallScopes:
    """The scopes beyond the user a call names: team, org, API key and tags.

    Example:
        >>> CallScopes(team="search", tags=("batch",)).as_kwargs()
        {'team': 'search', 'org': None, 'key': None, 'tags': ('batch',)}
    """

    team: str | None = None
    org: str | None = None
    key: str | None = None
    tags: tuple[str, ...] | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """The tracker keywords (``team=``, ``org=``, ``key=``, ``tags=``)."""
        return {"team": self.team, "org": self.org, "key": self.key, "tags": self.tags}


def _text(value: object) -> str | None:
    return str(value) if value is not None and value != "" else None


def scopes_of(kwargs: Mapping[str, Any], *, team_key: str = "team_id", org_key: str = "org_id",
              tags_key: str = "tags") -> CallScopes:
    """Team, org, key hash and tags the way LiteLLM's spend tracking carries them.

    ``metadata[tags_key]`` (a list, or one string), ``metadata[team_key]`` and
    ``metadata[org_key]``; inside the proxy also LiteLLM's own ``user_api_key_team_id``,
    ``user_api_key_org_id`` and ``user_api_key_hash``.
    """
    metadata = metadata_of(kwargs)
    team = _text(metadata.get(team_key)) or _text(metadata.get("user_api_key_team_id"))
    org = _text(metadata.get(org_key)) or _text(metadata.get("user_api_key_org_id"))
    key = _text(metadata.get("user_api_key_hash"))
    raw_tags = metadata.get(tags_key)
    if raw_tags is None:
        raw_tags = kwargs.get("tags")
    tags: tuple[str, ...] | None = None
    if isinstance(raw_tags, str) and raw_tags:
        tags = (raw_tags,)
    elif isinstance(raw_tags, list | tuple):
        tags = tuple(str(tag) for tag in raw_tags if tag is not None and tag != "") or None
    return CallScopes(team, org, key, tags)


def call_id_of(kwargs: Mapping[str, Any]) -> str | None:
    """LiteLLM's id for one call (``litellm_call_id``), the key that pairs pre-call and result."""
    call_id = kwargs.get("litellm_call_id")
    if call_id is None:
        params = kwargs.get("litellm_params")
        if _is_mapping(params):
            call_id = params.get("litellm_call_id")
    return str(call_id) if call_id is not None else None


def is_guarded(kwargs: Mapping[str, Any]) -> bool:
    """True for calls made through the guarded ``completion``/``acompletion``."""
    return bool(metadata_of(kwargs).get(GUARD_MARKER))
