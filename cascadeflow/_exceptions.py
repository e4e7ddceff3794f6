"""The one exception hierarchy of cascadeflow, rooted at :class:`CascadeflowError`.

Every error the library raises on purpose derives from it, so ``except CascadeflowError``
catches all of them; the names say what happened.
"""

from __future__ import annotations

from typing import Any


class CascadeflowError(Exception):
    """Base class of every error cascadeflow raises on purpose."""


class BudgetExceededError(CascadeflowError):
    """A request does not fit in a budget, quota or rate limit.

    Carries the user, the period that refused it (``hourly``, ``daily``, ``weekly``,
    ``monthly``, ``total``; ``daily cap on gpt-4o``, ``daily requests``, ``rpm``,
    ``tpm`` or ``max_parallel`` for caps, quotas and rate limits), that period's limit,
    what was already used (including open reservations) and what was requested, in USD
    for budgets and caps (counts for quotas and rate limits). ``scope`` is the scope that
    refused (``"user:alice"``, ``"team:search"``, ...), and ``retry_after`` the seconds
    until a rate limit admits again (``None`` for budgets).

    Example:
        >>> try:
        ...     tracker.reserve("u1", 0.50, team="search")
        ... except BudgetExceededError as exc:
        ...     print(exc.scope, exc.period, exc.limit, exc.retry_after)
    """

    def __init__(
        self,
        user_id: str,
        period: str,
        limit: float,
        spent: float,
        requested: float,
        message: str | None = None,
        *,
        scope: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.user_id = user_id
        self.period = period
        self.limit = limit
        self.spent = spent
        self.requested = requested
        self.scope = scope if scope is not None else f"user:{user_id}"
        self.retry_after = retry_after
        super().__init__(message or self._describe())

    def _describe(self) -> str:
        user = self.user_id
        if self.scope == f"user:{user}":
            who = f"user {user!r}"
        else:
            kind, _, ident = self.scope.partition(":")
            if kind == "key":
                who = f"API key {ident[:12]}... (user {user!r})"
            elif ident:
                who = f"{kind} {ident!r} (user {user!r})"
            else:
                who = f"the {self.scope} scope (user {user!r})"
        if self.retry_after is not None:
            return (f"rate limit reached for {who}: {self.period} limit {self.limit:g}, "
                    f"used {self.spent:g}; retry after {self.retry_after:.1f}s")
        if self.period.endswith((" requests", " tokens")):
            return (f"quota exceeded for {who}: {self.period} limit {self.limit:g}, "
                    f"used {self.spent:g}, requested {self.requested:g}")
        return (f"budget exceeded for {who}: {self.period} limit ${self.limit:.6f}, "
                f"spent ${self.spent:.6f}, requested ${self.requested:.6f}")

    def __reduce__(self) -> tuple[Any, tuple[object, ...]]:
        return (
            _rebuild_budget_error,
            (self.user_id, self.period, self.limit, self.spent, self.requested, str(self),
             self.scope, self.retry_after),
        )


def _rebuild_budget_error(user_id: str, period: str, limit: float, spent: float,
                          requested: float, message: str, scope: str | None,
                          retry_after: float | None) -> BudgetExceededError:
    return BudgetExceededError(user_id, period, limit, spent, requested, message,
                               scope=scope, retry_after=retry_after)


class StoreUnavailableError(CascadeflowError):
    """The ledger's store cannot be reached (e.g. Redis is down and the store fails closed)."""


class PricingError(CascadeflowError):
    """A price could not be found or the price book is unreadable."""


class UnknownModelError(PricingError, KeyError):
    """A model has no price in the price book; cascadeflow never prices it as zero silently."""

    def __init__(self, model: str, hint: str = "") -> None:
        self.model = model
        message = f"unknown model {model!r}: no price in the price book"
        if hint:
            message = f"{message} ({hint})"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class ReservationError(CascadeflowError):
    """A reservation was used after it was released or settled in a conflicting way."""
