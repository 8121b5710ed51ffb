"""Stateless functions in PyTorch style: ``cr.functional.relu(x)``,
``cr.functional.cross_entropy(logits, target)``.

Each one wraps an op (or a few); layers and losses call these, so each idea has
one home.
"""

from __future__ import annotations

import numpy as np

from .backend import rng
from .ops.conv import Conv1d, Conv2d
from .ops.embedding import Embedding
from .ops.normalization import BatchNorm, LayerNorm
from .ops.pool import AvgPool2d, MaxPool1d, MaxPool2d
from .tensor import Tensor, as_tensor

# ---------------------------------------------------------------- activations


def relu(x) -> Tensor:
    return as_tensor(x).relu()


def sigmoid(x) -> Tensor:
    return as_tensor(x).sigmoid()


def tanh(x) -> Tensor:
    return as_tensor(x).tanh()


def leaky_relu(x, alpha: float = 0.01) -> Tensor:
    return as_tensor(x).leaky_relu(alpha)


def elu(x, alpha: float = 1.0) -> Tensor:
    return as_tensor(x).elu(alpha)


def gelu(x) -> Tensor:
    """GELU, tanh approximation (torch ``approximate="tanh"``)."""
    return as_tensor(x).gelu()


def softmax(x, axis: int = -1) -> Tensor:
    return as_tensor(x).softmax(axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    return as_tensor(x).log_softmax(axis)


# ---------------------------------------------------------------- linear and dropout


def linear(x, kernel, bias=None) -> Tensor:
    """x @ kernel + bias, with a Keras-layout kernel (in, out)."""
    y = as_tensor(x) @ kernel
    return y if bias is None else y + bias


def dropout(x, rate: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero with probability ``rate``, scale survivors by 1/(1-rate)."""
    x = as_tensor(x)
    if not training or rate == 0:
        return x
    keep = rng().random(x.shape, dtype=x.dtype) >= rate
    return x * (keep * x.dtype.type(1 / (1 - rate)))


# ---------------------------------------------------------------- convolution and pooling


def conv2d(x, kernel, bias=None, strides=1, padding: str = "valid", dilation=1) -> Tensor:
    """Channels-last 2-D convolution: x (N, H, W, Cin), kernel (kh, kw, Cin, Cout),
    bias (Cout,) or None -> (N, OH, OW, Cout). ``padding`` is "valid" or "same"."""
    return Conv2d.apply(as_tensor(x), kernel, bias, strides=strides, padding=padding,
                        dilation=dilation)


def conv1d(x, kernel, bias=None, strides=1, padding: str = "valid", dilation=1) -> Tensor:
    """Channels-last 1-D convolution: x (N, L, Cin), kernel (k, Cin, Cout) -> (N, OL, Cout)."""
    return Conv1d.apply(as_tensor(x), kernel, bias, strides=strides, padding=padding,
                        dilation=dilation)


def max_pool2d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Max over windows: (N, H, W, C) -> (N, OH, OW, C); strides default to the pool size."""
    return MaxPool2d.apply(as_tensor(x), pool_size=pool_size, strides=strides, padding=padding)


def avg_pool2d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Mean over windows (same-padding cells not counted): (N, H, W, C) -> (N, OH, OW, C)."""
    return AvgPool2d.apply(as_tensor(x), pool_size=pool_size, strides=strides, padding=padding)


def max_pool1d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Max over windows: (N, L, C) -> (N, OL, C)."""
    return MaxPool1d.apply(as_tensor(x), pool_size=pool_size, strides=strides, padding=padding)


# ---------------------------------------------------------------- normalization and embedding


def _check_channels(op: str, x: Tensor, **stats) -> None:
    for name, s in stats.items():
        if s is not None and tuple(s.shape) != (x.shape[-1],):
            raise ValueError(f"{op}: expected {name} of shape ({x.shape[-1]},) for inputs of "
                             f"shape {x.shape}; received shape {tuple(s.shape)}.")


def _update_moving(moving, batch, momentum: float) -> None:
    """moving = moving * momentum + batch * (1 - momentum), in place (Keras' rule)."""
    arr = moving.data if isinstance(moving, Tensor) else moving
    arr[...] = arr * momentum + batch * (1 - momentum)


def batch_norm(x, moving_mean=None, moving_var=None, gamma=None, beta=None,
               training: bool = False, momentum: float = 0.99,
               epsilon: float = 1e-3) -> Tensor:
    """Batch normalization over every axis but the last (channels-last), Keras' conventions.

    x (..., C); moving_mean, moving_var, gamma, beta (C,) or None -> y (..., C).
    ``training``: y = gamma * (x - mean) / sqrt(var + epsilon) + beta with the batch
    mean and biased variance (one fused op), and the moving statistics, when given,
    are updated in place: moving = moving * momentum + batch * (1 - momentum).
    ``momentum`` is Keras' (torch's is 1 - momentum), and the moving variance takes
    the biased batch variance as Keras does (torch takes the unbiased one).
    Otherwise the moving statistics stand in for the batch's.
    """
    x = as_tensor(x)
    _check_channels("batch_norm", x, moving_mean=moving_mean, moving_var=moving_var,
                    gamma=gamma, beta=beta)
    if training:
        stats = {}
        y = BatchNorm.apply(x, gamma, beta, epsilon=epsilon, stats=stats)
        for moving, batch in ((moving_mean, stats["mean"]), (moving_var, stats["var"])):
            if moving is not None:
                _update_moving(moving, batch, momentum)
        return y
    if moving_mean is None or moving_var is None:
        raise ValueError("batch_norm: inference (training=False) needs moving_mean and "
                         "moving_var; received None.")
    mean, var = (s.data if isinstance(s, Tensor) else np.asarray(s)
                 for s in (moving_mean, moving_var))
    scale = 1.0 / np.sqrt(var + x.dtype.type(epsilon))
    if gamma is not None:
        scale = as_tensor(gamma) * scale
    y = (x - mean.astype(x.dtype)) * scale
    return y if beta is None else y + beta


def layer_norm(x, gamma=None, beta=None, epsilon: float = 1e-3) -> Tensor:
    """Layer normalization over the last axis (one fused op), Keras' default epsilon.

    x (..., C), gamma/beta (C,) or None -> y = gamma * (x - mean) / sqrt(var + epsilon)
    + beta, mean and biased var over C at each position.
    """
    return LayerNorm.apply(as_tensor(x), gamma, beta, epsilon=epsilon)


def embedding(ids, weight) -> Tensor:
    """Rows of ``weight`` (V, D) picked by integer ``ids`` (...) -> (..., D).

    Ids outside [0, V) raise IndexError; repeated ids accumulate gradient.
    """
    return Embedding.apply(weight, ids)
