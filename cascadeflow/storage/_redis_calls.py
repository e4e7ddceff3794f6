"""One ledger operation, one script call: on a Redis Cluster with every key it touches declared.

The store's retries, outage handling and journal sit above this; batching of concurrent
asyncio calls sits below it (``ScriptBatcher``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cascadeflow.storage._base import CounterLimit
from cascadeflow.storage._redis_batch import evalsha_sync, pack_calls, pack_declared, unwrap
from cascadeflow.storage._redis_clients import RedisClients
from cascadeflow.storage._redis_declared import LeaseKeyBook, ended_lease
from cascadeflow.storage._redis_layout import RedisLayout


class ScriptCaller:
    """Sends operations of the ledger script, declaring their keys when on a cluster."""

    def __init__(self, clients: RedisClients, layout: RedisLayout) -> None:
        self._clients = clients
        self._route = layout.settings_version
        self._layout = layout
        self._leases = LeaseKeyBook(layout) if clients.cluster else None

    def lease_granted(self, reservation_id: str, user_id: str,
                      counters: Sequence[CounterLimit]) -> None:
        """Remember what ending this lease will touch (a cluster declares it then)."""
        if self._leases is not None:
            self._leases.remember(reservation_id, user_id, counters)

    def call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one operation on the sync client; its value, or its error raised."""
        client = self._clients.sync()
        route = self._route
        if self._leases is None:
            return unwrap(evalsha_sync(client, pack_calls([(script, keys, args)]), route)[0])
        rid = ended_lease(script, args)
        extra = self._leases.known(rid) if rid else []
        if extra is None:
            lookup = ("lease_keys", *self._layout.lease_keys_call(rid))
            payload, declared = pack_declared([(lookup, ())], route)
            extra = self._leases.from_lookup(
                rid, unwrap(evalsha_sync(client, payload, route, declared)[0]))
        payload, declared = pack_declared([((script, keys, args), extra)], route)
        result = unwrap(evalsha_sync(client, payload, route, declared)[0])
        if rid:
            self._leases.forget(rid)
        return result

    async def acall(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Async :meth:`call`: the operation joins the running loop's next script batch."""
        batcher = self._clients.batcher()
        if self._leases is None:
            return await batcher.call(script, keys, args)
        rid = ended_lease(script, args)
        extra = self._leases.known(rid) if rid else []
        if extra is None:
            lookup_keys, lookup_args = self._layout.lease_keys_call(rid)
            extra = self._leases.from_lookup(
                rid, await batcher.call("lease_keys", lookup_keys, lookup_args))
        result = await batcher.call(script, keys, args, extra)
        if rid:
            self._leases.forget(rid)
        return result
