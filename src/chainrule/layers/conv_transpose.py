"""Transposed convolution, channels-last as Keras: Conv2DTranspose on (N, H, W, C)."""

from __future__ import annotations

from .. import functional as F
from ..ops.conv import normalize_tuple
from ..ops.conv_transpose import conv_transpose_output_shape, normalize_output_padding
from ..tensor import Tensor
from .conv import _Conv


def _check_rank(layer: _Conv, input_shape: tuple) -> None:
    if len(input_shape) != 4:
        raise ValueError(f"`{type(layer).__name__}` expects inputs of rank 4 (batch, height, "
                         f"width, channels); received shape {tuple(input_shape)}.")


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution (the adjoint of Conv2D, which upsamples with
    ``strides`` > 1): (N, H, W, Cin) -> (N, OH, OW, filters).

    ``kernel`` is (kh, kw, filters, Cin), Keras' layout (output channels before input
    channels), ``bias`` (filters,). OH = H * stride ("same") or H * stride + max(kh -
    stride, 0) ("valid"); with ``output_padding`` p, OH = (H - 1) * stride + kh - 2 *
    pad + p, pad = 0 ("valid") or kh // 2 ("same"). torch's ``ConvTranspose2d``:
    weight = kernel.permute(3, 2, 0, 1) (Cin, Cout, kh, kw); see docs/layers.md for
    its padding arguments.
    """

    rank = 2

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 output_padding=None, dilation_rate=1, **kwargs):
        layer = type(self).__name__
        self.output_padding = normalize_output_padding(
            output_padding, normalize_tuple(strides, self.rank, "strides", layer),
            normalize_tuple(dilation_rate, self.rank, "dilation_rate", layer), layer)
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         dilation_rate=dilation_rate, **kwargs)

    def build(self, input_shape: tuple) -> None:
        _check_rank(self, input_shape)
        self.add_kernel_and_bias((*self.kernel_size, self.filters, input_shape[-1]),
                                 (self.filters,))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        _check_rank(self, input_shape)
        return conv_transpose_output_shape(tuple(input_shape), self.kernel_size, self.filters,
                                           self.strides, self.padding, self.output_padding,
                                           self.dilation_rate)

    def forward(self, x: Tensor, logits: bool = False) -> Tensor:
        y = F.conv_transpose2d(x, self.kernel, self.bias, strides=self.strides,
                               padding=self.padding, output_padding=self.output_padding,
                               dilation=self.dilation_rate)
        return self.activate(y, logits)

    def get_config(self) -> dict:
        output_padding = None if self.output_padding is None else list(self.output_padding)
        return {**super().get_config(), "output_padding": output_padding}
