"""Shared helpers for the L0 runtime tests: scripted stream factories and a fake sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import pytest

STALL = object()  # a scripted item that never arrives


class Scripted:
    """A stream factory whose n-th call plays the n-th script (the last one repeats).

    A script is a sequence of chunks; an exception instance in it is raised at that point,
    ``STALL`` waits forever. ``calls`` counts factory calls; ``arguments`` records what a
    one-argument factory received.
    """

    def __init__(self, *scripts: Sequence[Any]) -> None:
        self.scripts = scripts
        self.calls = 0

    def __call__(self) -> AsyncIterator[Any]:
        script = self.scripts[min(self.calls, len(self.scripts) - 1)]
        self.calls += 1
        return _play(script)


class ScriptedWithArgument(Scripted):
    """Like :class:`Scripted`, for factories that take the continuation argument."""

    def __init__(self, *scripts: Sequence[Any]) -> None:
        super().__init__(*scripts)
        self.arguments: list[Any] = []

    def __call__(self, continuation: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        self.arguments.append(continuation)
        return super().__call__()


async def _play(script: Sequence[Any]) -> AsyncIterator[Any]:
    for item in script:
        if item is STALL:
            await anyio.sleep_forever()
        if isinstance(item, BaseException):
            raise item
        yield item


class SleepRecorder:
    """A ``sleep=`` replacement that records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class HTTPError(Exception):
    """An SDK-like error carrying an HTTP status and headers."""

    def __init__(self, status_code: int, message: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or f"HTTP {status_code}")
        self.status_code = status_code
        self.headers = headers or {}


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


# --- operations over many streams (issue 13) ---------------------------------------------
@pytest.fixture(params=["asyncio", "trio"])
def on_backends(request: pytest.FixtureRequest) -> Any:
    """Runs a coroutine function to completion on each anyio backend in turn."""
    def on_backend(function: Any, *args: Any) -> Any:
        return anyio.run(function, *args, backend=request.param)

    on_backend.backend = request.param  # type: ignore[attr-defined]
    return on_backend


class Words:
    """A stream factory yielding ``words``, pausing ``pause`` seconds before each one.

    ``closed`` is True once the stream's ``finally`` block ran (finished, failed or
    cancelled); ``log`` (shared between factories) records ``("end", name)`` when a stream
    finishes every word.
    """

    def __init__(self, *words: Any, pause: float = 0.0, name: Any = None,
                 log: list[Any] | None = None) -> None:
        self.words = words
        self.pause = pause
        self.name = name
        self.log = log if log is not None else []
        self.calls = 0
        self.closed = False
        self.delivered: list[str] = []

    def __call__(self) -> AsyncIterator[Any]:
        self.calls += 1
        return self._play()

    async def _play(self) -> AsyncIterator[Any]:
        try:
            for word in self.words:
                if self.pause:
                    await anyio.sleep(self.pause)
                if isinstance(word, BaseException):
                    raise word
                self.delivered.append(word)
                yield word
            self.log.append(("end", self.name))
        finally:
            self.closed = True
