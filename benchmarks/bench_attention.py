"""A Transformer block, forward and backward, chainrule vs PyTorch (CPU), issue 11.

Workload: batch 32, sequence 64, width 128, 4 heads, float32: causal
MultiHeadAttention + residual + LayerNormalization, then Dense(512, relu) ->
Dense(128) + residual + LayerNormalization (post-norm, as the Keras guide's block);
the loss is sum(out * w) and backward reaches the input and every weight. torch runs
the same block with nn.MultiheadAttention, nn.LayerNorm and nn.Linear. A second line
times the attention alone (scaled_dot_product_attention on (32, 4, 64, 32), causal).
Each line is the median over ``--repeats`` interleaved samples (see common.py), of
wall time and of the process's CPU time (all threads): on a shared machine the
wall time also counts the other jobs' turns.

Run:  python benchmarks/bench_attention.py [--repeats 30] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np
from common import (
    fmt_ratio,
    fmt_time,
    machine_lines,
    markdown_table,
    median,
    set_threads,
    time_interleaved,
)

import chainrule as cr
import chainrule.functional as F
from chainrule.layers import Dense, LayerNormalization, MultiHeadAttention

BATCH, STEPS, WIDTH, HEADS = 32, 64, 128, 4


def chainrule_block(x: np.ndarray, w: np.ndarray):
    cr.manual_seed(0)
    attention = MultiHeadAttention(HEADS, WIDTH // HEADS)
    norm1, norm2 = LayerNormalization(epsilon=1e-5), LayerNormalization(epsilon=1e-5)
    hidden, out = Dense(4 * WIDTH, activation="relu"), Dense(WIDTH)
    xt = cr.tensor(x, requires_grad=True)

    def step():
        h = norm1(xt + attention(xt, xt, use_causal_mask=True))
        y = norm2(h + out(hidden(h)))
        (y * w).sum().backward()

    return step


def torch_block(torch, x: np.ndarray, w: np.ndarray):
    torch.manual_seed(0)
    nn = torch.nn
    attention = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)
    norm1, norm2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
    hidden, out = nn.Linear(WIDTH, 4 * WIDTH), nn.Linear(4 * WIDTH, WIDTH)
    xt, wt = torch.tensor(x, requires_grad=True), torch.from_numpy(w)
    causal = torch.ones(STEPS, STEPS, dtype=torch.bool).triu(1)  # True blocks

    def step():
        a, _ = attention(xt, xt, xt, attn_mask=causal, need_weights=False)
        h = norm1(xt + a)
        y = norm2(h + out(torch.relu(hidden(h))))
        (y * wt).sum().backward()

    return step


def attention_only(q: np.ndarray, torch=None):
    if torch is None:
        qt = cr.tensor(q, requires_grad=True)

        def step():
            F.scaled_dot_product_attention(qt, qt, qt, is_causal=True).sum().backward()
    else:
        qt = torch.tensor(q, requires_grad=True)

        def step():
            torch.nn.functional.scaled_dot_product_attention(qt, qt, qt,
                                                             is_causal=True).sum().backward()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    set_threads(args.threads, torch)
    cr.backend.tune_allocator()
    print("\n".join(machine_lines(torch, threads=args.threads)))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, WIDTH)).astype(np.float32)
    w = rng.standard_normal((BATCH, STEPS, WIDTH)).astype(np.float32)
    q = rng.standard_normal((BATCH, HEADS, STEPS, WIDTH // HEADS)).astype(np.float32)
    workloads = {"Transformer block fwd+bwd": (chainrule_block(x, w),
                                               torch and torch_block(torch, x, w)),
                 "attention alone fwd+bwd": (attention_only(q),
                                             torch and attention_only(q, torch))}
    rows = []
    for label, (ours, theirs) in workloads.items():
        fns = {"chainrule": ours, **({"torch": theirs} if theirs else {})}
        cpu: dict = {}
        samples = time_interleaved(fns, args.repeats, cpu=cpu)
        mine, mine_cpu = median(samples["chainrule"]), median(cpu["chainrule"])
        other = median(samples["torch"]) if theirs else None
        other_cpu = median(cpu["torch"]) if theirs else None
        rows.append([label, fmt_time(mine), fmt_time(other), fmt_ratio(mine, other),
                     fmt_time(mine_cpu), fmt_time(other_cpu), fmt_ratio(mine_cpu, other_cpu)])
    print(f"batch {BATCH}, sequence {STEPS}, width {WIDTH}, {HEADS} heads, float32, "
          f"median of {args.repeats}; wall time, then CPU time (all threads)")
    print(markdown_table(["workload", "chainrule ms", "torch ms", "ratio", "chainrule CPU ms",
                          "torch CPU ms", "CPU ratio"], rows))


if __name__ == "__main__":
    main()
