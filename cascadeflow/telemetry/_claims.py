"""Exactly-once claims across every process sharing a store.

A claim is a counter of limit 1 taken through the store's one atomic primitive
(:meth:`LedgerStore.reserve` with a :class:`CounterLimit` that adds 1): the first process
to reserve it wins, every later attempt is refused. Alerts and reported anomalies use it.
"""

from __future__ import annotations

from cascadeflow._entry import new_entry_id
from cascadeflow.storage import CounterLimit, LedgerStore, PeriodKey

#: The user id claim leases are taken under (they hold nothing and are released at once).
CLAIMS_USER = "cascadeflow:claims"


def claim_once(store: LedgerStore, owner: str, *, now: float, keep_for: float) -> bool:
    """True for the first caller to claim ``owner`` in any process sharing ``store``.

    The claim is remembered for at least ``keep_for`` seconds (stores that expire counters
    drop it afterwards; the period keys that claims are named after have ended by then).

    Example:
        >>> claim_once(store, "claim:alert:user:alice/daily:2026-11-24/0.8", now=t, keep_for=86400)
        True
    """
    key = PeriodKey("claim", "claim", now + keep_for)
    reservation_id = new_entry_id()
    outcome = store.reserve(reservation_id, CLAIMS_USER, 0, (), now=now, expires_at=now + 60.0,
                            counters=[CounterLimit(owner, key, limit=1, add=1)])
    if outcome.granted:
        store.release(reservation_id)
    return outcome.granted

