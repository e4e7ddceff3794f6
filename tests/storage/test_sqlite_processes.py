"""Several processes on one SQLite ledger file: exact totals, no overspending, no loss."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from cascadeflow.storage import SQLiteStore
from tests.storage.ledger_samples import NOW, ONE_DOLLAR, PERIODS, TEN_CENTS, make_entry

StartWorker = Callable[..., "subprocess.Popen[str]"]


def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


def start_together(processes: list[subprocess.Popen[str]]) -> None:
    """Wait until every worker is ready, then release them all at once."""
    assert [read_line(process) for process in processes] == ["ready"] * len(processes)
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def test_two_processes_writing_one_ledger_keep_exact_totals(
    ledger_path: Path, start_worker: StartWorker
) -> None:
    SQLiteStore(ledger_path).close()  # the file exists before both start
    writers = [start_worker("record", str(ledger_path), user, "1000", f"{user}-")
               for user in ("alice", "bob")]
    # A third writer in this process, on its own connection, at the same time.
    with SQLiteStore(ledger_path) as store:
        start_together(writers)
        for number in range(1000):
            store.record(make_entry(f"carol-{number}", user="carol"), TEN_CENTS, PERIODS)
        assert [read_line(writer) for writer in writers] == ["done", "done"]
        assert [writer.wait(timeout=60) for writer in writers] == [0, 0]

    with SQLiteStore(ledger_path) as reopened:
        totals = reopened.totals()
        assert totals.entry_count == 3_000
        assert totals.total_nanos == 300 * ONE_DOLLAR
        assert totals.by_user == dict.fromkeys(["alice", "bob", "carol"], 100 * ONE_DOLLAR)
        for user in ("alice", "bob", "carol"):
            usage = reopened.usage(user, PERIODS, now=NOW)
            assert usage.spent_nanos == dict.fromkeys([p.key for p in PERIODS], 100 * ONE_DOLLAR)


def test_processes_racing_for_one_budget_never_overspend_it(
    ledger_path: Path, start_worker: StartWorker
) -> None:
    SQLiteStore(ledger_path).close()
    racers = [start_worker("reserve", str(ledger_path), "25", f"p{n}-") for n in range(4)]
    start_together(racers)

    granted = [read_line(racer) for racer in racers]

    # A one-dollar budget affords exactly ten one-dime reservations among all processes.
    assert sum(int(line.split()[1]) for line in granted) == 10
    with SQLiteStore(ledger_path) as store:
        assert store.usage("shared", PERIODS, now=NOW).reserved_nanos == ONE_DOLLAR


def ledger_after_kill(ledger_path: Path, start_worker: StartWorker, mode: str) -> list[str]:
    """Start a worker that acknowledges each write, kill it after 200 acks; return them."""
    SQLiteStore(ledger_path).close()
    worker = start_worker(mode, str(ledger_path))
    acked: list[str] = []
    while len(acked) < 200:
        line = read_line(worker)
        assert line.startswith("ack "), line
        acked.append(line.split()[1])
    worker.kill()  # SIGKILL: no cleanup, no atexit, no close
    assert worker.wait(timeout=30) == -9
    return acked


def test_a_killed_process_loses_no_acknowledged_record(
    ledger_path: Path, start_worker: StartWorker
) -> None:
    acked = ledger_after_kill(ledger_path, start_worker, "ack")

    with SQLiteStore(ledger_path) as store:
        stored = [entry.id for entry in store.entries()]
        assert set(acked) <= set(stored)
        # Counters and history were committed together: they agree, entry for entry.
        usage = store.usage("u1", PERIODS, now=NOW)
        assert usage.spent_nanos["total"] == len(stored) * TEN_CENTS
        assert usage.spent_nanos["daily:2026-11-24"] == len(stored) * TEN_CENTS


def test_a_killed_process_loses_no_acknowledged_add_cost(
    ledger_path: Path, start_worker: StartWorker
) -> None:
    acked = ledger_after_kill(ledger_path, start_worker, "add-cost")

    with SQLiteStore(ledger_path) as store:
        stored = [entry.id for entry in store.entries()]
        assert set(acked) <= set(stored)
        assert store.totals().by_user == {"u1": len(stored) * TEN_CENTS}
