"""Every layer's ``compute_output_shape`` agrees with what its ``forward`` returns, and
building from shapes alone (``build`` + ``compute_output_shape``) gives the weights a
forward pass would: the shape inference a functional model and ``load_model`` rely on."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L
from chainrule.layers.node import flat_shapes, is_shape

# (make the layer, input shape with batch None, dtype of the data)
CASES = [
    (lambda: L.Dense(5), (None, 7), "f"),
    (lambda: L.Dense(5, activation="relu"), (None, 3, 7), "f"),
    (lambda: L.Activation("tanh"), (None, 4, 2), "f"),
    (lambda: L.Dropout(0.3), (None, 6), "f"),
    (lambda: L.Flatten(), (None, 3, 4, 2), "f"),
    (lambda: L.Reshape((2, -1)), (None, 3, 4), "f"),
    (lambda: L.Reshape((4, 3)), (None, 12), "f"),
    (lambda: L.Conv1D(4, 3), (None, 10, 2), "f"),
    (lambda: L.Conv1D(4, 3, strides=2, padding="same"), (None, 9, 2), "f"),
    (lambda: L.Conv1D(4, 3, dilation_rate=2), (None, 11, 2), "f"),
    (lambda: L.Conv2D(3, (3, 2), strides=(2, 1)), (None, 9, 8, 2), "f"),
    (lambda: L.Conv2D(3, 3, padding="same", strides=2), (None, 7, 6, 1), "f"),
    (lambda: L.MaxPooling1D(2), (None, 9, 3), "f"),
    (lambda: L.MaxPooling1D(3, strides=2, padding="same"), (None, 8, 3), "f"),
    (lambda: L.MaxPooling2D(3), (None, 28, 28, 2), "f"),
    (lambda: L.MaxPooling2D(2, padding="same"), (None, 7, 5, 2), "f"),
    (lambda: L.AveragePooling2D((2, 3), strides=1), (None, 6, 6, 2), "f"),
    (lambda: L.GlobalAveragePooling2D(), (None, 5, 4, 3), "f"),
    (lambda: L.BatchNormalization(), (None, 4, 3), "f"),
    (lambda: L.LayerNormalization(), (None, 5), "f"),
    (lambda: L.Embedding(10, 4), (None, 6), "i"),
    (lambda: L.Embedding(10, 4, mask_zero=True), (None, 2, 3), "i"),
    (lambda: L.SimpleRNN(3), (None, 5, 2), "f"),
    (lambda: L.SimpleRNN(3, return_sequences=True), (None, 5, 2), "f"),
    (lambda: L.LSTM(3, return_state=True), (None, 5, 2), "f"),
    (lambda: L.LSTM(3, return_sequences=True, return_state=True), (None, 4, 2), "f"),
    (lambda: L.GRU(3, return_sequences=True), (None, 5, 2), "f"),
    (lambda: L.GRU(3, return_state=True, reset_after=False), (None, 5, 2), "f"),
    (lambda: L.GaussianNoise(0.1), (None, 3), "f"),
    (lambda: L.RandomFlip(), (None, 4, 4, 1), "f"),
    (lambda: L.RandomTranslation(0.2, 0.2), (None, 4, 4, 1), "f"),
]


def _data(shape: tuple, kind: str, batch: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    full = (batch, *shape[1:])
    return rng.integers(0, 10, full) if kind == "i" else rng.standard_normal(full)


def _shapes(out) -> list[tuple]:
    outs = out if isinstance(out, list) else [out]
    return [(None, *o.shape[1:]) for o in outs]


@pytest.mark.parametrize("make,shape,kind", CASES)
def test_compute_output_shape_matches_forward(make, shape, kind):
    cr.manual_seed(0)
    eager = make()
    expected = _shapes(eager(_data(shape, kind)))
    inferred = make()
    inferred.build(shape)
    inferred.built = True
    assert flat_shapes(inferred.compute_output_shape(shape)) == expected
    # weights built from shapes alone are the ones a forward pass creates
    assert {k: v.shape for k, v in inferred.state_dict().items()} == \
        {k: v.shape for k, v in eager.state_dict().items()}


@pytest.mark.parametrize("make,shape,kind", CASES)
def test_symbolic_call_gives_output_shape(make, shape, kind):
    layer = make()
    x = cr.Input(shape=shape[1:], dtype="int64" if kind == "i" else None)
    out = layer(x)
    outs = out if isinstance(out, list) else [out]
    expected = layer.compute_output_shape(shape)
    assert [o.shape for o in outs] == (
        [tuple(expected)] if is_shape(expected) else [tuple(s) for s in expected])
    assert all(o.history.layer is layer for o in outs)


def test_unknown_time_axis_stays_unknown():
    x = cr.Input(shape=(None,), dtype="int64")
    h = L.Embedding(100, 8)(x)
    assert h.shape == (None, None, 8)
    assert L.LSTM(4, return_sequences=True)(h).shape == (None, None, 4)
    assert L.Conv1D(2, 3)(h).shape == (None, None, 2)


def test_fallback_runs_a_custom_layer_on_zeros():
    class Double(L.Layer):  # no compute_output_shape of its own
        def forward(self, x):
            return cr.concat([x, x], axis=-1)

    x = cr.Input(shape=(None, 3))
    assert Double()(x).shape == (None, None, 6)


@pytest.mark.parametrize("make,shape,match", [
    (lambda: L.Dense(4, input_dim=3), (None, 5), r"Dense.*3 features.*\(None, 5\)"),
    (lambda: L.Conv2D(2, 5), (None, 4, 4, 1), r"smaller than its window"),
    (lambda: L.Conv2D(2, 3), (None, 8, 8), r"rank 4"),
    (lambda: L.Reshape((5, -1)), (None, 12), r"cannot reshape"),
    (lambda: L.LSTM(3, input_shape=(4, 2)), (None, 4, 5), r"2 features"),
])
def test_shape_errors_name_the_layer(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(cr.Input(batch_shape=shape))


def test_layer_called_on_a_list_builds_with_a_list_of_shapes():
    seen = []

    class Pair(L.Layer):
        def build(self, input_shape):
            seen.append(input_shape)

        def forward(self, inputs):
            a, b = inputs
            return a * b

    out = Pair()([np.ones((2, 3)), np.full((2, 3), 2.0)])
    assert seen == [[(2, 3), (2, 3)]]
    np.testing.assert_array_equal(out.numpy(), np.full((2, 3), 2.0))


def test_nested_number_lists_are_still_one_array():
    out = L.Dense(2)([[1.0, 2.0, 3.0]])
    assert out.shape == (1, 2)
