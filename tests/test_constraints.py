"""Constraints: Keras' formulas, applied by the optimizer after each step (in fit and in a
hand-written loop), on every layer that takes them; saved by registered name only."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import constraints, layers
from chainrule.constraints import EPSILON
from chainrule.layers import Dense

W = np.array([[3.0, 0.1, -1.0], [4.0, 0.2, 0.0]])  # column norms 5, sqrt(0.05), 1


def column_norms(w, axis=0):
    return np.sqrt(np.sum(np.square(w), axis=axis))


def test_max_norm_is_keras_formula():
    out = constraints.MaxNorm(2.0)(W)
    norms = column_norms(W)
    np.testing.assert_allclose(out, W * np.clip(norms, 0, 2) / (EPSILON + norms), rtol=1e-15)
    assert column_norms(out)[0] == pytest.approx(2.0, rel=1e-7)  # shrunk to the bound
    np.testing.assert_allclose(out[:, 1:], W[:, 1:], rtol=1e-6)  # within it: unchanged


def test_unit_norm_min_max_norm_and_non_neg():
    norms = column_norms(W)
    np.testing.assert_allclose(constraints.UnitNorm()(W), W / (EPSILON + norms), rtol=1e-15)
    out = constraints.MinMaxNorm(0.5, 2.0, rate=0.5)(W)
    desired = 0.5 * np.clip(norms, 0.5, 2.0) + 0.5 * norms
    np.testing.assert_allclose(out, W * desired / (EPSILON + norms), rtol=1e-15)
    np.testing.assert_array_equal(constraints.NonNeg()(W), np.maximum(W, 0))
    rows = constraints.UnitNorm(axis=1)(W)
    np.testing.assert_allclose(column_norms(rows, axis=1), [1, 1], rtol=1e-6)


def test_a_conv_kernel_is_constrained_per_filter_with_axis_0_1_2():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, 4)) * 3
    out = constraints.MaxNorm(1.5, axis=[0, 1, 2])(kernel)
    assert np.all(np.sqrt(np.sum(out ** 2, axis=(0, 1, 2))) <= 1.5)


def max_norm_model(dtype, max_value=0.5):
    cr.set_default_dtype(dtype)
    cr.manual_seed(0)
    model = cr.Sequential([
        Dense(32, activation="relu", input_dim=10,
              kernel_constraint=constraints.MaxNorm(max_value)),
        layers.Dropout(0.2),
        Dense(1, kernel_constraint=constraints.MaxNorm(max_value),
              bias_constraint=constraints.NonNeg())])
    model.compile(optimizer=cr.optim.SGD(lr=0.5), loss="mse")
    return model


class NormsAfterEachBatch(cr.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.norms = []

    def on_batch_end(self, batch, logs=None):
        self.norms.append([column_norms(layer.kernel.numpy()).max()
                           for layer in self.model.layers if isinstance(layer, Dense)])


@pytest.mark.parametrize("dtype,slack", [(np.float64, 0.0), (np.float32, 1e-6)])
def test_max_norm_keeps_every_column_within_its_bound_after_each_step_of_fit(dtype, slack):
    """Big steps (lr 0.5 on a large target) push the weights far: after every step each
    column's norm is back within the bound (float32: up to its rounding)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(256, 10)), 10 * rng.normal(size=(256, 1))
    model, watch = max_norm_model(dtype), NormsAfterEachBatch()
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[watch])
    norms = np.array(watch.norms)
    assert norms.shape == (48, 2) and norms.max() <= 0.5 * (1 + slack)
    assert norms.max() > 0.49  # the bound was reached, so the constraint acted
    assert np.all(model.layers[2].bias.numpy() >= 0)


def test_the_optimizer_applies_constraints_in_a_hand_written_loop():
    model = max_norm_model(np.float64, max_value=0.1)
    opt = cr.optim.Adam(model.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    for _ in range(5):
        loss = model.compute_loss(rng.normal(size=(8, 10)), rng.normal(size=(8, 1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert column_norms(model.layers[0].kernel.numpy()).max() <= 0.1


def test_a_frozen_weight_is_not_touched():
    layer = Dense(3, input_dim=2, kernel_constraint=constraints.UnitNorm())
    layer.trainable = False
    before = layer.kernel.numpy().copy()
    opt = cr.optim.SGD(layer.parameters(), lr=0.1)
    opt.step()
    np.testing.assert_array_equal(layer.kernel.numpy(), before)


@pytest.mark.parametrize("make,weight,argument", [
    (lambda **k: layers.Conv2D(3, 2, input_shape=(5, 5, 2), **k), "kernel",
     "kernel_constraint"),
    (lambda **k: layers.Conv1D(3, 2, input_shape=(6, 2), **k), "bias", "bias_constraint"),
    (lambda **k: layers.SimpleRNN(3, input_shape=(4, 2), **k), "recurrent_kernel",
     "recurrent_constraint"),
    (lambda **k: layers.GRU(3, input_shape=(4, 2), **k), "kernel", "kernel_constraint"),
    (lambda **k: layers.LSTM(3, input_shape=(4, 2), **k), "bias", "bias_constraint"),
    (lambda **k: layers.Embedding(7, 3, input_length=4, **k), "embeddings",
     "embeddings_constraint"),
])
def test_every_layer_family_takes_its_constraints(make, weight, argument):
    cr.manual_seed(0)
    layer = make(**{argument: constraints.NonNeg()})
    param = getattr(layer, weight)
    param.data[...] = -1.0
    param.grad = cr.zeros(param.shape)
    cr.optim.SGD([param], lr=0.1).step()
    assert np.all(param.numpy() == 0)
    assert layer.get_config()[argument] == {"class_name": "NonNeg", "config": {}}


def test_constraints_by_name_and_config_and_saved_with_the_model(tmp_path):
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert constraints.get("MaxNorm").max_value == 2 and constraints.get("MaxNorm").axis == 0
    spec = {"class_name": "MinMaxNorm",
            "config": {"min_value": 0.1, "max_value": 2.0, "rate": 0.5, "axis": [0, 1]}}
    assert constraints.get(spec).get_config() == spec["config"]
    with pytest.raises(ValueError, match=r"^Unknown constraint 'box'"):
        constraints.get("box")
    with pytest.raises(ValueError, match="`axis` of `UnitNorm`: expected an int or a list"):
        constraints.UnitNorm(axis="rows")
    model = max_norm_model(np.float64)
    model.save(tmp_path / "m.zip")
    loaded = cr.models.load_model(tmp_path / "m.zip")
    assert loaded.layers[0].kernel_constraint.max_value == 0.5
    assert isinstance(loaded.layers[2].bias.constraint, constraints.NonNeg)
    assert loaded.layers[2].get_config() == model.layers[2].get_config()
