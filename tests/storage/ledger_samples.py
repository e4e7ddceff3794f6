"""Sample ledger values shared by the store tests and the worker processes they start."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from cascadeflow._entry import CostEntry
from cascadeflow.storage import PeriodKey, PeriodLimit

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc).timestamp()
DAILY = PeriodKey("daily", "daily:2026-11-24", NOW + 14 * 3600)
WEEKLY = PeriodKey("weekly", "weekly:2026-W48", NOW + 6 * 86400 + 14 * 3600)
MONTHLY = PeriodKey("monthly", "monthly:2026-11", NOW + 6 * 86400 + 14 * 3600)
TOTAL = PeriodKey("total", "total", None)
#: The four counters a tracker keeps for every entry of a user.
PERIODS = (DAILY, WEEKLY, MONTHLY, TOTAL)

TEN_CENTS = 100_000_000  # nano-dollars
ONE_DOLLAR = 1_000_000_000


def make_entry(
    entry_id: str,
    *,
    user: str | None = "u1",
    cost_nanos: int = TEN_CENTS,
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    tier: str | None = None,
    at: float = NOW,
    metadata: dict[str, Any] | None = None,
) -> CostEntry:
    """A CostEntry whose ``cost`` matches ``cost_nanos``."""
    return CostEntry(
        id=entry_id, timestamp=datetime.fromtimestamp(at, timezone.utc), model=model,
        provider=provider, tokens=30, prompt_tokens=20, completion_tokens=10,
        cost=cost_nanos / ONE_DOLLAR, user_id=user, user_tier=tier, query_id=f"q-{entry_id}",
        metadata={"source": "test"} if metadata is None else metadata,
    )


def limits_of(nanos: int, periods: Sequence[PeriodKey] = PERIODS) -> list[PeriodLimit]:
    """The same limit for each of ``periods``."""
    return [PeriodLimit(period, nanos) for period in periods]
