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

#: The operations that end a lease; their first argument is the prefix of the slot they run
#: in, the reservation id their second.
ENDS_LEASE = frozenset({"release", "record", "record_counted", "add_counted", "withdraw"})


def ended_lease(script: str, args: Sequence[Any]) -> str:
    """The reservation id a call ends, ``""`` when it ends none (e.g. a plain record)."""
    return str(args[1]) if script in ENDS_LEASE else ""


class LeaseKeyBook:
    """The derived keys of the open leases this store made (per slot), bounded in size.

    On a cluster a lease may have a part in the user's bucket and one in the shared slot
    (see ``_redis_tenants``); the book also knows which, by reservation id. Forgetting one is
    harmless (the keys are looked up again), so when the book is full the older half is
    dropped (leases whose worker crashed are never ended here).
    """

    def __init__(self, max_leases: int = 100_000) -> None:
        self._max = max_leases
        self._known: dict[tuple[str, str], list[str]] = {}
        self._homes: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._homes)

    def remember(self, layouts: Sequence[tuple[RedisLayout, Sequence[CounterLimit]]],
                 reservation_id: str, user_id: str) -> None:
        """A granted lease: its part in each slot, with the counters checked there."""
        found = {}
        for layout, counters in layouts:
            held = list(dict.fromkeys(item.owner for item in counters if item.hold))
            found[(layout.prefix, reservation_id)] = layout.lease_end_keys(
                reservation_id, user_id, held)
        with self._lock:
            if len(self._homes) >= self._max:
                for old in list(self._homes)[: self._max // 2]:
                    for prefix in self._homes.pop(old):
                        self._known.pop((prefix, old), None)
            self._known.update(found)
            self._homes[reservation_id] = tuple(prefix for prefix, _ in found)

    def homes(self, reservation_id: str) -> tuple[str, ...] | None:
        """The prefixes of the slots holding parts of this lease (``None``: not known here)."""
        return self._homes.get(reservation_id)

    def known(self, prefix: str, reservation_id: str) -> list[str] | None:
        return self._known.get((prefix, reservation_id))

    def forget(self, prefix: str, reservation_id: str) -> None:
        with self._lock:
            self._known.pop((prefix, reservation_id), None)
            homes = self._homes.get(reservation_id)
            if homes is not None:
                left = tuple(home for home in homes if home != prefix)
                if left:
                    self._homes[reservation_id] = left
                else:
                    del self._homes[reservation_id]

    @staticmethod
    def from_lookup(layout: RedisLayout, reservation_id: str, reply: Sequence[Any]) -> list[str]:
        """The derived keys from the ``lease_keys`` operation's ``[user, holds listing]``."""
        user, listed = (_text(value) for value in reply)
        keys = [layout.lease_holds(reservation_id)]
        if user:
            keys += [layout.leases(user), layout.lease_amounts(user)]
        if listed:
            keys += [str(key) for key in orjson.loads(listed)]
        return keys


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
