"""A separate process with its own CostTracker on a shared ledger, for the budget tests.

Usage: ``python budget_worker.py STORE MODE ARGS...`` with the repository on PYTHONPATH,
where STORE is ``sqlite:PATH``, ``redis:URL`` or ``postgres:DSN``:

* ``serve``: answer commands read from stdin, one a line, with one line each:
  ``set-user-budget USER DAILY`` (``none`` removes), ``spend USER COST``,
  ``can-afford USER`` (``True``/``False``), ``get-user-budget USER`` (its repr).
* ``team-race COUNT USERS``: print ``ready``, wait for a line, then try COUNT one-cent
  reservations (settled at one cent) for the comma-separated USERS in turn, all in team
  ``search``; print ``granted N``.
* ``race SCOPE TASKS``: connect, print ``ready``, wait for a line, then run TASKS concurrent
  asyncio one-cent reserve+settle requests on user ``shared-user`` (SCOPE ``user``) or on
  users ann/ben/cat in team ``search`` (SCOPE ``team``); print ``granted N``.
"""

from __future__ import annotations

import asyncio
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


async def race(tracker: CostTracker, scope: str, tasks: int) -> None:
    users = ["shared-user"] if scope == "user" else ["ann", "ben", "cat"]
    team = "search" if scope == "team" else None
    await tracker.acan_afford(users[0])  # connected before the start signal
    print("ready", flush=True)
    sys.stdin.readline()

    async def one(number: int) -> bool:
        try:
            held = await tracker.areserve(users[number % len(users)], 0.01,
                                          model="gpt-4o-mini", team=team)
        except BudgetExceededError:
            return False
        await asyncio.sleep(0)  # the other tasks race while this one holds its lease
        await held.asettle(0.01, provider="openai", tokens=100)
        return True

    results = await asyncio.gather(*(one(number) for number in range(tasks)))
    print(f"granted {sum(results)}", flush=True)


def main(spec: str, mode: str, *args: str) -> None:
    store = open_store(spec)
    tracker = CostTracker(store=store, enforcement_mode="block")
    if mode == "serve":
        serve(tracker)
    elif mode == "team-race":
        team_race(tracker, int(args[0]), args[1].split(","))
    elif mode == "race":
        asyncio.run(race(tracker, args[0], int(args[1])))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
