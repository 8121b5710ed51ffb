"""Reshaping layers, channels-last as Keras: UpSampling1D/2D, ZeroPadding1D/2D,
Cropping1D/2D. None has weights; each is a few Tensor ops (upsampling's bilinear
mode one op, ``ops/resize.py``)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..ops.conv import normalize_tuple
from ..tensor import Tensor
from .base import Layer


def _check_rank(layer: Layer, input_shape: tuple, rank: int) -> tuple:
    """``input_shape`` (batch, rank spatial axes, channels) as a tuple, or an error."""
    if len(input_shape) != rank + 2:
        spatial = "steps" if rank == 1 else "height, width"
        raise ValueError(f"`{type(layer).__name__}` expects inputs of rank {rank + 2} (batch, "
                         f"{spatial}, channels); received shape {tuple(input_shape)}.")
    return tuple(input_shape)


def _pairs(value, rank: int, name: str, layer: str) -> tuple:
    """Keras' padding/cropping argument as ((before, after), ...) per spatial axis: an
    int (every side), ``rank`` ints (both sides of each axis) or ``rank`` pairs; for
    one axis also a single (before, after) pair."""
    def is_count(v) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0

    if is_count(value):
        pairs = ((value, value),) * rank
    elif rank == 1 and isinstance(value, tuple | list) and len(value) == 2 \
            and all(map(is_count, value)):
        pairs = (tuple(value),)
    elif isinstance(value, tuple | list) and len(value) == rank and all(map(is_count, value)):
        pairs = tuple((v, v) for v in value)
    elif isinstance(value, tuple | list) and len(value) == rank and all(
            isinstance(p, tuple | list) and len(p) == 2 and all(map(is_count, p))
            for p in value):
        pairs = tuple(tuple(p) for p in value)
    else:
        form = "an int or (before, after)" if rank == 1 else \
            "an int, 2 ints or 2 pairs ((top, bottom), (left, right))"
        raise ValueError(f"Invalid value for argument `{name}` of `{layer}`: expected {form} "
                         f"of non-negative ints; received {name}={value!r}.")
    return tuple((int(a), int(b)) for a, b in pairs)


class _UpSampling(Layer):
    """Repeat each step/pixel ``size`` times along each spatial axis."""

    rank = 1
    interpolation = "nearest"

    def __init__(self, size=2, **kwargs):
        self.size = normalize_tuple(size, self.rank, "size", type(self).__name__)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = _check_rank(self, input_shape, self.rank)
        spatial = tuple(None if n is None else n * f for n, f in zip(shape[1:-1], self.size))
        return (shape[0], *spatial, shape[-1])

    def forward(self, x: Tensor) -> Tensor:
        _check_rank(self, x.shape, self.rank)
        return F.upsample(x, self.size, self.interpolation)


class UpSampling1D(_UpSampling):
    """Repeat each time step ``size`` times: (N, L, C) -> (N, L * size, C)."""

    rank = 1

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size[0]}


class UpSampling2D(_UpSampling):
    """Upsample rows and columns by ``size`` (sh, sw): (N, H, W, C) -> (N, H*sh, W*sw, C).

    ``interpolation="nearest"`` repeats pixels; ``"bilinear"`` interpolates with
    half-pixel centres, as Keras (TensorFlow's resize) and torch's
    ``Upsample(mode="bilinear", align_corners=False)``.
    """

    rank = 2

    def __init__(self, size=(2, 2), interpolation: str = "nearest", **kwargs):
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"Invalid value for argument `interpolation` of `UpSampling2D`: "
                             f"expected \"nearest\" or \"bilinear\"; received "
                             f"interpolation={interpolation!r}.")
        self.interpolation = interpolation
        super().__init__(size, **kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": list(self.size),
                "interpolation": self.interpolation}


class _Padding(Layer):
    """Zero padding of the spatial axes: ``padding`` as ((before, after), ...)."""

    rank = 1
    argument = "padding"
    sign = 1  # +1 pads, -1 crops

    def __init__(self, amounts, **kwargs):
        self.amounts = _pairs(amounts, self.rank, self.argument, type(self).__name__)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = _check_rank(self, input_shape, self.rank)
        spatial = tuple(None if n is None else n + self.sign * (a + b)
                        for n, (a, b) in zip(shape[1:-1], self.amounts))
        if any(n is not None and n < 0 for n in spatial):
            raise ValueError(f"`{type(self).__name__}` cannot crop {list(self.amounts)} from "
                             f"inputs of shape {tuple(input_shape)}: nothing would be left.")
        return (shape[0], *spatial, shape[-1])

    def get_config(self) -> dict:
        value = list(self.amounts[0]) if self.rank == 1 else [list(p) for p in self.amounts]
        return {**super().get_config(), self.argument: value}


class _ZeroPadding(_Padding):
    def forward(self, x: Tensor) -> Tensor:
        _check_rank(self, x.shape, self.rank)
        return x.pad(((0, 0), *self.amounts, (0, 0)))


class _Cropping(_Padding):
    argument = "cropping"
    sign = -1

    def forward(self, x: Tensor) -> Tensor:
        self.compute_output_shape(x.shape)
        return x[(slice(None), *(slice(a, n - b) for (a, b), n in
                                 zip(self.amounts, x.shape[1:-1])))]


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the time axis: (N, L, C) -> (N, L + a + b, C);
    ``padding`` an int or (a, b)."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(padding, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Zeros around each image: (N, H, W, C) -> (N, H + top + bottom, W + left + right, C);
    ``padding`` an int, (h, w) (both sides) or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, padding=(1, 1), **kwargs):
        super().__init__(padding, **kwargs)


class Cropping1D(_Cropping):
    """Drop steps from the start and end of the time axis: (N, L, C) -> (N, L - a - b, C);
    ``cropping`` an int or (a, b)."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, **kwargs)


class Cropping2D(_Cropping):
    """Drop rows and columns at the edges: (N, H, W, C) -> (N, H - top - bottom,
    W - left - right, C); ``cropping`` an int, (h, w) or ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), **kwargs):
        super().__init__(cropping, **kwargs)
