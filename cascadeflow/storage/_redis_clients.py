"""The Redis store's connections: a sync client and one asyncio client per event loop.

Made from a URL, or from the one client the user gave (the other derived from its
connection settings). redis-py's own retries are off: tenacity is the one retry layer.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.cluster
from redis.backoff import NoBackoff
from redis.retry import Retry

from cascadeflow.storage._redis_batch import (
    CLUSTER_IN_FLIGHT,
    IN_FLIGHT,
    ScriptBatcher,
    master_of,
)
from cascadeflow.storage._redis_outage import RedisRetryPolicy, safe_url

SyncRedis = redis.Redis
AsyncRedis = redis.asyncio.Redis
#: URL schemes that ask for a Redis Cluster client.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster(url_or_client: object) -> bool:
    """True for a ``redis+cluster://`` URL or a (sync or asyncio) RedisCluster client."""
    if isinstance(url_or_client, str):
        return url_or_client.split("://", 1)[0] in CLUSTER_SCHEMES
    return isinstance(url_or_client, (redis.cluster.RedisCluster,
                                      redis.asyncio.cluster.RedisCluster))
# Connection settings that mean the same to redis-py's sync and asyncio connections.
_PORTABLE_KWARGS = (
    "host", "port", "db", "username", "password", "socket_timeout", "socket_connect_timeout",
    "socket_keepalive", "client_name", "path", "health_check_interval", "decode_responses",
)


class RedisClients:
    """Lazily made clients for one Redis; ``url`` is printable (no password)."""

    def __init__(self, url_or_client: str | SyncRedis | AsyncRedis | Any,
                 policy: RedisRetryPolicy, *, route_key: str, cluster: bool = False) -> None:
        self._policy = policy
        self._route_key = route_key
        # A RedisCluster client answers every command the store sends (same slot each
        # time); it stands in for redis.Redis / redis.asyncio.Redis below.
        self.cluster = cluster or is_cluster(url_or_client)
        self._url: str | None = None
        self._sync: SyncRedis | None = None
        self._given_sync: SyncRedis | None = None
        self._given_async: AsyncRedis | None = None
        if isinstance(url_or_client, str):
            scheme, _, rest = url_or_client.partition("://")
            self._url = f"{CLUSTER_SCHEMES.get(scheme, scheme)}://{rest}"
            self.url = safe_url(url_or_client)
        elif isinstance(url_or_client, redis.asyncio.cluster.RedisCluster):
            self._given_async = cast("AsyncRedis", url_or_client)
            self._url = _cluster_url(url_or_client)
            self.url = self._url
        elif isinstance(url_or_client, redis.cluster.RedisCluster):
            self._sync = self._given_sync = cast("SyncRedis", url_or_client)
            self._url = _cluster_url(url_or_client)
            self.url = self._url
        elif isinstance(url_or_client, AsyncRedis):
            self._given_async = url_or_client
            self.url = _describe(url_or_client)
        elif isinstance(url_or_client, SyncRedis):
            self._sync = self._given_sync = url_or_client
            self.url = _describe(url_or_client)
        else:
            raise TypeError(
                "RedisStore needs a redis:// URL (redis+cluster:// for a cluster), a "
                "redis.Redis, a redis.asyncio.Redis or a RedisCluster client, "
                f"got {type(url_or_client).__name__}"
            )
        self._async: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[AsyncRedis, dict[str, ScriptBatcher]]
        ] = weakref.WeakKeyDictionary()

    def sync(self) -> SyncRedis:
        """The sync client, made on first use."""
        if self._sync is None:
            options = self._options(sync=True)
            if self.cluster:
                assert self._url is not None
                self._sync = cast("SyncRedis", redis.cluster.RedisCluster.from_url(
                    self._url, **options))
            elif self._url is not None:
                self._sync = SyncRedis.from_url(self._url, **options)
            else:
                assert self._given_async is not None
                self._sync = SyncRedis(**_portable_kwargs(self._given_async), **options)
        return self._sync

    def batcher(self, route_key: str | None = None) -> ScriptBatcher:
        """The running event loop's script batcher for the slot of ``route_key``, and asyncio
        client, made on first use.

        Standalone Redis has one batcher in all; a cluster one per master, found by the
        master that serves the slot when its batcher is first asked for.
        """
        route = route_key or self._route_key
        found = self._loop_clients()
        batcher = found[1].get(route)
        if batcher is not None:
            return batcher
        client, batchers = found
        if not self.cluster:
            batcher = batchers[route] = ScriptBatcher(client, route, IN_FLIGHT)
            return batcher
        # A slot's master is known once the client has its slot map (after its first call):
        # until then the slot's calls share a batcher of their own, and the slot is looked up
        # again on its next call. A slot that moves later keeps its master's batcher; each
        # call in a batch is still sent to the master of its slot then.
        master = master_of(client, route)
        key = f"node:{master.name}" if master is not None else f"slot:{route}"
        batcher = batchers.get(key)
        if batcher is None:
            batcher = batchers[key] = ScriptBatcher(client, route, CLUSTER_IN_FLIGHT,
                                                    declare=True)
        if master is not None:
            batchers[route] = batcher
        return batcher

    def aclient(self) -> AsyncRedis:
        """The running event loop's asyncio client (the one its batchers send with)."""
        return self._loop_clients()[0]

    def _loop_clients(self) -> tuple[AsyncRedis, dict[str, ScriptBatcher]]:
        # asyncio connections belong to one event loop, so each loop gets its own client.
        loop = asyncio.get_running_loop()
        found = self._async.get(loop)
        if found is None:
            found = self._async[loop] = (self._new_async_client(), {})
        return found

    def _new_async_client(self) -> AsyncRedis:
        if self._given_async is not None:
            return self._given_async
        if self.cluster:
            assert self._url is not None
            return cast("AsyncRedis", redis.asyncio.cluster.RedisCluster.from_url(
                self._url, **self._options(sync=False)))
        if self._url is not None:
            return AsyncRedis.from_url(self._url, **self._options(sync=False))
        assert self._sync is not None
        return AsyncRedis(**_portable_kwargs(self._sync), **self._options(sync=False))

    def close(self) -> None:
        """Close the sync client the store made; asyncio clients are dropped."""
        if self._sync is not None and self._sync is not self._given_sync:
            self._sync.close()
            self._sync = None
        self._async = weakref.WeakKeyDictionary()

    async def aclose(self) -> None:
        """Close the running loop's asyncio client (if the store made it) and the sync one."""
        found = self._async.pop(asyncio.get_running_loop(), None)
        if found is not None and found[0] is not self._given_async:
            await found[0].aclose()
        self.close()

    def _options(self, *, sync: bool) -> dict[str, Any]:
        retry: Any = Retry(NoBackoff(), 0) if sync else redis.asyncio.retry.Retry(NoBackoff(), 0)
        return {
            "retry": retry,
            "socket_connect_timeout": self._policy.connect_timeout,
            "socket_timeout": self._policy.socket_timeout,
        }


def _cluster_url(client: Any) -> str:
    # The other kind of cluster client is made from the node this one started from.
    # (an asyncio client not yet initialized has only its startup nodes).
    node = client.get_default_node() or next(iter(client.nodes_manager.startup_nodes.values()))
    return f"redis://{node.host}:{node.port}/0"


def _portable_kwargs(client: SyncRedis | AsyncRedis) -> dict[str, Any]:
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    name = pool.connection_class.__name__
    if "SSL" in name or kwargs.get("credential_provider") is not None:
        other = "redis.asyncio.Redis" if isinstance(client, SyncRedis) else "redis.Redis"
        raise ValueError(
            f"RedisStore cannot derive a {other} from a {type(client).__module__} client using "
            f"{name}: pass a redis:// or rediss:// URL instead of the client"
        )
    return {k: kwargs[k] for k in _PORTABLE_KWARGS if k in kwargs}


def _describe(client: SyncRedis | AsyncRedis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"redis://{host}:{port}/{kwargs.get('db', 0)}"
