"""The ``chainrule`` command.

    chainrule demo [--out DIR] [--quick] [--only NAME] [--list]
"""

from __future__ import annotations

import argparse
import sys

from .backend import tune_allocator
from .demo import run_demo
from .tutorials import WALKTHROUGHS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chainrule", description="chainrule: a readable "
                                     "deep-learning framework on NumPy.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the tutorial walkthroughs and write a report",
                               description="Run every tutorial walkthrough in order, print a "
                               "table of what each computed, and write the plots and "
                               "report.html. Exits with 1 when a walkthrough does not run to "
                               "the end.")
    demo.add_argument("--out", default="chainrule-demo", metavar="DIR",
                      help="output folder (default ./chainrule-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="fewer epochs (and scikit-learn's 8x8 digits instead of MNIST)")
    demo.add_argument("--only", action="append", metavar="NAME",
                      help="run only these walkthroughs (repeat, or separate by commas)")
    demo.add_argument("--list", action="store_true", help="list the walkthroughs and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (1 if a walkthrough
    raised or could not run, 2 for a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 2
    tune_allocator()  # this process is ours: keep freed training arrays (docs/performance.md)
    if args.list:
        for w in WALKTHROUGHS:
            print(f"{w.name:<22} {w.shows}")
        return 0
    try:
        outcomes = run_demo(args.out, quick=args.quick, only=args.only)
    except KeyError as error:
        print(f"chainrule demo: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
