"""Limits as data: budgets, model caps, rate limits, tier budgets and memberships in the store.

Each limit is one setting (a JSON name, a JSON value) in the store every tracker shares, so
a limit set by one process applies in all of them; :class:`LimitBook` keeps a decoded copy
and re-reads it when the store's settings version moves (asked at most once a second on
shared stores, always on the in-process one, where asking costs nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cascadeflow._exceptions import StoreUnavailableError
from cascadeflow.storage import LedgerStore
from cascadeflow.telemetry._budget import BudgetConfig, RateLimit
from cascadeflow.telemetry._scope import Scope

# Setting names are JSON lists: [kind, ...]. Kinds:
_BUDGET = "budget"  # [budget, scope, model or null] -> BudgetConfig.to_dict()
_RATE = "rate"  # [rate, scope] -> RateLimit.to_dict()
_TIER = "tier"  # [tier, tier name] -> BudgetConfig.to_dict()
_MEMBER = "member"  # [member, team|org, user] -> team or org id
_CARRY = "carry"  # [carry, owner, period key] -> nano-dollars carried into that period


logger = logging.getLogger("cascadeflow.limits")
_UNREADABLE: set[str] = set()


def _name(*parts: str | None) -> str:
    return orjson.dumps(list(parts)).decode()


@dataclass(frozen=True)
class StoredLimits:
    """Every limit the store holds, decoded (one immutable snapshot).

    Example:
        >>> limits = tracker.budgets()  # a dict view built from this snapshot
    """

    version: int = -1
    budgets: dict[Scope, BudgetConfig] = field(default_factory=dict)
    users: dict[str, BudgetConfig] = field(default_factory=dict)
    caps: dict[Scope, dict[str, BudgetConfig]] = field(default_factory=dict)
    rates: dict[Scope, RateLimit] = field(default_factory=dict)
    tiers: dict[str, BudgetConfig] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)
    orgs: dict[str, str] = field(default_factory=dict)
    carries: dict[tuple[str, str], int] = field(default_factory=dict)
    #: True when anything beyond plain per-user USD limits is stored: the hot path skips
    #: every scope lookup while it is False.
    scoped: bool = False

    @classmethod
    def decode(cls, version: int, raw: Mapping[str, str]) -> StoredLimits:
        budgets: dict[Scope, BudgetConfig] = {}
        caps: dict[Scope, dict[str, BudgetConfig]] = {}
        rates: dict[Scope, RateLimit] = {}
        tiers: dict[str, BudgetConfig] = {}
        teams: dict[str, str] = {}
        orgs: dict[str, str] = {}
        carries: dict[tuple[str, str], int] = {}
        for name, text in raw.items():
            try:
                parts = orjson.loads(name)
                value: Any = orjson.loads(text)
                kind = parts[0]
                if kind == _BUDGET:
                    scope = Scope.parse(parts[1])
                    config = BudgetConfig.from_dict(value)
                    if parts[2] is None:
                        budgets[scope] = config
                    else:
                        caps.setdefault(scope, {})[parts[2]] = config
                elif kind == _RATE:
                    rates[Scope.parse(parts[1])] = RateLimit.from_dict(value)
                elif kind == _TIER:
                    tiers[parts[1]] = BudgetConfig.from_dict(value)
                elif kind == _MEMBER:
                    (teams if parts[1] == "team" else orgs)[parts[2]] = str(value)
                elif kind == _CARRY:
                    carries[(parts[1], parts[2])] = int(value)
            except (ValueError, IndexError, TypeError, KeyError) as exc:
                # Written by a newer version, or by hand: said once, never enforced wrongly.
                if name not in _UNREADABLE:
                    _UNREADABLE.add(name)
                    logger.warning("cascadeflow: ignoring the stored limit %s=%s (%s)",
                                   name, text, exc)
        scoped = bool(caps or rates or any(
            scope.kind != "user" or config.has_extras() for scope, config in budgets.items())
            or any(config.has_extras() for config in tiers.values()))
        users = {scope.id: config for scope, config in budgets.items() if scope.kind == "user"}
        return cls(version, budgets, users, caps, rates, tiers, teams, orgs, carries, scoped)


class LimitBook:
    """The tracker's view of the stored limits, and the only writer of them.

    Example:
        >>> book = LimitBook(store, lambda: 1.0)
        >>> book.set_budget(Scope.team("search"), BudgetConfig(daily=5.0))
        >>> book.current().budgets[Scope.team("search")]
        BudgetConfig(daily=$5.00)
    """

    def __init__(self, store: LedgerStore, refresh_seconds: Callable[[], float]) -> None:
        self._store = store
        self._shared = store.shared
        # How long a snapshot of a shared store's limits is trusted before its version is
        # read again (the tracker's TIER_REFRESH_SECONDS: tiers and limits age alike).
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._limits = StoredLimits()
        self._checked = float("-inf")

    def current(self) -> StoredLimits:
        """The stored limits, re-read when the store says they changed."""
        limits = self._limits
        if not self._due():
            return limits
        try:
            if self._store.settings_version() != limits.version:
                return self.reload()
        except StoreUnavailableError:
            # The limits known last still apply; the check that follows fails closed, or
            # open, as the store is configured to.
            return limits
        return limits

    async def acurrent(self) -> StoredLimits:
        """Async :meth:`current`: the store is read without blocking the event loop."""
        limits = self._limits
        if not self._due():
            return limits
        try:
            if await self._store.asettings_version() != limits.version:
                return await self.areload()
        except StoreUnavailableError:
            return limits  # as in current(): the limits known last still apply
        return limits

    async def areload(self) -> StoredLimits:
        """Async :meth:`reload`."""
        return self._keep(*await self._store.asettings())

    def _due(self) -> bool:
        """Whether the store's version is to be read now (a shared store's, at most once per
        refresh interval; a process-local store's every time, for it costs nothing)."""
        if not self._shared:
            return True
        now = time.monotonic()
        if now - self._checked < self._refresh_seconds():
            return False
        self._checked = now
        return True

    def _keep(self, version: int, raw: dict[str, str]) -> StoredLimits:
        limits = StoredLimits.decode(version, raw)
        with self._lock:
            self._limits = limits
            self._checked = time.monotonic()
        return limits

    def reload(self) -> StoredLimits:
        """Read every stored limit now."""
        return self._keep(*self._store.settings())

    def _put(self, name: str, value: Mapping[str, Any] | str | int | None) -> None:
        self._store.put_setting(name, None if value is None else orjson.dumps(value).decode())
        self.reload()  # this process sees its own change at once

    # -- writers --------------------------------------------------------------------
    def set_budget(self, scope: Scope, budget: BudgetConfig | None, model: str | None) -> None:
        """Store (or with ``None`` remove) the budget of ``scope``, or its cap on ``model``."""
        self._put(_name(_BUDGET, str(scope), model),
                  None if budget is None else budget.to_dict())

    def set_rate_limit(self, scope: Scope, limit: RateLimit | None) -> None:
        """Store (or remove) the rate limit of ``scope``."""
        self._put(_name(_RATE, str(scope)), None if limit is None else limit.to_dict())

    def set_tier_budget(self, tier: str, budget: BudgetConfig | None) -> None:
        """Store (or remove) the budget of every user of ``tier``."""
        self._put(_name(_TIER, tier), None if budget is None else budget.to_dict())

    def set_member(self, kind: str, user_id: str, group: str | None) -> None:
        """Remember ``user_id``'s team or org (``kind``), or forget it with ``None``."""
        self._put(_name(_MEMBER, kind, user_id), group)

    def set_carry(self, owner: str, period_key: str, nanos: int | None) -> None:
        """Remember what rolled over into a period, so it survives its counters' expiry."""
        self._put(_name(_CARRY, owner, period_key), nanos)
