"""The ``cascadeflow`` command: ``demo`` (a simulated day of traffic), ``sync-pricing``,
``budgets`` (stored limits), ``report`` (spend, forecasts, anomalies) and ``export``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cascadeflow",
                                     description="Per-user LLM budgets on top of LiteLLM.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="simulate a day of traffic against a SQLite ledger")
    demo.add_argument("--db", default="cascadeflow-demo.db",
                      help="SQLite ledger file (default: ./cascadeflow-demo.db, recreated)")
    demo.add_argument("--requests", type=int, default=240, help="requests to simulate")
    demo.add_argument("--seed", type=int, default=7, help="random seed")
    demo.add_argument("--keep", action="store_true", help="keep spend already in --db")
    sync = commands.add_parser("sync-pricing", help="export LiteLLM's prices to pricing.json",
                               add_help=False)
    sync.add_argument("args", nargs=argparse.REMAINDER)
    budgets = commands.add_parser("budgets", help="set, show or remove stored budgets and "
                                  "rate limits of users, teams, orgs, keys and tags",
                                  add_help=False)
    budgets.add_argument("args", nargs=argparse.REMAINDER)
    for name, about in (("report", "spend, limits, forecasts, runway and anomalies per user, "
                                   "tier, scope or model (--chart draws them)"),
                        ("export", "write every entry to JSON, CSV or SQLite")):
        extra = commands.add_parser(name, help=about, add_help=False)
        extra.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cascadeflow`` console script and ``python -m cascadeflow``."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["sync-pricing"]:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        from cascadeflow.pricing._sync import main as sync_main

        return sync_main(arguments[1:])
    if arguments[:1] == ["budgets"]:
        from cascadeflow._cli_budgets import main as budgets_main

        return budgets_main(arguments[1:])
    if arguments[:1] == ["report"]:
        from cascadeflow._cli_report import main as report_main

        return report_main(arguments[1:])
    if arguments[:1] == ["export"]:
        from cascadeflow._cli_export import main as export_main

        return export_main(arguments[1:])
    options = _parser().parse_args(arguments)
    if options.command == "demo":
        if options.requests <= 0:
            print("cascadeflow demo: --requests must be positive", file=sys.stderr)
            return 2
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        from cascadeflow._demo import run_demo

        return run_demo(db=options.db, requests=options.requests, seed=options.seed,
                        keep=options.keep)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
