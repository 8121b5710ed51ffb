"""Peak memory of training, chainrule vs torch: ``ru_maxrss`` in a fresh process per run.

For each model (the MLP 784-512-256-10 at batch 128, LeNet on 28x28x1 at batch 64 and
LSTM(128) over 50 steps of 32 features at batch 64, as in ``bench_training.py``) and
each library, a fresh Python process imports ``bench_training`` (the other library's
import blocked, so only the one measured is loaded), builds the model and its batch,
runs two training steps (the second one sees the optimizer's state) and prints its
peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The import
baseline is the same process stopping right after the imports; the table gives the
peak minus the baseline, the median over ``--repeats`` processes. torch sets up much
of itself lazily on its first step (over 100 MiB here), so a second "warm" baseline
runs one step of a 1-input linear model first; the warm columns are the peak minus that.
Both libraries and NumPy's BLAS run on ``--threads`` threads (set through the environment
before import).

Run:  python benchmarks/bench_memory.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys

MODELS = {"MLP": ("mlp", (128,)), "LeNet": ("lenet", ()), "LSTM": ("lstm", ())}
LIBRARIES = ("chainrule", "torch")
BLOCKED = {"chainrule": ("torch", "sklearn"), "torch": ("sklearn",)}  # not loaded


def child(library: str, model: str) -> None:
    """Run in the fresh process: import, build and train ``model`` (or, for "none", only
    import) and print the peak RSS in KiB."""
    for name in BLOCKED[library]:
        sys.modules[name] = None  # makes ``import name`` fail: bench_training skips it
    import bench_training

    if library == "chainrule":
        bench_training.cr.backend.tune_allocator()  # as the benchmarks and the CLI do
    if model == "warm":
        tiny_step(bench_training, library)()
    elif model != "none":
        builder, args = MODELS[model]
        step = getattr(bench_training, builder)(*args)[library]
        step()
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def tiny_step(bench_training, library: str):
    """A training step of a 1-input, 2-class linear model, the same loss and optimizer: it
    loads and initialises what each library sets up lazily on its first step."""
    x, y = bench_training.np.ones((1, 1), "float32"), bench_training.np.zeros(1, "int64")
    if library == "torch":
        return bench_training._torch_step(bench_training.torch.nn.Linear(1, 2), x, y)
    cr = bench_training.cr
    model = cr.models.Sequential([cr.layers.Dense(2, input_dim=1)])
    return bench_training._cr_step(model, x, y, bench_training._sgd(model))


def peak_kib(library: str, model: str, threads: int) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, __file__, "--child", library, model], env=env,
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per cell")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("LIBRARY", "MODEL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from common import machine_lines, markdown_table

    print("\n".join(machine_lines(threads=args.threads)))

    def median_mib(library, model):
        return statistics.median(peak_kib(library, model, args.threads)
                                 for _ in range(args.repeats)) / 1024

    base = {lib: median_mib(lib, "none") for lib in LIBRARIES}
    warm = {lib: median_mib(lib, "warm") for lib in LIBRARIES}
    rows = []
    for model in MODELS:
        peak = {lib: median_mib(lib, model) for lib in LIBRARIES}
        rows.append([model] + [f"{peak[lib] - b[lib]:.1f}" for b in (base, warm)
                               for lib in LIBRARIES]
                    + [f"{(peak['chainrule'] - b['chainrule']) / (peak['torch'] - b['torch']):.2f}×"
                       for b in (base, warm)])
    print("baselines (MiB), after the imports: " + ", ".join(
        f"{lib} {base[lib]:.1f}" for lib in LIBRARIES) + "; after a tiny training step: "
        + ", ".join(f"{lib} {warm[lib]:.1f}" for lib in LIBRARIES)
        + f"; median of {args.repeats} processes each")
    print(markdown_table(["model (2 training steps)", "chainrule MiB", "torch MiB",
                          "chainrule MiB (warm)", "torch MiB (warm)", "cr/torch",
                          "cr/torch (warm)"], rows))
    print("load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
