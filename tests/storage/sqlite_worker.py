"""A separate process writing to a SQLite ledger, for the multi-process and crash tests.

Usage: ``python sqlite_worker.py MODE PATH ARGS...`` with the repository on PYTHONPATH:

* ``record PATH USER COUNT PREFIX``: print ``ready``, wait for a line on stdin, record
  COUNT dimes for USER, then print ``done``.
* ``reserve PATH COUNT PREFIX``: print ``ready``, wait for a line on stdin, then try COUNT
  one-dime reservations for user ``shared`` under a one-dollar limit; print ``granted N``.
* ``ack PATH``: record dimes for user ``u1`` forever, printing ``ack ID`` after each
  record() returned (the parent kills the process).
* ``add-cost PATH``: the same through ``CostTracker.add_cost``.
"""

from __future__ import annotations

import sys
from itertools import count

from cascadeflow.storage import SQLiteStore
from tests.storage.ledger_samples import (
    NOW,
    ONE_DOLLAR,
    PERIODS,
    TEN_CENTS,
    limits_of,
    make_entry,
)


def main(mode: str, path: str, *args: str) -> None:
    store = SQLiteStore(path)
    if mode == "record":
        user, how_many, prefix = args[0], int(args[1]), args[2]
        print("ready", flush=True)
        sys.stdin.readline()
        for number in range(how_many):
            store.record(make_entry(f"{prefix}{number}", user=user), TEN_CENTS, PERIODS)
        print("done", flush=True)
    elif mode == "reserve":
        how_many, prefix = int(args[0]), args[1]
        print("ready", flush=True)
        sys.stdin.readline()
        granted = sum(
            store.reserve(f"{prefix}{number}", "shared", TEN_CENTS, limits_of(ONE_DOLLAR),
                          now=NOW, expires_at=NOW + 300).granted
            for number in range(how_many)
        )
        print(f"granted {granted}", flush=True)
    elif mode == "ack":
        for number in count():
            entry = make_entry(f"e{number}")
            store.record(entry, TEN_CENTS, PERIODS)
            print(f"ack {entry.id}", flush=True)
    elif mode == "add-cost":
        from cascadeflow import CostTracker

        tracker = CostTracker(store=store)
        while True:
            entry = tracker.add_cost("gpt-4o-mini", "openai", 30, 0.1, user_id="u1")
            print(f"ack {entry.id}", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
