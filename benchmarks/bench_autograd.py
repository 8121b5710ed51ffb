"""Autograd overhead, chainrule vs PyTorch (CPU), in one process.

Three workloads, each timed as the median of several repeats:

(a) one op on 10-element tensors, forward only and forward + backward: the fixed
    Python cost of recording and replaying a node;
(b) forward + backward through a 1,000-op elementwise chain (``*0.5``, ``+ x``,
    ``tanh``, repeated) on 10 elements: the same cost over a long graph;
(c) the same chain on 1,000,000 elements: memory-bound NumPy work, where the
    bookkeeping should vanish; (c′) the same with relu in place of tanh, since
    the two libraries' tanh kernels differ far more than their autograd.

Run:  python benchmarks/bench_autograd.py [--threads 2] [--quick]
It prints a Markdown table (times per call, ratio = chainrule / torch).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time

import numpy as np

import chainrule as cr

try:
    import torch
except ImportError:  # the chainrule column still prints
    torch = None


def median_times(fns: dict, number: int, repeats: int) -> dict:
    """{lib: median over ``repeats`` of the mean time of ``number`` calls}, in seconds.

    The libraries take turns repeat by repeat, so a burst of load from elsewhere
    on the machine hits both columns alike.
    """
    for fn in fns.values():
        fn()  # warm-up
    times = {lib: [] for lib in fns}
    for _ in range(repeats):
        for lib, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times[lib].append((time.perf_counter() - start) / number)
    return {lib: statistics.median(t) for lib, t in times.items()}


# ---------------------------------------------------------------- workloads


def op_workloads(lib):
    """(name, forward fn, forward+backward fn) for one op on 10-element tensors."""
    if lib is cr:
        x = cr.tensor(np.linspace(0.1, 1.0, 10), dtype=np.float32, requires_grad=True)
        y = cr.tensor(np.linspace(1.0, 2.0, 10), dtype=np.float32, requires_grad=True)
    else:
        x = torch.linspace(0.1, 1.0, 10, requires_grad=True)
        y = torch.linspace(1.0, 2.0, 10, requires_grad=True)
    ones = lib.ones(10)
    ops = {
        "add": lambda: x + y,
        "mul": lambda: x * y,
        "exp": lambda: x.exp(),
        "matmul (10-vector · 10-vector)": lambda: x @ y,
        "sum": lambda: x.sum(),
    }

    def with_backward(op):
        def run():
            out = op()
            if out.ndim:
                out.backward(ones)
            else:
                out.backward()
            x.grad = None
            y.grad = None
        return run

    return [(name, op, with_backward(op)) for name, op in ops.items()]


def chain(lib, n: int, length: int = 1000, activation: str = "tanh"):
    """Forward + backward of ``length`` alternating ops (*0.5, + x, tanh) on ``n`` elements."""
    data = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    if lib is cr:
        x = cr.tensor(data, requires_grad=True)
    else:
        x = torch.tensor(data, requires_grad=True)

    def run():
        y = x
        for i in range(length):
            k = i % 3
            if k == 0:
                y = y * 0.5
            elif k == 1:
                y = y + x
            else:
                y = getattr(y, activation)()
        y.sum().backward()
        x.grad = None

    return run


# ---------------------------------------------------------------- report


def fmt(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-4:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a rough look)")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's allocator alone (by default the benchmark opts "
                             "in with cr.backend.tune_allocator(); see docs/performance.md)")
    args = parser.parse_args()
    print(f"glibc allocator tuned: {not args.default_allocator and cr.backend.tune_allocator()}")
    scale = 0.2 if args.quick else 1.0
    reps = 3 if args.quick else 9
    libs = [cr] + ([torch] if torch is not None else [])
    if torch is not None:
        torch.set_num_threads(args.threads)

    rows = []  # (workload, goal, {lib: seconds})
    per_op = {lib: op_workloads(lib) for lib in libs}
    for i, (name, _, _) in enumerate(per_op[cr]):
        number = int(3000 * scale)
        rows.append([f"(a) {name}, forward", "2×", median_times(
            {lib: per_op[lib][i][1] for lib in libs}, number, reps)])
        rows.append([f"(a) {name}, forward + backward", "2×", median_times(
            {lib: per_op[lib][i][2] for lib in libs}, max(1, number // 3), reps)])
    rows.append(["(b) 1,000-op chain, 10 elements, fwd + bwd", "2×", median_times(
        {lib: chain(lib, 10) for lib in libs}, max(1, int(20 * scale)), reps)])
    rows.append(["(c) 1,000-op chain, 1M elements, fwd + bwd", "1.2×", median_times(
        {lib: chain(lib, 1_000_000) for lib in libs}, 1, max(3, int(reps * scale)))])
    # (c) leans on tanh, where NumPy's SIMD kernel and torch's differ a lot; with relu
    # the elementwise kernels are comparable and the row shows the engine itself.
    rows.append(["(c′) as (c) with relu for tanh, 1M elements", "1.2×", median_times(
        {lib: chain(lib, 1_000_000, activation="relu") for lib in libs}, 1,
        max(3, int(reps * scale)))])

    versions = f"chainrule {cr.__version__}, NumPy {np.__version__}"
    if torch is not None:
        versions += f", torch {torch.__version__} ({args.threads} threads)"
    print(f"# Autograd overhead — {versions}, Python {platform.python_version()}")
    print(f"# {cpu_name()}, {os.cpu_count()} cores; median of {reps} repeats")
    print()
    print("| workload | chainrule | torch | ratio | goal |")
    print("|---|---:|---:|---:|---:|")
    for name, goal, t in rows:
        ours = t[cr]
        theirs = t.get(torch)
        ratio = f"{ours / theirs:.2f}×" if theirs else "—"
        print(f"| {name} | {fmt(ours)} | {fmt(theirs) if theirs else '—'} | {ratio} | "
              f"≤ {goal} |")


if __name__ == "__main__":
    main()
