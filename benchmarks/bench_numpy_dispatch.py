"""What NumPy's dispatch protocols cost: ``np.exp(t)`` against ``cr.exp(t)``, and friends.

``np.exp(t)`` reaches chainrule through NumPy's ``__array_ufunc__`` (NEP 13) and
``np.sum(t)`` through ``__array_function__`` (NEP 18); both end in the same op as
the chainrule spelling. On a 10-element tensor the op itself is a few microseconds,
so this is where the detour shows most. Issue 13 asks ``np.exp(t)`` to cost at
most 1.5x ``cr.exp(t)``; the ratio is the median of interleaved samples, each the
mean of ``--number`` calls, forward only (the backward is the same node either way).

Run:  python benchmarks/bench_numpy_dispatch.py [--quick]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from common import machine_lines, markdown_table, median, time_interleaved

import chainrule as cr

BAR = 1.5  # np.exp(t) / cr.exp(t), issue 13


def pairs(t: cr.Tensor, a: np.ndarray, w: cr.Tensor) -> dict[str, tuple]:
    """name -> (NumPy spelling, chainrule spelling), each a zero-argument call."""
    return {
        "exp": (lambda: np.exp(t), lambda: cr.exp(t)),
        "maximum(t, 0)": (lambda: np.maximum(t, 0.0), lambda: cr.maximum(t, 0.0)),
        "ndarray - t": (lambda: a - t, lambda: cr.tensor(a) - t),
        "sum": (lambda: np.sum(t), lambda: cr.sum(t)),
        "dot(ndarray, W)": (lambda: np.dot(a, w), lambda: cr.matmul(a, w)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--number", type=int, default=2000, help="calls per sample")
    args = parser.parse_args(argv)
    repeats = 9 if args.quick else 30
    t = cr.tensor(np.linspace(-1, 1, 10, dtype=np.float32), requires_grad=True)
    a = np.linspace(0, 1, 10, dtype=np.float32)
    w = cr.tensor(np.ones((10, 4), dtype=np.float32), requires_grad=True)
    rows, exp_ratio = [], None
    for name, (numpy_call, cr_call) in pairs(t, a, w).items():
        samples = time_interleaved({"numpy": numpy_call, "chainrule": cr_call},
                                   repeats=repeats, number=args.number, pause=0.05)
        ours, theirs = median(samples["numpy"]), median(samples["chainrule"])
        rows.append([name, f"{ours * 1e6:.2f}", f"{theirs * 1e6:.2f}", f"{ours / theirs:.2f}×"])
        if name == "exp":
            exp_ratio = ours / theirs
    print("\n".join(machine_lines()))
    print(f"10-element float32 tensors, forward only, median of {repeats} samples of "
          f"{args.number} calls\n")
    print(markdown_table(["call", "NumPy spelling (µs)", "chainrule spelling (µs)", "ratio"],
                         rows))
    verdict = "within" if exp_ratio <= BAR else "OVER"
    print(f"\nnp.exp(t) / cr.exp(t) = {exp_ratio:.2f} ({verdict} the bar of {BAR})")
    return 0 if exp_ratio <= BAR else 1


if __name__ == "__main__":
    sys.exit(main())
