"""The ledger's stores behind one small interface: memory, SQLite, Redis and PostgreSQL.

Example:
    >>> from cascadeflow import CostTracker
    >>> from cascadeflow.storage import SQLiteStore
    >>> tracker = CostTracker(store=SQLiteStore("ledger.db"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cascadeflow.storage._base import (
    CounterAdd,
    CounterLimit,
    CounterUsage,
    LedgerStore,
    PeriodKey,
    PeriodLimit,
    ReserveOutcome,
    Totals,
    Usage,
)
from cascadeflow.storage._memory import MemoryStore

if TYPE_CHECKING:
    from cascadeflow.storage._postgres import PostgresStore
    from cascadeflow.storage._redis import RedisStore
    from cascadeflow.storage._redis_outage import RedisRetryPolicy
    from cascadeflow.storage._sqlite import SQLiteStore

__all__ = [
    "CounterAdd",
    "CounterLimit",
    "CounterUsage",
    "LedgerStore",
    "MemoryStore",
    "PeriodKey",
    "PeriodLimit",
    "PostgresStore",
    "RedisRetryPolicy",
    "RedisStore",
    "ReserveOutcome",
    "SQLiteStore",
    "Totals",
    "Usage",
]


def __getattr__(name: str) -> Any:
    # SQLite and Redis stores load on first use so `import cascadeflow` stays light.
    if name == "SQLiteStore":
        from cascadeflow.storage._sqlite import SQLiteStore

        return SQLiteStore
    if name == "PostgresStore":
        from cascadeflow.storage._postgres import PostgresStore

        return PostgresStore
    if name == "RedisStore":
        from cascadeflow.storage._redis import RedisStore

        return RedisStore
    if name == "RedisRetryPolicy":
        from cascadeflow.storage._redis_outage import RedisRetryPolicy

        return RedisRetryPolicy
    raise AttributeError(f"module 'cascadeflow.storage' has no attribute {name!r}")
