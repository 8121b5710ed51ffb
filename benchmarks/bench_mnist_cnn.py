"""One training epoch of the MNIST CNN walkthrough's network: chainrule ``fit`` vs PyTorch (CPU).

The network: Conv2D(32, 3x3, relu), MaxPooling2D(2), Conv2D(64, 3x3, relu),
MaxPooling2D(2), Flatten, Dropout(0.5), Dense(128, relu), Dense(10), softmax
cross-entropy, Adam (lr 1e-3), batch 64, on the same 8,000 MNIST training images
(shipped with chainrule). chainrule runs ``model.fit(x, y, epochs=1, verbose=0)``
on (N, 28, 28, 1) exactly as ``chainrule.tutorials.mnist_cnn`` builds it; torch runs
the same layers in NCHW as a hand-written shuffled loop (``nn.CrossEntropyLoss`` on logits). One
process, the two take turns epoch by epoch (``common.time_interleaved``); each
cell is the median over ``--repeats`` epochs. Goal: chainrule <= 1.5x torch.

``--profile`` instead runs one chainrule epoch under cProfile and prints where the
time goes, grouped by part (conv forward/backward, pooling, dense, activations,
loss, optimizer, autograd bookkeeping, fit overhead).

    python benchmarks/bench_mnist_cnn.py [--threads 2] [--repeats 5] [--profile]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import numpy as np
from common import fmt_ratio, machine_lines, markdown_table, median, set_threads, time_interleaved

import chainrule as cr
from chainrule.tutorials import mnist_cnn

try:
    import torch
except ImportError:  # the chainrule column still prints
    torch = None

GOAL = 1.5


def training_data() -> tuple[np.ndarray, np.ndarray, str]:
    """(x (8000, 28, 28, 1) float32, y (8000,) int64, where they came from)."""
    x, y, _, _ = mnist_cnn.load_split()
    return x, y, "MNIST, first 8,000 test-release images"


def chainrule_epoch(x: np.ndarray, y: np.ndarray):
    """One ``fit`` epoch of the example's compiled CNN (built by a warm-up call)."""
    cr.manual_seed(0)
    model = mnist_cnn.build_cnn()

    def epoch():
        model.fit(x, y, batch_size=mnist_cnn.BATCH_SIZE, epochs=1, verbose=0)

    return epoch


def torch_epoch(x: np.ndarray, y: np.ndarray):
    """The same network and epoch in torch (NCHW, logits + CrossEntropyLoss, Adam)."""
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Dropout(0.5), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    batch = mnist_cnn.BATCH_SIZE

    def epoch():
        net.train()
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), batch):
            idx = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()

    return epoch


# Where each function's own time (tottime) is counted: the first rule whose file
# fragment and function name match. Functions matching no rule are "other".
PARTS = (
    ("conv forward", "ops/conv.py", ("forward", "_conv", "im2col", "window_view",
                                     "pad_spatial", "as_strided")),
    ("conv backward", "ops/conv.py", ("backward", "col2im", "crop_spatial")),
    ("pooling", "ops/pool.py", ()),
    ("dense (matmul)", "ops/linalg.py", ()),
    ("activations", "ops/activation.py", ()),
    ("loss", "ops/loss.py", ()),
    ("loss", "losses.py", ()),
    ("dropout / elementwise", "ops/arithmetic.py", ()),
    ("dropout / elementwise", "functional.py", ("dropout",)),
    ("optimizer", "optim/", ()),
    ("autograd bookkeeping", "autograd.py", ()),
    ("autograd bookkeeping", "tensor.py", ()),
    ("layers / modules", "layers/", ()),
    ("layers / modules", "module.py", ()),
    ("fit overhead (batches, metrics)", "models/", ()),
    ("fit overhead (batches, metrics)", "metrics.py", ()),
    ("fit overhead (batches, metrics)", "callbacks.py", ()),
)


def part_of(filename: str, function: str) -> str:
    for part, fragment, names in PARTS:
        if fragment in filename.replace("\\", "/") and (not names or function in names):
            return part
    return "other (NumPy calls made from the parts above, builtins)"


def profile_epoch(x: np.ndarray, y: np.ndarray, top: int = 12) -> None:
    """cProfile one chainrule epoch; print the seconds per part and the top functions.

    A NumPy function called from an op (``np.zeros`` in ``col2im``) is a builtin with
    its own entry; it is charged to its caller's part through pstats' callers table.
    """
    import cProfile
    import pstats

    epoch = chainrule_epoch(x, y)
    epoch()  # warm-up: builds the lazy weights
    profiler = cProfile.Profile()
    profiler.enable()
    epoch()
    profiler.disable()
    stats = pstats.Stats(profiler)
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, tottime, _, callers) in stats.stats.items():
        if "chainrule" in filename or not callers:
            totals[part_of(filename, function)] += tottime
            continue
        # a builtin or library function: split its time over its callers' parts
        caller_total = sum(c[2] for c in callers.values()) or 1.0
        for (c_file, _, c_func), c_stats in callers.items():
            share = tottime * c_stats[2] / caller_total
            part = (part_of(c_file, c_func) if "chainrule" in c_file
                    else "other (NumPy calls made from the parts above, builtins)")
            totals[part] += share
    whole = sum(totals.values())
    print(f"## one chainrule fit epoch under cProfile: {whole:.2f} s (profiling adds overhead)")
    rows = [[part, f"{sec:.3f}", f"{sec / whole:.0%}"]
            for part, sec in sorted(totals.items(), key=lambda kv: -kv[1])]
    print(markdown_table(["part", "seconds", "share"], rows))
    print(f"\n## top {top} functions by own time")
    stats.stream = sys.stdout
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2,
                        help="NumPy BLAS and torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per contender")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one chainrule epoch instead of timing")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's allocator alone (by default the benchmark opts "
                             "in with cr.backend.tune_allocator(); see docs/performance.md)")
    args = parser.parse_args()
    print(f"glibc allocator tuned: {not args.default_allocator and cr.backend.tune_allocator()}")
    threads = set_threads(args.threads, torch)
    x, y, source = training_data()
    if args.profile:
        profile_epoch(x, y)
        return
    epochs = {"chainrule": chainrule_epoch(x, y)}
    if torch is not None:
        epochs["torch"] = torch_epoch(x, y)
    samples = time_interleaved(epochs, repeats=args.repeats, warmup=1)
    seconds = {name: median(s) for name, s in samples.items()}

    print("# MNIST CNN, one training epoch: python benchmarks/bench_mnist_cnn.py "
          + " ".join(sys.argv[1:]))
    print()
    for line in machine_lines(torch, threads=threads):
        print(f"- {line}")
    print(f"- data: {source}, {len(x)} images, batch {mnist_cnn.BATCH_SIZE}, Adam; "
          f"median of {args.repeats} epochs each, contenders interleaved")
    print()
    ours, theirs = seconds["chainrule"], seconds.get("torch")
    ratio = fmt_ratio(ours, theirs)
    met = "—" if theirs is None else ("yes" if ours / theirs <= GOAL else "no")
    print(markdown_table(["workload", "chainrule s/epoch", "torch s/epoch", "cr/torch",
                          f"goal ≤ {GOAL}×", ],
                         [["MNIST CNN (8,000 images)", f"{ours:.2f}",
                           "—" if theirs is None else f"{theirs:.2f}", ratio, met]]))


if __name__ == "__main__":
    main()
