"""Connections of the PostgreSQL store: a sync psycopg_pool pool, and an async one per event loop.

From a DSN the store opens its own pools (autocommit connections: each call is one statement,
its own transaction, one round trip). Given a pool, it uses that one and derives the other
kind from its connection settings when needed. Also here: running one statement on a pool,
and telling an unreachable server from a real error.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cascadeflow.storage._redis_outage import safe_url

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import AsyncConnectionPool, ConnectionPool

Rows = list[tuple[Any, ...]]
Params = Sequence[Any] | dict[str, Any]

_INSTALL_HINT = ("PostgresStore needs psycopg 3 and psycopg_pool: "
                 "pip install 'cascadeflow[postgres]'")
# Connection-level failures (class 08) and a server shutting down or starting (57P01-57P03)
# mean "unreachable right now"; any other error is a real error and is raised as it is.
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the server is unreachable right now (not a real error)."""
    import psycopg

    if isinstance(exc, psycopg.InterfaceError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES
    return False


def execute(pool: ConnectionPool, sql: str, params: Params) -> Rows:
    """Run one statement on a connection of ``pool`` (its own transaction); its rows."""
    with pool.connection() as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


async def aexecute(pool: AsyncConnectionPool, sql: str, params: Params) -> Rows:
    """Async :func:`execute`."""
    async with pool.connection() as conn:
        cursor = await conn.execute(sql, params)
        return await cursor.fetchall() if cursor.description else []


def import_psycopg() -> None:
    """Raise a clear ImportError naming the extra when psycopg or psycopg_pool is missing."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def printable_dsn(conninfo: str) -> str:
    """The DSN without its password (a URL's, or a ``password=`` keyword's), for messages."""
    if "://" in conninfo:
        return safe_url(conninfo)
    return re.sub(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", "password=***", conninfo)


def pool_timeout() -> type[Exception]:
    """psycopg_pool's PoolTimeout (imported when first needed)."""
    from psycopg_pool import PoolTimeout

    return PoolTimeout


class PostgresPools:
    """The sync pool and the running loop's async pool, made on first use."""

    def __init__(self, dsn_or_pool: str | ConnectionPool | AsyncConnectionPool, *,
                 max_size: int, timeout: float) -> None:
        import_psycopg()
        from psycopg_pool import AsyncConnectionPool, ConnectionPool

        self.max_size = max_size
        self.timeout = timeout
        self._lock = threading.Lock()
        self._sync: ConnectionPool | None = None
        self._async: tuple[asyncio.AbstractEventLoop, AsyncConnectionPool] | None = None
        self._renewed_at = -1
        self._owns_sync = True
        self._given_async: AsyncConnectionPool | None = None
        self.kwargs: dict[str, Any] = {}
        if isinstance(dsn_or_pool, str):
            self.conninfo = dsn_or_pool
        elif isinstance(dsn_or_pool, (ConnectionPool, AsyncConnectionPool)):
            # The other kind of pool is made from the same settings: they must be plain values.
            conninfo, kwargs = dsn_or_pool.conninfo, dsn_or_pool.kwargs
            if not isinstance(conninfo, str) or not isinstance(kwargs, (dict, type(None))):
                raise TypeError("PostgresStore needs a pool made with a conninfo string and a "
                                "kwargs dict (not callables), or a DSN")
            self.conninfo, self.kwargs = conninfo, dict(kwargs or {})
            if isinstance(dsn_or_pool, ConnectionPool):
                self._sync, self._owns_sync = dsn_or_pool, False
            else:
                self._given_async = dsn_or_pool
        else:
            raise TypeError(
                "PostgresStore takes a DSN (str), a psycopg_pool.ConnectionPool or an "
                f"AsyncConnectionPool, got {type(dsn_or_pool).__name__}")

    def _connection_kwargs(self) -> dict[str, Any]:
        kwargs = {"connect_timeout": max(1, round(self.timeout))}
        kwargs.update(self.kwargs)
        kwargs["autocommit"] = True
        return kwargs

    def connect(self) -> psycopg.Connection[Any]:
        """One plain autocommit connection (the schema migration uses it), closed by the caller."""
        import psycopg

        return psycopg.connect(self.conninfo, **self._connection_kwargs())

    def probe(self) -> None:
        """Connect once and close: raises psycopg.OperationalError while the server is away."""
        self.connect().close()

    async def aprobe(self) -> None:
        """Async :meth:`probe`."""
        import psycopg

        conn = await psycopg.AsyncConnection.connect(self.conninfo, **self._connection_kwargs())
        await conn.close()

    def sync(self) -> ConnectionPool:
        if self._sync is None:
            from psycopg_pool import ConnectionPool

            with self._lock:
                if self._sync is None:
                    pool = ConnectionPool(
                        self.conninfo, min_size=1, max_size=self.max_size,
                        kwargs=self._connection_kwargs(), timeout=self.timeout, open=False,
                        name="cascadeflow-sync")
                    pool.open(wait=False)
                    self._sync = pool
        return self._sync

    async def async_pool(self) -> AsyncConnectionPool:
        if self._given_async is not None:
            return self._given_async
        loop = asyncio.get_running_loop()
        current = self._async
        if current is not None and current[0] is loop:
            return current[1]
        from psycopg_pool import AsyncConnectionPool

        pool = AsyncConnectionPool(
            self.conninfo, min_size=1, max_size=self.max_size,
            kwargs=self._connection_kwargs(), timeout=self.timeout, open=False,
            name="cascadeflow-async")
        await pool.open(wait=False)
        # A pool belongs to its loop; one made for a loop that is gone is left behind.
        self._async = (loop, pool)
        return pool

    # psycopg_pool backs off between reconnection attempts (seconds, doubling), which can
    # outlast a short outage: after one, the store probes with a fresh pool of its own instead.
    def renew_sync(self) -> None:
        """Replace the sync pool the store opened (a given pool is left to its own settings)."""
        with self._lock:
            old = self._sync if self._owns_sync else None
            if old is not None:
                self._sync = None
        if old is not None:
            old.close(timeout=1.0)

    async def renew_async(self, failures: int) -> None:
        """Replace the running loop's async pool the store opened, once per outage.

        ``failures`` counts the async calls that failed so far: when the server is back,
        every waiting caller probes and asks for a new pool, and only the first gets one
        (a second renewal would close the pool the first caller is already using).
        """
        current = self._async
        if (current is None or current[0] is not asyncio.get_running_loop()
                or self._renewed_at == failures):
            return
        self._renewed_at = failures
        self._async = None
        await current[1].close(timeout=1.0)

    def close(self) -> None:
        if self._sync is not None and self._owns_sync:
            self._sync.close()
        self._sync = None if self._owns_sync else self._sync

    async def aclose(self) -> None:
        current, self._async = self._async, None
        if current is not None and current[0] is asyncio.get_running_loop():
            await current[1].close()
        self.close()
