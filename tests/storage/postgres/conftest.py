"""Fixtures for the PostgreSQL store's own tests: worker processes on the session's server.

``postgres_server`` and ``postgres_dsn`` come from the ``tests._postgres_server`` plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("_worker.py")
Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start ``_worker.py`` processes; whatever is still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), *args], cwd=ROOT, text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def read_json(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"worker exited without output (exit code {process.wait(timeout=30)})"
    answer: dict[str, Any] = json.loads(line)
    return answer


def release_together(processes: list[subprocess.Popen[str]]) -> None:
    """Wait until every worker is ready, then let them all go at once."""
    assert [read_json(process) for process in processes] == [{"ready": True}] * len(processes)
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Every test here runs against a real PostgreSQL: `-m "not postgres"` leaves them out.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.postgres)
