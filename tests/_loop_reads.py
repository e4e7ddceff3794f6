"""A trap for a store's sync reads made on a thread running an event loop (which would
stall every task of that loop for a round trip, or an outage's retries)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cascadeflow.storage import LedgerStore

#: The store's sync reads a tracker makes while planning, warning, alerting or forecasting.
SYNC_READS = ("user_tier", "settings_version", "settings", "usage", "read_counters",
              "totals")


@contextmanager
def loop_reads_of(store: LedgerStore) -> Iterator[list[str]]:
    """The names of ``store``'s sync reads made on a thread with a running event loop."""
    blocked: list[str] = []

    def guarded(name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # a worker thread, or sync code: fine
            pass
        else:
            blocked.append(name)
        return method(*args, **kwargs)

    for name in SYNC_READS:
        setattr(store, name, functools.partial(guarded, name, getattr(store, name)))
    try:
        yield blocked
    finally:
        for name in SYNC_READS:
            delattr(store, name)  # the class's methods again
