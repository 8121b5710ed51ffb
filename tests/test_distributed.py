"""cr.distributed: data-parallel training over MPI (issue 15).

The pieces are tested here in one process (sharding arithmetic, per-sample draws, metric
merging, the optimizer wrapper, SyncBatchNorm's formulas). The behaviour over several
processes is tested by running the programs in tests/mpi_programs/ under
``mpiexec -n 2``; those tests skip when mpi4py or mpiexec is missing, unless
CHAINRULE_REQUIRE_MPI=1 (set by .ci/run) makes them fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import metrics, process_group
from chainrule.data import sharding
from chainrule.data.inputs import ArrayData, Arrays
from chainrule.ops.normalization import BatchNorm, SyncBatchNorm
from chainrule.process_group import BatchShard, FlatBuffers, batch_shard

PROGRAMS = pathlib.Path(__file__).parent / "mpi_programs"
SRC = pathlib.Path(cr.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _mpiexec() -> str | None:
    beside = pathlib.Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _mpi_missing() -> str | None:
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'chainrule[mpi]')"
    if _mpiexec() is None:
        return "no mpiexec beside this Python or on PATH"
    return None


@pytest.fixture(scope="module")
def mpiexec() -> str:
    missing = _mpi_missing()
    if missing and os.environ.get("CHAINRULE_REQUIRE_MPI") == "1":
        pytest.fail(f"CHAINRULE_REQUIRE_MPI=1 but {missing}")
    if missing:
        pytest.skip(missing)
    return _mpiexec()


def run_program(args: list[str], timeout: float = 120) -> tuple[subprocess.CompletedProcess,
                                                                   float]:
    start = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=ENV)
    return done, time.monotonic() - start


# ---------------------------------------------------------------- one process


def test_split_rows_cut_every_global_batch_as_array_split():
    for total in range(1, 25):
        for size in range(1, 5):
            shares = [sharding.split_rows(total, r, size) for r in range(size)]
            rows = np.concatenate([np.arange(s, s + n) for s, n in shares])
            assert rows.tolist() == list(range(total))
            assert [n for _, n in shares] == [len(a) for a in np.array_split(rows, size)]


def test_steps_skip_only_a_last_batch_smaller_than_the_processes():
    data = ArrayData(np.zeros((105, 2)))
    assert sharding.steps(data, 10, 2) == 6  # 5 batches of 20, then 5 rows (3 + 2)
    assert sharding.steps(ArrayData(np.zeros((101, 2))), 10, 2) == 5  # 1 row left: skipped
    assert sharding.steps(ArrayData(np.zeros((105, 2))), 10, 1) == data.steps(10)


class _Rank:
    """What sharding reads of a process group over arrays (no collective is needed)."""

    def __init__(self, rank: int, size: int):
        self.rank, self.size = rank, size


@pytest.mark.parametrize("rows, steps", [(23, 3), (21, 2)])
def test_the_ranks_shares_make_up_the_global_batches_of_one_process(rows, steps):
    """Two ranks x batch 5 from the same seed: rank 0's rows then rank 1's are the batch of
    10 that one process cuts from the same permutation, for a two-input model's Arrays
    too; the last batch of 3 splits 2 + 1, and one of a single row is skipped. Each share
    is yielded inside its BatchShard, which gives its gradients their weight."""
    column = np.arange(rows, dtype=float)[:, None]
    data = ArrayData(Arrays([column, -column]), np.arange(rows), np.linspace(0, 1, rows))
    cr.manual_seed(3)
    whole = list(data.batches(10, shuffle=True))
    shares = []
    for rank in range(2):
        cr.manual_seed(3)
        shares.append([(batch, process_group.gradient_weight())
                       for batch in sharding.batches(data, 5, True, _Rank(rank, 2))])
    assert len(shares[0]) == len(shares[1]) == steps
    for one, (mine, my_weight), (theirs, their_weight) in zip(whole, *shares):
        assert my_weight + their_weight == 1
        assert my_weight == len(mine[1]) / len(one[1])
        for part in range(2):
            np.testing.assert_array_equal(np.concatenate([mine[0][part], theirs[0][part]]),
                                          one[0][part])
        for k in (1, 2):
            np.testing.assert_array_equal(np.concatenate([mine[k], theirs[k]]), one[k])
    if rows == 23:
        assert [len(b[1]) for b, _ in shares[0]] == [5, 5, 2]
        assert [len(b[1]) for b, _ in shares[1]] == [5, 5, 1]


def test_each_sample_gets_the_dropout_mask_of_the_global_batch():
    x = cr.ones((20, 5))
    cr.manual_seed(3)
    whole = F.dropout(x, 0.5).numpy()
    parts = []
    for start, rows in ((0, 12), (12, 8)):
        cr.manual_seed(3)  # every process's generator is in the same state
        with batch_shard(BatchShard(start, rows, 20)):
            parts.append(F.dropout(cr.ones((rows, 5)), 0.5).numpy())
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_augmentation_draws_per_sample_as_the_global_batch():
    noise = cr.layers.GaussianNoise(1.0)
    x = cr.zeros((6, 3))
    cr.manual_seed(0)
    whole = noise(x).numpy()
    cr.manual_seed(0)
    with batch_shard(BatchShard(4, 2, 6)):
        np.testing.assert_array_equal(noise(cr.zeros((2, 3))).numpy(), whole[4:])


@pytest.mark.parametrize("name", ["accuracy", "binary_accuracy", "precision", "recall", "auc",
                                  "mse", "mae"])
def test_merged_metric_state_is_the_metric_over_every_batch(name):
    gen = np.random.default_rng(0)
    y, p = gen.integers(0, 2, 40).astype(float), gen.random(40).round(1)  # ties across parts
    whole, first, second = (metrics.get(name) for _ in range(3))
    whole.update(y, p)
    first.update(y[:25], p[:25])
    second.update(y[25:], p[25:])
    merged = metrics.get(name)
    merged.merge_state([first.state(), second.state()])
    assert merged.result() == pytest.approx(whole.result(), abs=1e-12)


def test_distributed_optimizer_is_the_same_optimizer_with_one_process():
    cr.manual_seed(0)
    plain_model, wrapped_model = (cr.layers.Dense(3, input_dim=4) for _ in range(2))
    wrapped_model.load_state_dict(plain_model.state_dict())
    plain = cr.optim.Adam(plain_model.parameters(), lr=0.1)
    wrapped = cr.distributed.DistributedOptimizer(cr.optim.Adam(wrapped_model.parameters(),
                                                                lr=0.1))
    for _ in range(3):
        for model, opt in ((plain_model, plain), (wrapped_model, wrapped)):
            opt.zero_grad()
            (model(np.ones((2, 4))) ** 2).sum().backward()
            opt.step()
    for a, b in zip(plain_model.parameters(), wrapped_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert isinstance(wrapped, cr.optim.Adam) and type(wrapped).__name__ == "Adam"
    assert cr.distributed.is_distributed(wrapped) and not cr.distributed.is_distributed(plain)
    assert cr.distributed.DistributedOptimizer(wrapped) is wrapped
    plain.load_state_dict(wrapped.state_dict())  # saved as an Adam, loads into one
    with pytest.raises(TypeError, match="chainrule optimizer"):
        cr.distributed.DistributedOptimizer("adam")


def test_sync_batch_norm_over_one_process_is_batch_norm():
    """The combination of per-process statistics and the weighted backward reduce to
    BatchNorm's when there is one process (gradient weight 1)."""
    gen = np.random.default_rng(1)
    x0, g0, b0 = gen.normal(size=(7, 3, 4)), gen.normal(size=4), gen.normal(size=4)
    grads = []
    for op in (BatchNorm, SyncBatchNorm):
        x, gamma, beta = (cr.tensor(a, dtype=np.float64, requires_grad=True)
                          for a in (x0, g0, b0))
        stats = {}
        y = op.apply(x, gamma, beta, epsilon=1e-3, stats=stats)
        (y * cr.tensor(np.arange(y.size).reshape(y.shape) % 5)).sum().backward()
        grads.append([y.numpy(), stats["mean"], stats["var"], x.grad.numpy(),
                      gamma.grad.numpy(), beta.grad.numpy()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.ravel(), b.ravel(), rtol=1e-10, atol=1e-12)
    rows = x0.reshape(-1, 4)  # the forward value, written out in NumPy
    formula = g0 * (rows - rows.mean(0)) / np.sqrt(rows.var(0) + 1e-3) + b0
    np.testing.assert_allclose(grads[1][0].reshape(-1, 4), formula, rtol=1e-10)


def test_flat_buffers_give_a_view_per_array_and_a_buffer_per_dtype():
    arrays = [np.arange(6.0).reshape(2, 3), np.ones(2, np.float32), np.full(4, 2.0)]
    flat = FlatBuffers.like(arrays)
    assert {d.name: b.size for d, b in flat.buffers.items()} == {"float64": 10, "float32": 2}
    for a, view in zip(arrays, flat.views):
        np.testing.assert_array_equal(a, view)
        assert view.dtype == a.dtype


def test_batch_normalization_synchronized_round_trips_its_config():
    layer = cr.layers.BatchNormalization(synchronized=True)
    assert layer.get_config()["synchronized"] is True
    assert type(layer).from_config(layer.get_config()).synchronized is True
    assert cr.layers.BatchNormalization().synchronized is False


def test_fit_distributed_needs_init():
    assert not process_group.joined()
    model = cr.models.Sequential([cr.layers.Dense(1, input_dim=2)])
    model.compile("sgd", "mse")
    with pytest.raises(RuntimeError, match=r"cr\.distributed\.init\(\)"):
        model.fit(np.ones((4, 2)), np.ones(4), verbose=0, distributed=True)


def test_importing_chainrule_imports_no_mpi():
    code = ("import sys, chainrule, chainrule.distributed\n"
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'\n"
            "assert chainrule.distributed.size() == 1 and chainrule.distributed.rank() == 0\n")
    done, _ = run_program([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr


def test_one_process_fit_distributed_is_todays_fit():
    """init() without mpiexec: fit(distributed=True) is fit, to the bit."""
    code = """
import json, numpy as np, chainrule as cr
cr.distributed.init()
runs = []
for distributed in (False, True):
    cr.manual_seed(0)
    m = cr.models.Sequential([cr.layers.Dense(8, activation="relu", input_dim=4),
                              cr.layers.Dropout(0.3), cr.layers.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(50, 4)); y = x[:, 0] > 0
    h = m.fit(x, y, batch_size=8, epochs=2, verbose=0, distributed=distributed,
              validation_split=0.2)
    runs.append([h.history, [p.data.tobytes().hex() for p in m.parameters()]])
print(json.dumps({"size": cr.distributed.size(), "same": runs[0] == runs[1]}))
"""
    done, _ = run_program([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"size": 1, "same": True}


# ---------------------------------------------------------------- two processes (mpiexec)


@pytest.fixture(scope="module")
def equivalence(mpiexec, tmp_path_factory) -> dict:
    """The equivalence program on 2 ranks x batch 10 and on 1 process x batch 20."""
    out = {}
    for kind, prefix, extra in (("ranks", [mpiexec, "-n", "2"], []),
                                ("reference", [], ["--reference", "2"])):
        folder = tmp_path_factory.mktemp(kind)
        done, _ = run_program([*prefix, sys.executable, str(PROGRAMS / "equivalence.py"),
                               str(folder), *extra])
        assert done.returncode == 0, done.stdout + done.stderr
        out[kind] = json.loads((folder / "results.json").read_text())
        out[kind]["folder"] = folder
    assert out["ranks"]["ranks"] == 2
    return out


def _equivalent_configs() -> list[str]:
    spec = importlib.util.spec_from_file_location("mpi_equivalence",
                                                  PROGRAMS / "equivalence.py")
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    return program.EQUIVALENT


@pytest.mark.parametrize("config", _equivalent_configs())
def test_two_ranks_with_half_batches_train_as_one_process(equivalence, config):
    """SGD and Adam, with and without Dropout, SyncBatchNorm, a DataLoader, a functional
    model with two inputs: same weights to 1e-6 (float64) and the same History (losses,
    accuracy, AUC, validation) after 2 epochs, the last batch of each split unevenly
    (3 + 2 rows)."""
    ranks, reference = (equivalence[k]["results"][config] for k in ("ranks", "reference"))
    assert ranks["steps"] == reference["steps"] > 0
    for key, value in reference["state"].items():
        np.testing.assert_allclose(ranks["state"][key], value, rtol=0, atol=1e-6, err_msg=key)
    assert ranks["history"].keys() == reference["history"].keys()
    for key, value in reference["history"].items():
        np.testing.assert_allclose(ranks["history"][key], value, rtol=0, atol=1e-9,
                                   err_msg=key)


def test_every_rank_holds_the_same_weights_after_the_broadcast_and_every_step(equivalence):
    for config, result in equivalence["ranks"]["results"].items():
        assert result["checks"] == result["steps"] + 1, config  # broadcast + every step
        assert result["agreed"] == result["checks"], config


def test_per_rank_batch_norm_statistics_agree_after_fit(equivalence):
    assert all(r["buffers_agree"] for r in equivalence["ranks"]["results"].values())


def test_only_rank_0_writes_files(equivalence):
    folder = equivalence["ranks"]["folder"]
    assert sorted(p.name for p in folder.glob("*.csv")) == sorted(
        f"{config}.rank0.csv" for config in equivalence["ranks"]["results"])
    assert len((folder / "adam.rank0.csv").read_text().splitlines()) == 1 + 2  # header, epochs


def _fault(mpiexec, tmp_path, mode: str, timeout: float = 20.0):
    checkpoint = tmp_path / "checkpoint.keras"
    done, seconds = run_program([mpiexec, "-n", "2", sys.executable, str(PROGRAMS / "faults.py"),
                                 mode, str(checkpoint), str(timeout)], timeout=90)
    assert "fit returned" not in done.stdout
    assert done.returncode != 0
    # the checkpoint of the first epoch (rank 0 saved it before the failure) is whole
    restored = cr.models.load_model(checkpoint)
    assert restored.optimizer.iterations == 20
    return done.stdout + done.stderr, seconds


def test_a_killed_rank_stops_the_job_within_30_seconds(mpiexec, tmp_path):
    output, seconds = _fault(mpiexec, tmp_path, "kill")
    assert seconds < 30
    assert "Killed (signal 9)" in output  # mpiexec names the failure


def test_a_rank_that_raises_stops_the_job_naming_itself(mpiexec, tmp_path):
    output, seconds = _fault(mpiexec, tmp_path, "raise")
    assert seconds < 30
    assert "rank 1 of 2 failed in fit: ValueError: rank 1 read a corrupt batch" in output


def test_a_hung_rank_stops_the_job_after_the_timeout(mpiexec, tmp_path):
    output, seconds = _fault(mpiexec, tmp_path, "hang", timeout=3.0)
    assert seconds < 30
    assert "rank 0 of 2 waited 3 s in allreduce of the gradients" in output


def test_the_distributed_mnist_example_trains_on_two_ranks(mpiexec, tmp_path):
    """examples/distributed_mnist.py --quick (8x8 digits): 4 epochs on 2 ranks x batch 32
    reach 80% test accuracy (seed 0), and rank 0 saves a model that loads."""
    example = PROGRAMS.parents[1] / "examples" / "distributed_mnist.py"
    done, _ = run_program([mpiexec, "-n", "2", sys.executable, str(example), "--quick",
                           "--epochs", "4", "--out", str(tmp_path)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Epoch 4/4") == 1  # rank 0 alone prints
    accuracy = float(done.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.80
    model = cr.models.load_model(tmp_path / "distributed_mnist.keras")
    assert model.optimizer.iterations == 4 * 23


@pytest.mark.slow
def test_the_distributed_mnist_example_on_the_bundled_mnist(mpiexec, tmp_path):
    """The example as documented (3 epochs, 2 ranks x batch 32 on the bundled MNIST's
    8,000 training images): 125 steps an epoch, at least 95% test accuracy (seed 0)."""
    example = PROGRAMS.parents[1] / "examples" / "distributed_mnist.py"
    done, _ = run_program([mpiexec, "-n", "2", sys.executable, str(example), "--out",
                           str(tmp_path)], timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "train (8000, 28, 28, 1), test (2000, 28, 28, 1)" in done.stdout
    assert done.stdout.count("125 steps") == 3
    assert float(done.stdout.split("test accuracy ")[1].split()[0]) >= 0.95
