"""Where a Redis Cluster ledger keeps each key: a tenant's keys in its bucket, shared scopes apart.

A Lua script may only touch keys of one hash slot. The ledger spreads over the masters by
placing each user (the tenant) in one of :data:`CLUSTER_BUCKETS` buckets, each a hash tag
(``{cascadeflow#07}``): the user's spend counters, leases, done markers, its own scopes'
counters (owners ``user:<id>...``: caps, quotas, rate limits), the tiers, totals, history
and daily rollups of the bucket's entries. Rollups (owners ``rollup:...``) are only ever
added to, so each bucket keeps its part and a read sums the parts.

Scopes that span tenants (team, org, key, tag, global, and claims) live in the shared slot
(``{cascadeflow}``, with the stored limits). A request that must pass one of them is a
two-phase reserve: the user's bucket first (its limits and own scopes, checked and held in
one script), then the shared slot (the shared scopes, checked and held in one script); when
the second refuses, the first is released. Every counter lives in exactly one slot and is
checked there against everything held on it, so the two phases never let racing requests
pass on the same remaining budget: at worst a request is refused while another one's first
phase holds what it then gives back. A settle applies the shared part first (increments and
the end of its holds, idempotent by entry id), then the entry in the user's bucket; a worker
that dies between the two has counted the shared scopes and not the user, exactly as if it
had died before settling the user (whose lease expires): the shared scopes are never
under-counted.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import replace

from cascadeflow.storage._base import (
    ADD_ONLY_OWNER,
    CounterAdd,
    CounterLimit,
    refuse_add_only_limits,
)
from cascadeflow.storage._redis_layout import RedisLayout

#: How many buckets the users of a cluster ledger are spread over (fixed: a user's bucket
#: must not change while its counters live there).
CLUSTER_BUCKETS = 16
#: Between the prefix and the bucket's number in a bucket's hash tag; cluster prefixes may
#: not hold it, so no two ledgers' tags meet.
BUCKET_MARK = "#"
_USER_OWNER = "user:"
_SEPARATOR = "\x1f"


class TenantLayout:
    """The layouts of one cluster ledger: the shared slot and the users' buckets.

    Example:
        >>> tenants = TenantLayout(RedisLayout(prefix="{cascadeflow}"), "cascadeflow")
        >>> tenants.of_user("alice").prefix
        '{cascadeflow#07}'
    """

    def __init__(self, shared: RedisLayout, name: str) -> None:
        self.shared = shared
        self.buckets = tuple(replace(shared, prefix=f"{{{name}{BUCKET_MARK}{index:02d}}}")
                             for index in range(CLUSTER_BUCKETS))
        self.by_prefix = {layout.prefix: layout for layout in (shared, *self.buckets)}
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in name)
        #: A SCAN pattern matching the keys of every slot of this ledger and no other (no
        #: prefix holds the bucket mark, so ``{name}`` and ``{name#..}`` are this ledger's).
        self.pattern = f"\\{{{escaped}[}}{BUCKET_MARK}]*"

    def of_user(self, user_id: str | None) -> RedisLayout:
        """The bucket of a user (``None``, an entry without a user, has one too)."""
        return self.buckets[zlib.crc32((user_id or "").encode()) % CLUSTER_BUCKETS]

    def home(self, owner: str) -> RedisLayout | None:
        """Where an owner's counters live; ``None`` for a rollup (a part in every bucket)."""
        if owner.startswith(ADD_ONLY_OWNER):
            return None
        if owner.startswith(_USER_OWNER):
            return self.of_user(owner[len(_USER_OWNER):].partition(_SEPARATOR)[0])
        return self.shared

    def split_limits(self, user_id: str, counters: Sequence[CounterLimit]
                     ) -> list[tuple[RedisLayout, list[CounterLimit]]]:
        """The reserve's phases: the user's bucket first, then each other slot's counters."""
        refuse_add_only_limits(counters)
        mine = self.of_user(user_id)
        phases: dict[str, tuple[RedisLayout, list[CounterLimit]]] = {mine.prefix: (mine, [])}
        for item in counters:
            home = self.home(item.owner) or self.shared  # never None: refused above
            phases.setdefault(home.prefix, (home, []))[1].append(item)
        first = phases.pop(mine.prefix)
        return [first, *(phases[prefix] for prefix in sorted(phases))]

    def split_adds(self, user_id: str | None, counters: Sequence[CounterAdd]
                   ) -> tuple[list[CounterAdd], list[tuple[RedisLayout, list[CounterAdd]]]]:
        """An entry's increments kept in its user's bucket, and those kept in other slots."""
        mine = self.of_user(user_id)
        local: list[CounterAdd] = []
        elsewhere: dict[str, tuple[RedisLayout, list[CounterAdd]]] = {}
        for item in counters:
            home = self.home(item.owner)
            if home is None or home is mine:
                local.append(item)
            else:
                elsewhere.setdefault(home.prefix, (home, []))[1].append(item)
        return local, [elsewhere[prefix] for prefix in sorted(elsewhere)]

    def owner_layouts(self, owner: str) -> tuple[RedisLayout, ...]:
        """The layouts holding (parts of) an owner's counters, for a read."""
        home = self.home(owner)
        return self.buckets if home is None else (home,)
