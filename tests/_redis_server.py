"""A real ``redis-server`` for tests: a free loopback port, a temporary directory, no persistence.

Registered as a pytest plugin (``pytest_plugins = ["tests._redis_server"]``) it provides the
``redis_server`` (one per session) and ``redis_url`` (a flushed database per test) fixtures.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1, stopped on :meth:`stop` or context exit.

    ``start()`` after ``stop()`` brings it back on the same port (for outage tests); with
    ``persistent=True`` it also keeps its data across the restart.

    Example:
        >>> with RedisServer() as server:
        ...     client = redis.Redis.from_url(server.url)
    """

    def __init__(self, *, password: str | None = None, persistent: bool = False,
                 extra_args: tuple[str, ...] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not on PATH; install it (Debian/Ubuntu: apt-get install "
                "redis-server) - `make test` and .ci/run do this"
            )
        self.binary = binary
        self.port = free_port()
        self.password = password
        self.persistent = persistent
        self.extra_args = extra_args
        self._dir = tempfile.TemporaryDirectory(prefix="cascadeflow-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        if self.running:
            return self
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", self._dir.name, "--save", "",
            # persistent: an append-only file synced on every write survives stop()/start().
            "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always",
            "--daemonize", "no", "--loglevel", "warning",
            "--logfile", str(Path(self._dir.name) / "redis.log"),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        args += list(self.extra_args)
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password,
                             socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10.0
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except redis.exceptions.ConnectionError:
                    pass
                if self._process.poll() is not None:
                    err = self._process.stderr.read().decode() if self._process.stderr else ""
                    raise RuntimeError(f"redis-server exited at start: {err}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on port {self.port}")
                time.sleep(0.01)
        finally:
            client.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()

    def kill(self) -> None:
        """Kill the server with SIGKILL (a crash: nothing is flushed)."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            if process.stderr:
                process.stderr.close()

    def client(self) -> redis.Redis:
        """A plain client for assertions (the caller closes it)."""
        return redis.Redis.from_url(self.url)

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, with its database flushed for this test."""
    redis_server.start()  # in case a test stopped it
    client = redis_server.client()
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url
