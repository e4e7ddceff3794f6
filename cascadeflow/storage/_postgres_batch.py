"""Batching the PostgreSQL store's async writes: many callers, one transaction, one round trip.

The reservations, settles and releases that concurrent asyncio tasks make while earlier ones
are in flight are sent together on one connection as one ``apply_batch`` statement (its own
transaction): it takes every advisory lock the batch needs (in one sorted order, so batches
never deadlock), then runs each operation through the function a lone call runs. The
operations travel as one JSON document, which costs the client far less than adapting each
statement's parameters. One commit (one WAL flush) serves the whole batch; each caller
returns only after it.

Operations queue in lanes by their user: batches of two lanes share no user's locks, so the
server runs them side by side instead of one after the other.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from cascadeflow.storage._postgres_pools import Params, Rows, aexecute, is_unavailable
from cascadeflow.storage._postgres_schema import text_array

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

#: At most this many operations per transaction, so one batch never holds its locks long.
MAX_BATCH = 64
#: Lanes of batches: an operation's lane is chosen by its user, so batches of two lanes meet
#: only at shared scopes' locks and rows (tracker pairs/s on 2 cores, 32 tasks over 8 users,
#: interleaved runs on one server: 2 lanes of 2 batches in flight 3,460-3,560; one lane of
#: 3, 2,640-3,020).
LANES = 2
#: Batches in flight at once in each lane, each on its own connection: a write made while
#: one is in flight is sent at once in the next, which waits only at the locks the two share.
IN_FLIGHT = 2
#: A batch chosen as a deadlock victim (or failing serialization) is sent again this many
#: times at most; then its operations go one by one, as unbatched calls do.
RETRIES = 3
# Deadlock detected, serialization failure: the batch was rolled back and may simply be rerun.
_RETRY_STATES = ("40P01", "40001")

Outcome = Rows | Exception


@dataclass(frozen=True, slots=True)
class Operation:
    """One write of the ledger: its statement, and what it must have locked in a batch.

    Attributes:
        sql: the statement (a call of one of the schema's functions, or a DELETE).
        params: its parameters.
        names: the advisory lock names it checks or changes (``u/<user>``, ``o/<owner>``).
        lease: the lease it ends (``""`` for none): the batch also locks the lease's user and
            the owners of its holds, which only the database knows.
        kind: which write it is (``"reserve"``, ``"record_entry"`` or ``"release"``), as
            ``apply_batch`` names it; a batch sends every operation's ``params`` under it.
    """

    sql: str
    params: Params
    names: tuple[str, ...] = ()
    lease: str = ""
    kind: str = ""


class StatementBatcher:
    """Queues the operations made while batches are in flight and sends them as the next batch.

    A lone operation is sent at once as its own statement (one round trip, as unbatched);
    under load an operation waits at most for the batches ahead of it. A batch is one
    transaction: if a statement of it fails, none of it was applied and its operations are
    sent again one by one, so only the failing operation's caller sees its error; if the
    server is unreachable (or the commit's outcome is unknown), every caller in it gets the
    error. A caller cancelled before its batch is sent is left out of it; one cancelled
    after may still be applied (every operation is idempotent, by lease or entry id).

    Args:
        pool: the event loop's pool; each batch takes one connection from it.
        apply_sql: the ``apply_batch`` statement (given the lock names, the leases ended and
            the operations as a JSON document).
        in_flight: batches in flight at once per lane (default :data:`IN_FLIGHT`).
        max_batch: operations per batch at most (default :data:`MAX_BATCH`).
        lanes: how many lanes operations are queued in by user (default :data:`LANES`).
    """

    def __init__(self, pool: AsyncConnectionPool, apply_sql: str, *,
                 in_flight: int | None = None, max_batch: int | None = None,
                 lanes: int | None = None) -> None:
        self.pool = pool
        self.loop = asyncio.get_running_loop()
        self._apply_sql = apply_sql
        self._in_flight = IN_FLIGHT if in_flight is None else in_flight
        self._max_batch = MAX_BATCH if max_batch is None else max_batch
        count = LANES if lanes is None else lanes
        if min(self._in_flight, self._max_batch, count) < 1:
            raise ValueError("in_flight, max_batch and lanes must be at least 1")
        self._pending: list[list[tuple[Operation, asyncio.Future[Rows]]]] = [
            [] for _ in range(count)]
        self._lane_flushers: list[set[asyncio.Task[None]]] = [set() for _ in range(count)]
        self._flushers: set[asyncio.Task[None]] = set()

    async def run(self, operation: Operation) -> Rows:
        """Apply ``operation`` in the next batch; its rows once that batch has committed."""
        if operation.kind not in _APPLIED:
            raise ValueError(f"a batch cannot run a {operation.kind or 'statement'!r} operation")
        future: asyncio.Future[Rows] = self.loop.create_future()
        lane = self._lane_of(operation)
        self._pending[lane].append((operation, future))
        if len(self._lane_flushers[lane]) < self._in_flight:
            flusher = self.loop.create_task(self._flush(lane))
            self._lane_flushers[lane].add(flusher)
            self._flushers.add(flusher)
        return await future

    def _lane_of(self, operation: Operation) -> int:
        # By the first lock name, the user's (a release names none: its lease's user is
        # known only to the database).
        if len(self._pending) == 1 or not operation.names:
            return 0
        return zlib.crc32(operation.names[0].encode()) % len(self._pending)

    async def drain(self) -> None:
        """Wait until every batch queued or in flight has been sent."""
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)

    async def _flush(self, lane: int) -> None:
        queue = self._pending
        try:
            while queue[lane]:
                taken, queue[lane] = queue[lane][:self._max_batch], queue[lane][self._max_batch:]
                batch = [(operation, future) for operation, future in taken
                         if not future.done()]
                if batch:
                    await self._send(batch)
        finally:
            # Leave the set now, not in a done callback: one runs later, and a call queued
            # in between would find the set full and wait for a flusher that is gone.
            task = asyncio.current_task()
            self._lane_flushers[lane].discard(task)
            self._flushers.discard(task)

    async def _send(self, batch: list[tuple[Operation, asyncio.Future[Rows]]]) -> None:
        operations = [operation for operation, _ in batch]
        try:
            if len(operations) == 1:
                outcomes: list[Outcome] = [await aexecute(self.pool, operations[0].sql,
                                                          operations[0].params)]
            else:
                outcomes = await self._together(operations)
        except BaseException as error:  # every caller gets the failure (e.g. the server is down)
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(error, Exception):
                    future.set_exception(error)
                else:
                    future.cancel()
            if not isinstance(error, Exception):
                raise
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue  # the caller was cancelled; its operation was applied anyway
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _together(self, operations: list[Operation]) -> list[Outcome]:
        for _ in range(max(1, RETRIES)):
            try:
                return list(await self._transaction(operations))
            except Exception as error:
                if is_unavailable(error):
                    raise
                if getattr(error, "sqlstate", None) not in _RETRY_STATES:
                    break
        # Rolled back whole: each operation alone, so that only a failing one's caller fails.
        return [await self._alone(operation) for operation in operations]

    async def _alone(self, operation: Operation) -> Outcome:
        try:
            return await aexecute(self.pool, operation.sql, operation.params)
        except Exception as error:
            return error

    async def _transaction(self, operations: list[Operation]) -> list[Rows]:
        names = list({name for operation in operations for name in operation.names})
        leases = [operation.lease for operation in operations if operation.lease]
        # One statement, its own transaction: the operations' parameters travel as one JSON
        # document, which costs the client far less than adapting each statement's.
        payload = orjson.dumps([[op.kind, *op.params] for op in operations]).decode()
        async with self.pool.connection() as conn:
            cursor = await conn.execute(self._apply_sql,
                                        (text_array(names), text_array(leases), payload))
            row = await cursor.fetchone()
        assert row is not None
        return [_APPLIED[op.kind](text) for op, text in zip(operations, row[0], strict=True)]



def _reserve_rows(text: str) -> Rows:
    return [([int(part) for part in text.strip("{}").split(",")],)]


def _record_rows(text: str) -> Rows:
    return [(text == "true",)]


def _release_rows(text: str) -> Rows:
    return [(True,)] if text == "true" else []


#: The writes ``apply_batch`` runs, and how each one's answer becomes the rows a lone call has.
_APPLIED = {"reserve": _reserve_rows, "record_entry": _record_rows, "release": _release_rows}
