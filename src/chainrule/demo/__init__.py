"""``chainrule demo``: run every tutorial walkthrough and write a report.

The walkthroughs are the scripts in ``examples/`` (registered in
:mod:`chainrule.demo.registry`); :func:`run_demo` runs them in order, prints a
progress line each and a summary table, and writes the plots and ``report.html``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..backend import limit_blas_threads
from ..utils.plotting import is_available as plotting_available
from .registry import (
    WALKTHROUGHS,
    Check,
    DemoContext,
    Walkthrough,
    at_least,
    at_most,
    find_churn_csv,
    near,
    register,
)
from .report import write_report
from .runner import (
    PLOTS_SKIPPED,
    Outcome,
    examples_dir,
    load_example,
    run_all,
    run_example_script,
    run_walkthrough,
    select,
)
from .summary import summary_table

__all__ = ["WALKTHROUGHS", "Check", "DemoContext", "Outcome", "Walkthrough", "at_least",
           "at_most", "examples_dir", "find_churn_csv", "load_example", "near", "register",
           "run_all", "run_demo", "run_example_script", "run_walkthrough", "summary_table"]


def run_demo(out_dir: str | os.PathLike = "chainrule-demo", quick: bool = False,
             only: Iterable[str] | None = None, churn: str | os.PathLike | None = None,
             print_fn: Callable[[str], None] = print) -> list[Outcome]:
    """Run the selected walkthroughs, print the table, write plots and report.html."""
    walkthroughs = select(only)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(out_dir=out, quick=quick, churn_path=find_churn_csv(churn))
    plots_note = "" if plotting_available() else PLOTS_SKIPPED
    print_fn(f"chainrule demo: {len(walkthroughs)} walkthrough(s)"
             f"{' (quick)' if quick else ''}, writing to {out}")
    start = time.perf_counter()
    with limit_blas_threads(1):  # tutorial-sized products: one thread is fastest (backend)
        outcomes = run_all(walkthroughs, ctx, progress=print_fn)
    seconds = time.perf_counter() - start
    print_fn("")
    print_fn(summary_table(outcomes))
    if plots_note:
        print_fn(plots_note)
    report = write_report(outcomes, out, quick, seconds, plots_note)
    print_fn(f"\nreport: {report}  ({seconds:.1f} s)")
    return outcomes
