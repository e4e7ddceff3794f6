"""Calling the ledger script: packing operations, reading replies, and batching async calls.

The operations of concurrent asyncio tasks are sent together in one script call (one round
trip); each is still applied whole. This saves the client's per-command CPU, which is what
limits an asyncio worker with many tasks.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    NoScriptError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
)

from cascadeflow.storage._redis_scripts import LEDGER

LEDGER_SHA = hashlib.sha1(LEDGER.encode()).hexdigest()
#: At most this many operations per script call, so one call never holds Redis for long.
MAX_BATCH = 256
#: Batches in flight at once (on separate connections): while Redis runs one, the client
#: packs the next, so the two sides work in parallel.
IN_FLIGHT = 2
#: On a cluster a batcher serves one master; each batch is one pipeline of script calls,
#: one per hash slot, so it holds the operations of all the tenants that master serves.
CLUSTER_IN_FLIGHT = 2

Call = tuple[str, list[str], list[str]]
#: A queued operation: the key of its slot, the call, its extra keys, and its caller's future.
Pending = tuple[str, Call, Sequence[str], "asyncio.Future[Any]"]


def pack_calls(calls: list[Call]) -> bytes:
    """The script's one argument: ``[[name, keys, args], ...]`` as JSON (all strings)."""
    return orjson.dumps(calls)


def pack_declared(calls: Sequence[tuple[Call, Sequence[str]]],
                  route_key: str) -> tuple[bytes, list[str]]:
    """For a cluster: the script's argument and the keys to declare after ``route_key``.

    Every key of every call, and each call's extra keys (those the script derives), is
    declared once; in the argument a call names its keys by their position in KEYS.
    """
    positions = {route_key: 1}
    packed = []
    for (name, keys, args), extra in calls:
        named = [positions.setdefault(key, len(positions) + 1) for key in keys]
        for key in extra:
            positions.setdefault(key, len(positions) + 1)
        packed.append((name, named, args))
    return orjson.dumps(packed), list(positions)[1:]


def unwrap(reply: list[Any]) -> Any:
    """One operation's value from the script's ``{ok, value}`` reply, or its error raised."""
    if int(reply[0]) == 1:
        return reply[1] if len(reply) > 1 else None
    message = reply[1].decode() if isinstance(reply[1], bytes) else str(reply[1])
    raise ResponseError(f"ledger script failed: {message}")


class ScriptBatcher:
    """Queues operations made while batches are in flight and sends them as the next batch.

    A lone operation is sent at once (one round trip); under load, an operation waits at
    most for the batches ahead of it. The script is called by SHA (EVALSHA) and loaded on the
    first ``NOSCRIPT`` reply. On a cluster (``declare``) a batch holds operations of several
    hash slots of one master: one script call per slot, sent together in one pipeline.
    """

    def __init__(self, client: redis.asyncio.Redis, route_key: str,
                 in_flight: int = IN_FLIGHT, *, declare: bool = False) -> None:
        self._client = client
        self._route_key = route_key
        self._in_flight = in_flight
        self._declare = declare
        self._pending: list[Pending] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def call(self, script: str, keys: list[str], args: list[Any],
                   extra_keys: Sequence[str] = (), *, route_key: str | None = None) -> Any:
        """Run one operation of the ledger script; returns its value or raises its error.

        With ``declare`` (a cluster) the batch declares every operation's keys and its
        ``extra_keys`` (keys the script derives, e.g. a lease's user's) to Redis, after
        ``route_key``, a key of the operation's slot (by default the batcher's own).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(
            (route_key or self._route_key, (script, keys, args), extra_keys, future))
        if len(self._flushers) < self._in_flight:
            flusher = loop.create_task(self._flush())
            self._flushers.add(flusher)
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._send(batch)
        finally:
            # Leave the set as soon as the queue is found empty (no await in between), not in
            # a done callback: that runs later, and a call queued meanwhile would find the set
            # full and wait for flushers that are gone.
            self._flushers.discard(asyncio.current_task())

    async def _send(self, batch: list[Pending]) -> None:
        by_slot: dict[str, list[Pending]] = {}
        calls: list[tuple[bytes, str, Sequence[str]]] = []
        if self._declare:
            for item in batch:
                by_slot.setdefault(item[0], []).append(item)
            for route, items in by_slot.items():
                payload, declared = pack_declared([(c, extra) for _, c, extra, _ in items],
                                                  route)
                calls.append((payload, route, declared))
        else:
            by_slot[self._route_key] = batch
            calls.append((pack_calls([c for _, c, _, _ in batch]), self._route_key, ()))
        try:
            outcomes = ([await evalsha_async(self._client, *calls[0])] if len(calls) == 1
                        else await evalsha_pipelined(self._client, calls))
        except BaseException as error:  # every caller gets the failure (e.g. Redis is down)
            _fail(batch, as_outage(error))
            if not isinstance(error, Exception):
                raise
            return
        for items, outcome in zip(by_slot.values(), outcomes, strict=True):
            if isinstance(outcome, Exception):
                _fail(items, as_outage(outcome))  # this slot's call alone failed
            else:
                _resolve(items, outcome)


def as_outage(error: BaseException) -> BaseException:
    """``error``, or the lost connection it stands for.

    A topology change (a failover) makes redis-py's asyncio cluster client close a node's
    connections, also one that a concurrent call is using: that call then fails inside
    redis-py with an ``AttributeError`` (its connection's reader or writer is gone). It is a
    lost connection, answered like any other (retried, then an outage).
    """
    if isinstance(error, AttributeError) and _raised_in_a_redis_connection(error):
        lost = RedisConnectionError(f"the connection was closed under the call ({error})")
        lost.__cause__ = error
        return lost
    return error


def _raised_in_a_redis_connection(error: BaseException) -> bool:
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    parts = Path(frame.tb_frame.f_code.co_filename).parts
    return parts[-3:] == ("redis", "asyncio", "connection.py") or parts[-3:-1] == (
        "redis", "_parsers")


def _fail(batch: list[Pending], error: BaseException) -> None:
    for *_, future in batch:
        if not future.done():
            future.set_exception(error)


def _resolve(batch: list[Pending], replies: list[Any]) -> None:
    for (*_, future), reply in zip(batch, replies, strict=True):
        if future.done():
            continue  # the caller was cancelled; the operation was applied anyway
        try:
            future.set_result(unwrap(reply))
        except ResponseError as error:
            future.set_exception(error)


# The script declares ``route_key``, a key of the ledger's hash slot, then ``declared``.
# Standalone Redis needs no more; a cluster client sends the call to the master of that slot,
# where every key the operations touch lives (in cluster mode the prefix is a hash tag), and
# declaring each of them lets Redis refuse a call whose keys a reshard has split. The cluster
# client is handed that master (every key shares the route key's slot), which spares it
# hashing each declared key; it still follows MOVED, ASK and TRYAGAIN answers.
async def evalsha_async(client: redis.asyncio.Redis, payload: bytes, route_key: str,
                        declared: Sequence[str] = ()) -> list[Any]:
    """Call the ledger script by SHA, or by its text where Redis does not have it.

    Loading the script first and calling its SHA again is not enough on a cluster: between
    the two, a failover can hand the slot to a master that never saw the load (script caches
    are not replicated). ``EVAL`` carries the script to whichever master runs the call.
    """
    keys = [route_key, *declared]
    options = _route(client, route_key, declared)
    execute: Any = client.execute_command  # untyped in redis-py
    try:
        replies: list[Any] = await execute(
            "EVALSHA", LEDGER_SHA, len(keys), *keys, payload, **options)
    except NoScriptError:  # nothing ran; EVAL runs it once and caches it where it ran
        replies = await execute("EVAL", LEDGER, len(keys), *keys, payload, **options)
    return replies


async def evalsha_pipelined(client: redis.asyncio.Redis,
                            calls: Sequence[tuple[bytes, str, Sequence[str]]]) -> list[Any]:
    """Several script calls ``(payload, route_key, declared)`` in one cluster pipeline.

    Each call's replies, or the error it alone got (a slot that moved is followed by
    redis-py; a call a master refused for want of the script is sent again with its text).
    """
    pipe: Any = client.pipeline(transaction=False)
    for payload, route_key, declared in calls:
        keys = [route_key, *declared]
        pipe.execute_command("EVALSHA", LEDGER_SHA, len(keys), *keys, payload,
                             **_route(client, route_key, declared))
    outcomes: list[Any] = await pipe.execute(raise_on_error=False)
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, NoScriptError):
            try:
                outcomes[index] = await evalsha_async(client, *calls[index])
            except Exception as error:
                outcomes[index] = error
    return outcomes


def evalsha_sync(client: redis.Redis, payload: bytes, route_key: str,
                 declared: Sequence[str] = ()) -> list[Any]:
    """Sync :func:`evalsha_async`."""
    keys = [route_key, *declared]
    options = _route(client, route_key, declared)
    execute: Any = client.execute_command  # untyped in redis-py
    try:
        replies: list[Any] = execute("EVALSHA", LEDGER_SHA, len(keys), *keys, payload,
                                     **options)
    except NoScriptError:  # nothing ran; EVAL runs it once and caches it where it ran
        replies = execute("EVAL", LEDGER, len(keys), *keys, payload, **options)
    return replies


def master_of(client: Any, route_key: str) -> Any | None:
    """The master serving ``route_key``'s slot, when ``client`` is a cluster client whose slot
    map is loaded (the first call loads it); else ``None``."""
    if not isinstance(client, (redis.cluster.RedisCluster, redis.asyncio.cluster.RedisCluster)):
        return None
    try:
        return client.get_node_from_key(route_key)
    except (RedisClusterException, SlotNotCoveredError):
        return None


def _route(client: Any, route_key: str, declared: Sequence[str]) -> dict[str, Any]:
    # A stale slot map costs one failed attempt, which the store's retries absorb.
    node = master_of(client, route_key) if declared else None
    return {} if node is None else {"target_nodes": node}
