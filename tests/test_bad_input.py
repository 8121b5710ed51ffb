"""Bad training input (issue 10, points 10-16): every case raises a ValueError or a
TypeError whose message names the argument and the bad value; divergence is said
once; TerminateOnNaN keeps finite weights; float16 binary cross-entropy has finite
gradients at p in {0, 1}."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import functional as F
from chainrule import losses
from chainrule.callbacks import Callback, TerminateOnNaN
from chainrule.data import DataLoader
from chainrule.layers import Dense
from chainrule.models import Sequential


def _data(n=40, features=11, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.float32)


def _model(loss="binary_crossentropy", units=1, activation="sigmoid", features=11,
           **compile_kwargs):
    cr.manual_seed(0)
    model = Sequential([Dense(6, activation="relu", input_dim=features),
                        Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss, **compile_kwargs)
    return model


def _weights(model) -> dict:
    return {k: v.copy() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- 10. counts


@pytest.mark.parametrize("kwargs,error,message", [
    ({"batch_size": 0}, ValueError, "`batch_size`.*batch_size=0"),
    ({"batch_size": -4}, ValueError, "`batch_size`.*batch_size=-4"),
    ({"batch_size": 2.5}, ValueError, "`batch_size`.*batch_size=2.5"),
    ({"batch_size": True}, TypeError, "`batch_size`.*batch_size=True"),
    ({"batch_size": "32"}, TypeError, "`batch_size`.*batch_size='32'"),
    ({"epochs": 2.7}, ValueError, "`epochs`.*epochs=2.7"),
    ({"epochs": -3}, ValueError, "`epochs`.*epochs=-3"),
    ({"epochs": float("nan")}, ValueError, "`epochs`.*epochs=nan"),
    ({"epochs": 2, "initial_epoch": -1}, ValueError, "`initial_epoch`.*initial_epoch=-1"),
    ({"verbose": -1}, ValueError, "`verbose`.*verbose=-1"),
])
def test_fit_refuses_bad_counts(kwargs, error, message):
    x, y = _data()
    model = _model()
    before = _weights(model)
    with pytest.raises(error, match=message):
        model.fit(x, y, **kwargs)
    for key, value in _weights(model).items():
        np.testing.assert_array_equal(value, before[key])


def test_counts_are_checked_everywhere_and_whole_floats_and_none_pass():
    x, y = _data()
    model = _model()
    for call in (lambda: model.evaluate(x, y, batch_size=0),
                 lambda: model.predict(x, batch_size=0),
                 lambda: DataLoader(x, y, batch_size=0)):
        with pytest.raises(ValueError, match="`batch_size`.*batch_size=0"):
            call()
    assert len(model.fit(x, y, epochs=2.0, batch_size=None, verbose=0).history["loss"]) == 2
    assert model.fit(x, y, epochs=0, verbose=0).history == {}


# ---------------------------------------------------------------- 11. inputs


def test_empty_or_missing_inputs_are_named():
    x, y = _data()
    model = _model()
    with pytest.raises(ValueError, match=r"`x` is empty: it has shape \(0, 11\)"):
        model.fit(np.empty((0, 11)), np.empty(0))
    with pytest.raises(ValueError, match=r"`y` is empty"):
        model.fit(x, np.empty(0))
    with pytest.raises(TypeError, match="`x` must be an array.*received x=None"):
        model.fit(None, y)
    with pytest.raises(TypeError, match="received x=None"):
        model.predict(None)
    with pytest.raises(ValueError, match=r"`x` is empty"):
        model.predict(np.empty((0, 11)))


def test_one_metric_may_be_a_string_as_in_keras():
    model = _model(metrics="accuracy")
    assert model.metrics_names == ["loss", "accuracy"]
    model = _model(metrics=cr.metrics.AUC())
    assert model.metrics_names == ["loss", "auc"]


def test_the_whole_input_is_checked_against_the_model_before_batching():
    x, y = _data(n=300, features=5)
    model = _model()  # built for 11 features
    expected = r"`x` has shape \(300, 5\), samples of shape \(5,\);.*expects samples of " \
               r"shape \(11,\)"
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y),
                 lambda: model.predict(x)):
        with pytest.raises(ValueError, match=expected):
            call()
    good_x, good_y = _data()
    with pytest.raises(ValueError, match=r"`x_val` has shape \(300, 5\)"):
        model.fit(good_x, good_y, validation_data=(x, y), verbose=0)
    with pytest.raises(ValueError, match=r"`x` has shape \(40, 11, 1\)"):
        model.predict(good_x[..., None])


# ---------------------------------------------------------------- 12. NaN in batches


def _batches_with_nan(where: str, step: int = 1):
    """Three batches from a generator; ``where`` in batch ``step`` is NaN."""
    x, y = _data(n=24)
    w = np.ones(24, np.float32)
    arrays = {"x": x, "y": y, "sample_weight": w}
    arrays[where] = arrays[where].copy()
    arrays[where][8 * step + 3] = np.nan
    return [(arrays["x"][i:i + 8], arrays["y"][i:i + 8], arrays["sample_weight"][i:i + 8])
            for i in range(0, 24, 8)]


@pytest.mark.parametrize("where", ["x", "y", "sample_weight"])
def test_nan_in_a_generator_batch_stops_fit_before_it_trains_on_it(where):
    model = _model()
    seen = []

    class Record(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    with pytest.raises(ValueError, match=rf"`{where} \(batch 1\)` contains NaN at row 3"):
        model.fit(iter(_batches_with_nan(where)), verbose=0, callbacks=[Record()])
    assert seen == [0]  # the first batch trained, the second never reached train_step
    assert all(np.isfinite(v).all() for v in model.state_dict().values())


def test_nan_in_a_data_loader_and_in_sample_weight_arrays():
    x, y = _data()
    bad_x = x.copy()
    bad_x[17, 2] = np.inf
    model = _model()
    with pytest.raises(ValueError, match=r"`x \(batch 1\)` contains inf at row 1"):
        model.fit(DataLoader(bad_x, y, batch_size=16), verbose=0)
    weights = np.ones(len(x), np.float32)
    weights[5] = np.nan
    with pytest.raises(ValueError, match="`sample_weight` contains NaN at row 5"):
        model.fit(x, y, sample_weight=weights, verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` contains NaN"):
        model.evaluate(x, y, sample_weight=weights)


def test_finite_values_whose_sum_overflows_are_not_called_nan():
    x = np.full((4, 11), 3e38, np.float32)  # the sum overflows; every value is finite
    model = _model(loss="mse", activation=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert model.predict(x).shape == (4, 1)


# ---------------------------------------------------------------- 13. labels


@pytest.mark.parametrize("labels,shown", [([0, 2], "[2.0]"), ([-1, 1], "[-1.0]"),
                                          ([0.5, 1.5], "[1.5]")])
def test_binary_crossentropy_needs_labels_in_0_1(labels, shown):
    x, _ = _data(n=8)
    y = np.resize(np.array(labels, np.float32), 8)
    model = _model()  # sigmoid output: fit hands the loss its logits
    message = rf"BinaryCrossentropy: `y_true` must hold labels in \[0, 1\].*{shown}"
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.compute_loss(x, y)
    p = cr.tensor(np.full((8, 1), 0.5, np.float32))
    for loss in (losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True)):
        with pytest.raises(ValueError, match=message):
            loss(y, p)
    assert losses.BinaryCrossentropy()(np.full(8, 0.3), p).item() > 0  # soft labels pass


def test_sparse_categorical_crossentropy_needs_whole_labels_below_the_class_count():
    x, _ = _data(n=8)
    model = _model(loss="sparse_categorical_crossentropy", units=3, activation="softmax")
    floats = np.array([0, 1.9, 2, 1, 0, 0, 1, 2], np.float32)
    with pytest.raises(ValueError, match=r"`y_true` must hold whole class indices; "
                                         r"received \[1\.9"):
        model.fit(x, floats, verbose=0)
    too_big = np.array([0, 1, 3, 1, 7, 0, 1, 2])
    message = r"class indices in \[0, 3\) for 3 classes; received \[3, 7\]"
    with pytest.raises(ValueError, match=message):
        model.fit(x, too_big, verbose=0)
    with pytest.raises(ValueError, match=message):
        model.compute_loss(x, too_big)
    logits = cr.tensor(np.zeros((8, 3), np.float32))
    with pytest.raises(ValueError, match=message):
        losses.SparseCategoricalCrossentropy(from_logits=True)(too_big, logits)
    whole = floats.copy()
    whole[1] = 1.0
    assert np.isfinite(model.compute_loss(x, whole).item())  # 1.0 is a class index


# ---------------------------------------------------------------- 14. divergence


def _diverging():
    cr.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32) * 10
    model = Sequential([Dense(8, input_dim=3, activation="relu"), Dense(1)])
    model.compile(optimizer=cr.optim.SGD(lr=0.5), loss="mse")
    return model, x, x.sum(axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
def test_fit_warns_once_at_the_first_non_finite_loss():
    model, x, y = _diverging()
    with pytest.warns(RuntimeWarning, match=r"fit: `loss` became inf at epoch 1, batch 3: "
                                            r"training diverged") as record:
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    assert sum("training diverged" in str(w.message) for w in record) == 1


class _WeightsAtBatchBegin(Callback):
    def on_train_begin(self, logs=None):
        self.weights, self.losses = [], []

    def on_batch_begin(self, batch, logs=None):
        self.weights.append(_weights(self.model))

    def on_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
def test_terminate_on_nan_keeps_the_weights_of_the_last_finite_step():
    model, x, y = _diverging()
    record = _WeightsAtBatchBegin()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "diverged" warning with it...
        warnings.filterwarnings("ignore", "overflow|invalid value", RuntimeWarning)
        model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                  callbacks=[record, TerminateOnNaN()])
    bad = len(record.losses) - 1  # training stopped at the first non-finite loss
    assert bad >= 1 and not np.isfinite(record.losses[bad])
    assert np.isfinite(record.losses[:bad]).all()
    kept = model.state_dict()
    for key, value in record.weights[bad - 1].items():  # what the last finite loss saw
        np.testing.assert_array_equal(kept[key], value)
    batch = slice(8 * (bad - 1), 8 * bad)
    assert np.isfinite(model.compute_loss(x[batch], y[batch]).item())


# ---------------------------------------------------------------- 16. float16


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_binary_cross_entropy_gradients_are_finite_at_0_and_1(dtype):
    t = np.array([0, 1, 1, 0, 1], dtype)
    p = cr.tensor(np.array([0, 1, 0, 1, 0.5], dtype), requires_grad=True)
    F.binary_cross_entropy(p, t, reduction="sum").backward()
    assert p.grad.dtype == dtype and np.isfinite(p.grad.data).all()
    np.testing.assert_array_equal(p.grad.data[:2], 0)  # right and certain: no gradient
    q = cr.tensor(np.array([[0], [1], [0], [1]], dtype), requires_grad=True)
    loss = losses.BinaryCrossentropy()(np.array([[0], [1], [1], [0]]), q)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(q.grad.data).all()
