"""``cascadeflow report``: spend, limits, period-end forecasts, runway and anomalies per user
(or tier, scope, model), as a table, JSON or CSV, with an optional chart (``--chart``)."""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import orjson

from cascadeflow._cli_budgets import _add_store_options, _open
from cascadeflow.storage import LedgerStore
from cascadeflow.telemetry import AnomalyDetector, CostForecaster, CostTracker

_PERIODS = ("daily", "weekly", "monthly")


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line of the report (USD; ``None`` where a figure does not apply)."""

    kind: str
    name: str
    today: float
    week: float
    month: float
    since: float | None
    limit: float | None
    remaining: float | None
    projected: float
    lower: float
    upper: float
    runs_out_on: str | None
    runway_days: float | None
    anomalies: int


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cascadeflow report",
        description="Spend per user (or tier, scope, model): periods, limit, remaining, "
                    "period-end forecast with its 95%% interval, runway and anomalies.")
    _add_store_options(parser)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--tier", dest="by", action="store_const", const="tier",
                       help="one row per tier")
    group.add_argument("--scope", dest="by", action="store_const", const="scope",
                       help="one row per scope with a stored budget (team:, org:, ...)")
    group.add_argument("--model", dest="by", action="store_const", const="model",
                       help="one row per model")
    parser.add_argument("--only", metavar="NAME", help="only this user (tier, scope, model)")
    parser.add_argument("--period", choices=_PERIODS, default="monthly",
                        help="the period whose limit and end are forecast (default monthly)")
    parser.add_argument("--since", type=_date, metavar="YYYY-MM-DD",
                        help="add the spend since this day (and start the chart there)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--chart", metavar="PNG",
                        help="draw daily spend, the forecast band and the limit (needs the "
                             "'plot' extra: pip install 'cascadeflow[plot]')")
    parser.set_defaults(by="user")
    return parser


def _names(tracker: CostTracker, by: str) -> list[str]:
    store = tracker.store
    if by == "user":
        return sorted(store.user_tiers())
    if by == "model":
        return sorted(store.totals().by_model)
    if by == "tier":
        return sorted({tier for tier in store.user_tiers().values() if tier is not None})
    return sorted({str(scope) for scope, model in tracker.budgets() if model is None
                   and scope.kind != "user"})


def _limit(tracker: CostTracker, by: str, name: str, period: str) -> float | None:
    if by == "user":
        budget = tracker.get_user_budget(name)
    elif by == "scope":
        budget = tracker.get_budget(name)
    else:
        return None  # a tier's budget is per user; a model has caps per scope, not one limit
    value = getattr(budget, period, None) if budget is not None else None
    return float(value) if value is not None else None


def build_rows(tracker: CostTracker, by: str, *, only: str | None = None,
               period: str = "monthly", since: date | None = None) -> list[ReportRow]:
    """The report's rows for ``by`` (``user``, ``tier``, ``scope`` or ``model``).

    Example:
        >>> build_rows(tracker, "user")[0].projected
        412.5
    """
    forecaster = CostForecaster(tracker)
    detector = AnomalyDetector(tracker)
    today = tracker.now().astimezone(tracker._zone).date()
    rows: list[ReportRow] = []
    names = _names(tracker, by)
    if only is not None:
        names = [name for name in names if name == only] or [only]
    for name in names:
        user = name if by == "user" else None
        scope = None if by == "user" else f"{by}:{name}" if by in ("tier", "model") else name
        history = tracker.daily_spend(user, days=max(31, (today - since).days + 1 if since
                                                     else 31), scope=scope)
        spend = dict(history)
        week_start = today - timedelta(days=today.weekday())
        limit = _limit(tracker, by, name, period)
        outlook = forecaster.forecast_period_end(user, period, scope=scope, limit=limit)
        remaining = None if limit is None else max(0.0, limit - outlook.spent)
        runway = None
        if user is not None and remaining is not None:
            runway = forecaster.calculate_budget_runway(remaining, user_id=user)[0]
        anomalies = (detector.detect_user_anomalies(name) if user is not None
                     else detector.detect_global_anomalies(scope=scope))
        rows.append(ReportRow(
            by, name, spend.get(today, 0.0),
            sum(value for day, value in history if day >= week_start),
            sum(value for day, value in history if day >= today.replace(day=1)),
            sum(value for day, value in history if day >= since) if since else None,
            limit, remaining, outlook.projected, outlook.lower, outlook.upper,
            outlook.runs_out_on.isoformat() if outlook.runs_out_on else None,
            None if runway is None or math.isinf(runway) else round(runway, 2),
            len(anomalies)))
    return rows


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _print_table(rows: Sequence[ReportRow], period: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"cascadeflow spend ({period} limit and forecast)")
    since = any(row.since is not None for row in rows)
    headers = [rows[0].kind if rows else "user", "today", "week", "month",
               *(["since"] if since else []), "limit", "remaining", "period-end forecast",
               "runs out", "runway (days)", "anomalies"]
    for header in headers:
        table.add_column(header, justify="left" if header in ("user", "tier", "scope",
                                                              "model") else "right")
    for row in rows:
        table.add_row(
            row.name, _money(row.today), _money(row.week), _money(row.month),
            *([_money(row.since)] if since else []), _money(row.limit), _money(row.remaining),
            f"{_money(row.projected)} ({_money(row.lower)}-{_money(row.upper)})",
            row.runs_out_on or "-", "-" if row.runway_days is None else f"{row.runway_days}",
            str(row.anomalies))
    Console(width=180).print(table)


def _render(rows: Sequence[ReportRow], fmt: str, period: str) -> None:
    if fmt == "json":
        sys.stdout.write(orjson.dumps([asdict(row) for row in rows],
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(ReportRow.__dataclass_fields__))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
        sys.stdout.write(buffer.getvalue())
    else:
        _print_table(rows, period)


def open_store_or_say_why(options: argparse.Namespace, command: str) -> LedgerStore | None:
    """The ledger named by ``--db``/``--redis``; ``None`` after printing why it cannot open."""
    try:
        return _open(options)
    except Exception as exc:  # any store's own error: shown to the user, not swallowed
        print(f"cascadeflow {command}: {exc}", file=sys.stderr)
        return None


def main(argv: Sequence[str]) -> int:
    """Entry point of ``cascadeflow report``."""
    try:
        options = _parser().parse_args(list(argv))
    except SystemExit as stop:  # argparse printed the usage and the error
        return int(stop.code or 0)
    if options.chart is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("cascadeflow report: --chart needs matplotlib: pip install "
                  "'cascadeflow[plot]'", file=sys.stderr)
            return 2
    store = open_store_or_say_why(options, "report")
    if store is None:
        return 2
    try:
        tracker = CostTracker(store=store, timezone=options.timezone)
        rows = build_rows(tracker, options.by, only=options.only, period=options.period,
                          since=options.since)
        _render(rows, options.format, options.period)
        if options.chart is not None:
            from cascadeflow._cli_chart import draw_chart

            user = options.only if options.by == "user" else None
            scope = (None if options.only is None or options.by == "user"
                     else options.only if options.by == "scope" else
                     f"{options.by}:{options.only}")
            limit = rows[0].limit if options.only is not None and rows else None
            draw_chart(tracker, options.chart, user_id=user, scope=scope, period=options.period,
                       limit=limit, since=options.since)
            print(f"chart written to {options.chart}", file=sys.stderr)
    except ValueError as exc:
        print(f"cascadeflow report: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0
