"""Converters of the core layers: activations, Dense, Flatten, Reshape, the layers that
are the identity at inference (Dropout and the augmentation layers), BatchNormalization,
LayerNormalization and Embedding.

Weights are written as they are (float32, Keras' layouts) and the arithmetic is
chainrule's, step for step, so that onnxruntime's outputs agree with ``predict`` to
float32 rounding.
"""

from __future__ import annotations

import math

import numpy as np

from .. import activations
from .graph import OnnxGraph, Value, converts, layer_error

FLOAT = np.float32


def _scalar(g: OnnxGraph, value: float, stem: str = "scalar") -> str:
    return g.const(np.asarray(value, dtype=FLOAT), stem)


def _gelu(g: OnnxGraph, x: str) -> str:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): chainrule's tanh form."""
    cube = g.op("Mul", [g.op("Mul", [x, x]), x])
    inner = g.op("Add", [x, g.op("Mul", [cube, _scalar(g, 0.044715)])])
    t = g.op("Tanh", [g.op("Mul", [inner, _scalar(g, math.sqrt(2 / math.pi))])])
    half_x = g.op("Mul", [x, _scalar(g, 0.5)])
    return g.op("Mul", [half_x, g.op("Add", [t, _scalar(g, 1.0)])])


# chainrule's activation name -> the nodes that compute it on the value named x
ACTIVATION_OPS = {
    "sigmoid": lambda g, x: g.op("Sigmoid", [x]),
    "tanh": lambda g, x: g.op("Tanh", [x]),
    "relu": lambda g, x: g.op("Relu", [x]),
    "leaky_relu": lambda g, x: g.op("LeakyRelu", [x], alpha=0.01),
    "elu": lambda g, x: g.op("Elu", [x], alpha=1.0),
    "gelu": _gelu,
    "softmax": lambda g, x: g.op("Softmax", [x], axis=-1),
    "linear": lambda g, x: x,
}


def activation(g: OnnxGraph, x: str, fn, layer) -> str:
    """The nodes of activation ``fn`` (one of chainrule's by-name activations)."""
    name = activations.builtin_name(fn)
    if name not in ACTIVATION_OPS:
        raise layer_error(layer, f"its activation {getattr(fn, '__name__', fn)!r} is not "
                                 f"one of chainrule's built-in activations "
                                 f"{sorted(ACTIVATION_OPS)}, so it has no ONNX form.")
    return ACTIVATION_OPS[name](g, x)


def linear(g: OnnxGraph, x, kernel, bias) -> str:
    """x @ kernel (+ bias) for x (..., in), kernel (in, out)."""
    y = g.op("MatMul", [x, g.const(kernel, "kernel")])
    return y if bias is None else g.op("Add", [y, g.const(bias, "bias")])


def weight(p) -> np.ndarray | None:
    """A parameter's array (None stays None)."""
    return None if p is None else np.asarray(p.data)


@converts("Dense")
def dense(g: OnnxGraph, layer, x: Value) -> str:
    y = linear(g, x, weight(layer.kernel), weight(layer.bias))
    return activation(g, y, layer.activation, layer)


@converts("Activation")
def activation_layer(g: OnnxGraph, layer, x: Value) -> str:
    return activation(g, x.name, layer.activation, layer)


@converts("Dropout", "GaussianNoise", "RandomFlip", "RandomTranslation")
def identity(g: OnnxGraph, layer, x: Value) -> str:
    """Active only in training: the identity in an exported (inference) graph."""
    return x.name


@converts("Flatten")
def flatten(g: OnnxGraph, layer, x: Value) -> str:
    return g.op("Flatten", [x], axis=1)


@converts("Reshape")
def reshape(g: OnnxGraph, layer, x: Value) -> str:
    return g.op("Reshape", [x, g.ints([0, *layer.target_shape])])  # 0 keeps the batch axis


def along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """(C,) shaped to broadcast along ``axis`` of an ``ndim``-array: (C, 1, ..., 1)."""
    return values.reshape(values.shape + (1,) * (ndim - 1 - axis))


@converts("BatchNormalization")
def batch_normalization(g: OnnxGraph, layer, x: Value) -> str:
    """Inference form with the moving statistics, as ``functional.batch_norm``:
    (x - mean) * scale + beta, scale = gamma / sqrt(var + epsilon), on any axis."""
    axis, ndim = layer.channel_axis, x.ndim
    mean, var = weight(layer.moving_mean), weight(layer.moving_variance)
    scale = FLOAT(1.0) / np.sqrt(var + FLOAT(layer.epsilon))
    if layer.gamma is not None:
        scale = weight(layer.gamma) * scale
    y = g.op("Sub", [x, g.const(along(mean, axis, ndim), "moving_mean")])
    y = g.op("Mul", [y, g.const(along(scale, axis, ndim), "scale")])
    if layer.beta is not None:
        y = g.op("Add", [y, g.const(along(weight(layer.beta), axis, ndim), "beta")])
    return y


@converts("LayerNormalization")
def layer_normalization(g: OnnxGraph, layer, x: Value) -> str:
    """ONNX's LayerNormalization over the last axis (computed in float32)."""
    channels = x.shape[-1]
    gamma = weight(layer.gamma) if layer.gamma is not None else np.ones(channels, FLOAT)
    inputs = [x, g.const(gamma, "gamma")]
    if layer.beta is not None:
        inputs.append(g.const(weight(layer.beta), "beta"))
    return g.op("LayerNormalization", inputs, axis=-1, epsilon=layer.epsilon)


@converts("Embedding")
def embedding(g: OnnxGraph, layer, ids: Value) -> str:
    if getattr(layer, "mask_zero", False):
        raise layer_error(layer, "mask_zero=True: the mask it hands on changes what later "
                                 "layers compute, and the ONNX export does not carry masks.")
    return g.op("Gather", [g.const(weight(layer.embeddings), "embeddings"), ids], axis=0)
