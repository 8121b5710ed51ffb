"""Merge layers: each against torch (forward and input gradients, float64 to 1e-10 and
float32 to 1e-5) and finite differences, its config round trip, its output shape and
errors, its mask, and save/load inside a functional model."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import HAS_TORCH, check_op, torch

import chainrule as cr
from chainrule import layers as L


def _torch_dot(axes, normalize):
    def fn(x, y):
        a0, a1 = axes
        if normalize:
            x = torch.nn.functional.normalize(x, dim=a0, eps=1e-12)
            y = torch.nn.functional.normalize(y, dim=a1, eps=1e-12)
        x = torch.movedim(x, a0, -1)
        y = torch.movedim(y, a1, 1)
        n, k = x.shape[0], x.shape[-1]
        out = torch.bmm(x.reshape(n, -1, k), y.reshape(n, k, -1))
        rest = (*x.shape[1:-1], *y.shape[2:])
        return out.reshape(n, *rest) if rest else out.reshape(n, 1)
    return fn


def _reduce(fn):
    def torch_fn(*ts):
        out = ts[0]
        for t in ts[1:]:
            out = fn(out, t)
        return out
    return torch_fn


def _torch(name):
    return {
        "add": _reduce(torch.add), "subtract": lambda a, b: a - b,
        "multiply": _reduce(torch.mul), "average": lambda *ts: sum(ts) / len(ts),
        "maximum": _reduce(torch.maximum), "minimum": _reduce(torch.minimum),
        "concat1": lambda *ts: torch.cat(ts, dim=1), "concat-1": lambda *ts: torch.cat(ts, -1),
    }[name]


# (layer, torch reference name or function, input shapes, output shape)
CASES = [
    (lambda: L.Add(), "add", [(4, 3), (4, 3), (4, 3)], (4, 3)),
    (lambda: L.Add(), "add", [(4, 2, 3), (4, 1, 3)], (4, 2, 3)),
    (lambda: L.Subtract(), "subtract", [(4, 5), (4, 5)], (4, 5)),
    (lambda: L.Multiply(), "multiply", [(3, 2, 2), (3, 2, 2)], (3, 2, 2)),
    (lambda: L.Average(), "average", [(4, 3), (4, 3), (4, 3)], (4, 3)),
    (lambda: L.Maximum(), "maximum", [(4, 6), (4, 6)], (4, 6)),
    (lambda: L.Minimum(), "minimum", [(4, 6), (4, 6), (4, 6)], (4, 6)),
    (lambda: L.Concatenate(), "concat-1", [(4, 2), (4, 3), (4, 1)], (4, 6)),
    (lambda: L.Concatenate(axis=1), "concat1", [(2, 3, 4), (2, 1, 4)], (2, 4, 4)),
    (lambda: L.Dot(axes=1), _torch_dot((1, 1), False), [(4, 5), (4, 5)], (4, 1)),
    (lambda: L.Dot(axes=1, normalize=True), _torch_dot((1, 1), True), [(4, 5), (4, 5)],
     (4, 1)),
    (lambda: L.Dot(axes=(2, 2)), _torch_dot((2, 2), False), [(2, 3, 4), (2, 5, 4)],
     (2, 3, 5)),
    (lambda: L.Dot(axes=(1, 2), normalize=True), _torch_dot((1, 2), True),
     [(2, 3, 4), (2, 5, 3)], (2, 4, 5)),
]
IDS = ["add3", "add-broadcast", "subtract", "multiply", "average", "maximum", "minimum",
       "concat", "concat-axis1", "dot", "dot-normalized", "dot-3d", "dot-3d-normalized"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make,reference,shapes,out_shape", CASES, ids=IDS)
def test_merge_matches_torch_and_finite_differences(make, reference, shapes, out_shape, dtype):
    layer = make()
    torch_fn = None
    if HAS_TORCH:
        torch_fn = _torch(reference) if isinstance(reference, str) else reference
    check_op(shapes, lambda *xs: layer(list(xs)), torch_fn, dtype=dtype, min_abs=0.05)
    out = layer([np.zeros(s) for s in shapes])
    assert out.shape == out_shape
    assert layer.compute_output_shape([(None, *s[1:]) for s in shapes]) == (None, *out_shape[1:])


@pytest.mark.parametrize("make,reference,shapes,out_shape", CASES, ids=IDS)
def test_merge_forward_without_torch(make, reference, shapes, out_shape):
    """The forward values pinned by NumPy, so they hold where torch is absent."""
    cr.set_default_dtype(np.float64)
    xs = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    layer = make()
    out = layer(xs).numpy()
    name = type(layer).__name__
    if name == "Dot":
        a0, a1 = layer.axes
        x, y = xs
        if layer.normalize:
            x = x / np.sqrt((x * x).sum(axis=a0, keepdims=True))
            y = y / np.sqrt((y * y).sum(axis=a1, keepdims=True))
        expected = np.stack([np.tensordot(x[i], y[i], axes=(a0 - 1, a1 - 1))
                             for i in range(len(x))]).reshape(out_shape)
    else:
        expected = {"Add": lambda: sum(xs), "Subtract": lambda: xs[0] - xs[1],
                    "Multiply": lambda: np.prod(np.broadcast_arrays(*xs), axis=0),
                    "Average": lambda: sum(xs) / len(xs),
                    "Maximum": lambda: np.maximum.reduce(xs),
                    "Minimum": lambda: np.minimum.reduce(xs),
                    "Concatenate": lambda: np.concatenate(xs, axis=layer.axis)}[name]()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make,reference,shapes,out_shape", CASES, ids=IDS)
def test_merge_config_round_trip(make, reference, shapes, out_shape):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = cr.layers.deserialize_layer(cr.layers.serialize_layer(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


@pytest.mark.parametrize("make,reference,shapes,out_shape", CASES, ids=IDS)
def test_merge_save_load_in_a_functional_model(make, reference, shapes, out_shape, tmp_path):
    cr.manual_seed(0)
    inputs = [cr.Input(shape=s[1:]) for s in shapes]
    merged = make()([L.Dense(s[-1])(x) for x, s in zip(inputs, shapes)])
    model = cr.Model(inputs, L.Dense(2)(L.Flatten()(merged)))
    xs = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    model.save(tmp_path / "merge.keras")
    loaded = cr.models.load_model(tmp_path / "merge.keras")
    np.testing.assert_array_equal(loaded.predict(xs), model.predict(xs))


@pytest.mark.parametrize("fn,cls,kwargs", [
    (L.add, L.Add, {}), (L.subtract, L.Subtract, {}), (L.multiply, L.Multiply, {}),
    (L.average, L.Average, {}), (L.maximum, L.Maximum, {}), (L.minimum, L.Minimum, {}),
    (L.concatenate, L.Concatenate, {"axis": -1}), (L.dot, L.Dot, {"axes": 1}),
])
def test_functional_forms_make_the_layer(fn, cls, kwargs):
    a, b = cr.Input(shape=(3,)), cr.Input(shape=(3,))
    out = fn([a, b], name=f"merged_{cls.__name__.lower()}", **kwargs)
    assert type(out.history.layer) is cls
    assert out.history.layer.name == f"merged_{cls.__name__.lower()}"
    eager = fn([np.ones((2, 3)), np.full((2, 3), 2.0)], **kwargs)
    expected = cls(**kwargs)([np.ones((2, 3)), np.full((2, 3), 2.0)])
    np.testing.assert_array_equal(eager.numpy(), expected.numpy())


@pytest.mark.parametrize("make,shapes,match", [
    (L.Add, [(None, 3), (None, 4)], r"`Add` layer 'add\w*': inputs have incompatible shapes "
                                    r"\(None, 3\), \(None, 4\)"),
    (L.Multiply, [(None, 3), (None, 2, 3)], r"same rank"),
    (L.Subtract, [(None, 3), (None, 3), (None, 3)], r"exactly 2 inputs"),
    (L.Average, [(None, 3)], r"at least 2 inputs"),
    (lambda: L.Concatenate(axis=1), [(None, 3, 2), (None, 3, 4)], r"match on every other axis"),
    (lambda: L.Dot(axes=1), [(None, 3), (None, 4)], r"contracted axes differ, 3 vs 4"),
    (lambda: L.Dot(axes=0), [(None, 3), (None, 3)], r"not a non-batch axis"),
])
def test_merge_shape_errors_name_the_layer(make, shapes, match):
    inputs = [cr.Input(batch_shape=s) for s in shapes]
    with pytest.raises(ValueError, match=match):
        make()(inputs)


def test_merge_needs_a_list():
    with pytest.raises(ValueError, match="must be called on a list"):
        L.Add()(np.ones((2, 3)))
    with pytest.raises(ValueError, match="must be called on a list"):
        L.Add()(cr.Input(shape=(3,)))


def test_unknown_dimensions_stay_unknown():
    a, b = cr.Input(shape=(None, 4)), cr.Input(shape=(5, 4))
    assert L.add([a, b]).shape == (None, None, 4)
    assert L.concatenate([a, b], axis=1).shape == (None, None, 4)
    assert L.concatenate([b, b], axis=1).shape == (None, 10, 4)


def test_merge_masks_combine():
    keep_a = np.array([[True, True, False], [True, False, False]])
    keep_b = np.array([[True, False, False], [True, True, True]])
    np.testing.assert_array_equal(L.Add().compute_mask(None, [keep_a, keep_b]), keep_a & keep_b)
    np.testing.assert_array_equal(L.Add().compute_mask(None, [keep_a, None]), keep_a)
    assert L.Add().compute_mask(None, [None, None]) is None
    x = np.zeros((2, 3, 4))
    concat = L.Concatenate(axis=1).compute_mask([x, x], [keep_a, None])
    np.testing.assert_array_equal(concat, np.concatenate([keep_a, np.ones((2, 3), bool)], 1))
    features = L.Concatenate().compute_mask([x, x], [keep_a, keep_b])
    np.testing.assert_array_equal(features, keep_a | keep_b)
