"""``Sequential`` builds every layer as soon as its input shape is known, from shapes
alone, as Keras does: ``set_weights`` with all the weights works before any call."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.layers import LSTM, Conv2D, Dense, Dropout, Embedding, Flatten, MaxPooling2D


def test_every_layer_has_weights_before_any_call():
    model = cr.Sequential([Dense(6, input_dim=11), Dense(1)])
    assert [w.shape for w in model.get_weights()] == [(11, 6), (6,), (6, 1), (1,)]
    weights = [np.full(w.shape, 0.5, np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    hidden = 0.5 * 11 + 0.5  # each of the 6 units
    np.testing.assert_allclose(model.predict(np.ones((1, 11))), [[0.5 * 6 * hidden + 0.5]],
                               rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: cr.Sequential([cr.Input((11,)), Dense(6), Dense(1)]),
    lambda: cr.Sequential([cr.layers.InputLayer(shape=(11,)), Dense(6), Dense(1)]),
])
def test_input_first_sets_the_shape(make):
    model = make()
    assert len(model.layers) == 2  # the Input is not a layer of the stack (Keras)
    assert model.count_params() == 72 + 7
    assert sorted(model.state_dict()) == ["0.bias", "0.kernel", "1.bias", "1.kernel"]


def test_add_input_then_layers():
    model = cr.Sequential()
    model.add(cr.Input(shape=(28, 28, 1)))
    model.add(Conv2D(4, 3, activation="relu"))
    assert model.layers[0].built
    model.add(MaxPooling2D())
    model.add(Flatten())
    model.add(Dropout(0.5))
    model.add(Dense(10))
    assert model.layers[-1].kernel.shape == (13 * 13 * 4, 10)
    assert model.compute_output_shape((None, 28, 28, 1)) == (None, 10)


def test_unknown_input_shape_stays_lazy_until_build():
    model = cr.Sequential([Dense(4), Dense(2)])
    assert not model.layers[0].built
    model.build((None, 3))
    assert all(layer.built for layer in model.layers)
    assert model.count_params() == 16 + 10


def test_build_runs_no_data():
    """Building from shapes leaves the global generator where the weight draws left it:
    no zero batch goes through Dropout or augmentation."""
    cr.manual_seed(0)
    cr.Sequential([Dense(4, input_dim=3), Dropout(0.5), Dense(2)])
    after_build = cr.backend.rng().random()
    cr.manual_seed(0)
    Dense(4, input_dim=3), Dropout(0.5)
    Dense(2).build((None, 4))
    assert cr.backend.rng().random() == after_build


def test_sequence_stack_with_embedding():
    model = cr.Sequential([cr.Input(shape=(None,), dtype="int64"), Embedding(50, 8),
                           LSTM(16, return_sequences=True), LSTM(4)])
    assert model.count_params() == 400 + 4 * (8 + 16 + 1) * 16 + 4 * (16 + 4 + 1) * 4
    assert model.input_dtype == "int64"


def test_a_layer_that_does_not_fit_is_refused_at_add():
    model = cr.Sequential([Dense(4, input_dim=3)])
    with pytest.raises(ValueError, match=r"`Conv2D` expects inputs of rank 4"):
        model.add(Conv2D(2, 3))
    assert len(model.layers) == 1  # the stack is left as it was


def test_input_only_first():
    model = cr.Sequential([Dense(2)])
    with pytest.raises(ValueError, match="cr.Input can only come first"):
        model.add(cr.Input((3,)))


def test_saved_sequential_with_input_round_trips(tmp_path):
    cr.manual_seed(0)
    model = cr.Sequential([cr.Input((5,)), Dense(3, activation="relu"), Dense(1)])
    model.save(tmp_path / "seq.keras")
    loaded = cr.models.load_model(tmp_path / "seq.keras")
    x = np.random.default_rng(0).random((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded._input_layer.batch_shape == (None, 5)
