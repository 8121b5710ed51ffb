"""One training step of LSTM(128) + Dense(1), chainrule vs PyTorch (CPU).

Workload: batch 64, 50 timesteps of 32 features, float32; forward, MSE loss,
backward and a hand-written SGD update. chainrule runs twice: with the built-in
activations (one fused op per call) and with the same activations as lambdas,
which forces the step-by-step Tensor-op path. torch and NumPy's BLAS both get
``--threads`` threads (2 by default; NumPy's through threadpoolctl when installed).
The contenders take turns within each repeat, so on a shared machine they see the
same load; each line is the median wall time over ``--repeats`` steps, and the
median process CPU time beside it.

Run:  python benchmarks/bench_recurrent.py [--repeats 30] [--layer LSTM|GRU|SimpleRNN]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import chainrule as cr
from chainrule.layers import GRU, LSTM, Dense, SimpleRNN

BATCH, STEPS, FEATURES, UNITS, LR = 64, 50, 32, 128, 0.01


def median_ms(fns: dict, repeats: int) -> dict:
    """{name: (median wall ms, median CPU ms)}, the ``fns`` taking turns, after warm-up."""
    for fn in fns.values():
        fn()
        fn()
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (1e3 * statistics.median(wall[name]), 1e3 * statistics.median(cpu[name]))
            for name in fns}


def chainrule_step(kind: str, x: np.ndarray, y: np.ndarray, composite: bool):
    """A closure running one training step of ``kind``(128) + Dense(1) in chainrule."""
    cr.manual_seed(0)
    options = {}
    if composite:
        options["activation"] = lambda t: t.tanh()
        if kind != "SimpleRNN":
            options["recurrent_activation"] = lambda t: t.sigmoid()
    rnn = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}[kind](UNITS, **options)
    head = Dense(1)
    head(rnn(x))  # build
    params = list(rnn.parameters()) + list(head.parameters())

    def step():
        loss = ((head(rnn(x)) - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data -= LR * p.grad.data

    return step


def torch_step(torch, kind: str, x: np.ndarray, y: np.ndarray):
    """The same step with torch.nn.{LSTM, GRU, RNN} and nn.Linear."""
    torch.manual_seed(0)
    rnn = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[kind](
        FEATURES, UNITS, batch_first=True)
    head = torch.nn.Linear(UNITS, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        out, _ = rnn(tx)
        loss = ((head(out[:, -1]) - ty) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layer", default="LSTM", choices=["LSTM", "GRU", "SimpleRNN"])
    parser.add_argument("--no-composite", action="store_true",
                        help="skip the (slow) step-by-step Tensor-op path")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's allocator alone (by default the benchmark opts "
                             "in with cr.backend.tune_allocator(); see docs/performance.md)")
    args = parser.parse_args()
    print(f"glibc allocator tuned: {not args.default_allocator and cr.backend.tune_allocator()}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, FEATURES)).astype(np.float32)
    y = rng.standard_normal((BATCH, 1)).astype(np.float32)
    print(f"{args.layer}({UNITS}) + Dense(1), batch {BATCH}, {STEPS} steps x {FEATURES} "
          f"features, one SGD step, median of {args.repeats}")

    limit_blas_threads(args.threads)
    fns = {"chainrule (fused op)": chainrule_step(args.layer, x, y, composite=False)}
    if not args.no_composite:
        fns["chainrule (Tensor ops per step)"] = chainrule_step(args.layer, x, y,
                                                               composite=True)
    try:
        import torch
    except ImportError:
        torch = None
    name = None
    if torch is not None:
        torch.set_num_threads(args.threads)
        name = f"torch {torch.__version__}"
        fns[name] = torch_step(torch, args.layer, x, y)
    results = median_ms(fns, args.repeats)
    print(f"  {'':<32} {'wall ms':>9} {'ratio':>6} {'CPU ms':>9} ({args.threads} threads)")
    for label, (wall, cpu) in results.items():
        ratio = f"{wall / results[name][0]:5.2f}x" if name else "     -"
        print(f"  {label:<32} {wall:9.2f} {ratio:>6} {cpu:9.2f}")


def limit_blas_threads(threads: int) -> None:
    """Give NumPy's BLAS the same thread count as torch (needs threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("  (threadpoolctl not installed: NumPy's BLAS keeps its default threads)")
        return
    global _blas_limit  # keep the limit in force for the whole run
    _blas_limit = threadpool_limits(limits=threads, user_api="blas")


if __name__ == "__main__":
    main()
