"""Pooling layers, channels-last: MaxPooling1D/2D, AveragePooling2D, GlobalAveragePooling2D."""

from __future__ import annotations

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
