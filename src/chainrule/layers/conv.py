"""Convolution layers, channels-last as Keras: Conv1D on (N, L, C), Conv2D on (N, H, W, C)."""

from __future__ import annotations

from .. import functional as F
from ..ops.conv import normalize_padding, normalize_tuple, output_size, padding_amounts
from ..tensor import Tensor
from .base import Layer, single_shape
from .kernel import _KernelLayer


def window_output_length(size: int | None, window: int, stride: int, dilation: int,
                         padding: str) -> int | None:
    """Positions of a sliding window along one axis (None when ``size`` is unknown):
    "valid" floor((size - dilation (window - 1) - 1) / stride) + 1, "same" ceil(size / stride)."""
    if size is None:
        return None
    pads = padding_amounts(size, window, stride, dilation, padding)
    return output_size(size + sum(pads), window, stride, dilation)


def check_rank(layer: Layer, input_shape, rank: int) -> tuple:
    """``input_shape`` of rank ``rank + 2`` (batch, spatial..., channels), else an error."""
    input_shape = single_shape(layer, input_shape)
    if len(input_shape) != rank + 2:
        raise ValueError(f"`{type(layer).__name__}` expects inputs of rank {rank + 2} "
                         f"(batch, {'spatial, ' * rank}channels); layer '{layer.name}' "
                         f"received shape {input_shape}.")
    return input_shape


def spatial_output_shape(layer: Layer, input_shape, window: tuple, strides: tuple,
                         dilation: tuple, padding: str, channels: int | None) -> tuple:
    """(N, *spatial outputs, channels) of a convolution or pooling layer of rank
    ``len(window)``; an error naming the layer when no window position fits."""
    input_shape = check_rank(layer, input_shape, len(window))
    spatial = tuple(window_output_length(size, k, s, d, padding) for size, k, s, d in
                    zip(input_shape[1:-1], window, strides, dilation))
    if any(n is not None and n < 1 for n in spatial):
        raise ValueError(f"`{type(layer).__name__}` layer '{layer.name}': inputs of shape "
                         f"{input_shape} are smaller than its window {window}; no output "
                         f"position fits.")
    return (input_shape[0], *spatial, input_shape[-1] if channels is None else channels)


class _Conv(_KernelLayer):
    """Shared configuration of Conv1D and Conv2D (``rank`` spatial axes); ``logits=True``
    returns the convolution before the activation. Regularizers and constraints: see
    :class:`~chainrule.layers.kernel._KernelLayer`."""

    rank = 2

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 dilation_rate=1, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        layer = type(self).__name__
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", layer)
        self.strides = normalize_tuple(strides, self.rank, "strides", layer)
        self.padding = normalize_padding(padding, layer)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", layer)
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, **kwargs)

    def build(self, input_shape: tuple) -> None:
        input_shape = check_rank(self, input_shape, self.rank)
        if input_shape[-1] is None:
            raise ValueError(f"`{type(self).__name__}` layer '{self.name}' needs a known "
                             f"channels axis; received input shape {input_shape}.")
        self.add_kernel_and_bias((*self.kernel_size, input_shape[-1], self.filters),
                                 (self.filters,))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels = check_rank(self, input_shape, self.rank)[-1]
        if channels != self.kernel.shape[-2]:
            raise ValueError(f"`{type(self).__name__}` layer '{self.name}' expected inputs "
                             f"with {self.kernel.shape[-2]} channels (its kernel is "
                             f"{self.kernel.shape}); received shape {tuple(input_shape)}.")
        return spatial_output_shape(self, input_shape, self.kernel_size, self.strides,
                                    self.dilation_rate, self.padding, self.filters)

    def forward(self, x: Tensor, logits: bool = False) -> Tensor:
        return self.run_with_activation(lambda activation: self.convolve(x, activation),
                                        logits)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "dilation_rate": list(self.dilation_rate)}


class Conv2D(_Conv):
    """2-D convolution: (N, H, W, Cin) -> (N, OH, OW, filters); kernel (kh, kw, Cin, filters)."""

    rank = 2

    def convolve(self, x: Tensor, activation: str | None) -> Tensor:
        return F.conv2d(x, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                        dilation=self.dilation_rate, activation=activation)


class Conv1D(_Conv):
    """1-D convolution: (N, L, Cin) -> (N, OL, filters); kernel (k, Cin, filters)."""

    rank = 1

    def convolve(self, x: Tensor, activation: str | None) -> Tensor:
        return F.conv1d(x, self.kernel, self.bias, strides=self.strides[0],
                        padding=self.padding, dilation=self.dilation_rate[0],
                        activation=activation)
