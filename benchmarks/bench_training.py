"""Training speed, chainrule vs PyTorch (CPU) and scikit-learn, on the same data in one process.

Rows (per training step = forward + loss + backward + optimizer update):

- ``mlp128`` / ``mlp32``: MLP 784-512-256-10, ReLU, softmax cross-entropy, SGD with
  momentum 0.9, batch 128 / 32. scikit-learn: ``MLPClassifier(hidden_layer_sizes=
  (512, 256), solver="sgd", momentum=0.9, nesterovs_momentum=False, alpha=0)``, one
  ``partial_fit`` on the batch per step.
- ``lenet``: conv5x5->6, max-pool 2, conv5x5->16, max-pool 2, Flatten, Dense 120, 84, 10
  (ReLU) on 28x28x1, batch 64, SGD momentum (torch in NCHW, chainrule channels-last).
- ``lstm``: LSTM(128) over 50 steps of 32 features, batch 64, Dense(10) head on the last
  hidden state, cross-entropy, SGD momentum.
- ``churn``: one epoch (seconds) of the tutorial's 11-6-6-1 network (relu, relu, sigmoid,
  ``kernel_initializer="uniform"``) on 8,000 rows, batch 10, Adam, binary cross-entropy:
  chainrule through ``compile(metrics=["accuracy"])`` + ``fit(epochs=1, verbose=0)`` as the
  tutorial writes it; torch as a hand-written shuffled loop; scikit-learn as
  ``MLPClassifier(hidden_layer_sizes=(6, 6), batch_size=10, solver="adam", alpha=0)``
  with one ``partial_fit`` on all 8,000 rows, which is exactly one shuffled epoch of
  800 mini-batches in scikit-learn's own loop (per-batch ``partial_fit`` calls would add
  its input validation 800 times). Real data from ``Churn_Modelling.csv`` when present.

Each cell is the median (``--stat min``: the minimum) over ``--repeats`` samples after
warm-up; the contenders take turns within each round (see ``common.time_interleaved``).
BLAS and torch use the same thread count (NumPy's BLAS default unless ``--threads``).
The header names the OpenBLAS kernels NumPy runs (``OPENBLAS_CORETYPE`` pins them).

Run:  python benchmarks/bench_training.py [--quick] [--only NAME[,NAME]] [--threads N]
      [--stat median|min] [--repeats N] [--profile]
``--profile`` prints cProfile's top functions (by tottime) of the chainrule side instead.
On a busy machine use ``--threads 1``: BLAS and torch threads that wait for a
descheduled partner slowed 2-thread steps by 30x in measurements here.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

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

try:
    import torch
except ImportError:  # the other columns still print
    torch = None
try:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
except ImportError:
    sklearn = None

LR = 0.01


class Skipped(Exception):
    """A contender cannot run this row (its message says why)."""


@dataclass
class Workload:
    title: str
    unit: str  # "ms" per step or "s" per epoch
    build: Callable[[], dict[str, Callable[[], object]]]  # {"chainrule": step, "torch": ...}
    goals: dict[str, float] = field(default_factory=dict)  # peer -> max chainrule/peer ratio
    epochs: bool = False  # one call is an epoch (fewer repeats)


# ---------------------------------------------------------------- helpers


def _cr_step(model, x: np.ndarray, y: np.ndarray, optimizer) -> Callable[[], None]:
    """One PyTorch-style chainrule step: forward, cross-entropy, backward, update."""
    xt, yt = cr.tensor(x), cr.tensor(y)

    def step():
        optimizer.zero_grad()
        loss = cr.functional.cross_entropy(model(xt), yt)
        loss.backward()
        optimizer.step()

    return step


def _torch_step(net, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """The same step in torch with ``torch.optim.SGD(momentum=0.9)``."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=0.9)
    loss_fn = torch.nn.functional.cross_entropy

    def step():
        optimizer.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        optimizer.step()

    return step


def _sgd(model) -> cr.optim.SGD:
    return cr.optim.SGD(model.parameters(), lr=LR, momentum=0.9)


def _classes(n: int, batch: int, rng) -> np.ndarray:
    return rng.integers(0, n, batch).astype(np.int64)


# ---------------------------------------------------------------- workloads


def mlp(batch: int) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 784), dtype=np.float32)
    y = _classes(10, batch, rng)
    cr.manual_seed(0)
    L = cr.layers
    model = cr.models.Sequential([L.Dense(512, activation="relu", input_dim=784),
                                  L.Dense(256, activation="relu"), L.Dense(10)])
    steps = {"chainrule": _cr_step(model, x, y, _sgd(model))}
    if torch is not None:
        nn = torch.nn
        net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                            nn.Linear(256, 10))
        steps["torch"] = _torch_step(net, x, y)
    if sklearn is not None:
        clf = MLPClassifier(hidden_layer_sizes=(512, 256), solver="sgd", momentum=0.9,
                            nesterovs_momentum=False, batch_size=batch, alpha=0.0,
                            learning_rate_init=LR, random_state=0)
        clf.partial_fit(x, y, classes=np.arange(10))
        steps["sklearn"] = lambda: clf.partial_fit(x, y)
    return steps


def lenet(size: int = 28, batch: int = 64) -> dict[str, Callable[[], object]]:
    """LeNet on ``size`` x ``size`` x 1 images (28 in the table; bench_curves.py and
    bench_conv.py --train vary it)."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 1), dtype=np.float32)
    y = _classes(10, batch, rng)
    cr.manual_seed(0)
    L = cr.layers
    model = cr.models.Sequential([
        L.Conv2D(6, 5, activation="relu", input_shape=(size, size, 1)), L.MaxPooling2D(2),
        L.Conv2D(16, 5, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(120, activation="relu"), L.Dense(84, activation="relu"), L.Dense(10)])
    steps = {"chainrule": _cr_step(model, x, y, _sgd(model))}
    if torch is not None:
        nn = torch.nn
        side = ((size - 4) // 2 - 4) // 2  # after conv 5, pool 2, conv 5, pool 2
        net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(16 * side * side, 120), nn.ReLU(), nn.Linear(120, 84),
                            nn.ReLU(),
                            nn.Linear(84, 10))
        steps["torch"] = _torch_step(net, np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y)
    return steps


def lstm() -> dict[str, Callable[[], object]]:
    try:
        from chainrule.layers import LSTM
    except ImportError as err:
        raise Skipped(f"cr.layers.LSTM is not importable yet ({err})") from None
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 50, 32), dtype=np.float32)
    y = _classes(10, 64, rng)
    cr.manual_seed(0)
    model = cr.models.Sequential([LSTM(128, input_shape=(50, 32)), cr.layers.Dense(10)])
    steps = {"chainrule": _cr_step(model, x, y, _sgd(model))}
    if torch is not None:
        class TorchLSTM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = torch.nn.LSTM(32, 128, batch_first=True)
                self.head = torch.nn.Linear(128, 10)

            def forward(self, inputs):
                _, (h, _) = self.lstm(inputs)
                return self.head(h[-1])

        steps["torch"] = _torch_step(TorchLSTM(), x, y)
    return steps


def churn_data() -> tuple[np.ndarray, np.ndarray, str]:
    """8,000 standardised rows of 11 features and 0/1 targets, and where they came from."""
    x, y, _ = cr.datasets.load_churn()
    x, y, source = x[:8000], y[:8000], "Churn_Modelling.csv (shipped), first 8,000 rows"
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    return x, y, source


def churn() -> dict[str, Callable[[], object]]:
    x, y, _ = churn_data()
    steps = {}
    try:
        from chainrule.models import Sequential
    except ImportError as err:
        raise Skipped(f"cr.models.Sequential is not importable yet ({err})") from None
    cr.manual_seed(0)
    Dense = cr.layers.Dense
    model = Sequential()
    model.add(Dense(units=6, kernel_initializer="uniform", activation="relu", input_dim=11))
    model.add(Dense(units=6, kernel_initializer="uniform", activation="relu"))
    model.add(Dense(units=1, kernel_initializer="uniform", activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    steps["chainrule"] = lambda: model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    if torch is not None:
        steps["torch"] = _torch_churn_epoch(x, y)
    if sklearn is not None:
        clf = MLPClassifier(hidden_layer_sizes=(6, 6), batch_size=10, solver="adam",
                            alpha=0.0, random_state=0)

        def sklearn_epoch():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.partial_fit(x, y, classes=np.arange(2))

        steps["sklearn"] = sklearn_epoch
    return steps


def _torch_churn_epoch(x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """A hand-written torch epoch: shuffled batches of 10, BCE on sigmoid outputs, Adam."""
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(11, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(),
                        nn.Linear(6, 1), nn.Sigmoid())
    with torch.no_grad():
        for module in net:
            if isinstance(module, nn.Linear):
                module.weight.uniform_(-0.05, 0.05)
                module.bias.zero_()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.BCELoss()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.float32)).unsqueeze(1)
    n = len(xt)

    def epoch():
        order = torch.randperm(n)
        for start in range(0, n, 10):
            idx = order[start:start + 10]
            optimizer.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()

    return epoch


WORKLOADS = {
    "mlp128": Workload("MLP 784-512-256-10, batch 128", "ms", lambda: mlp(128),
                       {"torch": 1.0}),
    "mlp32": Workload("MLP 784-512-256-10, batch 32", "ms", lambda: mlp(32), {"torch": 1.0}),
    "lenet": Workload("LeNet CNN 28×28×1, batch 64", "ms", lenet, {"torch": 1.5}),
    "lstm": Workload("LSTM(128), 50×32, batch 64", "ms", lstm, {"torch": 1.3}),
    "churn": Workload("churn 11-6-6-1, 8,000 rows, batch 10, Adam (1 epoch)", "s", churn,
                      {"torch": 0.5, "sklearn": 1.5}, epochs=True),
}
PEERS = ("torch", "sklearn")


# ---------------------------------------------------------------- report


def run_row(work: Workload, quick: bool, repeats: int | None, stat: str) -> list[str]:
    """Time one workload and return its table row."""
    unit = f"{work.unit}/{'epoch' if work.epochs else 'step'}"
    goal_text = ", ".join(f"≤ {g:g}× {peer}" for peer, g in work.goals.items())
    try:
        fns = work.build()
    except Skipped as why:
        return [work.title, unit, f"skipped: {why}", "—", "—", "—", "—", goal_text, "—"]
    if repeats is None:
        repeats = (2 if quick else 5) if work.epochs else (5 if quick else 30)
    warmup = 1 if work.epochs or quick else 3
    samples = time_interleaved(fns, repeats, warmup)
    aggregate = min if stat == "min" else median
    t = {lib: aggregate(s) for lib, s in samples.items()}
    ours = t["chainrule"]
    met = []
    for peer, goal in work.goals.items():
        if peer in t:
            met.append(ours / t[peer] <= goal)
    verdict = "—" if not met else ("yes" if all(met) else "no")
    return [work.title, unit, *(fmt_time(t.get(lib), work.unit) for lib in ("chainrule",
                                                                            *PEERS)),
            *(fmt_ratio(ours, t.get(peer)) for peer in PEERS), goal_text, verdict]


def profile_row(work: Workload, quick: bool, top: int = 15) -> None:
    """cProfile the chainrule side of one workload and print the top functions by tottime."""
    import cProfile
    import pstats

    try:
        step = work.build()["chainrule"]
    except Skipped as why:
        print(f"## {work.title}: skipped: {why}")
        return
    calls = 1 if work.epochs else (5 if quick else 20)
    step()  # warm-up (builds lazy weights, fills caches)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        step()
    profiler.disable()
    print(f"## {work.title}: chainrule, {calls} {'epoch' if work.epochs else 'step'}(s), "
          f"top {top} by tottime")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated rows or prefixes of {list(WORKLOADS)}")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and torch threads (default: NumPy's BLAS default)")
    parser.add_argument("--repeats", type=int, default=None, help="samples per cell")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the chainrule side of the rows instead of timing")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="statistic per cell; min is steadier on a busy machine")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's allocator alone (by default the benchmark opts "
                             "in with cr.backend.tune_allocator(); see docs/performance.md)")
    args = parser.parse_args()
    print(f"glibc allocator tuned: {not args.default_allocator and cr.backend.tune_allocator()}")

    names = list(WORKLOADS)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        names = [n for n in names if any(n.startswith(w) for w in wanted)]
        if not names:
            parser.error(f"--only {args.only!r} matches none of {list(WORKLOADS)}")
    threads = set_threads(args.threads, torch)
    if args.profile:
        for name in names:
            profile_row(WORKLOADS[name], args.quick)
        return

    print(f"# chainrule training benchmark: python benchmarks/bench_training.py "
          f"{' '.join(sys.argv[1:])}".rstrip())
    print()
    for line in machine_lines(torch, sklearn, threads):
        print(f"- {line}")
    if "churn" in names:
        print(f"- churn data: {churn_data()[2]}")
    print(f"- each cell: {args.stat} of the samples, contenders interleaved")
    print()
    rows = [run_row(WORKLOADS[name], args.quick, args.repeats, args.stat) for name in names]
    headers = ["workload", "unit", "chainrule", "torch", "sklearn", "cr/torch", "cr/sklearn",
               "goal", "goal met?"]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
