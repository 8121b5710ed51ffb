"""Stateless functions in PyTorch style: ``cr.functional.relu(x)``,
``cr.functional.cross_entropy(logits, target)``.

Each one wraps an op (or a few); layers and losses call these, so each idea has
one home.
"""

from __future__ import annotations

from .backend import rng
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
