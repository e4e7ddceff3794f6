"""``cascadeflow budgets set|show|remove``: the stored limits of a ledger, from the shell.

Every value is validated before anything is written, so bad input (a negative or NaN
amount, an unknown period or scope kind) is a clear error that changes nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Any

from cascadeflow.storage import LedgerStore
from cascadeflow.telemetry import BudgetConfig, CostTracker, RateLimit, Scope
from cascadeflow.telemetry._budget import ALL_PERIODS

_MONEY = ("hourly", "daily", "weekly", "monthly", "total")


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of USD: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite, non-negative USD amount: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _quota(text: str) -> tuple[str, int]:
    period, sep, count = text.partition("=")
    if not sep or period not in ALL_PERIODS:
        raise argparse.ArgumentTypeError(
            f"a quota is PERIOD=N with PERIOD one of {', '.join(ALL_PERIODS)}: {text!r}")
    return period, _count(count)


def _scope(text: str) -> Scope:
    try:
        return Scope.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="the SQLite ledger file")
    where.add_argument("--redis", help="the Redis URL of the ledger (redis://...)")
    where.add_argument("--postgres", metavar="DSN",
                       help="the PostgreSQL database of the ledger (postgresql://...)")
    parser.add_argument("--prefix", default="cascadeflow", help="Redis key prefix")
    parser.add_argument("--schema", default="cascadeflow", help="PostgreSQL schema")
    parser.add_argument("--timezone", default="UTC", help="IANA zone of the periods")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cascadeflow budgets",
                                     description="Stored budgets, caps, quotas and rate limits.")
    commands = parser.add_subparsers(dest="action", required=True)
    put = commands.add_parser("set", help="store the limits of a scope (user:, team:, org:, "
                              "key:, tag:, global)")
    put.add_argument("scope", type=_scope, help="e.g. team:search, user:alice, global")
    for period in _MONEY:
        put.add_argument(f"--{period}", type=_usd, metavar="USD", help=f"{period} USD limit")
    put.add_argument("--model", help="make the USD limits a cap on this model")
    put.add_argument("--requests", type=_quota, action="append", metavar="PERIOD=N",
                     help="request quota, e.g. daily=500 (repeatable)")
    put.add_argument("--tokens", type=_quota, action="append", metavar="PERIOD=N",
                     help="token quota, e.g. monthly=2000000 (repeatable)")
    put.add_argument("--rollover", action="store_true", help="carry unused budget over")
    put.add_argument("--rollover-cap", type=_usd, metavar="USD", help="at most this carried")
    put.add_argument("--rpm", type=_count, help="requests per minute")
    put.add_argument("--tpm", type=_count, help="tokens per minute")
    put.add_argument("--max-parallel", type=_count, help="requests in flight at once")
    _add_store_options(put)
    show = commands.add_parser("show", help="limit, spent, reserved and remaining per period")
    show.add_argument("scope", type=_scope, nargs="?", help="one scope (default: every one)")
    _add_store_options(show)
    remove = commands.add_parser("remove", help="remove the budget and rate limit of a scope")
    remove.add_argument("scope", type=_scope)
    remove.add_argument("--model", help="remove only the cap on this model")
    _add_store_options(remove)
    return parser


def _open(options: argparse.Namespace) -> LedgerStore:
    if options.db is not None:
        from cascadeflow.storage import SQLiteStore

        return SQLiteStore(options.db)
    if options.postgres is not None:
        from cascadeflow.storage import PostgresStore

        return PostgresStore(options.postgres, schema=options.schema)
    from cascadeflow.storage import RedisStore

    return RedisStore(options.redis, prefix=options.prefix)


def _limits_of(options: argparse.Namespace) -> tuple[BudgetConfig | None, RateLimit | None]:
    money = {period: getattr(options, period) for period in _MONEY
             if getattr(options, period) is not None}
    fields: dict[str, Any] = dict(money)
    if options.requests:
        fields["requests"] = dict(options.requests)
    if options.tokens:
        fields["tokens"] = dict(options.tokens)
    if options.rollover or options.rollover_cap is not None:
        fields.update(rollover=True, rollover_cap=options.rollover_cap)
    budget = BudgetConfig(**fields) if fields else None
    rates = {name: getattr(options, name) for name in ("rpm", "tpm", "max_parallel")
             if getattr(options, name) is not None}
    rate = RateLimit(**rates) if rates else None
    if budget is None and rate is None:
        raise ValueError("nothing to set: give a limit (--daily, --requests, --rpm, ...)")
    if options.model is not None and (rate is not None or not money):
        raise ValueError("--model caps USD spend: give --hourly/--daily/... and no rate limit")
    return budget, rate


def _show(tracker: CostTracker, scope: Scope | None) -> int:
    from rich.console import Console
    from rich.table import Table

    scopes = [scope] if scope is not None else sorted(
        {found for found, _ in tracker.budgets()} | set(tracker.rate_limits()))
    table = Table(title="cascadeflow budgets")
    for column in ("scope", "period", "base", "carried", "limit", "spent", "reserved",
                   "remaining"):
        table.add_column(column, justify="left" if column in ("scope", "period") else "right")
    for each in scopes:
        for row in tracker.budget_report(each):
            period = str(row["period"]) + (f" cap on {row['model']}" if row["model"] else "")
            money = row["unit"] == "usd"
            if not money:
                period += f" {row['unit']}"
            table.add_row(str(row["scope"]), period, *(
                f"${row[name]:.6f}" if money else f"{row[name]:,.0f}" for name in (
                    "base_limit", "carried", "limit", "spent", "reserved", "remaining")))
        rate = tracker.get_rate_limit(each)
        if rate is not None:
            for name, value in rate.to_dict().items():
                table.add_row(str(each), name, "", "", str(value), "", "", "")
    Console(width=150).print(table)
    if not scopes:
        print("no stored limits")
    return 0


def main(argv: Sequence[str]) -> int:
    """Run ``cascadeflow budgets ...``; returns the exit status (2 for bad input)."""
    parser = _parser()
    try:
        options = parser.parse_args(list(argv))
    except SystemExit as stop:  # argparse printed the usage and the error
        return int(stop.code or 0)
    try:
        if options.action == "set":
            budget, rate = _limits_of(options)
        tracker_zone = options.timezone
        store = _open(options)
    except ValueError as exc:
        print(f"cascadeflow budgets: {exc}", file=sys.stderr)
        return 2
    try:
        tracker = CostTracker(store=store, timezone=tracker_zone)
        if options.action == "set":
            if budget is not None:
                tracker.set_budget(options.scope, budget, model=options.model)
            if rate is not None:
                tracker.set_rate_limit(options.scope, rate)
            print(f"set {options.scope}: {budget if budget is not None else ''} "
                  f"{rate if rate is not None else ''}".rstrip())
            return 0
        if options.action == "remove":
            tracker.set_budget(options.scope, None, model=options.model)
            if options.model is None:
                tracker.set_rate_limit(options.scope, None)
            print(f"removed the limits of {options.scope}")
            return 0
        return _show(tracker, options.scope)
    except ValueError as exc:
        print(f"cascadeflow budgets: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
