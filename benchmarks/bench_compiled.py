"""The compiled kernels (numba, an opt-in) against the NumPy ones: LeNet train steps, A/B.

One process, one model per image size (``bench_training.lenet``): its train step runs
with the NumPy kernels, with the compiled ones (``cr.backend.use_compiled_kernels``)
and, when torch is installed, the same network in torch, taking turns in ``--blocks``
blocks of ``--per-block`` steps after a pause and two warm-ups. Each cell is the median
over blocks of the block medians (wall ms). The first line per size is the first
compiled step's seconds (compilation, or loading numba's disk cache).

Run:  python benchmarks/bench_compiled.py --threads 1      # and --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench_conv import time_blocks
from bench_training import lenet, torch

import chainrule as cr


def with_kernels(step, compiled: bool):
    """``step`` run with the compiled kernels on or off."""
    def run():
        cr.backend.use_compiled_kernels(compiled)
        step()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="28,56,112")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--per-block", type=int, default=5)
    args = parser.parse_args()
    cr.backend.tune_allocator()
    if torch is not None:
        torch.set_num_threads(args.threads)
    print("| image | threads | NumPy kernels ms | compiled ms | torch ms | compiled / NumPy "
          "| compiled / torch | first compiled step s | load before / after |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--|")
    with cr.backend.limit_blas_threads(args.threads):
        for size in (int(s) for s in args.sizes.split(",")):
            load = os.getloadavg()[0]
            steps = lenet(size)
            cr.backend.use_compiled_kernels(True)
            start = time.perf_counter()
            steps["chainrule"]()
            first = time.perf_counter() - start

            fns = {"numpy": with_kernels(steps["chainrule"], False),
                   "compiled": with_kernels(steps["chainrule"], True)}
            if "torch" in steps:
                fns["torch"] = steps["torch"]
            samples = time_blocks(fns, args.blocks, args.per_block)
            med = {k: statistics.median(walls) * 1e3 for k, (walls, _) in samples.items()}
            theirs = med.get("torch", float("nan"))
            print(f"| {size}×{size}×1 | {args.threads} | {med['numpy']:.2f} | "
                  f"{med['compiled']:.2f} | {theirs:.2f} | {med['compiled'] / med['numpy']:.2f}× "
                  f"| {med['compiled'] / theirs:.2f}× | {first:.2f} | "
                  f"{load:.2f} / {os.getloadavg()[0]:.2f} |", flush=True)
    cr.backend.use_compiled_kernels(False)


if __name__ == "__main__":
    main()
