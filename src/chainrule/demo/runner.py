"""Run walkthroughs: import ``chainrule.tutorials.<name>``, call ``main``, time it.

The demo judges nothing: a walkthrough is "ok" when it ran without raising, and
its outcome carries the numbers it computed (the tests hold the expectations).
"""

from __future__ import annotations

import contextlib
import io
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..tutorials import WALKTHROUGHS, Walkthrough, load
from ..tutorials.expected import lookup
from ..tutorials.extras import MissingExtra

LABELS = {"ok": "ok", "error": "ERROR", "needs extra": "not run: needs an extra"}


@dataclass
class Outcome:
    """What one walkthrough did: status "ok", "error" (it raised) or "needs extra"
    (an optional package is missing; ``message`` says which extra to install)."""

    walkthrough: Walkthrough
    status: str
    result: dict | None = None
    key_numbers: dict | None = None
    seconds: float = 0.0
    output: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def summary(self) -> str:
        """``label=value`` for each of the walkthrough's key numbers."""
        return "  ".join(f"{label}={format_value(value)}"
                         for label, value in (self.key_numbers or {}).items())


def format_value(value) -> str:
    """Counts as integers, other numbers to 4 significant digits, lists likewise."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def key_numbers(module, result: dict) -> dict:
    """The walkthrough's ``KEY_NUMBERS`` (label -> dotted path) looked up in ``result``."""
    found = {}
    for label, key in getattr(module, "KEY_NUMBERS", {}).items():
        with contextlib.suppress(KeyError, IndexError, TypeError):
            found[label] = lookup(result, key)
    return found


def run_walkthrough(walkthrough: Walkthrough, out_dir: Path, quick: bool = False) -> Outcome:
    """Run one walkthrough with its stdout captured (its progress bars go to stderr);
    never raises."""
    buffer, start = io.StringIO(), time.perf_counter()
    try:
        module = load(walkthrough.name)
        with contextlib.redirect_stdout(buffer):
            result = module.main(out_dir=out_dir, quick=quick, verbose=True)
    except MissingExtra as error:
        return Outcome(walkthrough, "needs extra", seconds=time.perf_counter() - start,
                       output=buffer.getvalue(), message=str(error))
    except Exception:  # a broken walkthrough is reported, and the others still run
        return Outcome(walkthrough, "error", seconds=time.perf_counter() - start,
                       output=buffer.getvalue(), message=traceback.format_exc())
    return Outcome(walkthrough, "ok", result, key_numbers(module, result),
                   time.perf_counter() - start, buffer.getvalue())


def select(only: Iterable[str] | None) -> list[Walkthrough]:
    """Every walkthrough, or those named in ``only`` (in the demo's order)."""
    if not only:
        return list(WALKTHROUGHS)
    wanted = {name.strip() for item in only for name in item.split(",") if name.strip()}
    known = {w.name for w in WALKTHROUGHS}
    unknown = sorted(wanted - known)
    if unknown:
        raise KeyError(f"Unknown walkthrough(s) {unknown}; choose from "
                       f"{[w.name for w in WALKTHROUGHS]}.")
    return [w for w in WALKTHROUGHS if w.name in wanted]


def run_all(walkthroughs: list[Walkthrough], out_dir: Path, quick: bool = False,
            progress: Callable[[str], None] = print) -> list[Outcome]:
    """Run in order: a line as each starts and one as it ends."""
    outcomes = []
    for i, w in enumerate(walkthroughs, 1):
        head = f"[{i}/{len(walkthroughs)}] {w.name:<20}"
        progress(f"{head} {w.title} ...")
        outcome = run_walkthrough(w, out_dir, quick)
        progress(f"{head} {LABELS[outcome.status]} ({outcome.seconds:.1f} s)")
        outcomes.append(outcome)
    return outcomes
