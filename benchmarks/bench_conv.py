"""LeNet's convolution stack in chainrule and PyTorch (CPU): forward and forward+backward.

The stack is conv 5x5 -> 6, max-pool 2, conv 5x5 -> 16, max-pool 2 on a batch of
64 MNIST-sized images (28 x 28 x 1), float32, as in a LeNet training step; the
input needs no gradient, the kernels and biases do. Each line is the median over
``--repeats`` runs. ``--threads`` (default 2) sets torch's threads and, when
threadpoolctl is installed, NumPy's BLAS threads (on a busy machine ``--threads 1``
gives steadier numbers, and ``--threads 1 --clock cpu`` numbers that other processes
cannot disturb). Run: ``python benchmarks/bench_conv.py``.

``--train`` times whole LeNet training steps instead (forward, cross-entropy, backward,
SGD with momentum; conv5x5->6, ReLU, max-pool 2, conv5x5->16, ReLU, max-pool 2, Flatten,
Dense 120, 84, 10) at the image sizes of ``--sizes`` (default 28, 56, 112), batch 64,
against the same network in torch (NCHW). The two libraries take turns in
``--blocks`` alternating blocks; each block's median step is one sample, and the table
gives the median over blocks of wall time and of process CPU time (all threads), with
the load average before and after:
``python benchmarks/bench_conv.py --train --threads 1`` (and ``--threads 2``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from bench_training import lenet

import chainrule as cr
from chainrule.ops.conv import Conv2d
from chainrule.ops.pool import MaxPool2d


def median_ms(fns: list, repeats: int, rounds: int = 5, clock=time.perf_counter) -> list[float]:
    """Median wall time of each ``fn()`` in milliseconds.

    The functions take turns in ``rounds`` blocks of ``repeats / rounds`` calls
    (after two untimed warm-up calls), so a machine whose load changes during the
    run slows all of them alike, while each block still runs its own workload
    back to back (memory reuse and thread wake-ups as in a training loop).
    """
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, record in zip(fns, times):
            fn()
            fn()
            for _ in range(max(repeats // rounds, 1)):
                start = clock()
                fn()
                record.append(clock() - start)
    return [float(np.median(t)) * 1e3 for t in times]


def chainrule_cases(x: np.ndarray, params: list[np.ndarray]) -> dict:
    k1, b1, k2, b2 = (cr.tensor(p, requires_grad=True) for p in params)
    xt = cr.tensor(x)
    h1 = MaxPool2d.apply(Conv2d.apply(xt, k1, b1), pool_size=2).detach()
    h1.requires_grad = True  # conv2 alone also backpropagates to its input

    def stack():
        h = MaxPool2d.apply(Conv2d.apply(xt, k1, b1), pool_size=2)
        return MaxPool2d.apply(Conv2d.apply(h, k2, b2), pool_size=2)

    def conv2():
        return Conv2d.apply(h1, k2, b2)

    def forward(fn):
        def run():
            with cr.no_grad():
                fn()
        return run

    def forward_backward(fn):
        def run():
            out = fn()
            out.backward(np.ones(out.shape, dtype=out.dtype))
        return run

    return {"stack": (forward(stack), forward_backward(stack)),
            "conv2": (forward(conv2), forward_backward(conv2))}


def torch_cases(torch, x: np.ndarray, params: list[np.ndarray]) -> dict:
    f = torch.nn.functional
    k1, b1, k2, b2 = params
    k1, k2 = (torch.tensor(k.transpose(3, 2, 0, 1).copy(), requires_grad=True) for k in (k1, k2))
    b1, b2 = (torch.tensor(b, requires_grad=True) for b in (b1, b2))
    xt = torch.tensor(x.transpose(0, 3, 1, 2).copy())
    h1 = f.max_pool2d(f.conv2d(xt, k1, b1), 2).detach().requires_grad_()

    def stack():
        h = f.max_pool2d(f.conv2d(xt, k1, b1), 2)
        return f.max_pool2d(f.conv2d(h, k2, b2), 2)

    def conv2():
        return f.conv2d(h1, k2, b2)

    def forward(fn):
        def run():
            with torch.no_grad():
                fn()
        return run

    def forward_backward(fn):
        def run():
            out = fn()
            out.backward(torch.ones_like(out))
        return run

    return {"stack": (forward(stack), forward_backward(stack)),
            "conv2": (forward(conv2), forward_backward(conv2))}


def time_blocks(fns: dict, blocks: int, per_block: int, pause: float = 0.3) -> dict:
    """{name: (wall samples, cpu samples)}: each block's median wall and process-CPU step time
    (seconds); the functions take turns block by block after a pause and two warm-ups."""
    samples = {name: ([], []) for name in fns}
    for _ in range(blocks):
        for name, fn in fns.items():
            time.sleep(pause)  # let the other library's spinning threads go idle
            fn()
            fn()
            walls, cpus = [], []
            for _ in range(per_block):
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                walls.append(time.perf_counter() - w0)
                cpus.append(time.process_time() - c0)
            samples[name][0].append(statistics.median(walls))
            samples[name][1].append(statistics.median(cpus))
    return samples


def train_table(torch, sizes: list[int], batch: int, blocks: int, per_block: int) -> None:
    """Print the LeNet training-step table (median over blocks) for each image size."""
    print("| image | chainrule wall (ms) | torch wall (ms) | wall ratio | chainrule CPU (ms) "
          "| torch CPU (ms) | CPU ratio | load avg before / after |")
    print("|---|--:|--:|--:|--:|--:|--:|--|")
    for size in sizes:
        load = os.getloadavg()[0]
        steps = {k: v for k, v in lenet(size, batch).items() if k in ('chainrule', 'torch')}
        samples = time_blocks(steps, blocks, per_block)
        med = {name: [statistics.median(s) * 1e3 for s in pair]
               for name, pair in samples.items()}
        ours = med["chainrule"]
        theirs = med.get("torch", [float("nan")] * 2)
        print(f"| {size}×{size}×1 | {ours[0]:.2f} | {theirs[0]:.2f} | "
              f"{ours[0] / theirs[0]:.2f}× | {ours[1]:.2f} | {theirs[1]:.2f} | "
              f"{ours[1] / theirs[1]:.2f}× | {load:.2f} / {os.getloadavg()[0]:.2f} |",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: this thread's CPU time, blind to other processes on a busy "
                             "machine (needs --threads 1: other threads' work is not counted)")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's allocator alone (by default the benchmark opts "
                             "in with cr.backend.tune_allocator(); see docs/performance.md)")
    parser.add_argument("--train", action="store_true",
                        help="time whole LeNet training steps at --sizes instead")
    parser.add_argument("--sizes", default="28,56,112", help="image sizes for --train")
    parser.add_argument("--blocks", type=int, default=7,
                        help="alternating blocks for --train (median over blocks)")
    parser.add_argument("--per-block", type=int, default=10, help="steps per block (--train)")
    args = parser.parse_args()
    print(f"glibc allocator tuned: {not args.default_allocator and cr.backend.tune_allocator()}")
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu measures one thread only; use it with --threads 1")
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    try:
        import threadpoolctl
    except ImportError:
        print("threadpoolctl is not installed: NumPy's BLAS uses its default threads.")
    else:
        threadpoolctl.threadpool_limits(args.threads, user_api="blas")

    if args.train:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(args.threads)
        print(f"LeNet training step, batch {args.batch}, {args.threads} thread(s); "
              f"median over {args.blocks} alternating blocks of the per-block median of "
              f"{args.per_block} steps")
        train_table(torch, [int(s) for s in args.sizes.split(",")], args.batch, args.blocks,
                    args.per_block)
        return
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 28, 28, 1), dtype=np.float32)
    params = [rng.standard_normal(s, dtype=np.float32) * 0.1
              for s in ((5, 5, 1, 6), (6,), (5, 5, 6, 16), (16,))]
    results = {"chainrule": chainrule_cases(x, params)}
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not installed: chainrule timings only.")
    if torch is not None:
        torch.set_num_threads(args.threads)
        results["torch"] = torch_cases(torch, x, params)

    labels = {"stack": "conv1+pool+conv2+pool", "conv2": "conv2 alone (12x12x6 -> 16)"}
    print(f"LeNet conv stack, batch {args.batch}, float32, {args.threads} thread(s), "
          f"median {args.clock} time of {args.repeats} runs (ms)")
    print(f"{'workload':30s} {'pass':>8s} {'chainrule':>10s} {'torch':>8s} {'ratio':>6s}")
    for case, label in labels.items():
        for p, name in enumerate(("forward", "fwd+bwd")):
            ours, *theirs = median_ms([cases[case][p] for cases in results.values()],
                                      args.repeats, clock=clock)
            line = f"{label:30s} {name:>8s} {ours:10.3f}"
            if theirs:
                line += f" {theirs[0]:8.3f} {ours / theirs[0]:6.2f}"
            print(line)

if __name__ == "__main__":
    main()
