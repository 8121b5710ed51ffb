"""Converters of the merge layers of the Functional API: Add, Subtract, Multiply,
Average, Maximum, Minimum, Concatenate and Dot, each folding its inputs in the order
chainrule's layer does (x1 + x2 + x3 is ((x1 + x2) + x3), as float32 rounding sees it).
"""

from __future__ import annotations

import numpy as np

from .core import FLOAT
from .graph import OnnxGraph, converts


def _fold(op_type: str):
    def convert(g: OnnxGraph, layer, inputs: list) -> str:
        y = inputs[0].name
        for x in inputs[1:]:
            y = g.op(op_type, [y, x])
        return y
    return convert


converts("Add")(_fold("Add"))
converts("Subtract")(_fold("Sub"))
converts("Multiply")(_fold("Mul"))
converts("Maximum")(_fold("Max"))
converts("Minimum")(_fold("Min"))


@converts("Average")
def average(g: OnnxGraph, layer, inputs: list) -> str:
    total = _fold("Add")(g, layer, inputs)
    return g.op("Mul", [total, g.const(np.asarray(1.0 / len(inputs), FLOAT), "inverse_count")])


@converts("Concatenate")
def concatenate(g: OnnxGraph, layer, inputs: list) -> str:
    return g.op("Concat", inputs, axis=layer.axis)


def _l2_normalize(g: OnnxGraph, x: str, axis: int) -> str:
    """x / sqrt(max(sum(x**2, axis), 1e-12)), as the layer."""
    squares = g.op("ReduceSum", [g.op("Mul", [x, x]), g.ints([axis])], keepdims=1)
    floor = g.op("Max", [squares, g.const(np.asarray(1e-12, FLOAT), "epsilon")])
    return g.op("Div", [x, g.op("Sqrt", [floor])])


def _move_axis(g: OnnxGraph, x: str, ndim: int, source: int, destination: int) -> str:
    order = [i for i in range(ndim) if i != source]
    order.insert(destination, source)
    return x if order == list(range(ndim)) else g.op("Transpose", [x], perm=order)


@converts("Dot")
def dot(g: OnnxGraph, layer, inputs: list) -> str:
    """Per-sample dot products along one axis of each input, as ``Dot._merge``: both
    reshaped to (N, rows, k) and (N, k, cols), one batched MatMul, reshaped back."""
    x, y = inputs
    a0, a1 = layer._contracted([x.shape, y.shape])
    xs, ys = x.name, y.name
    if layer.normalize:
        xs, ys = _l2_normalize(g, xs, a0), _l2_normalize(g, ys, a1)
    xs = _move_axis(g, xs, x.ndim, a0, x.ndim - 1)
    ys = _move_axis(g, ys, y.ndim, a1, 1)
    k = x.shape[a0]
    x_rest = [d for i, d in enumerate(x.shape[1:], 1) if i != a0]
    y_rest = [d for i, d in enumerate(y.shape[1:], 1) if i != a1]
    product = g.op("MatMul", [g.op("Reshape", [xs, g.ints([0, -1, k])]),
                              g.op("Reshape", [ys, g.ints([0, k, -1])])])
    return g.op("Reshape", [product, g.ints([0, *(x_rest + y_rest or [1])])])
