"""Where the Redis store keeps things: key names, and the argument lists of its scripts.

Building keys and arguments is pure (no I/O), so the sync and async paths, and the replay
of the fail-open journal, share it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

import orjson

from cascadeflow._entry import CostEntry
from cascadeflow.storage._base import CounterAdd, CounterLimit, PeriodKey, PeriodLimit

#: Stored in the tiers hash for "a user whose tier is not known" (an empty tier reads as None).
NO_TIER = ""
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class RedisLayout:
    """Key names under one prefix, and how long each kind of key lives.

    ``{user}`` sits in braces (a Redis hash tag) so a user's keys read as one group.
    """

    prefix: str
    period_margin: float = 2 * 86400.0
    marker_ttl: float = 8 * 86400.0
    lease_margin: float = 60.0
    history_max_per_day: int = 100_000
    history_days: int = 31

    def spent(self, user_id: str, period_key: str) -> str:
        return f"{self.prefix}:spent:{{{user_id}}}:{period_key}"

    def leases(self, user_id: str) -> str:
        return f"{self.prefix}:leases:{{{user_id}}}"

    def lease_amounts(self, user_id: str) -> str:
        return f"{self.prefix}:lease_amounts:{{{user_id}}}"

    def lease_owner(self, reservation_id: str) -> str:
        return f"{self.prefix}:lease:{reservation_id}"

    def lease_holds(self, reservation_id: str) -> str:
        return f"{self.prefix}:lease_holds:{reservation_id}"

    # Owners (scopes, caps, quotas) live under their own names: never a user's keys.
    def count(self, owner: str, period_key: str) -> str:
        return f"{self.prefix}:count:{{{owner}}}:{period_key}"

    def holds(self, owner: str) -> str:
        return f"{self.prefix}:holds:{{{owner}}}"

    def hold_amounts(self, owner: str) -> str:
        return f"{self.prefix}:hold_amounts:{{{owner}}}"

    @property
    def settings(self) -> str:
        return f"{self.prefix}:settings"

    @property
    def settings_version(self) -> str:
        return f"{self.prefix}:settings_version"

    def done(self, entry_id: str) -> str:
        return f"{self.prefix}:done:{entry_id}"

    def stream(self, day: str) -> str:
        return f"{self.prefix}:entries:{day}"

    @property
    def days(self) -> str:
        return f"{self.prefix}:entry_days"

    @property
    def totals(self) -> str:
        return f"{self.prefix}:totals"

    @property
    def by_model(self) -> str:
        return f"{self.prefix}:by_model"

    @property
    def by_provider(self) -> str:
        return f"{self.prefix}:by_provider"

    @property
    def by_user(self) -> str:
        return f"{self.prefix}:by_user"

    @property
    def tiers(self) -> str:
        return f"{self.prefix}:tiers"

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key of this ledger (glob characters escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)
        return f"{escaped}:*"

    # -- script arguments ---------------------------------------------------
    def reserve_call(
        self,
        reservation_id: str,
        user_id: str,
        amount_nanos: int,
        limits: Sequence[PeriodLimit],
        now: float,
        expires_at: float,
    ) -> tuple[list[str], list[str]]:
        keys = [self.leases(user_id), self.lease_amounts(user_id), self.lease_owner(reservation_id)]
        keys += [self.spent(user_id, item.period_key.key) for item in limits]
        lease_ttl_ms = max(1, int((expires_at - now + self.lease_margin) * 1000))
        args = [self.prefix, repr(now), repr(expires_at), str(amount_nanos),
                reservation_id, user_id, str(lease_ttl_ms)]
        args += [str(item.limit_nanos) for item in limits]
        return keys, args

    def reserve_counted_call(
        self,
        reservation_id: str,
        user_id: str,
        amount_nanos: int,
        limits: Sequence[PeriodLimit],
        counters: Sequence[CounterLimit],
        now: float,
        expires_at: float,
    ) -> tuple[list[str], list[str]]:
        keys = [self.leases(user_id), self.lease_amounts(user_id),
                self.lease_owner(reservation_id), self.lease_holds(reservation_id)]
        keys += [self.spent(user_id, item.period_key.key) for item in limits]
        lease_ttl_ms = max(1, int((expires_at - now + self.lease_margin) * 1000))
        args = [self.prefix, repr(now), repr(expires_at), str(amount_nanos),
                reservation_id, user_id, str(lease_ttl_ms), str(len(limits))]
        args += [str(item.limit_nanos) for item in limits]
        for item in counters:
            keys += [self.count(item.owner, item.period_key.key), self.holds(item.owner),
                     self.hold_amounts(item.owner)]
            ttl = (self._window_ttl_ms(item.period_key, now) if item.add
                   else self._period_ttl_ms(item.period_key, now))
            args += [str(item.limit), str(item.hold), str(item.add), ttl, item.owner]
        return keys, args

    def counters_call(
        self, counters: Sequence[tuple[str, PeriodKey]], owners: Sequence[str], now: float
    ) -> tuple[list[str], list[str]]:
        keys = [self.count(owner, period.key) for owner, period in counters]
        for owner in owners:
            keys += [self.holds(owner), self.hold_amounts(owner)]
        return keys, [str(len(counters)), repr(now)]

    def setting_call(self, name: str, value: str | None) -> tuple[list[str], list[str]]:
        return ([self.settings, self.settings_version],
                [name, value or "", "1" if value is None else "0"])

    def record_call(
        self,
        entry: CostEntry,
        cost_nanos: int,
        periods: Sequence[PeriodKey],
        *,
        reservation_id: str = "",
        nonce: str,
        counters: Sequence[CounterAdd] = (),
        order: int | None = None,
    ) -> tuple[list[str], list[str]]:
        """``order`` (a cluster's history, kept in several streams) is stored with the entry."""
        day = entry.timestamp.astimezone(timezone.utc).date()
        day_score = (day - _EPOCH).days
        day_text = day.isoformat()
        user = entry.user_id
        keys = [
            self.lease_owner(reservation_id or entry.id),
            self.done(entry.id),
            self.totals,
            self.by_model,
            self.by_provider,
            self.by_user,
            self.tiers,
            self.stream(day_text),
            self.days,
        ]
        ref = entry.timestamp.timestamp()
        ttls: list[str] = []
        if user is not None:
            keys += [self.spent(user, period.key) for period in periods]
            ttls = [self._period_ttl_ms(period, ref) for period in periods]
        args = [
            self.prefix,
            reservation_id,
            nonce,
            self._marker_ttl_s,
            str(cost_nanos),
            entry.model,
            entry.provider,
            user or "",
            "1" if user is not None else "0",
            entry.user_tier if entry.user_tier is not None else NO_TIER,
            "1" if entry.user_tier is not None else "0",
            encode_entry(entry, order).decode(),
            self._history_max,
            str(day_score),
            self._stream_ttl_ms,
            day_text,
            str(day_score - self.history_days),
        ]
        if counters:
            # record_counted: the owners' count, the user keys' ttls, then (ttl, amount) each.
            args.append(str(len(counters)))
            args += ttls
            for item in counters:
                keys.append(self.count(item.owner, item.period_key.key))
                args += [self._period_ttl_ms(item.period_key, ref), str(item.amount)]
        else:
            args += ttls
        return keys, args

    def add_counted_call(self, entry_id: str, counters: Sequence[CounterAdd], ref: float, *,
                         reservation_id: str, nonce: str) -> tuple[list[str], list[str]]:
        """Owners' increments of one entry kept under this prefix, and its lease's part here."""
        keys = [self.lease_owner(reservation_id or entry_id), self.done(entry_id)]
        args = [self.prefix, reservation_id, nonce, self._marker_ttl_s]
        for item in counters:
            keys.append(self.count(item.owner, item.period_key.key))
            args += [self._period_ttl_ms(item.period_key, ref), str(item.amount)]
        return keys, args

    def lease_end_keys(self, reservation_id: str, user_id: str,
                       held_owners: Sequence[str]) -> list[str]:
        """Keys that ending a lease touches beyond its call's own (derived by the script)."""
        keys = [self.leases(user_id), self.lease_amounts(user_id),
                self.lease_holds(reservation_id)]
        for owner in held_owners:
            keys += [self.holds(owner), self.hold_amounts(owner)]
        return keys

    def lease_keys_call(self, reservation_id: str) -> tuple[list[str], list[str]]:
        return [self.lease_owner(reservation_id), self.lease_holds(reservation_id)], []

    def release_call(self, reservation_id: str) -> tuple[list[str], list[str]]:
        return [self.lease_owner(reservation_id)], [self.prefix, reservation_id]

    def withdraw_call(self, reservation_id: str, counters: Sequence[CounterLimit]
                      ) -> tuple[list[str], list[str]]:
        """End a lease and take back what its admission added to ``counters``."""
        added = [item for item in counters if item.add]
        keys = [self.lease_owner(reservation_id)]
        keys += [self.count(item.owner, item.period_key.key) for item in added]
        return keys, [self.prefix, reservation_id, *(str(item.add) for item in added)]

    def tier_call(self, user_id: str, tier: str | None) -> tuple[list[str], list[str]]:
        return [self.tiers], [user_id, tier if tier is not None else NO_TIER]

    def usage_call(
        self, user_id: str, periods: Sequence[PeriodKey], now: float
    ) -> tuple[list[str], list[str]]:
        keys = [self.leases(user_id), self.lease_amounts(user_id)]
        keys += [self.spent(user_id, period.key) for period in periods]
        return keys, [self.prefix, repr(now)]

    def _period_ttl_ms(self, period: PeriodKey, ref: float) -> str:
        # Relative to the entry's own clock, so a tracker with a simulated clock still keeps
        # its counters until its period ends; with a real clock this equals
        # EXPIREAT(ends_at + margin).
        if period.ends_at is None:
            return "-1"
        return str(max(1000, int((period.ends_at + self.period_margin - ref) * 1000)))

    def _window_ttl_ms(self, period: PeriodKey, ref: float) -> str:
        # A window counted at admission (a rate limit's minute) is not needed after it ends.
        if period.ends_at is None:
            return "-1"
        return str(max(1000, int((period.ends_at + self.lease_margin - ref) * 1000)))

    # Constant arguments, as the strings the script receives.
    @property
    def _marker_ttl_s(self) -> str:
        return str(int(self.marker_ttl))

    @property
    def _history_max(self) -> str:
        return str(self.history_max_per_day)

    @property
    def _stream_ttl_ms(self) -> str:
        return str(int((self.history_days + 1) * 86400.0 * 1000))


def new_nonce() -> str:
    """A token that tells a retried write its own earlier attempt from someone else's."""
    return os.urandom(12).hex()


def encode_entry(entry: CostEntry, order: int | None = None) -> bytes:
    """The entry as JSON (metadata values that JSON cannot hold are written as text).

    ``order`` is kept beside the entry's fields (as ``"_o"``), for merging several streams.
    """
    data = entry.to_dict()
    if order is not None:
        data["_o"] = order
    return orjson.dumps(data, default=str)


def entry_order(raw: bytes | str) -> int:
    """The ``order`` an entry was encoded with (0 when none was)."""
    order: int = orjson.loads(raw).get("_o", 0)
    return order


def decode_entry(raw: bytes | str) -> CostEntry:
    """The entry back from :func:`encode_entry`'s JSON."""
    data = orjson.loads(raw)
    return CostEntry(
        id=data["id"],
        timestamp=datetime.fromisoformat(data["timestamp"]),
        model=data["model"],
        provider=data["provider"],
        tokens=data["tokens"],
        cost=data["cost"],
        query_id=data.get("query_id"),
        metadata=data.get("metadata") or {},
        user_id=data.get("user_id"),
        user_tier=data.get("user_tier"),
        prompt_tokens=data.get("prompt_tokens"),
        completion_tokens=data.get("completion_tokens"),
    )


def decode_tier(raw: bytes | str) -> str | None:
    text = raw.decode() if isinstance(raw, bytes) else raw
    return text or None
