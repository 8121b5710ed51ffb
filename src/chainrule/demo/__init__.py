"""``chainrule demo``: run the tutorial walkthroughs and write a report.

The walkthroughs are modules of :mod:`chainrule.tutorials`; :func:`run_demo` runs
them in order with a line as each starts and ends (and their progress bars in
between), prints a table of what each computed, and writes the plots and
``report.html``. It is a tutorial runner, not a test: a walkthrough is "ok" when
it ran to the end; the tests judge its numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..backend import limit_blas_threads
from ..tutorials.extras import PLOTS_SKIPPED
from ..utils.plotting import is_available as plotting_available
from .report import write_report
from .runner import Outcome, format_value, run_all, run_walkthrough, select
from .summary import summary_table

__all__ = ["Outcome", "format_value", "run_all", "run_demo", "run_walkthrough", "select",
           "summary_table"]


def run_demo(out_dir: str | os.PathLike = "chainrule-demo", quick: bool = False,
             only: Iterable[str] | None = None,
             print_fn: Callable[[str], None] = print) -> list[Outcome]:
    """Run the selected walkthroughs, print the table, write plots and report.html."""
    walkthroughs = select(only)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots_note = "" if plotting_available() else PLOTS_SKIPPED
    print_fn(f"chainrule demo: {len(walkthroughs)} walkthrough(s)"
             f"{' (quick)' if quick else ''}, writing to {out}")
    start = time.perf_counter()
    with limit_blas_threads(1):  # tutorial-sized products: one thread is fastest (backend)
        outcomes = run_all(walkthroughs, out, quick, progress=_flushed(print_fn))
    seconds = time.perf_counter() - start
    print_fn("")
    print_fn(summary_table(outcomes))
    if plots_note:
        print_fn(plots_note)
    report = write_report(outcomes, out, quick, seconds, plots_note)
    print_fn(f"\nreport: {report}  ({seconds:.1f} s)")
    return outcomes


def _flushed(print_fn: Callable[[str], None]) -> Callable[[str], None]:
    """``print_fn`` that shows each line at once (the line before a long walkthrough)."""
    if print_fn is not print:
        return print_fn
    return lambda line: print(line, flush=True)
