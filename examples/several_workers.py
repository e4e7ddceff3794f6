"""Two worker processes share one user's daily budget through Redis.

Run it with ``python examples/several_workers.py``. It starts its own ``redis-server`` on a
free loopback port (in a temporary directory, nothing saved), runs two workers that each try
40 requests for the same user against a $1.00 daily budget, prints what each spent and the
total, and stops the server. Needs ``redis-server`` on PATH (Debian/Ubuntu: ``apt-get
install redis-server``; macOS: ``brew install redis``).
"""

from __future__ import annotations

import multiprocessing
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import redis

from cascadeflow.storage import RedisStore
from cascadeflow.telemetry import BudgetConfig, BudgetExceededError, CostTracker

USER = "alice"
BUDGETS = {"team": BudgetConfig(daily=1.00)}
ESTIMATE = 0.03  # what a request may cost at most, reserved before it is sent
REQUESTS_PER_WORKER = 40


def worker(name: str, url: str, start: Any, results: Any) -> None:
    """One worker process: its own tracker, the same Redis, the same user and budget."""
    tracker = CostTracker(user_budgets=BUDGETS, store=RedisStore(url))
    start.wait()  # both workers begin together, so their requests interleave
    rng = random.Random(name)
    served = refused = 0
    spent = 0.0
    for _ in range(REQUESTS_PER_WORKER):
        try:
            with tracker.reserve(USER, ESTIMATE, user_tier="team", model="gpt-4o-mini") as held:
                time.sleep(0.002)  # the provider call would be here
                cost = round(rng.uniform(0.015, ESTIMATE), 6)
                held.settle(cost, provider="openai", tokens=1_000)
        except BudgetExceededError:
            refused += 1
            continue
        served += 1
        spent += cost
    results.put((name, served, refused, spent))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server is not on PATH: install it (apt-get install redis-server, "
              "brew install redis) and run this example again.", file=sys.stderr)
        raise SystemExit(2)
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(500):
        try:
            client.ping()
            return server, url
        except redis.exceptions.ConnectionError:
            time.sleep(0.01)
    server.terminate()
    raise SystemExit(f"redis-server did not start on port {port}")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        server, url = start_redis(directory)
        try:
            print(f"redis-server on {url}; budget for {USER!r}: $1.00 a day, two workers")
            results: Any = multiprocessing.Queue()
            start = multiprocessing.Barrier(2)
            workers = [multiprocessing.Process(target=worker, args=(name, url, start, results))
                       for name in ("worker-1", "worker-2")]
            for process in workers:
                process.start()
            reports = [results.get(timeout=60) for _ in workers]
            for process in workers:
                process.join()
            for name, served, refused, spent in sorted(reports):
                print(f"  {name}: {served} requests served, {refused} refused, spent ${spent:.4f}")

            tracker = CostTracker(user_budgets=BUDGETS, store=RedisStore(url))
            total = tracker.get_user_summary(USER, user_tier="team")["total_cost"]
            print(f"  together: ${total:.4f} of $1.00 "
                  f"({'within' if total <= 1.00 else 'OVER'} the limit)")
            if total > 1.00:
                raise SystemExit(1)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
