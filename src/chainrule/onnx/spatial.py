"""Converters of the layers on images and sequences, channels-last as Keras: Conv1D/2D,
Conv2DTranspose, the pooling layers, UpSampling1D/2D, ZeroPadding1D/2D, Cropping1D/2D.

ONNX's Conv, ConvTranspose, MaxPool, AveragePool and Resize work channels-first
(N, C, *spatial), so each of those sits between two Transposes (NHWC -> NCHW and
back; a runtime folds the pairs that meet). Padding is explicit: "same" is
TensorFlow's rule (the odd row or column after), computed from the spatial size of
the sample input, as chainrule's ops compute it.
"""

from __future__ import annotations

import numpy as np

from ..ops.conv import padding_amounts
from ..ops.conv_transpose import transposed_geometry
from .core import FLOAT, activation, weight
from .graph import OnnxGraph, Value, converts, layer_error


def channels_first(g: OnnxGraph, x, rank: int) -> str:
    """(N, *spatial, C) -> (N, C, *spatial)."""
    return g.op("Transpose", [x], perm=[0, rank + 1, *range(1, rank + 1)])


def channels_last(g: OnnxGraph, x, rank: int) -> str:
    """(N, C, *spatial) -> (N, *spatial, C)."""
    return g.op("Transpose", [x], perm=[0, *range(2, rank + 2), 1])


def onnx_pads(pairs) -> list[int]:
    """((before, after), ...) per axis -> ONNX's [b1, b2, ..., a1, a2, ...]."""
    return [int(b) for b, _ in pairs] + [int(a) for _, a in pairs]


def same_pads(spatial: tuple, window: tuple, strides: tuple, dilation: tuple,
              mode: str) -> list[int]:
    """ONNX pads of a "valid" or "same" (TensorFlow's) window op on ``spatial``."""
    return onnx_pads([padding_amounts(*args, mode)
                      for args in zip(spatial, window, strides, dilation)])


@converts("Conv1D", "Conv2D")
def conv(g: OnnxGraph, layer, x: Value) -> str:
    """Conv on NCHW; kernel (*k, Cin, F) -> ONNX's (F, Cin, *k)."""
    rank = layer.rank
    kernel = weight(layer.kernel)
    w = kernel.transpose(rank + 1, rank, *range(rank))
    inputs = [channels_first(g, x, rank), g.const(w, "kernel")]
    if layer.bias is not None:
        inputs.append(g.const(weight(layer.bias), "bias"))
    y = g.op("Conv", inputs, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
             dilations=list(layer.dilation_rate),
             pads=same_pads(x.shape[1:-1], layer.kernel_size, layer.strides,
                            layer.dilation_rate, layer.padding))
    return activation(g, channels_last(g, y, rank), layer.activation, layer)


@converts("Conv2DTranspose")
def conv_transpose(g: OnnxGraph, layer, x: Value) -> str:
    """ConvTranspose on NCHW; kernel (kh, kw, F, Cin) -> ONNX's (Cin, F, kh, kw).

    chainrule writes every window into a "full" buffer and keeps the output block that
    starts at ``crop``; ONNX gets the same block as ``pads`` cut from the natural full
    output, with ``output_padding`` where the block reaches past it (zeros, plus bias).
    """
    h_w = x.shape[1:3]
    out_hw, crops, _ = transposed_geometry(h_w, layer.kernel_size, layer.strides,
                                           layer.dilation_rate, layer.padding,
                                           layer.output_padding)
    begin, end, extra = [], [], []
    for n, k, s, d, out, crop in zip(h_w, layer.kernel_size, layer.strides,
                                     layer.dilation_rate, out_hw, crops):
        natural = (n - 1) * s + (k - 1) * d + 1
        begin.append(crop)
        end.append(max(natural - crop - out, 0))
        extra.append(max(crop + out - natural, 0))
    inputs = [channels_first(g, x, 2), g.const(weight(layer.kernel).transpose(3, 2, 0, 1),
                                                "kernel")]
    if layer.bias is not None:
        inputs.append(g.const(weight(layer.bias), "bias"))
    y = g.op("ConvTranspose", inputs, kernel_shape=list(layer.kernel_size),
             strides=list(layer.strides), dilations=list(layer.dilation_rate),
             pads=begin + end, output_padding=extra)
    return activation(g, channels_last(g, y, 2), layer.activation, layer)


def _pool(op_type: str, **attrs):
    def convert(g: OnnxGraph, layer, x: Value) -> str:
        rank = layer.rank
        pads = same_pads(x.shape[1:-1], layer.pool_size, layer.strides, (1,) * rank,
                         layer.padding)
        y = g.op(op_type, [channels_first(g, x, rank)], kernel_shape=list(layer.pool_size),
                 strides=list(layer.strides), pads=pads, **attrs)
        return channels_last(g, y, rank)
    return convert


# "same" padding is left out of the mean (Keras), and never wins a max
converts("MaxPooling1D", "MaxPooling2D")(_pool("MaxPool"))
converts("AveragePooling1D", "AveragePooling2D")(_pool("AveragePool", count_include_pad=0))


@converts("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
          "GlobalMaxPooling2D")
def global_pooling(g: OnnxGraph, layer, x: Value) -> str:
    op_type = "ReduceMax" if "Max" in type(layer).__name__ else "ReduceMean"
    rank = x.ndim - 2
    keepdims = int(getattr(layer, "keepdims", False))  # GlobalAveragePooling2D has none
    return g.op(op_type, [x], axes=list(range(1, rank + 1)), keepdims=keepdims)


@converts("UpSampling1D", "UpSampling2D")
def upsampling(g: OnnxGraph, layer, x: Value) -> str:
    """"nearest": each position repeated (a Reshape to (N, s1, 1, s2, 1, ..., C), an
    Expand and a Reshape back, as ``functional.upsample``); "bilinear": Resize with
    half-pixel centres."""
    spatial, factors = x.shape[1:-1], layer.size
    if layer.interpolation == "bilinear":
        scales = np.array([1, 1, *factors], dtype=FLOAT)
        y = g.op("Resize", [channels_first(g, x, 2), "", g.const(scales, "scales")],
                 mode="linear", coordinate_transformation_mode="half_pixel")
        return channels_last(g, y, 2)
    if layer.interpolation != "nearest":  # pragma: no cover - the layer checks it
        raise layer_error(layer, f"interpolation {layer.interpolation!r} has no converter.")
    channels = x.shape[-1]
    inserted = [0] + [d for n in spatial for d in (n, 1)] + [channels]
    repeated = [1] + [d for n, f in zip(spatial, factors) for d in (n, f)] + [channels]
    y = g.op("Reshape", [x, g.ints(inserted)])
    y = g.op("Expand", [y, g.ints(repeated)])
    return g.op("Reshape", [y, g.ints([0, *(n * f for n, f in zip(spatial, factors)),
                                       channels])])


@converts("ZeroPadding1D", "ZeroPadding2D")
def zero_padding(g: OnnxGraph, layer, x: Value) -> str:
    pads = onnx_pads([(0, 0), *layer.amounts, (0, 0)])
    return g.op("Pad", [x, g.ints(pads), g.const(np.zeros((), x.data.dtype), "zero")],
                mode="constant")


@converts("Cropping1D", "Cropping2D")
def cropping(g: OnnxGraph, layer, x: Value) -> str:
    axes = list(range(1, len(layer.amounts) + 1))
    starts = [a for a, _ in layer.amounts]
    ends = [n - b for (_, b), n in zip(layer.amounts, x.shape[1:-1])]
    return g.op("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes)])
