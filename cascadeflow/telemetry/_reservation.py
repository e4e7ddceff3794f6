"""A reservation: a lease on part of a user's budget, settled with the real cost or released."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from cascadeflow._entry import CostEntry

if TYPE_CHECKING:
    from cascadeflow.telemetry._scope import Scope
    from cascadeflow.telemetry._tracker import CostTracker


class Reservation:
    """Budget held for one request between the check and the real cost.

    Made by :meth:`CostTracker.reserve`. ``settle(actual_cost)`` records the real cost
    (as a :class:`CostEntry` whose id is the reservation id, so settling twice records
    once) and frees the hold; ``release()`` frees it without recording. Used as a context
    manager it releases on exit unless settled. After ``expires_at`` (its ttl) the hold no
    longer counts, so a crashed worker cannot block a user for ever.

    Example:
        >>> with tracker.reserve("u1", 0.02, model="gpt-4o") as reservation:
        ...     response = call_the_model()
        ...     reservation.settle(0.013, provider="openai", tokens=420)
    """

    __slots__ = (
        "_entry",
        "_lock",
        "_tracker",
        "amount",
        "amount_nanos",
        "expires_at",
        "id",
        "model",
        "released",
        "scopes",
        "user_id",
        "user_tier",
    )

    def __init__(
        self,
        tracker: CostTracker,
        reservation_id: str,
        user_id: str,
        amount: float,
        amount_nanos: int,
        *,
        model: str | None,
        user_tier: str | None,
        expires_at: float,
        scopes: tuple[Scope, ...] | None = None,
    ) -> None:
        self._tracker = tracker
        self.id = reservation_id
        self.user_id = user_id
        self.amount = amount
        self.amount_nanos = amount_nanos
        self.model = model
        self.user_tier = user_tier
        self.expires_at = expires_at
        #: The scopes beyond the user the settled cost counts toward (team, org, key,
        #: tags, global), fixed when the reservation was made.
        self.scopes = scopes
        self.released = False
        self._entry: CostEntry | None = None
        self._lock = threading.Lock()

    @property
    def settled(self) -> bool:
        """True once :meth:`settle` recorded the cost."""
        return self._entry is not None

    @property
    def entry(self) -> CostEntry | None:
        """The entry recorded by :meth:`settle`, if settled."""
        return self._entry

    def settle(self, actual_cost: float, **entry_fields: Any) -> CostEntry:
        """Record ``actual_cost`` (USD) for this request and free the reservation.

        ``entry_fields`` are :class:`CostEntry` fields (``model``, ``provider``, ``tokens``,
        ``prompt_tokens``, ``completion_tokens``, ``query_id``, ``metadata``, ``user_tier``).
        Settling again returns the first entry and records nothing more.
        """
        with self._lock:
            if self._entry is not None:
                return self._entry
            self._entry = self._tracker._settle(self, actual_cost, entry_fields)
            return self._entry

    async def asettle(self, actual_cost: float, **entry_fields: Any) -> CostEntry:
        """Async :meth:`settle` (the store call does not block the event loop)."""
        if self._entry is not None:
            return self._entry
        entry = await self._tracker._asettle(self, actual_cost, entry_fields)
        with self._lock:
            if self._entry is None:
                self._entry = entry
            return self._entry

    def release(self) -> bool:
        """Free the reservation without recording a cost; False if it was not open."""
        if self._entry is not None or self.released:
            return False
        self.released = True
        return self._tracker.store.release(self.id)

    async def arelease(self) -> bool:
        """Async :meth:`release`."""
        if self._entry is not None or self.released:
            return False
        self.released = True
        return await self._tracker.store.arelease(self.id)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entry is None:
            self.release()

    async def __aenter__(self) -> Reservation:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entry is None:
            await self.arelease()

    def __repr__(self) -> str:
        state = "settled" if self.settled else "released" if self.released else "open"
        return (f"Reservation(id={self.id!r}, user_id={self.user_id!r}, "
                f"amount=${self.amount:.6f}, {state})")
