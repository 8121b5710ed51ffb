"""Exact resume (issue 10): train 3 epochs, save, load in a new process with
``restore_rng=True``, train 2 more with ``initial_epoch=3``: the weights equal 5
straight epochs bit for bit, with shuffling and Dropout drawing from chainrule's
global generator, for SGD (with momentum), Adam and RMSprop."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
OPTIMIZERS = {"sgd": {"name": "SGD", "hyperparameters": {"lr": 0.05, "momentum": 0.9}},
              "adam": {"name": "Adam", "hyperparameters": {"lr": 0.01}},
              "rmsprop": {"name": "RMSprop", "hyperparameters": {"lr": 0.01}}}

_COMMON = r"""
import json, sys
import numpy as np
import chainrule as cr
from chainrule.layers import Dense, Dropout
from chainrule.models import Sequential, load_model

out = sys.argv[1]
optimizers = json.loads(sys.argv[2])
data = np.random.default_rng(0)
x = data.normal(size=(60, 5)).astype(np.float32)
y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.float32)


def fit(model, **kwargs):
    return model.fit(x, y, batch_size=8, shuffle=True, verbose=0, **kwargs).history["loss"]


def save_weights(model, name, losses):
    np.savez(f"{out}/{name}.npz", **model.state_dict())
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(losses, f)
"""

FIRST = _COMMON + r"""
def model_for(spec):
    cr.manual_seed(1)
    model = Sequential([Dense(16, activation="relu", input_dim=5), Dropout(0.3),
                        Dense(16, activation="relu"), Dropout(0.3),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer=cr.optim.get(spec), loss="binary_crossentropy")
    return model


for name, spec in optimizers.items():
    model = model_for(spec)
    save_weights(model, f"{name}-straight", fit(model, epochs=5))
    model = model_for(spec)
    save_weights(model, f"{name}-first", fit(model, epochs=3))
    model.save(f"{out}/{name}.keras")
"""

RESUME = _COMMON + r"""
for name in optimizers:
    for restore in (True, False):
        cr.manual_seed(12345)  # whatever this process drew before does not matter...
        cr.backend.rng().random(7)
        model = load_model(f"{out}/{name}.keras", restore_rng=restore)
        losses = fit(model, epochs=5, initial_epoch=3)  # ...with restore_rng=True
        save_weights(model, f"{name}-resumed-{restore}", losses)
"""


def _run(code: str, out: pathlib.Path) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [
               os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", code, str(out), json.dumps(OPTIMIZERS)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("resume")
    _run(FIRST, out)
    _run(RESUME, out)  # a new process
    return out


def _load(out: pathlib.Path, name: str) -> tuple[dict, list]:
    with np.load(out / f"{name}.npz") as f:
        weights = dict(f)
    return weights, json.loads((out / f"{name}.json").read_text())


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_resume_in_a_new_process_equals_straight_training(runs, optimizer):
    straight, straight_losses = _load(runs, f"{optimizer}-straight")
    first, first_losses = _load(runs, f"{optimizer}-first")
    resumed, resumed_losses = _load(runs, f"{optimizer}-resumed-True")
    assert first_losses + resumed_losses == straight_losses
    assert straight.keys() == resumed.keys()
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)
    # the control: without the generator's state, the shuffles and masks differ
    unrestored, _ = _load(runs, f"{optimizer}-resumed-False")
    assert max(np.abs(unrestored[k] - straight[k]).max() for k in straight) > 1e-4
