"""How chainrule's training step scales next to torch's: chainrule/torch ratio curves.

Three workloads, each swept over its size, at 1 and at 2 threads:

- MLP 784-512-256-10 (``bench_training.mlp``) over batch sizes 8 .. 2048;
- LeNet (``bench_training.lenet``) on 28, 56 and 112 pixel square images, batch 64;
- LSTM(128) + Dense(1) (``bench_recurrent``, torch holding chainrule's weights) over
  T = 10, 50 and 200 steps of 32 features, batch 64.

At each point the two libraries take turns in ``--blocks`` blocks (``common.
time_interleaved``), torch on ``torch.set_num_threads(n)`` and chainrule inside
``cr.backend.limit_blas_threads(n)``. A row gives each library's median step time, the
ratio of the medians and its spread: the lowest and highest ratio of the per-block
medians; and the ratio of the median CPU times of the process (less sensitive to other
jobs on the machine, but it counts idle threads that spin). Writes ``<out>.csv`` and
``<out>.png`` (default: the repository's ``docs/img/scaling``, from any folder) and
prints a Markdown table.

Run:  python benchmarks/bench_curves.py --quick     # a few minutes
      python benchmarks/bench_curves.py             # the fuller run (more sizes, repeats)
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
from pathlib import Path

import numpy as np
from bench_recurrent import chainrule_step as rnn_chainrule_step
from bench_recurrent import torch_step as rnn_torch_step
from bench_training import lenet, mlp, torch
from common import machine_lines, markdown_table, time_interleaved

import chainrule as cr

SWEEPS = {  # workload -> (size label, sizes in the full run, sizes with --quick)
    "MLP": ("batch", [8, 32, 128, 512, 2048], [8, 128, 2048]),
    "LeNet": ("image side", [28, 56, 112], [28, 56, 112]),
    "LSTM": ("T", [10, 50, 200], [10, 50, 200]),
}


def lstm(steps: int) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, steps, 32)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    return {"chainrule": rnn_chainrule_step("LSTM", x, y, composite=False),
            "torch": rnn_torch_step(torch, "LSTM", x, y)}


BUILDERS = {"MLP": mlp, "LeNet": lenet, "LSTM": lstm}


def block_ratios(samples: dict, blocks: int) -> list[float]:
    """chainrule/torch of the per-block medians (samples come block after block)."""
    size = len(samples["torch"]) // blocks
    return [statistics.median(samples["chainrule"][b * size:(b + 1) * size])
            / statistics.median(samples["torch"][b * size:(b + 1) * size])
            for b in range(blocks)]


def measure(workload: str, size: int, threads: int, repeats: int, blocks: int) -> dict:
    """One point of a curve: medians (ms), ratio and its spread over the blocks."""
    steps = {k: v for k, v in BUILDERS[workload](size).items() if k in ("chainrule", "torch")}
    cpu: dict[str, list[float]] = {}
    torch.set_num_threads(threads)
    with cr.backend.limit_blas_threads(threads):
        samples = time_interleaved(steps, repeats - repeats % blocks, warmup=1, rounds=blocks,
                                   pause=0.2, cpu=cpu)
    cr_ms, torch_ms = (1e3 * statistics.median(samples[k]) for k in ("chainrule", "torch"))
    cr_cpu, torch_cpu = (statistics.median(cpu[k]) for k in ("chainrule", "torch"))
    ratios = block_ratios(samples, blocks)
    return {"workload": workload, "size": size, "threads": threads,
            "chainrule_ms": round(cr_ms, 3), "torch_ms": round(torch_ms, 3),
            "ratio": round(cr_ms / torch_ms, 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3), "cpu_ratio": round(cr_cpu / torch_cpu, 3),
            "load1": round(os.getloadavg()[0], 2)}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SWEEPS), figsize=(12, 3.8), sharey=True)
    for ax, (workload, (label, *_)) in zip(axes, SWEEPS.items()):
        for threads, marker in ((1, "o"), (2, "s")):
            points = [r for r in rows if r["workload"] == workload and r["threads"] == threads]
            if not points:
                continue
            x = [r["size"] for r in points]
            y = np.array([r["ratio"] for r in points])
            # the ratio of the overall medians may fall outside the per-block ones
            spread = [np.maximum(y - [r["ratio_min"] for r in points], 0),
                      np.maximum([r["ratio_max"] for r in points] - y, 0)]
            ax.errorbar(x, y, yerr=spread, marker=marker, capsize=3,
                        label=f"{threads} thread{'s' * (threads > 1)}")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.axhline(1.2, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xticks([r["size"] for r in rows if r["workload"] == workload and r["threads"]
                       == rows[0]["threads"]])
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_title(workload)
        ax.set_xlabel(label)
    axes[0].set_ylabel("chainrule / torch, train step")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, help="samples per point (default 30, quick 9)")
    parser.add_argument("--blocks", type=int, help="alternating blocks (default 5, quick 3)")
    parser.add_argument("--only", choices=list(SWEEPS), action="append",
                        help="run only this workload (repeatable)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs"
                                             / "img" / "scaling"),
                        help="path stem of .csv/.png (default: the repository's docs/img/scaling)")
    parser.add_argument("--replot", action="store_true",
                        help="measure nothing: redraw the plot and table from <out>.csv")
    args = parser.parse_args()
    out = Path(args.out)
    rows = read_csv(out.with_suffix(".csv")) if args.replot else run(args, out)
    plot(rows, out.with_suffix(".png"))
    print(markdown_table(
        ["workload", "size", "threads", "chainrule ms", "torch ms", "cr/torch", "spread",
         "CPU-time ratio", "load"],
        [[r["workload"], r["size"], r["threads"], f"{r['chainrule_ms']:.2f}",
          f"{r['torch_ms']:.2f}", f"{r['ratio']:.2f}×", f"{r['ratio_min']:.2f}–"
          f"{r['ratio_max']:.2f}", f"{r['cpu_ratio']:.2f}×", f"{r['load1']:.2f}"] for r in rows]))
    print(f"wrote {out.with_suffix('.png')}; load average "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v if k == "workload" else (int(v) if k in ("size", "threads") else
                                                float(v)) for k, v in row.items()}
                for row in csv.DictReader(f)]


def run(args, out: Path) -> list[dict]:
    """Measure every point and write them to ``out``.csv."""
    repeats = args.repeats or (9 if args.quick else 30)
    blocks = args.blocks or (3 if args.quick else 5)
    print(f"glibc allocator tuned: {cr.backend.tune_allocator()}")
    print("\n".join(machine_lines(torch)))
    rows = []
    for threads in (int(n) for n in args.threads.split(",")):
        for workload, (_, full, quick) in SWEEPS.items():
            if args.only and workload not in args.only:
                continue
            for size in quick if args.quick else full:
                rows.append(measure(workload, size, threads, repeats, blocks))
                print(rows[-1], flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


if __name__ == "__main__":
    main()
