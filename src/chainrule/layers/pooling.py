"""Pooling layers, channels-last: MaxPooling1D/2D, AveragePooling1D/2D, GlobalMaxPooling1D/2D,
GlobalAveragePooling1D/2D."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..ops.conv import normalize_padding, normalize_tuple
from ..tensor import Tensor
from .base import Layer
from .conv import check_rank, spatial_output_shape


class _Pooling(Layer):
    """Shared configuration: ``pool_size``, ``strides`` (default: the pool size), ``padding``."""

    rank = 2

    def __init__(self, pool_size=2, strides=None, padding: str = "valid", **kwargs):
        layer = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", layer)
        self.strides = self.pool_size if strides is None else normalize_tuple(
            strides, self.rank, "strides", layer)
        self.padding = normalize_padding(padding, layer)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return spatial_output_shape(self, input_shape, self.pool_size, self.strides,
                                    (1,) * self.rank, self.padding, None)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}


class MaxPooling2D(_Pooling):
    """Max over each (ph, pw) window: (N, H, W, C) -> (N, OH, OW, C)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.pool_size, self.strides, self.padding)


class AveragePooling2D(_Pooling):
    """Mean over each (ph, pw) window (same-padding cells excluded from the count)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.pool_size, self.strides, self.padding)


class MaxPooling1D(_Pooling):
    """Max over each window of length p: (N, L, C) -> (N, OL, C)."""

    rank = 1

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool1d(x, self.pool_size[0], self.strides[0], self.padding)


class GlobalAveragePooling2D(Layer):
    """Mean over the spatial axes: (N, H, W, C) -> (N, C)."""

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = check_rank(self, input_shape, 2)
        return (input_shape[0], input_shape[-1])

    def forward(self, x: Tensor) -> Tensor:
        return x.mean(axis=(1, 2))


class AveragePooling1D(_Pooling):
    """Mean over each window of length p: (N, L, C) -> (N, OL, C) (same-padding cells
    excluded from the count)."""

    rank = 1

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.pool_size[0], self.strides[0], self.padding)


class _GlobalPooling(Layer):
    """Reduce the ``rank`` spatial axes: (N, *spatial, C) -> (N, C), or (N, 1, ..., C)
    with ``keepdims``."""

    rank = 1

    def __init__(self, keepdims: bool = False, **kwargs):
        self.keepdims = bool(keepdims)
        super().__init__(**kwargs)

    def _axes(self, shape: tuple) -> tuple:
        if len(shape) != self.rank + 2:
            spatial = "steps" if self.rank == 1 else "height, width"
            raise ValueError(f"`{type(self).__name__}` expects inputs of rank {self.rank + 2} "
                             f"(batch, {spatial}, channels); received shape {tuple(shape)}.")
        return tuple(range(1, self.rank + 1))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._axes(input_shape)
        if self.keepdims:
            return (input_shape[0], *(1,) * self.rank, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps: (N, L, C) -> (N, C)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.max(axis=self._axes(x.shape), keepdims=self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling):
    """Max over the spatial axes: (N, H, W, C) -> (N, C)."""

    rank = 2

    def forward(self, x: Tensor) -> Tensor:
        return x.max(axis=self._axes(x.shape), keepdims=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps: (N, L, C) -> (N, C). With a ``mask`` (N, L) (from
    ``Embedding(mask_zero=True)``), the mean over the unmasked steps only, as Keras
    (a sample with every step masked gives zeros, where Keras divides by zero)."""

    supports_masking = True

    def forward(self, x: Tensor, mask=None) -> Tensor:
        axes = self._axes(x.shape)
        if mask is None:
            return x.mean(axis=axes, keepdims=self.keepdims)
        weights = np.asarray(getattr(mask, "data", mask), dtype=x.dtype)
        if weights.shape != x.shape[:2]:
            raise ValueError(f"`GlobalAveragePooling1D` expected a mask of shape {x.shape[:2]} "
                             f"for inputs of shape {x.shape}; received {weights.shape}.")
        weights = weights[..., None]
        counts = np.maximum(weights.sum(axis=1, keepdims=self.keepdims), 1)
        return (x * weights).sum(axis=1, keepdims=self.keepdims) / counts

    def compute_mask(self, inputs, mask=None):
        return None
