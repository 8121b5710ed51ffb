"""Data-parallel training over MPI: 2 ranks against 1 process, seconds per epoch (issue 15).

Workloads (synthetic data of the real shapes: an epoch's time does not depend on the values):

- ``churn``: the tutorial's 11-6-6-1 network (relu, relu, sigmoid, "uniform" initializer),
  8,000 rows, batch 10, Adam, binary cross-entropy, ``metrics=["accuracy"]``.
- ``mlp``: MLP 784-512-256-10 (relu, softmax), 10,000 rows (the bundled MNIST's size),
  batch 128, SGD with momentum 0.9, sparse categorical cross-entropy.

Each configuration is a fresh process (or pair of processes under ``mpiexec -n 2``) that
trains one warm-up epoch, then times ``--epochs`` epochs of ``fit``:

- ``1 x 1 thread``: one process, one BLAS thread, batch B;
- ``1 x 2 threads``: one process, two BLAS threads, batch B;
- ``2 ranks x B/2``: two processes, one BLAS thread each, ``fit(batch_size=B/2,
  distributed=True)``: the same training as 1 x B (same global batches and steps);
- ``2 ranks x B``: two processes, B rows each (a global batch of 2B, half the steps), as
  Horovod usually scales.

The configurations take turns in ``--rounds`` rounds, so load that comes and goes on a
shared machine falls on all of them. The table gives the median over every timed
epoch and the fastest (the least disturbed on a busy machine), each with its ratio
against 1 x 1 thread. Goal: 2 ranks at most 0.7x of 1 x 1 thread on mlp.

``--parts`` measures where the time of ``2 ranks x B/2`` on the MLP goes, on 2 ranks:
one allreduce of the MLP's gradients (blocking ``MPI.Allreduce``, and chainrule's
deadline-polled one), and per epoch the time each rank spends inside the group's
collectives (the exchange plus waiting for the other rank) against the whole epoch.

Run:  python benchmarks/bench_distributed.py [--rounds 3] [--epochs 3] [--only mlp]
      python benchmarks/bench_distributed.py --parts
(needs the mpi extra: pip install -e ".[mpi]"; mpiexec beside this Python or on PATH)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import machine_lines, markdown_table, median, set_threads

import chainrule as cr

WORKLOADS = {  # name: (description, batch B, rows)
    "churn": ("churn 11-6-6-1, 8,000 rows, batch 10, Adam", 10, 8000),
    "mlp": ("MLP 784-512-256-10, 10,000 rows, batch 128, SGD momentum", 128, 10000),
}
CONFIGS = {  # name: (ranks, BLAS threads, rows per rank as a fraction of B)
    "1 x 1 thread": (1, 1, 1.0),
    "1 x 2 threads": (1, 2, 1.0),
    "2 ranks x B/2": (2, 1, 0.5),
    "2 ranks x B": (2, 1, 1.0),
}


def build(workload: str) -> tuple[cr.models.Sequential, np.ndarray, np.ndarray]:
    """The compiled model and its synthetic data."""
    gen = np.random.default_rng(0)
    rows = WORKLOADS[workload][2]
    if workload == "churn":
        x = gen.normal(size=(rows, 11)).astype(np.float32)
        y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
        init = {"kernel_initializer": "uniform"}
        model = cr.models.Sequential([
            cr.layers.Dense(6, activation="relu", input_dim=11, **init),
            cr.layers.Dense(6, activation="relu", **init),
            cr.layers.Dense(1, activation="sigmoid", **init)])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    else:
        x = gen.random((rows, 784), dtype=np.float32)
        y = gen.integers(0, 10, rows)
        model = cr.models.Sequential([cr.layers.Dense(512, activation="relu", input_dim=784),
                                      cr.layers.Dense(256, activation="relu"),
                                      cr.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=cr.optim.SGD(lr=0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy")
    return model, x, y


class EpochClock(cr.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def worker(workload: str, batch: int, threads: int, epochs: int, distributed: bool) -> None:
    """Train and print the timed epochs' seconds (rank 0) as JSON."""
    set_threads(threads)
    cr.backend.tune_allocator()
    if distributed:
        cr.distributed.init()
    cr.manual_seed(0)
    model, x, y = build(workload)
    clock = EpochClock()
    model.fit(x, y, batch_size=batch, epochs=1 + epochs, verbose=0, distributed=distributed,
              callbacks=[clock])
    if cr.distributed.rank() == 0:
        print(json.dumps(clock.seconds[1:]))


def parts_worker(epochs: int, repeats: int = 100) -> None:
    """Under mpiexec -n 2: allreduce timings, then MLP epochs at B/2 with the time spent
    in collectives; each rank prints one JSON line."""
    set_threads(1)
    group = cr.distributed.init()
    cr.manual_seed(0)
    model, x, y = build("mlp")
    grads = np.ones(sum(p.data.size for p in model.parameters()), np.float32)

    def blocking():
        group.comm.Allreduce(group.MPI.IN_PLACE, grads, op=group.MPI.SUM)

    out = {"rank": group.rank, "floats": int(grads.size)}
    for name, run in (("blocking_ms", blocking),
                      ("chainrule_ms", lambda: group.allreduce(grads, "bench"))):
        group.barrier("bench")
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        out[name] = 1e3 * (time.perf_counter() - start) / repeats
    inside = [0.0]
    plain = group.allreduce

    def timed(array, what):
        start = time.perf_counter()
        plain(array, what)
        inside[0] += time.perf_counter() - start
        return array

    group.allreduce = timed  # this benchmark's own instance: the exchange, timed
    out["epochs"] = []
    for _ in range(1 + epochs):
        inside[0] = 0.0
        start = time.perf_counter()
        model.fit(x, y, batch_size=WORKLOADS["mlp"][1] // 2, epochs=1, verbose=0,
                  distributed=True)
        out["epochs"].append([time.perf_counter() - start, inside[0]])
    out["epochs"] = out["epochs"][1:]
    print(json.dumps(out), flush=True)


def parts(epochs: int) -> None:
    command = [mpiexec(), "-n", "2", sys.executable, __file__, "--parts-worker",
               "--epochs", str(epochs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"--parts failed:\n{done.stdout}{done.stderr}")
    print("\n".join(machine_lines()))
    for r in sorted(_json_objects(done.stdout), key=lambda r: r["rank"]):
        epochs_text = ", ".join(f"{t:.3f} s ({c:.3f} s in collectives)" for t, c in r["epochs"])
        print(f"rank {r['rank']}: allreduce of {r['floats']:,} float32: blocking "
              f"{r['blocking_ms']:.2f} ms, chainrule {r['chainrule_ms']:.2f} ms; "
              f"MLP epochs at B/2: {epochs_text}")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load average at the end: {load}")


def _json_objects(text: str) -> list[dict]:
    """The JSON objects in ``text``: mpiexec may join two ranks' lines into one."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) >= 0:
        obj, at = decoder.raw_decode(text, at)
        found.append(obj)
    return found


def mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit("bench_distributed needs mpiexec (pip install -e '.[mpi]')")
    return found


def run_config(workload: str, config: str, epochs: int) -> list[float]:
    ranks, threads, share = CONFIGS[config]
    batch = max(1, int(WORKLOADS[workload][1] * share))
    command = [sys.executable, __file__, "--worker", workload, "--batch", str(batch),
               "--threads", str(threads), "--epochs", str(epochs)]
    if ranks > 1:
        command = [mpiexec(), "-n", str(ranks), *command, "--distributed"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"{config} failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--worker", choices=list(WORKLOADS))
    parser.add_argument("--batch", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--distributed", action="store_true")
    parser.add_argument("--parts", action="store_true")
    parser.add_argument("--parts-worker", action="store_true")
    args = parser.parse_args()
    if args.parts_worker:
        parts_worker(args.epochs)
        return
    if args.parts:
        parts(args.epochs)
        return
    if args.worker:
        worker(args.worker, args.batch, args.threads, args.epochs, args.distributed)
        return
    print("\n".join(machine_lines()))
    for workload in args.only.split(","):
        samples: dict[str, list[float]] = {config: [] for config in CONFIGS}
        for _ in range(args.rounds):
            for config in CONFIGS:
                samples[config] += run_config(workload, config, args.epochs)
        rows = [[config] + [f"{cell:.3f}" if i % 2 == 0 else f"{cell:.2f}×"
                            for i, cell in enumerate(_cells(s, samples["1 x 1 thread"]))]
                + [str(len(s))] for config, s in samples.items()]
        print(f"\n{WORKLOADS[workload][0]}: seconds per epoch\n")
        print(markdown_table(["configuration", "median s", "ratio", "fastest s", "ratio",
                              "epochs"], rows))
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\nload average at the end: {load}")


def _cells(samples: list[float], base: list[float]) -> list[float]:
    """Median, its ratio to the base's median, fastest, its ratio to the base's fastest."""
    return [median(samples), median(samples) / median(base), min(samples),
            min(samples) / min(base)]


if __name__ == "__main__":
    main()
