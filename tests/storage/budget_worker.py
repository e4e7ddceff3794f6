"""A separate process with its own CostTracker on a shared ledger, for the budget tests.

Usage: ``python budget_worker.py STORE MODE ARGS...`` with the repository on PYTHONPATH,
where STORE is ``sqlite:PATH``, ``redis:URL`` or ``postgres:DSN``:

* ``serve``: answer commands read from stdin, one a line, with one line each:
  ``set-user-budget USER DAILY`` (``none`` removes), ``spend USER COST``,
  ``can-afford USER`` (``True``/``False``), ``get-user-budget USER`` (its repr).
* ``team-race COUNT USERS``: print ``ready``, wait for a line, then try COUNT one-cent
  reservations (settled at one cent) for the comma-separated USERS in turn, all in team
  ``search``; print ``granted N``.
"""

from __future__ import annotations

import sys

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker
from cascadeflow.storage import LedgerStore


def open_store(spec: str) -> LedgerStore:
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        from cascadeflow.storage import SQLiteStore

        return SQLiteStore(where)
    if kind == "postgres":
        from cascadeflow.storage import PostgresStore

        return PostgresStore(where)
    from cascadeflow.storage import RedisStore

    return RedisStore(where)


def serve(tracker: CostTracker) -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "set-user-budget":
            budget = None if args[1] == "none" else BudgetConfig(daily=float(args[1]))
            tracker.set_user_budget(args[0], budget)
            answer = "ok"
        elif command == "spend":
            tracker.add_cost("gpt-4o-mini", "openai", 100, float(args[1]), user_id=args[0])
            answer = "ok"
        elif command == "can-afford":
            answer = str(tracker.can_afford(args[0]))
        elif command == "get-user-budget":
            answer = repr(tracker.get_user_budget(args[0]))
        else:
            answer = f"unknown command {command!r}"
        print(answer, flush=True)


def team_race(tracker: CostTracker, how_many: int, users: list[str]) -> None:
    print("ready", flush=True)
    sys.stdin.readline()
    granted = 0
    for number in range(how_many):
        try:
            held = tracker.reserve(users[number % len(users)], 0.01, team="search")
        except BudgetExceededError:
            continue
        held.settle(0.01, model="gpt-4o-mini", provider="openai", tokens=100)
        granted += 1
    print(f"granted {granted}", flush=True)


def main(spec: str, mode: str, *args: str) -> None:
    store = open_store(spec)
    tracker = CostTracker(store=store, enforcement_mode="block")
    if mode == "serve":
        serve(tracker)
    elif mode == "team-race":
        team_race(tracker, int(args[0]), args[1].split(","))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
