"""Fixtures for the PostgreSQL store's own tests: worker processes on the session's server.

``postgres_server`` and ``postgres_dsn`` come from the ``tests._postgres_server`` plugin.
"""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).with_name("_worker.py")
Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn(start_script: Callable[..., subprocess.Popen[str]]) -> Spawn:
    """Start ``_worker.py`` processes; whatever is still running at the end is killed."""
    return functools.partial(start_script, WORKER)


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
