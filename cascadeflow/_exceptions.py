"""The one exception hierarchy of cascadeflow, rooted at :class:`CascadeflowError`.

Every error the library raises on purpose derives from it, so ``except CascadeflowError``
catches all of them; the names say what happened.
"""

from __future__ import annotations


class CascadeflowError(Exception):
    """Base class of every error cascadeflow raises on purpose."""


class BudgetExceededError(CascadeflowError):
    """A request does not fit in a user's budget.

    Carries the user, the tightest period that refused it (``daily``, ``weekly``,
    ``monthly`` or ``total``), that period's limit, what was already spent (including
    open reservations) and what was requested, all in USD.

    Example:
        >>> try:
        ...     tracker.reserve("u1", 0.50)
        ... except BudgetExceededError as exc:
        ...     print(exc.user_id, exc.period, exc.limit)
    """

    def __init__(
        self,
        user_id: str,
        period: str,
        limit: float,
        spent: float,
        requested: float,
        message: str | None = None,
    ) -> None:
        self.user_id = user_id
        self.period = period
        self.limit = limit
        self.spent = spent
        self.requested = requested
        super().__init__(
            message
            or (
                f"budget exceeded for user {user_id!r}: {period} limit ${limit:.6f}, "
                f"spent ${spent:.6f}, requested ${requested:.6f}"
            )
        )

    def __reduce__(self) -> tuple[type[BudgetExceededError], tuple[object, ...]]:
        return (
            BudgetExceededError,
            (self.user_id, self.period, self.limit, self.spent, self.requested, str(self)),
        )


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
