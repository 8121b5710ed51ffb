"""Weight constraints by Keras name: ``kernel_constraint=constraints.MaxNorm(3)``.

A constraint projects a weight back into an allowed set. The optimizer applies a
parameter's ``constraint`` to it after each of its updates (``optimizer.step()``, so
in ``fit`` and in a hand-written loop alike). Constraints work on raw arrays; the
norms are taken along ``axis`` (0 by default, as Keras: for a Dense kernel
(in, units), each unit's incoming weights; a Conv2D kernel wants ``axis=[0, 1, 2]``),
and ``EPSILON`` (Keras' 1e-7) keeps the divisions finite.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .registry import Configurable, Registry, config_number

EPSILON = 1e-7


def _axis(owner: str, axis) -> int | list[int]:
    """An int or a list of ints (as JSON keeps it)."""
    values = axis if isinstance(axis, list | tuple) else [axis]
    if not values or not all(isinstance(a, int) and not isinstance(a, bool) for a in values):
        raise ValueError(f"Invalid value for argument `axis` of `{owner}`: expected an int or "
                         f"a list of ints; received axis={axis!r:.50}.")
    return list(values) if isinstance(axis, list | tuple) else axis


def _as_array(w) -> np.ndarray:
    return np.asarray(getattr(w, "data", w))


class Constraint(Configurable):
    """Base class: ``constraint(w)`` returns the projected array (the identity here)."""

    def __call__(self, w) -> np.ndarray:
        return _as_array(w)


class _NormConstraint(Constraint):
    """Rescales w so that its norms along ``axis`` become ``desired(norms)``:
    w * desired / (EPSILON + norms)."""

    def __init__(self, axis=0):
        self.axis = _axis(type(self).__name__, axis)

    def norms(self, w: np.ndarray) -> np.ndarray:
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))

    def desired(self, norms: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define desired()")

    def __call__(self, w) -> np.ndarray:
        w = _as_array(w)
        norms = self.norms(w)
        return (w * (self.desired(norms) / (EPSILON + norms))).astype(w.dtype, copy=False)

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MaxNorm(_NormConstraint):
    """Norms along ``axis`` at most ``max_value``: w * clip(n, 0, max) / (eps + n)."""

    def __init__(self, max_value: float = 2, axis=0):
        self.max_value = config_number("MaxNorm", "max_value", max_value)
        super().__init__(axis)

    def desired(self, norms: np.ndarray) -> np.ndarray:
        return np.clip(norms, 0, self.max_value)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, **super().get_config()}


class MinMaxNorm(_NormConstraint):
    """Norms along ``axis`` moved into [min_value, max_value] at ``rate``:
    desired = rate * clip(n, min, max) + (1 - rate) * n."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis=0):
        self.min_value = config_number("MinMaxNorm", "min_value", min_value)
        self.max_value = config_number("MinMaxNorm", "max_value", max_value, self.min_value)
        self.rate = config_number("MinMaxNorm", "rate", rate)
        super().__init__(axis)

    def desired(self, norms: np.ndarray) -> np.ndarray:
        return self.rate * np.clip(norms, self.min_value, self.max_value) \
            + (1 - self.rate) * norms

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                **super().get_config()}


class UnitNorm(_NormConstraint):
    """Norms along ``axis`` equal to 1: w / (eps + n)."""

    def desired(self, norms: np.ndarray) -> np.ndarray:
        return np.ones_like(norms)


class NonNeg(Constraint):
    """max(w, 0)."""

    def __call__(self, w) -> np.ndarray:
        return np.maximum(_as_array(w), 0)


max_norm, min_max_norm, unit_norm, non_neg = MaxNorm, MinMaxNorm, UnitNorm, NonNeg

CONSTRAINTS = Registry("constraint", {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm,
                                      "unit_norm": UnitNorm, "non_neg": NonNeg},
                       hint="(or pass a Constraint or a function of one array)")


def get(identifier) -> Callable | None:
    """A constraint from None, a name ("max_norm", "non_neg", ...), a class, a config
    ``{"class_name": "MaxNorm", "config": {...}}``, an instance or a function."""
    if identifier is None:
        return None
    return CONSTRAINTS.get(identifier, Constraint, wrap=lambda fn: fn)


def serialize(constraint) -> dict | str | None:
    """What a layer's config stores; :func:`get` reads it back by registered name only."""
    return CONSTRAINTS.serialize(constraint)
