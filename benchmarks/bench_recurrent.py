"""One training step of LSTM(128) + Dense(1), chainrule vs PyTorch (CPU).

Workload: batch 64, ``--steps`` timesteps (50 by default) of 32 features, float32;
forward, MSE loss, backward and a hand-written SGD update. chainrule runs twice: with
the built-in activations (one fused op per call) and with the same activations as
lambdas, which forces the step-by-step Tensor-op path. torch's module gets the
chainrule layer's weights, so both compute the same numbers: with torch's own
initialisation the gradient reaching the early steps of a long sequence decays into
subnormal floats, and a T=200 step took 1.72 s of CPU time instead of 0.13 s
(``torch.set_flush_denormal(True)``), which would time the CPU's subnormal path,
not the library. torch and NumPy's BLAS both get ``--threads`` threads (2 by default;
NumPy's through threadpoolctl when installed). The contenders take turns in blocks
(``common.time_interleaved``), so on a shared machine they see the same load; each
line is the median wall time over ``--repeats`` steps, the spread (min-max) and the
median process CPU time beside it.

Run:  python benchmarks/bench_recurrent.py [--repeats 30] [--steps 50]
      [--layer LSTM|GRU|SimpleRNN]
"""

from __future__ import annotations

import argparse
import os
import statistics

import numpy as np
from common import machine_lines, set_threads, time_interleaved

import chainrule as cr
from chainrule.layers import GRU, LSTM, Dense, SimpleRNN

BATCH, STEPS, FEATURES, UNITS, LR = 64, 50, 32, 128, 0.01


def median_ms(fns: dict, repeats: int) -> dict:
    """{name: (median wall ms, min, max, median CPU ms)}, the ``fns`` in alternating blocks."""
    cpu: dict[str, list[float]] = {}
    wall = time_interleaved(fns, repeats, cpu=cpu)
    return {name: (1e3 * statistics.median(wall[name]), 1e3 * min(wall[name]),
                   1e3 * max(wall[name]), 1e3 * statistics.median(cpu[name]))
            for name in fns}


def recurrent_layer(kind: str, composite: bool = False):
    """``kind``(128) in chainrule, built-in activations or (``composite``) the same as
    lambdas, which forces the step-by-step Tensor-op path."""
    options = {}
    if composite:
        options["activation"] = lambda t: t.tanh()
        if kind != "SimpleRNN":
            options["recurrent_activation"] = lambda t: t.sigmoid()
    return {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}[kind](UNITS, **options)


def chainrule_step(kind: str, x: np.ndarray, y: np.ndarray, composite: bool):
    """A closure running one training step of ``kind``(128) + Dense(1) in chainrule."""
    cr.manual_seed(0)
    rnn, head = recurrent_layer(kind, composite), Dense(1)
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


def torch_twin(torch, layer):
    """torch.nn.{LSTM, GRU, RNN} holding the (built) chainrule ``layer``'s weights:
    weight_ih = kernel.T, weight_hh = recurrent_kernel.T, GRU's gate blocks z, r, h
    reordered to torch's r, z, n, the bias in b_ih (GRU: the recurrent row in b_hh)."""
    kind = type(layer).__name__
    module = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN}[kind](
        layer.kernel.shape[0], UNITS, batch_first=True)

    def torch_layout(w):  # (..., G*u) in Keras' gate order -> (G*u, ...) in torch's
        w = np.asarray(w)
        if kind == "GRU":
            z, r, h = np.split(w, 3, axis=-1)
            w = np.concatenate([r, z, h], axis=-1)
        return torch.from_numpy(np.ascontiguousarray(w.T))

    bias = np.asarray(layer.bias.data)
    b_ih, b_hh = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch_layout(layer.kernel.data))
        module.weight_hh_l0.copy_(torch_layout(layer.recurrent_kernel.data))
        module.bias_ih_l0.copy_(torch_layout(b_ih))
        module.bias_hh_l0.copy_(torch_layout(b_hh))
    return module


def torch_step(torch, kind: str, x: np.ndarray, y: np.ndarray):
    """The same step with torch.nn.{LSTM, GRU, RNN} (chainrule's initial weights) and
    nn.Linear."""
    torch.manual_seed(0)
    cr.manual_seed(0)
    layer = recurrent_layer(kind)
    layer(x[:1])  # build
    rnn = torch_twin(torch, layer)
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
    parser.add_argument("--steps", type=int, default=STEPS, help="sequence length T")
    parser.add_argument("--layer", default="LSTM", choices=["LSTM", "GRU", "SimpleRNN"])
    parser.add_argument("--no-composite", action="store_true",
                        help="skip the (slow) step-by-step Tensor-op path")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's allocator alone (by default the benchmark opts "
                             "in with cr.backend.tune_allocator(); see docs/performance.md)")
    args = parser.parse_args()
    print(f"glibc allocator tuned: {not args.default_allocator and cr.backend.tune_allocator()}")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, args.steps, FEATURES)).astype(np.float32)
    y = rng.standard_normal((BATCH, 1)).astype(np.float32)
    print(f"{args.layer}({UNITS}) + Dense(1), batch {BATCH}, {args.steps} steps x {FEATURES} "
          f"features, one SGD step, median of {args.repeats}")
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
        name = f"torch {torch.__version__}"
        fns[name] = torch_step(torch, args.layer, x, y)
    set_threads(args.threads, torch)
    print("\n".join(machine_lines(torch, threads=args.threads)))
    results = median_ms(fns, args.repeats)
    print(f"  {'':<32} {'wall ms':>9} {'min-max':>15} {'ratio':>6} {'CPU ms':>9}")
    for label, (wall, low, high, cpu) in results.items():
        ratio = f"{wall / results[name][0]:5.2f}x" if name else "     -"
        print(f"  {label:<32} {wall:9.2f} {f'{low:.2f}-{high:.2f}':>15} {ratio:>6} {cpu:9.2f}")
    print(f"  load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
