"""A real Redis Cluster for tests: 3 masters and 3 replicas from ``redis-server``, on loopback.

Registered as a pytest plugin it provides ``redis_cluster`` (one per session) and
``redis_cluster_url`` (the cluster, flushed for this test). Each node runs with
``--cluster-enabled yes`` in a temporary directory; ``redis-cli --cluster create`` joins them.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from types import TracebackType

import pytest
import redis
import redis.cluster

from cascadeflow.storage._redis_layout import RedisLayout
from cascadeflow.storage._redis_tenants import TenantLayout
from tests._redis_server import RedisServer

#: A key of the default ledger's shared slot (stored limits, scopes shared by tenants).
SHARED_SLOT_KEY = "{cascadeflow}:settings_version"
_TENANTS = TenantLayout(RedisLayout(prefix="{cascadeflow}"), "cascadeflow")


def bucket_key_of(user: str) -> str:
    """A key of the hash slot that holds ``user``'s keys in the default ledger."""
    return _TENANTS.of_user(user).settings_version


def free_cluster_port() -> int:
    """A loopback port free together with its cluster bus port (port + 10000, so < 55536)."""
    for _ in range(200):
        port = random.randint(20_000, 45_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free loopback port pair for a Redis Cluster node")


class RedisClusterNodes:
    """Six cluster-enabled ``redis-server`` processes made into 3 masters with 1 replica each.

    Example:
        >>> with RedisClusterNodes() as cluster:
        ...     client = redis.cluster.RedisCluster.from_url(cluster.url)
    """

    def __init__(self, *, masters: int = 3, replicas: int = 1) -> None:
        if shutil.which("redis-cli") is None:
            raise RuntimeError("redis-cli is not on PATH; install redis-server (Debian: "
                               "apt-get install redis-server) - `make test` does this")
        self.replicas = replicas
        self.nodes = [
            RedisServer(extra_args=("--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
                                    "--cluster-config-file", f"nodes-{index}.conf"))
            for index in range(masters * (1 + replicas))
        ]
        for node in self.nodes:
            node.port = free_cluster_port()

    @property
    def url(self) -> str:
        """A ``redis://`` URL of one node (a cluster client discovers the others)."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> RedisClusterNodes:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        done = subprocess.run(
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas",
             str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-2000:]}"
                               f" {done.stderr[-2000:]}")
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Wait until every node says the cluster is ok and a cluster client can write."""
        deadline = time.monotonic() + timeout
        while True:
            states = []
            for node in self.nodes:
                if not node.running:
                    continue
                client = node.client()
                try:
                    state = client.cluster("info").get("cluster_state")
                    replication = client.info("replication")
                    # A replica counts once its copy of the master is in sync.
                    if replication["role"] == "slave" and (
                            replication.get("master_link_status") != "up"):
                        state = "replica syncing"
                    states.append(state)
                except redis.exceptions.RedisError:
                    states.append("unreachable")
                finally:
                    client.close()
            if states and all(state == "ok" for state in states):
                try:
                    probe = self.client()
                    probe.set("cluster-probe", "1")
                    probe.close()
                    return
                except redis.exceptions.RedisError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster did not become healthy: {states}")
            time.sleep(0.1)

    def client(self) -> redis.cluster.RedisCluster:
        """A plain cluster client for assertions (the caller closes it)."""
        return redis.cluster.RedisCluster.from_url(self.url)

    def master_of(self, key: str) -> RedisServer:
        """The node that is the master for ``key`` right now."""
        slot = self.client().keyslot(key)
        for node in self.nodes:
            if not node.running:
                continue
            client = node.client()
            try:
                for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
                    if start <= slot <= end:
                        port = int(master[1])
                        return next(n for n in self.nodes if n.port == port)
            finally:
                client.close()
        raise RuntimeError(f"no master serves the slot of {key!r}")

    def replica_of(self, master: RedisServer) -> RedisServer:
        client = master.client()
        try:
            info = client.info("replication")
        finally:
            client.close()
        port = int(info["slave0"]["port"])
        return next(node for node in self.nodes if node.port == port)

    def masters(self) -> list[RedisServer]:
        """The running nodes that are masters right now."""
        found = []
        for node in self.nodes:
            if not node.running:
                continue
            client = node.client()
            try:
                if client.info("replication")["role"] == "master":
                    found.append(node)
            finally:
                client.close()
        return found

    def flush(self) -> None:
        for node in self.masters():
            client = node.client()
            try:
                client.flushall()
            finally:
                client.close()

    def move_slot(self, slot: int, source: RedisServer, target: RedisServer, *,
                  keys_per_step: int = 3, pause: float = 0.0) -> int:
        """Reshard ``slot`` from ``source`` to ``target`` a few keys at a time, as
        ``redis-cli --cluster reshard`` does; returns how many keys moved."""
        source_id, target_id = _node_id(source), _node_id(target)
        src, dst = source.client(), target.client()
        moved = 0
        try:
            dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
            src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
            while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, keys_per_step):
                src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS",
                                    *keys)
                moved += len(keys)
                time.sleep(pause)  # the window in which the slot's keys are split
            for node in self.masters():
                client = node.client()
                try:
                    client.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
                finally:
                    client.close()
        finally:
            src.close()
            dst.close()
        return moved

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __enter__(self) -> RedisClusterNodes:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _node_id(node: RedisServer) -> str:
    client = node.client()
    try:
        node_id = client.execute_command("CLUSTER MYID")
    finally:
        client.close()
    return node_id.decode() if isinstance(node_id, bytes) else str(node_id)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """One 3-master, 3-replica Redis Cluster for the whole session."""
    with RedisClusterNodes() as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisClusterNodes) -> str:
    """A ``redis+cluster://`` URL of the session's cluster, flushed for this test."""
    redis_cluster.wait_healthy()
    redis_cluster.flush()
    return redis_cluster.url.replace("redis://", "redis+cluster://", 1)
