"""The read side of the tracker: totals, summaries and exports (cascadeflow 1.2.0's queries)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cascadeflow._entry import CostEntry
from cascadeflow._money import to_usd
from cascadeflow.telemetry._periods import TOTAL_KEY

if TYPE_CHECKING:
    from cascadeflow.storage import LedgerStore, PeriodKey
    from cascadeflow.telemetry._budget import BudgetConfig


class LedgerQueries:
    """Queries shared by :class:`CostTracker`; every figure comes from the store.

    Totals, summaries' spend, budgets and :meth:`daily_spend` come from counters and are
    exact. The queries that list entries (``entries``, ``get_recent_entries``,
    ``get_entries_by_*``, ``total_entries`` of a user summary and the exports) read the
    history, which :class:`~cascadeflow.storage.MemoryStore` bounds to its newest
    ``max_entries`` (100,000 by default); SQLite and Redis keep it all.
    """

    store: LedgerStore
    budget_limit: float | None
    budget_exceeded: bool

    if TYPE_CHECKING:
        def get_user_budget(self, user_id: str,
                            user_tier: str | None = None) -> BudgetConfig | None: ...
        def get_user_tier(self, user_id: str) -> str | None: ...
        def period_keys(self, moment: Any = None) -> tuple[PeriodKey, ...]: ...
        def now(self) -> Any: ...
        def _carried(self, user_id: str, budget: BudgetConfig, key: PeriodKey,
                     base: int) -> int: ...

    @property
    def total_cost(self) -> float:
        """Everything recorded, in USD."""
        return to_usd(self.store.totals().total_nanos)

    @property
    def by_model(self) -> dict[str, float]:
        """USD per model."""
        return {k: to_usd(v) for k, v in self.store.totals().by_model.items()}

    @property
    def by_provider(self) -> dict[str, float]:
        """USD per provider."""
        return {k: to_usd(v) for k, v in self.store.totals().by_provider.items()}

    @property
    def by_user(self) -> dict[str, float]:
        """USD per user."""
        return {k: to_usd(v) for k, v in self.store.totals().by_user.items()}

    @property
    def entries(self) -> list[CostEntry]:
        """Every entry in recording order (a copy; MemoryStore keeps its newest ``max_entries``)."""
        return self.store.entries()

    def get_summary(self) -> dict[str, Any]:
        """Totals by model and provider, and the overall budget when one is set."""
        totals = self.store.totals()
        total = to_usd(totals.total_nanos)
        summary: dict[str, Any] = {
            "total_cost": total,
            "total_entries": totals.entry_count,
            "by_model": {k: to_usd(v) for k, v in totals.by_model.items()},
            "by_provider": {k: to_usd(v) for k, v in totals.by_provider.items()},
        }
        if self.budget_limit is not None:
            summary["budget_limit"] = self.budget_limit
            summary["budget_remaining"] = max(0.0, self.budget_limit - total)
            summary["budget_used_pct"] = (100.0 * total / self.budget_limit
                                          if self.budget_limit else 100.0)
            summary["budget_exceeded"] = total >= self.budget_limit
        return summary

    def get_user_summary(self, user_id: str, user_tier: str | None = None) -> dict[str, Any]:
        """A user's spend, with cost/limit/remaining/used_pct/exceeded per configured period.

        Example:
            >>> tracker.get_user_summary("u1")["period_costs"]["daily"]["remaining"]
            0.0996
        """
        tier = user_tier if user_tier is not None else self.get_user_tier(user_id)
        keys = self.period_keys()
        usage = self.store.usage(user_id, keys, now=self.now().timestamp())
        summary: dict[str, Any] = {
            "user_id": user_id,
            "user_tier": tier,
            "total_cost": to_usd(usage.spent_nanos.get(TOTAL_KEY, 0)),
            "reserved": to_usd(usage.reserved_nanos),
            "total_entries": len(self.store.entries(user_id=user_id)),
        }
        budget = self.get_user_budget(user_id, tier)
        period_costs: dict[str, Any] = {}
        if budget is not None:
            summary["budget_config"] = repr(budget)
            for index, base in budget.indexed_limits():
                period = keys[index].period
                spent = usage.spent_nanos.get(keys[index].key, 0)
                carried = self._carried(user_id, budget, keys[index], base)
                limit = base + carried
                period_costs[period] = {
                    "cost": to_usd(spent),
                    "limit": to_usd(limit),
                    "remaining": to_usd(max(0, limit - spent - usage.reserved_nanos)),
                    "used_pct": 100.0 * spent / limit if limit else 100.0,
                    "exceeded": spent >= limit,
                }
                if budget.rollover:
                    period_costs[period].update(base_limit=to_usd(base),
                                                carried=to_usd(carried))
        summary["period_costs"] = period_costs
        summary["budget_exceeded"] = any(p["exceeded"] for p in period_costs.values())
        return summary

    def get_all_users(self) -> list[str]:
        """Every user that has spent or has a remembered tier."""
        return sorted(set(self.store.user_tiers()) | set(self.store.totals().by_user))

    def get_users_by_tier(self, tier: str) -> list[str]:
        """Every user whose remembered tier is ``tier``."""
        return sorted(user for user, t in self.store.user_tiers().items() if t == tier)

    def get_recent_entries(self, n: int = 10) -> list[CostEntry]:
        """The ``n`` newest entries, oldest first."""
        return self.store.entries(last=n)

    def get_entries_by_model(self, model: str) -> list[CostEntry]:
        """Entries for ``model``."""
        return self.store.entries(model=model)

    def get_entries_by_provider(self, provider: str) -> list[CostEntry]:
        """Entries for ``provider``."""
        return self.store.entries(provider=provider)

    def get_entries_by_user(self, user_id: str) -> list[CostEntry]:
        """Entries for ``user_id``."""
        return self.store.entries(user_id=user_id)

    def export_to_json(self, filepath: str | Path) -> None:
        """Write every entry (all fields, metadata as JSON) and the summary to ``filepath``."""
        from cascadeflow.telemetry._exports import export_json

        export_json(self.store.entries(), self.get_summary(), Path(filepath))

    def export_to_csv(self, filepath: str | Path) -> None:
        """Write every entry to CSV; cells a spreadsheet would run as formulas are neutralised."""
        from cascadeflow.telemetry._exports import export_csv

        export_csv(self.store.entries(), Path(filepath))

    def export_to_sqlite(self, filepath: str | Path) -> None:
        """Upsert every entry into table ``cost_entries`` of ``filepath`` (one row per entry)."""
        from cascadeflow.telemetry._exports import export_sqlite

        export_sqlite(self.store.entries(), Path(filepath))

    def print_summary(self) -> None:
        """Print totals per model, provider and user."""
        summary = self.get_summary()
        print(f"Total cost: ${summary['total_cost']:.6f} over {summary['total_entries']} entries")
        for title, key in (("model", "by_model"), ("provider", "by_provider")):
            for name, cost in sorted(summary[key].items(), key=lambda kv: -kv[1]):
                print(f"  {title:<8} {name:<40} ${cost:.6f}")
        for user, cost in sorted(self.by_user.items(), key=lambda kv: -kv[1]):
            print(f"  user     {user:<40} ${cost:.6f}")
        if "budget_limit" in summary:
            print(f"Budget: ${summary['budget_limit']:.2f}, "
                  f"{summary['budget_used_pct']:.1f}% used")
