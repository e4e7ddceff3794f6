"""A worker process for the multi-process PostgreSQL tests: ``python _worker.py COMMAND DSN ...``.

Each command prints JSON lines on stdout; commands that race print ``{"ready": true}`` and
wait for a line on stdin, so the test releases every worker at once.

* ``race DSN SCOPE TASKS COST``: TASKS concurrent reserve+settle requests of COST dollars,
  on user ``shared-user`` (SCOPE ``user``, tier ``pro``) or on users ann/ben/cat in team
  ``search`` (SCOPE ``team``); prints ``granted`` and ``refused``.
* ``hold DSN USER COUNT COST TTL``: reserve COUNT times, print, then wait to be killed.
* ``ack DSN``: ``add_cost`` of one cent for ``u1`` forever, printing each acknowledged id.
* ``migrate DSN SCHEMA``: open a store on an empty SCHEMA, record one entry, print its totals.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker
from cascadeflow.storage import PostgresStore


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def wait_for_go() -> None:
    say(ready=True)
    sys.stdin.readline()


async def race(dsn: str, scope: str, tasks: int, cost: float) -> None:
    store = PostgresStore(dsn, max_connections=8)
    tracker = CostTracker(store=store, enforcement_mode="block")
    users = ["shared-user"] if scope == "user" else ["ann", "ben", "cat"]
    team = {"team": "search"} if scope == "team" else {}
    await store.ausage("warm-up", [], now=time.time())  # connect before the start signal
    wait_for_go()

    async def one(number: int) -> bool:
        try:
            held = await tracker.areserve(users[number % len(users)], cost, model="gpt-4o-mini",
                                          **team)  # type: ignore[arg-type]
        except BudgetExceededError:
            return False
        await asyncio.sleep(0)  # let the other tasks race while this one holds its lease
        await held.asettle(cost, provider="openai", tokens=100)
        return True

    results = await asyncio.gather(*(one(number) for number in range(tasks)))
    say(granted=sum(results), refused=len(results) - sum(results))
    await store.aclose()


def hold(dsn: str, user: str, count: int, cost: float, ttl: float) -> None:
    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=1.0)}, store=PostgresStore(dsn))
    for _ in range(count):
        tracker.reserve(user, cost, user_tier="pro", ttl=ttl)
    say(held=count, at=time.time())
    time.sleep(120)


def ack(dsn: str) -> None:
    tracker = CostTracker(store=PostgresStore(dsn))
    while True:
        entry = tracker.add_cost("gpt-4o-mini", "openai", 30, 0.01, user_id="u1")
        say(ack=entry.id)


def migrate(dsn: str, schema: str) -> None:
    wait_for_go()
    store = PostgresStore(dsn, schema=schema)
    tracker = CostTracker(store=store)
    tracker.add_cost("gpt-4o-mini", "openai", 30, 0.01, user_id="u1")
    say(entries=store.totals().entry_count)
    store.close()


def main() -> None:
    command, dsn, *rest = sys.argv[1:]
    if command == "race":
        asyncio.run(race(dsn, rest[0], int(rest[1]), float(rest[2])))
    elif command == "hold":
        hold(dsn, rest[0], int(rest[1]), float(rest[2]), float(rest[3]))
    elif command == "ack":
        ack(dsn)
    elif command == "migrate":
        migrate(dsn, rest[0])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
