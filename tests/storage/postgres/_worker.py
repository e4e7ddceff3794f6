"""A worker process for the multi-process PostgreSQL tests: ``python _worker.py COMMAND DSN ...``.

Each command prints JSON lines on stdout; ``migrate`` prints ``{"ready": true}`` and waits
for a line on stdin, so the test releases every worker at once. (Racing workers for every
shared store are in ``tests/storage/budget_worker.py``.)

* ``hold DSN USER COUNT COST TTL``: reserve COUNT times, print, then wait to be killed.
* ``ack DSN``: ``add_cost`` of one cent for ``u1`` forever, printing each acknowledged id.
* ``migrate DSN SCHEMA``: open a store on an empty SCHEMA, record one entry, print its totals.
"""

from __future__ import annotations

import json
import sys
import time

from cascadeflow import BudgetConfig, CostTracker
from cascadeflow.storage import PostgresStore


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def wait_for_go() -> None:
    say(ready=True)
    sys.stdin.readline()


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
    if command == "hold":
        hold(dsn, rest[0], int(rest[1]), float(rest[2]), float(rest[3]))
    elif command == "ack":
        ack(dsn)
    elif command == "migrate":
        migrate(dsn, rest[0])
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
