"""The value recorded for one completion, shared by the ledger and every store."""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

_sequence = itertools.count()


def new_entry_id() -> str:
    """A fresh unique id for a :class:`CostEntry` (or a reservation, which settles into one).

    32 hex characters: the time in microseconds, a per-process counter, then 48 random
    bits. Ids made later sort later, so stores keyed by id append instead of scattering
    writes across their index (the SQLite ledger writes a third fewer pages per entry).
    The random bits come from ``random`` (seeded from the OS, reseeded in a forked
    child), not ``os.urandom``: its system call releases the GIL on every id, which on a
    busy process hands the interpreter to another thread in the middle of a request.
    """
    return (f"{time.time_ns() // 1000:014x}{next(_sequence) & 0xFFFFFF:06x}"
            f"{random.getrandbits(48):012x}")


@dataclass(slots=True)
class CostEntry:
    """One recorded completion (or refund, when ``cost`` is negative).

    Field for field compatible with cascadeflow 1.2.0's ``CostEntry`` and extended with
    a unique ``id``, the user and tier, and the prompt/completion token split. ``cost`` is
    USD; the ledger stores it as exact nano-dollars.

    Example:
        >>> entry = tracker.add_cost("gpt-4o-mini", "openai", 120, 0.00009, user_id="u1")
        >>> entry.user_id, entry.tokens
        ('u1', 120)
    """

    timestamp: datetime
    model: str
    provider: str
    tokens: int
    cost: float
    query_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    user_tier: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    id: str = field(default_factory=new_entry_id)

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            # Naive datetimes are read as UTC so that periods are never computed in local time.
            self.timestamp = self.timestamp.replace(tzinfo=timezone.utc)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-friendly values (timestamp as ISO 8601)."""
        return {
            "id": self.id,
            "timestamp": self.timestamp.isoformat(),
            "model": self.model,
            "provider": self.provider,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "query_id": self.query_id,
            "user_id": self.user_id,
            "user_tier": self.user_tier,
            "metadata": dict(self.metadata),
        }
