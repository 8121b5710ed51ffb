"""The ``chainrule`` command.

    chainrule demo [--out DIR] [--quick] [--only NAME] [--list]
    chainrule train data.csv --target COLUMN [-o model.chainrule] [--drop COLUMN ...]
    chainrule predict model.chainrule new.csv [-o predictions.csv]
    chainrule info model.chainrule

``train``, ``predict`` and ``info`` need the ``chainrule[sklearn]`` extra
(scikit-learn and pandas); ``demo`` does not.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..backend import limit_blas_threads, tune_allocator
from ..demo import run_demo
from ..io import ModelFormatError
from ..tutorials import WALKTHROUGHS

try:  # train, predict and info: the sklearn extra
    from . import tabular
    from .table import TableError
except ModuleNotFoundError as missing:
    if missing.name not in ("sklearn", "pandas"):
        raise
    tabular, TableError = None, ValueError
    MISSING_EXTRA = f"{missing.name} is not installed: pip install \"chainrule[sklearn]\""


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
    _add_table_commands(commands)
    return parser


def _add_table_commands(commands) -> None:
    train = commands.add_parser(
        "train", help="train a network on a CSV table",
        description="Train an MLP to predict one column of a CSV file: ID-like columns are "
        "dropped, categorical columns one-hot encoded, numeric ones standardised; a test "
        "split is held out, training stops early on a validation slice, the test metrics "
        "are printed and one model file (network and preprocessing) is written.")
    train.add_argument("csv", help="the training data, a CSV file with a header line")
    train.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    train.add_argument("-o", "--out", default="model.chainrule", metavar="FILE",
                       help="the model file to write (default model.chainrule)")
    train.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                       help="a column not to use (repeat, or separate by commas)")
    train.add_argument("--task", choices=("auto", "classification", "regression"),
                       default="auto", help="default: classification for text or integers "
                       "with at most 10 values, else regression")
    train.add_argument("--test-size", type=_fraction, default=0.2, help="default 0.2")
    train.add_argument("--seed", type=int, default=0,
                       help="seeds the split, the initial weights and the shuffling (default 0)")
    train.add_argument("--epochs", type=_positive, default=200, help="at most (default 200)")
    train.add_argument("--patience", type=_count, default=10,
                       help="epochs without a better validation loss before stopping (10)")
    train.add_argument("--hidden", type=_units, default=(64, 32), metavar="UNITS",
                       help="hidden layer sizes, comma-separated (default 64,32)")
    train.add_argument("--batch-size", type=_positive, default=32, help="default 32")
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3,
                       help="Adam's (default 0.001)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    predict = commands.add_parser("predict", help="predict with a model from `chainrule train`",
                                  description="Apply a model file's preprocessing and network "
                                  "to every row of a CSV file.")
    predict.add_argument("model", help="a file written by chainrule train")
    predict.add_argument("csv", help="the rows to predict, with the columns the model expects")
    predict.add_argument("-o", "--out", metavar="FILE",
                         help="write the predictions here (default: print them)")
    info = commands.add_parser("info", help="show what a model from `chainrule train` expects",
                               description="Print the network's summary, its target and the "
                               "columns it expects.")
    info.add_argument("model", help="a file written by chainrule train")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (1 if a walkthrough
    raised or could not run, 2 for a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("train", "predict", "info"):
        return _run_table_command(args)
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


def _run_table_command(args) -> int:
    """Run train, predict or info; a problem with the data or the file is one line on
    stderr and exit status 1, each warning (an unseen category) one line too."""
    def fail(message) -> int:
        print(f"chainrule {args.command}: error: {message}", file=sys.stderr)
        return 1

    if tabular is None:
        return fail(MISSING_EXTRA)
    problem = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            _table_command(args)
        except (TableError, ModelFormatError, FileNotFoundError) as error:
            problem = error
    for w in caught:
        print(f"chainrule {args.command}: warning: {w.message}", file=sys.stderr)
    return 0 if problem is None else fail(problem)


def _table_command(args) -> None:
    if args.command == "info":
        tabular.info(args.model)
    elif args.command == "predict":
        predictions = tabular.predict(args.model, args.csv)
        if args.out:
            predictions.to_csv(args.out, index=False)
            print(f"wrote {len(predictions)} predictions to {args.out}")
        else:
            print(predictions.to_csv(index=False), end="")
    else:
        tune_allocator()  # this process is ours (docs/performance.md)
        with limit_blas_threads(1):  # a small MLP: one BLAS thread is fastest
            tabular.train(args.csv, args.target, args.out, drop=_split_names(args.drop),
                          task=args.task, test_size=args.test_size, seed=args.seed,
                          epochs=args.epochs, patience=args.patience,
                          hidden=args.hidden,
                          batch_size=args.batch_size, learning_rate=args.learning_rate,
                          verbose=0 if args.quiet else 1)


def _split_names(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _checked(convert, test, expected: str):
    """An argparse type: ``convert`` the text, then ``test`` it, else a usage error."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not test(value):
            raise argparse.ArgumentTypeError(f"expected {expected}; received {text!r}")
        return value
    return parse


_positive = _checked(int, lambda v: v >= 1, "a positive integer")
_count = _checked(int, lambda v: v >= 0, "a non-negative integer")
_positive_float = _checked(float, lambda v: v > 0, "a positive number")
_fraction = _checked(float, lambda v: 0 < v < 1, "a fraction between 0 and 1")
_units = _checked(lambda t: tuple(int(u) for u in _split_names([t])),
                  lambda v: len(v) > 0 and min(v) >= 1, "positive integers like 64,32")


if __name__ == "__main__":
    sys.exit(main())
