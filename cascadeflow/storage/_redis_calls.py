"""One ledger operation, one script call: on a Redis Cluster with every key it touches declared.

The store's retries, outage handling and journal sit above this; batching of concurrent
asyncio calls sits below it (``ScriptBatcher``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cascadeflow.storage._base import CounterLimit
from cascadeflow.storage._redis_batch import evalsha_sync, pack_calls, pack_declared, unwrap
from cascadeflow.storage._redis_clients import RedisClients
from cascadeflow.storage._redis_declared import LeaseKeyBook, ended_lease
from cascadeflow.storage._redis_layout import RedisLayout


class ScriptCaller:
    """Sends operations of the ledger script, declaring their keys when on a cluster.

    On a cluster every operation's keys share one slot (``_redis_tenants``); the call is sent
    to that slot's master, and its prefix (the first argument of an operation that ends a
    lease) names the layout the lease's derived keys are found with.
    """

    def __init__(self, clients: RedisClients, layout: RedisLayout,
                 layouts: Mapping[str, RedisLayout] | None = None) -> None:
        self._clients = clients
        self._route = layout.settings_version
        self._layouts = dict(layouts or {layout.prefix: layout})
        self.leases = LeaseKeyBook() if clients.cluster else None

    def route(self, keys: Sequence[str]) -> str:
        """The key an operation is routed by: a key of its slot (the slot's version key)."""
        if self.leases is None or not keys:
            return self._route
        first = keys[0]
        return first[: first.index("}") + 1] + ":settings_version"

    def lease_granted(self, layouts: Sequence[tuple[RedisLayout, Sequence[CounterLimit]]],
                      reservation_id: str, user_id: str) -> None:
        """Remember what ending this lease will touch (a cluster declares it then)."""
        if self.leases is not None:
            self.leases.remember(layouts, reservation_id, user_id)

    def call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one operation on the sync client; its value, or its error raised."""
        client = self._clients.sync()
        route = self.route(keys)
        if self.leases is None:
            return unwrap(evalsha_sync(client, pack_calls([(script, keys, args)]), route)[0])
        rid = ended_lease(script, args)
        prefix = str(args[0]) if rid else ""
        extra = self.leases.known(prefix, rid) if rid else []
        if extra is None:
            layout = self._layouts[prefix]
            lookup = ("lease_keys", *layout.lease_keys_call(rid))
            payload, declared = pack_declared([(lookup, ())], route)
            extra = self.leases.from_lookup(
                layout, rid, unwrap(evalsha_sync(client, payload, route, declared)[0]))
        payload, declared = pack_declared([((script, keys, args), extra)], route)
        result = unwrap(evalsha_sync(client, payload, route, declared)[0])
        if rid:
            self.leases.forget(prefix, rid)
        return result

    async def acall(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Async :meth:`call`: the operation joins the running loop's next script batch."""
        if self.leases is None:
            return await self._clients.batcher(self._route).call(script, keys, args)
        route = self.route(keys)
        batcher = self._clients.batcher(route)
        rid = ended_lease(script, args)
        prefix = str(args[0]) if rid else ""
        extra = self.leases.known(prefix, rid) if rid else []
        if extra is None:
            layout = self._layouts[prefix]
            lookup_keys, lookup_args = layout.lease_keys_call(rid)
            extra = self.leases.from_lookup(
                layout, rid, await batcher.call("lease_keys", lookup_keys, lookup_args,
                                            route_key=route))
        result = await batcher.call(script, keys, args, extra, route_key=route)
        if rid:
            self.leases.forget(prefix, rid)
        return result
