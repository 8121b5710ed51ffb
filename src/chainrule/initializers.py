"""Weight initializers by Keras name: ``initializers.get("glorot_uniform")(shape)``.

Fans follow Keras: a (in, out) kernel has fan_in = in, fan_out = out; a
convolution kernel (kh, kw, in, out) multiplies both by kh * kw. Every draw
comes from chainrule's seeded generator.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import numpy as np

from .backend import get_default_dtype, rng
from .registry import Registry


def compute_fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``, as Keras computes them."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(shape: tuple, stddev: float) -> np.ndarray:
    """Normal samples redrawn until within two standard deviations (Keras' truncation)."""
    out = rng().standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng().standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


def zeros(shape: tuple) -> np.ndarray:
    return np.zeros(shape)


def ones(shape: tuple) -> np.ndarray:
    return np.ones(shape)


def uniform(shape: tuple) -> np.ndarray:
    """Keras RandomUniform: U(-0.05, 0.05)."""
    return rng().uniform(-0.05, 0.05, shape)


def normal(shape: tuple) -> np.ndarray:
    """Keras RandomNormal: N(0, 0.05**2)."""
    return rng().normal(0.0, 0.05, shape)


def glorot_uniform(shape: tuple) -> np.ndarray:
    """U(-l, l), l = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = compute_fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng().uniform(-limit, limit, shape)


def glorot_normal(shape: tuple) -> np.ndarray:
    """Truncated normal, stddev sqrt(2 / (fan_in + fan_out)) (before truncation)."""
    fan_in, fan_out = compute_fans(shape)
    return _truncated_normal(shape, np.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978)


def he_uniform(shape: tuple) -> np.ndarray:
    """U(-l, l), l = sqrt(6 / fan_in)."""
    fan_in, _ = compute_fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng().uniform(-limit, limit, shape)


def he_normal(shape: tuple) -> np.ndarray:
    """Truncated normal, stddev sqrt(2 / fan_in) (before truncation)."""
    fan_in, _ = compute_fans(shape)
    return _truncated_normal(shape, np.sqrt(2.0 / fan_in) / 0.87962566103423978)


def orthogonal(shape: tuple) -> np.ndarray:
    """A (semi-)orthogonal matrix: rows of the flattened kernel orthonormal (Keras)."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return q.reshape(shape)


INITIALIZERS = Registry("initializer", {f.__name__: f for f in (
    zeros, ones, uniform, normal, glorot_uniform, glorot_normal, he_uniform, he_normal,
    orthogonal)})


def get(identifier: str | Callable) -> Callable[[tuple], np.ndarray]:
    """An initializer by name, or a callable ``shape -> array`` unchanged."""
    if callable(identifier):
        return identifier
    return INITIALIZERS.lookup(identifier)


def check(identifier: str | Callable) -> str | Callable:
    """``identifier`` unchanged if it names an initializer (or is callable); else an error."""
    get(identifier)
    return identifier


class WeightBudgetExceeded(ValueError):
    """More weight values were asked for inside ``placeholder_weights`` than allowed."""


_placeholder_budget: list[int] | None = None  # [values left] inside placeholder_weights()


@contextlib.contextmanager
def placeholder_weights(max_values: int) -> Iterator[None]:
    """Inside: weights start as read-only zeros that take no memory (one zero seen
    through a broadcast view; no random draws), and at most ``max_values`` values may
    be created in all; more raises :class:`WeightBudgetExceeded`, before allocating.

    Loading a saved model rebuilds its layers this way before its stored weights are
    read and copied in, so a hostile config cannot make it allocate without bound.
    """
    global _placeholder_budget
    previous, _placeholder_budget = _placeholder_budget, [int(max_values)]
    try:
        yield
    finally:
        _placeholder_budget = previous


def initialize(identifier: str | Callable, shape: tuple) -> np.ndarray:
    """A new weight of ``shape`` in the default dtype."""
    draw = get(identifier)
    shape = tuple(int(d) for d in shape)
    if _placeholder_budget is not None:
        _placeholder_budget[0] -= math.prod(shape)  # Python ints: no overflow
        if _placeholder_budget[0] < 0:
            raise WeightBudgetExceeded(f"a weight of shape {shape} exceeds the number of "
                                       f"values allowed while building placeholders.")
        return np.broadcast_to(np.zeros((), dtype=get_default_dtype()), shape)
    return np.asarray(draw(shape), dtype=get_default_dtype())
