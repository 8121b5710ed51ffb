"""``python examples/<name>.py``: run one walkthrough from the command line."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Sequence

from ..utils.plotting import is_available as plotting_available
from .extras import PLOTS_SKIPPED, MissingExtra
from .registry import get, load


def script_parser(name: str) -> argparse.ArgumentParser:
    """``[--out DIR] [--quick] [--seed N]``, ``[--epochs N]`` for walkthroughs that take
    it, and whatever the walkthrough adds with its own ``add_arguments(parser)``."""
    module = load(name)
    parser = argparse.ArgumentParser(prog=f"examples/{name}.py", description=get(name).title)
    parser.add_argument("--out", default="chainrule-demo",
                        help="folder for the plots (default ./chainrule-demo)")
    parser.add_argument("--quick", action="store_true", help="a shorter run")
    options = inspect.signature(module.main).parameters
    if "seed" in options:
        parser.add_argument("--seed", type=int, default=options["seed"].default)
    if "epochs" in options:
        parser.add_argument("--epochs", type=int, default=None,
                            help="training epochs (default: the walkthrough's)")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    return parser


def run_script(name: str, argv: Sequence[str] | None = None) -> dict:
    """Parse ``argv``, run walkthrough ``name`` with its lines printed, list its plots."""
    args = vars(script_parser(name).parse_args(argv))
    out, quick = args.pop("out"), args.pop("quick")
    try:
        result = load(name).main(out_dir=out, quick=quick, verbose=True, **args)
    except MissingExtra as error:
        raise SystemExit(f"{name}: {error}") from None
    for title, path in (result.get("plots") or {}).items():
        print(f"plot ({title}): {path}")
    if not plotting_available():
        print(PLOTS_SKIPPED)
    return result
