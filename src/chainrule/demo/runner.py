"""Run walkthroughs: load ``examples/<script>.py`` by path, call ``main``, judge, time.

The examples live at the root of a source checkout, outside the installed package,
so they are imported by file path from the checkout this package was installed
from (``pip install -e .``), or from ``./examples`` when run inside a checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ..utils.plotting import is_available as plotting_available
from .registry import WALKTHROUGHS, Check, DemoContext, Walkthrough, lookup

PLOTS_SKIPPED = "plots skipped: matplotlib is not installed (pip install -e \".[examples]\")"


def repo_root() -> Path | None:
    """The checkout holding ``src/chainrule`` (None for a non-editable install)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "src" / "chainrule").is_dir() else None


def examples_dir() -> Path:
    """``examples/`` of the checkout, else of the current directory."""
    candidates = ([repo_root() / "examples"] if repo_root() is not None else [])
    candidates.append(Path.cwd() / "examples")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "chainrule demo runs the walkthroughs in the examples/ folder of a source checkout, "
        "and none was found: clone the repository, `pip install -e \".[examples]\"` from it, "
        "and run `chainrule demo` again.")


def load_example(filename: str) -> ModuleType:
    """Import ``examples/<filename>`` by path (once; later calls reuse the module)."""
    path = examples_dir() / filename
    if not path.is_file():
        raise FileNotFoundError(f"No walkthrough script at {path}.")
    name = f"chainrule_examples.{path.stem}"
    module = sys.modules.get(name)
    if module is not None and Path(module.__file__) == path:
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@dataclass
class Outcome:
    """What one walkthrough did: status is "pass", "fail", "error" or "skipped"."""

    walkthrough: Walkthrough
    status: str
    result: dict | None = None
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    output: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "skipped")

    @property
    def relaxed(self) -> bool:
        return any(c.relaxed for c in self.checks)

    def key_numbers(self) -> str:
        """``key=value`` for each of the walkthrough's summary keys."""
        if self.result is None:
            return ""
        parts = []
        for entry in self.walkthrough.keys:
            label, _, key = entry.rpartition("=")
            try:
                value = format_value(lookup(self.result, key))
            except (KeyError, IndexError, TypeError):
                value = "?"
            parts.append(f"{label or key}={value}")
        return "  ".join(parts)


def format_value(value) -> str:
    """Numbers to 4 significant digits; short lists of numbers likewise."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) or hasattr(value, "dtype"):
        try:
            return f"{float(value):.4g}"
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def run_walkthrough(walkthrough: Walkthrough, ctx: DemoContext) -> Outcome:
    """Run one walkthrough with its stdout captured; never raises."""
    if walkthrough.requires is not None:
        reason = walkthrough.requires(ctx)
        if reason:
            return Outcome(walkthrough, "skipped", message=reason)
    buffer, start = io.StringIO(), time.perf_counter()
    try:
        module = load_example(walkthrough.filename)
        with contextlib.redirect_stdout(buffer):
            result = module.main(**walkthrough.args(ctx))
        if walkthrough.plot is not None:
            result.setdefault("plots", {}).update(walkthrough.plot(result, ctx))
        checks = [check(result, ctx.quick) for check in walkthrough.checks]
    except Exception:  # a broken walkthrough is reported, and the others still run
        return Outcome(walkthrough, "error", seconds=time.perf_counter() - start,
                       output=buffer.getvalue(), message=traceback.format_exc())
    status = "pass" if all(c.passed for c in checks) else "fail"
    failed = [c.label for c in checks if not c.passed]
    return Outcome(walkthrough, status, result, checks, time.perf_counter() - start,
                   buffer.getvalue(), message="failed: " + "; ".join(failed) if failed else "")


def select(only: Iterable[str] | None) -> list[Walkthrough]:
    """The registered walkthroughs, or those named in ``only`` (in registry order)."""
    if not only:
        return list(WALKTHROUGHS)
    wanted = {name.strip() for item in only for name in item.split(",") if name.strip()}
    known = {w.name for w in WALKTHROUGHS}
    unknown = sorted(wanted - known)
    if unknown:
        raise KeyError(f"Unknown walkthrough(s) {unknown}; choose from "
                       f"{[w.name for w in WALKTHROUGHS]}.")
    return [w for w in WALKTHROUGHS if w.name in wanted]


def run_all(walkthroughs: list[Walkthrough], ctx: DemoContext,
            progress: Callable[[str], None] = print) -> list[Outcome]:
    """Run in order, one progress line each."""
    outcomes = []
    for i, w in enumerate(walkthroughs, 1):
        outcome = run_walkthrough(w, ctx)
        label = {"pass": "ok", "fail": "FAILED", "error": "ERROR",
                 "skipped": "skipped"}[outcome.status]
        extra = f" ({outcome.seconds:.1f} s)" if outcome.status != "skipped" else ""
        progress(f"[{i}/{len(walkthroughs)}] {w.name:<22} {label}{extra}")
        outcomes.append(outcome)
    return outcomes


def run_example_script(main: Callable[..., dict], argv: list[str] | None = None) -> dict:
    """The ``if __name__ == "__main__"`` of every walkthrough: ``[--out DIR] [--quick]``."""
    doc = sys.modules[main.__module__].__doc__ or ""
    parser = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    parser.add_argument("--out", default="chainrule-demo",
                        help="folder for the plots (default ./chainrule-demo)")
    parser.add_argument("--quick", action="store_true", help="fewer epochs/iterations")
    args = parser.parse_args(argv)
    result = main(out_dir=Path(args.out), quick=args.quick, verbose=True)
    for title, path in (result.get("plots") or {}).items():
        print(f"plot ({title}): {path}")
    if not plotting_available():
        print(PLOTS_SKIPPED)
    return result
