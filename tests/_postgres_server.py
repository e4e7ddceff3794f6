"""A real PostgreSQL server for tests: initdb in a temporary directory, a free loopback port.

Registered as a pytest plugin it provides ``postgres_server`` (one per session) and
``postgres_dsn`` (the session server, with the ledger's tables emptied for this test). When
the tests run as root, initdb and pg_ctl run as the unprivileged ``postgres`` user (PostgreSQL
refuses to run as root) and the temporary directory belongs to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from tests._redis_server import free_port

INSTALL_HINT = ("install it with scripts/install_postgres.sh (Debian/Ubuntu: apt-get install "
                "postgresql) - `make test` and .ci/run do this")


def postgres_bindir() -> Path:
    """The directory of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda path: int(Path(path).parts[-3]))
    if not candidates:
        raise RuntimeError(f"PostgreSQL server binaries (pg_ctl) were not found; {INSTALL_HINT}")
    return Path(candidates[-1]).parent


class PostgresServer:
    """One PostgreSQL cluster on 127.0.0.1, stopped on :meth:`stop` or context exit.

    ``start()`` after ``stop()`` brings it back on the same port with its data (outage tests).
    ``durable=False`` (tests) turns fsync off: a crash of the machine is not what tests test.

    Example:
        >>> with PostgresServer() as server:
        ...     dsn = server.dsn
    """

    def __init__(self, *, durable: bool = False, max_connections: int = 300) -> None:
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.durable = durable
        self.max_connections = max_connections
        self._as: list[str] = []
        self._dir = Path(tempfile.mkdtemp(prefix="cascadeflow-postgres-"))
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError(
                    "tests run as root but there is no `postgres` user to run PostgreSQL as; "
                    + INSTALL_HINT) from exc
            os.chown(self._dir, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.data = self._dir / "data"
        self._initialized = False
        self._running = False

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self._running

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            log = self._dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}"
                f" {done.stdout.strip()[-500:]} {tail}")

    def start(self) -> PostgresServer:
        if self._running:
            return self
        if not self._initialized:
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C")
            self._initialized = True
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._dir}"
                   f" -c max_connections={self.max_connections} -c shared_buffers=64MB")
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self._dir / "server.log"), "-o", options, "-w", "-t", "60", "start")
        self._running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode`` ``"immediate"`` is a crash: no shutdown checkpoint)."""
        if not self._running:
            return
        self._running = False
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def wait_for_connections(dsn: str, *, timeout: float = 30.0) -> None:
    """Wait until the server accepts connections (after a restart)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(dsn, connect_timeout=1).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The session server's DSN, with every table of the test schemas emptied."""
    import psycopg

    postgres_server.start()  # in case a test stopped it
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        schemas = [row[0] for row in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cascadeflow%'")]
        for schema in schemas:
            # Drop schemas a test made for itself; empty the default one (cheaper to keep).
            if schema != "cascadeflow":
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                continue
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename NOT IN"
                " ('schema_version', 'settings_version')", (schema,))]
            if tables:
                conn.execute("TRUNCATE " + ", ".join(f'"{schema}"."{t}"' for t in tables))
            conn.execute(f'UPDATE "{schema}".settings_version SET version = 0')
    return postgres_server.dsn
