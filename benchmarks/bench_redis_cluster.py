"""The Redis store on a local 3-master Redis Cluster against a standalone redis-server.

Tracker ``areserve`` + ``asettle`` pairs per second from one process with 32 asyncio tasks
on each, and next to each, plain redis-py sending the same ledger script once per operation
(two EVALSHA per pair, no batching), so the cost of our layer and of the cluster client
are visible. The target: the 3-master cluster within 1.5x of standalone (neither with
replicas, so both do the same work per write). The users' own budgets stay in their buckets
(one script per operation); with a team budget too (a scope shared by tenants, two steps on
the cluster), and on a cluster with a replica per master (each write also sent to the
replica, six servers sharing the machine's cores), the figures are printed for information.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from benchmarks._report import figure, header
from benchmarks._store_load import tracker_pairs

TASKS = 32
PAIRS_PER_TASK = 100
ROUNDS = 3
TARGET_RATIO = 1.5


async def _tracker_pairs(url: str, team: str | None = None) -> float:
    from cascadeflow.storage import RedisStore

    return await tracker_pairs(RedisStore(url), tasks=TASKS, pairs_per_task=PAIRS_PER_TASK,
                               team=team)


async def _plain_pairs(url: str, *, cluster: bool) -> float:
    """The same script, one EVALSHA per operation, straight from redis-py's asyncio client."""
    import redis.asyncio
    import redis.asyncio.cluster

    from cascadeflow._entry import CostEntry
    from cascadeflow.storage import PeriodKey, PeriodLimit
    from cascadeflow.storage._redis_batch import LEDGER_SHA, pack_calls
    from cascadeflow.storage._redis_layout import RedisLayout, new_nonce
    from cascadeflow.storage._redis_scripts import LEDGER

    layout = RedisLayout(prefix="{plain}" if cluster else "plain")
    client: Any = (redis.asyncio.cluster.RedisCluster.from_url(url) if cluster
                   else redis.asyncio.Redis.from_url(url))
    await client.script_load(LEDGER)
    now = time.time()
    keys = (PeriodKey("daily", "daily:bench", now + 86400), PeriodKey("total", "total", None))
    limits = [PeriodLimit(key, 10**15) for key in keys]
    route = layout.settings_version

    async def task(index: int) -> None:
        user = f"user-{index % 8}"
        for _ in range(PAIRS_PER_TASK):
            rid = uuid.uuid4().hex
            names, args = layout.reserve_call(rid, user, 2_000_000, limits, now, now + 300)
            await client.evalsha(LEDGER_SHA, 1, route, pack_calls([("reserve", names, args)]))
            entry = CostEntry(id=rid, timestamp=datetime.now(timezone.utc), model="gpt-4o-mini",
                              provider="openai", tokens=300, cost=0.0015, user_id=user)
            names, args = layout.record_call(entry, 1_500_000, keys, reservation_id=rid,
                                             nonce=new_nonce())
            await client.evalsha(LEDGER_SHA, 1, route, pack_calls([("record", names, args)]))

    start = time.perf_counter()
    await asyncio.gather(*(task(i) for i in range(TASKS)))
    elapsed = time.perf_counter() - start
    await client.aclose()
    return TASKS * PAIRS_PER_TASK / elapsed


def _measure(standalone: str, cluster: str, replicated: str) -> dict[str, list[float]]:
    cluster_url = cluster.replace("redis://", "redis+cluster://", 1)
    replicated_url = replicated.replace("redis://", "redis+cluster://", 1)
    rates: dict[str, list[float]] = {"standalone": [], "cluster": [], "plain standalone": [],
                                     "plain cluster": [], "team standalone": [],
                                     "team cluster": [], "replicated cluster": []}
    for _ in range(ROUNDS):  # interleaved: load from elsewhere falls on all
        rates["standalone"].append(asyncio.run(_tracker_pairs(standalone)))
        rates["cluster"].append(asyncio.run(_tracker_pairs(cluster_url)))
        rates["plain standalone"].append(asyncio.run(_plain_pairs(standalone, cluster=False)))
        rates["plain cluster"].append(asyncio.run(_plain_pairs(cluster, cluster=True)))
        rates["team standalone"].append(asyncio.run(_tracker_pairs(standalone, "t")))
        rates["team cluster"].append(asyncio.run(_tracker_pairs(cluster_url, "t")))
        rates["replicated cluster"].append(asyncio.run(_tracker_pairs(replicated_url)))
    return rates


def main() -> None:
    header("Redis store on a 3-master Redis Cluster vs standalone (local servers)")
    from tests._redis_cluster import RedisClusterNodes
    from tests._redis_server import RedisServer

    with contextlib.ExitStack() as servers:
        try:
            standalone = servers.enter_context(RedisServer())
            cluster = servers.enter_context(RedisClusterNodes(replicas=0))
            replicated = servers.enter_context(RedisClusterNodes(replicas=1))
        except RuntimeError as error:
            print(f"  not measured: {error}")
            return
        rates = _measure(standalone.url, cluster.url, replicated.url)
    best = {name: max(values) for name, values in rates.items()}
    figure(f"standalone: tracker pairs/s (32 tasks, best of {ROUNDS})", best["standalone"],
           "pairs/s", "(baseline)", ok=True,
           peer=f"plain redis-py {best['plain standalone']:,.0f}")
    figure(f"3 masters: tracker pairs/s (32 tasks, best of {ROUNDS})", best["cluster"],
           "pairs/s", "(info)", ok=True, peer=f"plain redis-py {best['plain cluster']:,.0f}")
    ratio = best["standalone"] / best["cluster"]
    figure("standalone / cluster pairs/s", ratio, "x", f"<= {TARGET_RATIO:.1f}x",
           ok=ratio <= TARGET_RATIO)
    # A team budget is a scope shared by tenants: on the cluster, two steps per reserve and
    # per settle (the users' buckets, then the shared slot).
    team_ratio = best["team standalone"] / best["team cluster"]
    figure("with a team budget: standalone pairs/s", best["team standalone"], "pairs/s",
           "(info)", ok=True)
    figure("with a team budget: cluster pairs/s (two steps)", best["team cluster"],
           "pairs/s", "(info)", ok=True, peer=f"{team_ratio:.2f}x below standalone")
    replicated_ratio = best["standalone"] / best["replicated cluster"]
    figure("cluster with a replica per master: pairs/s", best["replicated cluster"],
           "pairs/s", "(info)", ok=True, peer=f"{replicated_ratio:.2f}x below standalone")


if __name__ == "__main__":
    main()
