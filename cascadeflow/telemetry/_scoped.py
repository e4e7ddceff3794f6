"""Scopes beyond the user turned into store counters: budgets, model caps, quotas, rate limits.

The tracker asks :class:`ScopedCounters` which :class:`~cascadeflow.storage.CounterLimit`
a request must pass (checked by the store with the user's own limits, in one atomic step)
and which :class:`~cascadeflow.storage.CounterAdd` an entry applies. Owners are the
scope's string, or the scope and what is counted (``"team:search\\x1fmodel:gpt-4o"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING

from cascadeflow._money import to_nanos, to_usd
from cascadeflow.storage import CounterAdd, CounterLimit, LedgerStore, PeriodKey, PeriodLimit
from cascadeflow.telemetry._budget import BudgetConfig
from cascadeflow.telemetry._limits import LimitBook, StoredLimits
from cascadeflow.telemetry._periods import hour_key, minute_key, previous_period_key
from cascadeflow.telemetry._scope import OWNER_SEPARATOR, Scope

if TYPE_CHECKING:
    from cascadeflow.pricing import PriceBook

#: The counter a ``max_parallel`` limit holds slots on (it is never incremented).
PARALLEL_KEY = PeriodKey("parallel", "parallel", None)
_DATED = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8}|-\d{4})$")


def base_model(model: str, pricing: PriceBook | None) -> str:
    """The name a model cap matches: the price book's name without a dated-snapshot suffix."""
    price = pricing.find(model) if pricing is not None else None
    return _DATED.sub("", price.model if price is not None else model)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Who refused, read back from a store owner name."""

    scope: Scope
    counted: str | None  # None (the scope's USD), "model:<m>", "requests", "tokens", ...

    @classmethod
    def of_owner(cls, owner: str, user_id: str) -> Refusal:
        if not owner:
            return cls(Scope.user(user_id), None)
        scope_text, sep, counted = owner.partition(OWNER_SEPARATOR)
        return cls(Scope.parse(scope_text), counted if sep else None)

    def is_rate(self) -> bool:
        return self.counted in ("rpm", "tpm", "parallel")

    def period_label(self, period: str) -> str:
        """``daily``, ``daily cap on gpt-4o``, ``daily requests``, ``rpm``, ``max_parallel``."""
        if self.counted is None:
            return period
        if self.counted.startswith("model:"):
            return f"{period} cap on {self.counted[6:]}"
        if self.counted in ("rpm", "tpm"):
            return self.counted
        if self.counted == "parallel":
            return "max_parallel"
        return f"{period} {self.counted}"


class ScopedCounters:
    """Builds the counters a request passes and an entry applies, from the stored limits."""

    def __init__(self, store: LedgerStore, book: LimitBook, zone: tzinfo,
                 pricing: Callable[[], PriceBook]) -> None:
        self._store = store
        self._book = book
        self._zone = zone
        self._pricing = pricing
        self._carries: dict[tuple[str, str], int] = {}
        self._plans: dict[tuple[object, ...], tuple[tuple[Scope, ...],
                                                    list[tuple[str, PeriodKey, int, int, int]],
                                                    BudgetConfig | None]] = {}

    @property
    def pricing(self) -> PriceBook:
        return self._pricing()

    def forget(self) -> None:
        """Drop what was derived from the counters (after the ledger was reset)."""
        self._carries.clear()
        self._plans.clear()

    # -- which scopes apply --------------------------------------------------------
    @staticmethod
    def scopes(limits: StoredLimits, user_id: str | None, *, team: str | None,
               org: str | None, key: str | None, tags: Iterable[str] | None) -> tuple[Scope, ...]:
        """The scopes beyond the user: its team and org (given or remembered), key, tags, global."""
        found: list[Scope] = []
        team = team if team is not None else (limits.teams.get(user_id) if user_id else None)
        org = org if org is not None else (limits.orgs.get(user_id) if user_id else None)
        if team:
            found.append(Scope.team(team))
        if org:
            found.append(Scope.org(org))
        if key:
            found.append(Scope.key(key))
        if tags is not None:
            if isinstance(tags, str):
                tags = [tags]
            found.extend(Scope.tag(tag) for tag in dict.fromkeys(tags) if tag)
        found.append(Scope.global_())
        return tuple(found)

    def _caps(self, limits: StoredLimits, scope: Scope,
              model: str | None) -> list[tuple[str, BudgetConfig]]:
        caps = limits.caps.get(scope)
        if not caps or model is None:
            return []
        wanted = base_model(model, self.pricing)
        return [(name, config) for name, config in caps.items()
                if base_model(name, self.pricing) == wanted]

    # -- periods and rollover --------------------------------------------------------
    def money_periods(self, config: BudgetConfig, keys: Sequence[PeriodKey],
                      stamp: float) -> list[tuple[PeriodKey, int]]:
        """``(period key, base limit nanos)`` for every USD limit of ``config``."""
        by_period = {key.period: key for key in keys}
        found = [(by_period[period], nanos) for period, nanos in config.limits_nanos()]
        if config.hourly is not None:
            found.insert(0, (hour_key(stamp, self._zone), config.money_limits()["hourly"]))
        return found

    def counted_keys(self, config: BudgetConfig | None, keys: Sequence[PeriodKey],
                     stamp: float) -> tuple[PeriodKey, ...]:
        """The keys an entry counts toward: the four periods, and the hour when limited."""
        if config is not None and config.hourly is not None:
            return (*keys, hour_key(stamp, self._zone))
        return tuple(keys)

    def quota_keys(self, quota: dict[str, int], keys: Sequence[PeriodKey],
                   stamp: float) -> list[tuple[PeriodKey, int]]:
        by_period = {key.period: key for key in keys}
        return [(hour_key(stamp, self._zone) if period == "hourly" else by_period[period], count)
                for period, count in quota.items()]

    def carried(self, owner: str, config: BudgetConfig, period: PeriodKey, base: int,
                stamp: float, *, user_id: str | None = None) -> int:
        """What rolled over into ``period`` for ``owner`` (0 without rollover, or for total)."""
        if not config.rollover or period.period == "total":
            return 0
        cache_key = (owner or f"user:{user_id}", period.key)
        found = self._carries.get(cache_key)
        if found is None:
            found = self._book.current().carries.get(cache_key)
        if found is None:
            previous = previous_period_key(period.period, stamp, self._zone)
            assert previous is not None
            if user_id is not None and not owner:
                spent = self._store.usage(user_id, (previous,), now=stamp).spent_nanos.get(
                    previous.key, 0)
            else:
                spent = self._store.read_counters([(owner, previous)], [], now=stamp).values.get(
                    (owner, previous.key), 0)
            found = max(0, base - spent)
            if config.rollover_cap is not None:
                found = min(found, to_nanos(config.rollover_cap))
            if self._store.counters_expire:
                # The closed period's counter will expire: keep what it left as a setting,
                # and drop the one kept for the period before (one per owner and period).
                self._book.set_carry(cache_key[0], period.key, found)
                if (cache_key[0], previous.key) in self._book.current().carries:
                    self._book.set_carry(cache_key[0], previous.key, None)
        if len(self._carries) >= 65_536:
            self._carries.clear()
        self._carries[cache_key] = found
        return found

    def user_limits(self, user_id: str, config: BudgetConfig, keys: Sequence[PeriodKey],
                    stamp: float) -> list[PeriodLimit]:
        """The user's own USD limits with the hour and what rolled over (the slow path)."""
        return [PeriodLimit(key, base + self.carried("", config, key, base, stamp,
                                                     user_id=user_id))
                for key, base in self.money_periods(config, keys, stamp)]

    # -- what a request must pass ------------------------------------------------------
    def plan(
        self, limits: StoredLimits, user_id: str, *, team: str | None, org: str | None,
        key: str | None, tags: Iterable[str] | None, model: str | None, amount_nanos: int,
        tokens: int, keys: Sequence[PeriodKey], stamp: float, user_budget: BudgetConfig | None,
    ) -> tuple[tuple[Scope, ...], list[CounterLimit]]:
        """The scopes beyond the user and every counter limit a request must pass.

        What does not depend on the request's amount is cached per identity and minute
        (every period boundary is a minute boundary), so a busy user's checks are built
        once a minute.
        """
        tag_key = (tags if isinstance(tags, tuple) else (tags,) if isinstance(tags, str)
                   else tuple(tags) if tags is not None else None)
        cache_key = (limits.version, user_id, team, org, key, tag_key, model, id(user_budget),
                     stamp // 60)
        found = self._plans.get(cache_key)
        if found is None:
            scopes = self.scopes(limits, user_id, team=team, org=org, key=key, tags=tag_key)
            found = (scopes, self._template(limits, user_id, scopes, model, keys, stamp,
                                            user_budget), user_budget)
            if len(self._plans) >= 4096:
                self._plans.clear()
            self._plans[cache_key] = found
        scopes, template, _ = found
        # `hold`/`add` codes: -1 is the request's amount, -2 its tokens, else the number.
        return scopes, [
            CounterLimit(owner, period, limit,
                         amount_nanos if hold == -1 else tokens if hold == -2 else hold,
                         tokens if add == -2 else add)
            for owner, period, limit, hold, add in template]

    def _template(
        self, limits: StoredLimits, user_id: str, scopes: Sequence[Scope], model: str | None,
        keys: Sequence[PeriodKey], stamp: float, user_budget: BudgetConfig | None,
    ) -> list[tuple[str, PeriodKey, int, int, int]]:
        amount, tokens = -1, -2
        checks: list[tuple[str, PeriodKey, int, int, int]] = []
        for scope in (Scope.user(user_id), *scopes):
            config = user_budget if scope.kind == "user" else limits.budgets.get(scope)
            if config is not None:
                owner = scope.owner()
                if scope.kind != "user":
                    for key, base in self.money_periods(config, keys, stamp):
                        limit = base + self.carried(owner, config, key, base, stamp)
                        checks.append((owner, key, limit, amount, 0))
                if config.requests:
                    owner = scope.owner("requests")
                    for key, count in self.quota_keys(dict(config.requests), keys, stamp):
                        checks.append((owner, key, count, 1, 0))
                if config.tokens:
                    owner = scope.owner("tokens")
                    for key, count in self.quota_keys(dict(config.tokens), keys, stamp):
                        checks.append((owner, key, count, tokens, 0))
            for name, cap in self._caps(limits, scope, model):
                owner = scope.owner(f"model:{name}")
                for key, base in self.money_periods(cap, keys, stamp):
                    limit = base + self.carried(owner, cap, key, base, stamp)
                    checks.append((owner, key, limit, amount, 0))
            rate = limits.rates.get(scope)
            if rate is not None:
                minute = minute_key(stamp)
                if rate.rpm is not None:
                    checks.append((scope.owner("rpm"), minute, rate.rpm, 0, 1))
                if rate.tpm is not None:
                    checks.append((scope.owner("tpm"), minute, rate.tpm, 0, tokens))
                if rate.max_parallel is not None:
                    checks.append((scope.owner("parallel"), PARALLEL_KEY, rate.max_parallel, 1, 0))
        return checks

    # -- what an entry applies -----------------------------------------------------------
    def counter_adds(
        self, limits: StoredLimits, user_id: str | None, scopes: Sequence[Scope], model: str,
        cost_nanos: int, tokens: int, keys: Sequence[PeriodKey], stamp: float,
        user_budget: BudgetConfig | None,
    ) -> list[CounterAdd]:
        """The increments of one entry (rate limits count admissions, at reserve, not here)."""
        adds: list[CounterAdd] = []
        everyone = (Scope.user(user_id), *scopes) if user_id is not None else tuple(scopes)
        for scope in everyone:
            config = user_budget if scope.kind == "user" else limits.budgets.get(scope)
            if config is not None:
                if scope.kind != "user":
                    owner = scope.owner()
                    adds += [CounterAdd(owner, key, cost_nanos)
                             for key in self.counted_keys(config, keys, stamp)]
                if config.requests:
                    owner = scope.owner("requests")
                    adds += [CounterAdd(owner, key, 1) for key, _ in
                             self.quota_keys(dict(config.requests), keys, stamp)]
                if config.tokens:
                    owner = scope.owner("tokens")
                    adds += [CounterAdd(owner, key, tokens) for key, _ in
                             self.quota_keys(dict(config.tokens), keys, stamp)]
            for name, cap in self._caps(limits, scope, model):
                owner = scope.owner(f"model:{name}")
                adds += [CounterAdd(owner, key, cost_nanos)
                         for key in self.counted_keys(cap, keys, stamp)]
        return adds

    # -- reads for enforce, remaining and reports ------------------------------------------
    def money_rows(
        self, limits: StoredLimits, scopes: Sequence[Scope], user_id: str,
        keys: Sequence[PeriodKey], stamp: float, *, include_user_caps: bool = True,
    ) -> list[BudgetRow]:
        """The USD rows of the scopes beyond the user and of the model caps (values read)."""
        wanted: list[tuple[Scope, str, str | None, BudgetConfig]] = []
        for scope in scopes:
            config = limits.budgets.get(scope)
            if config is not None:
                wanted.append((scope, scope.owner(), None, config))
        for scope in ((Scope.user(user_id),) if include_user_caps else ()) + tuple(scopes):
            caps = limits.caps.get(scope)
            if not caps:
                continue
            for name, cap in caps.items():
                wanted.append((scope, scope.owner(f"model:{name}"), name, cap))
        if not wanted:
            return []
        rows: list[BudgetRow] = []
        pairs: list[tuple[str, PeriodKey]] = []
        for scope, owner, model, config in wanted:
            for key, base in self.money_periods(config, keys, stamp):
                carried = self.carried(owner, config, key, base, stamp)
                rows.append(BudgetRow(scope, key.period, model, base, carried, owner, key))
                pairs.append((owner, key))
        read = self._store.read_counters(pairs, list(dict.fromkeys(o for _, o, _, _ in wanted)),
                                         now=stamp)
        for row in rows:
            row.spent = read.values.get((row.owner, row.key.key), 0)
            row.reserved = read.held.get(row.owner, 0)
        return rows

    def quota_rows(self, scope: Scope, config: BudgetConfig, keys: Sequence[PeriodKey],
                   stamp: float) -> list[BudgetRow]:
        """The request and token quotas of ``scope`` with what is counted and held."""
        rows: list[BudgetRow] = []
        for unit in ("requests", "tokens"):
            quota = getattr(config, unit)
            if not quota:
                continue
            owner = scope.owner(unit)
            for key, count in self.quota_keys(dict(quota), keys, stamp):
                rows.append(BudgetRow(scope, key.period, None, count, 0, owner, key, unit=unit))
        if rows:
            read = self._store.read_counters([(row.owner, row.key) for row in rows],
                                             list(dict.fromkeys(row.owner for row in rows)),
                                             now=stamp)
            for row in rows:
                row.spent = read.values.get((row.owner, row.key.key), 0)
                row.reserved = read.held.get(row.owner, 0)
        return rows

    def model_matches(self, cap_model: str, model: str) -> bool:
        """True when a cap on ``cap_model`` applies to a request for ``model``."""
        return base_model(cap_model, self.pricing) == base_model(model, self.pricing)


@dataclass(slots=True)
class BudgetRow:
    """One limit of one scope for one period, with what is spent and held against it."""

    scope: Scope
    period: str
    model: str | None
    base: int
    carried: int
    owner: str
    key: PeriodKey
    spent: int = 0
    reserved: int = 0
    unit: str = "usd"  # or "requests", "tokens": quota rows count, they are not money

    @property
    def limit(self) -> int:
        return self.base + self.carried

    @property
    def used(self) -> int:
        return self.spent + self.reserved

    def as_dict(self) -> dict[str, object]:
        """The row in USD (counts for a quota), as reports and the CLI show it."""
        value: Callable[[int], float] = to_usd if self.unit == "usd" else float
        return {
            "scope": str(self.scope), "period": self.period, "model": self.model,
            "unit": self.unit, "base_limit": value(self.base), "carried": value(self.carried),
            "limit": value(self.limit), "spent": value(self.spent),
            "reserved": value(self.reserved),
            "remaining": value(max(0, self.limit - self.used)),
        }
