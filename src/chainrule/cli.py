"""The ``chainrule`` command.

    chainrule demo [--out DIR] [--quick] [--only NAME] [--churn PATH] [--list]
"""

from __future__ import annotations

import argparse
import sys

from .backend import tune_allocator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chainrule", description="chainrule: a readable "
                                     "deep-learning framework on NumPy.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the tutorial walkthroughs and write a report",
                               description="Run every tutorial walkthrough in order, print a "
                               "summary table, and write the plots and report.html.")
    demo.add_argument("--out", default="chainrule-demo", metavar="DIR",
                      help="output folder (default ./chainrule-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="fewer epochs for a fast check; looser bounds are marked PASS*")
    demo.add_argument("--only", action="append", metavar="NAME",
                      help="run only these walkthroughs (repeat, or separate by commas)")
    demo.add_argument("--churn", metavar="PATH",
                      help="Churn_Modelling.csv (default: ../shared/datasets/ next to the "
                      "checkout or the current directory)")
    demo.add_argument("--list", action="store_true", help="list the walkthroughs and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (1 if any walkthrough
    fails, 2 for a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 2
    tune_allocator()  # this process is ours: keep freed training arrays (docs/performance.md)
    from . import demo

    if args.list:
        for w in demo.WALKTHROUGHS:
            print(f"{w.name:<22} {w.shows}")
        return 0
    try:
        outcomes = demo.run_demo(args.out, quick=args.quick, only=args.only, churn=args.churn)
    except (KeyError, FileNotFoundError) as error:
        print(f"chainrule demo: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
