"""On a Redis Cluster: which keys a call declares, so a reshard can never split one.

Most calls know their keys. Ending a lease (settle, release) also touches the lease's user's
lease set and the holds it took on owners, which the script finds from stored values; the
store remembers them from the reservation it made, or looks them up first (one more round
trip) for a lease another process made.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import orjson

from cascadeflow.storage._base import CounterLimit
from cascadeflow.storage._redis_layout import RedisLayout

#: The operations that end a lease; the reservation id is their second argument.
ENDS_LEASE = frozenset({"release", "record", "record_counted"})


def ended_lease(script: str, args: Sequence[Any]) -> str:
    """The reservation id a call ends, ``""`` when it ends none (e.g. a plain record)."""
    return str(args[1]) if script in ENDS_LEASE else ""


class LeaseKeyBook:
    """The derived keys of the open leases this store made, bounded in size.

    Forgetting one is harmless (the keys are looked up again), so when the book is full the
    older half is dropped (leases whose worker crashed are never ended here).
    """

    def __init__(self, layout: RedisLayout, max_leases: int = 100_000) -> None:
        self._layout = layout
        self._max = max_leases
        self._known: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def remember(self, reservation_id: str, user_id: str,
                 counters: Sequence[CounterLimit]) -> None:
        held = list(dict.fromkeys(item.owner for item in counters if item.hold))
        keys = self._layout.lease_end_keys(reservation_id, user_id, held)
        with self._lock:
            if len(self._known) >= self._max:
                for old in list(self._known)[: self._max // 2]:
                    del self._known[old]
            self._known[reservation_id] = keys

    def known(self, reservation_id: str) -> list[str] | None:
        return self._known.get(reservation_id)

    def forget(self, reservation_id: str) -> None:
        with self._lock:
            self._known.pop(reservation_id, None)

    def from_lookup(self, reservation_id: str, reply: Sequence[Any]) -> list[str]:
        """The derived keys from the ``lease_keys`` operation's ``[user, holds listing]``."""
        user, listed = (_text(value) for value in reply)
        keys = [self._layout.lease_holds(reservation_id)]
        if user:
            keys += [self._layout.leases(user), self._layout.lease_amounts(user)]
        if listed:
            keys += [str(key) for key in orjson.loads(listed)]
        return keys


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
