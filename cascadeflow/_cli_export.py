"""``cascadeflow export``: every entry of a ledger to JSON, CSV or SQLite, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, overload

from cascadeflow._cli_budgets import _add_store_options
from cascadeflow._cli_report import open_store_or_say_why

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from cascadeflow._entry import CostEntry


class _Counted(Sequence["CostEntry"]):
    """The entries, advancing the progress bar as a writer iterates them."""

    def __init__(self, entries: list[CostEntry], progress: Progress, task: TaskID) -> None:
        self._entries = entries
        self._progress = progress
        self._task = task

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> CostEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[CostEntry]: ...
    def __getitem__(self, index: int | slice) -> CostEntry | Sequence[CostEntry]:
        return self._entries[index]

    def __iter__(self) -> Iterator[CostEntry]:
        for number, entry in enumerate(self._entries, start=1):
            yield entry
            if number % 1000 == 0:
                self._progress.update(self._task, completed=number)
        self._progress.update(self._task, completed=len(self._entries))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cascadeflow export",
                                     description="Write every entry of a ledger to a file.")
    _add_store_options(parser)
    parser.add_argument("--format", choices=("json", "csv", "sqlite"), required=True)
    parser.add_argument("--out", required=True, type=Path, help="the file to write")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point of ``cascadeflow export``."""
    from rich.progress import Progress

    from cascadeflow.telemetry import CostTracker
    from cascadeflow.telemetry._exports import export_csv, export_json, export_sqlite

    try:
        options = _parser().parse_args(list(argv))
    except SystemExit as stop:
        return int(stop.code or 0)
    store = open_store_or_say_why(options, "export")
    if store is None:
        return 2
    try:
        tracker = CostTracker(store=store, timezone=options.timezone)
        entries = store.entries()
        with Progress(disable=options.quiet, transient=True) as progress:
            task = progress.add_task(f"exporting {len(entries)} entries", total=len(entries))
            counted = _Counted(entries, progress, task)
            if options.format == "json":
                export_json(counted, tracker.get_summary(), options.out)
            elif options.format == "csv":
                export_csv(counted, options.out)
            else:
                export_sqlite(counted, options.out)
        print(f"exported {len(entries)} entries to {options.out}", file=sys.stderr)
    except OSError as exc:
        print(f"cascadeflow export: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0
