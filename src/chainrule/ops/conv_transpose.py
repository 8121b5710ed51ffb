"""Transposed convolution, channels-last as Keras: ``ConvTranspose2d``.

Shapes: x (N, H, W, Cin), kernel (kh, kw, Cout, Cin) (Keras' ``Conv2DTranspose``
layout: output channels before input channels), bias (Cout,) -> (N, OH, OW, Cout).

A transposed convolution is the adjoint of a convolution: where ``Conv2d`` reads
a window of the padded input for each output position, this op writes a window
for each input position,

    full[n, y*sh + i*dh, x*sw + j*dw, o] += x[n, y, x, c] kernel[i, j, o, c]

and the output is the (OH, OW) block of ``full`` starting at the padding that a
convolution of an (OH, OW) input would have added (``top``, ``left``), plus the
bias. So forward is ``Conv2d``'s input gradient and backward is ``Conv2d``'s
forward, and both reuse its kernels: ``col2im`` (one GEMM, then a scatter-add over
the kernel offsets) and ``im2col`` (one GEMM).

Output size, Keras' ``deconv_output_length``, with k the dilated kernel size:
  output_padding None:  "valid" H*s + max(k - s, 0),  "same" H*s
  output_padding p:     (H - 1)*s + k - 2*pad + p,  pad = 0 ("valid") or k // 2 ("same")
and the crop ``top`` is the "before" padding of TensorFlow's rule for a convolution
of that output (``padding_amounts``), which is where TensorFlow's
``conv2d_transpose`` puts it. ``conv_transpose2d_reference`` writes the sum above as
a plain loop; tests check the op against it.
"""

import numpy as np

from ..autograd import Function, ShapeError
from .conv import (
    col2im,
    im2col,
    normalize_padding,
    normalize_tuple,
    padding_amounts,
)


def transposed_length(size: int, window: int, stride: int, dilation: int, mode: str,
                      output_padding: int | None) -> tuple:
    """(output length, crop before) of a transposed convolution along one axis."""
    k = (window - 1) * dilation + 1
    if output_padding is None:
        length = size * stride + max(k - stride, 0) if mode == "valid" else size * stride
    else:
        pad = 0 if mode == "valid" else k // 2
        length = (size - 1) * stride + k - 2 * pad + output_padding
    return length, padding_amounts(length, window, stride, dilation, mode)[0]


def normalize_output_padding(value, strides: tuple, dilation: tuple, op: str) -> tuple | None:
    """None, or one non-negative int per axis smaller than its stride (or dilation)."""
    if value is None:
        return None
    values = (value,) * len(strides) if isinstance(value, int | np.integer) else tuple(value)
    limits = tuple(max(s, d) for s, d in zip(strides, dilation))
    if len(values) != len(strides) or not all(
            isinstance(v, int | np.integer) and 0 <= v < m for v, m in zip(values, limits)):
        raise ValueError(f"Invalid value for argument `output_padding` of `{op}`: expected "
                         f"None or {len(strides)} non-negative ints each smaller than the "
                         f"stride {strides} (or dilation); received output_padding={value!r}.")
    return tuple(int(v) for v in values)


def transposed_geometry(x_hw: tuple, window: tuple, strides: tuple, dilation: tuple,
                        padding: str, output_padding: tuple | None) -> tuple:
    """(out_hw, crops, full_hw): output size, (top, left) crop, and the size of the
    buffer the windows are written into (at least the output block plus its crop)."""
    op = output_padding or (None,) * len(x_hw)
    sizes = [transposed_length(*args) for args in zip(x_hw, window, strides, dilation,
                                                      (padding,) * len(x_hw), op)]
    out_hw = tuple(length for length, _ in sizes)
    crops = tuple(before for _, before in sizes)
    full_hw = tuple(max((n - 1) * s + (k - 1) * d + 1, before + length)
                    for n, s, k, d, (length, before) in zip(x_hw, strides, window, dilation,
                                                            sizes))
    return out_hw, crops, full_hw


def _check(x, kernel, bias) -> None:
    if np.ndim(x) != 4 or np.ndim(kernel) != 4:
        raise ShapeError(f"ConvTranspose2d expects x of shape (N, H, W, Cin) and kernel "
                         f"(kh, kw, Cout, Cin); received x {np.shape(x)} and kernel "
                         f"{np.shape(kernel)}.")
    if x.shape[-1] != kernel.shape[-1]:
        raise ShapeError(f"ConvTranspose2d: x {x.shape} has {x.shape[-1]} input channels but "
                         f"kernel {kernel.shape} expects Cin = {kernel.shape[-1]} (its last "
                         f"axis).")
    if bias is not None and np.shape(bias) != (kernel.shape[2],):
        raise ShapeError(f"ConvTranspose2d: bias must have shape ({kernel.shape[2]},) to match "
                         f"kernel {kernel.shape}; received {np.shape(bias)}.")


class ConvTranspose2d(Function):
    """out = crop(scatter(x, kernel)) + bias, channels-last; see the module docstring.

    x (N, H, W, Cin), kernel (kh, kw, Cout, Cin), bias (Cout,) or None
    -> (N, OH, OW, Cout).  dx = im2col(g) @ kernel,  dkernel = im2col(g)^T @ x,
    dbias = sum of g, with g the output gradient placed back in the full buffer.
    """

    @classmethod
    def apply(cls, x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
              dilation=1):
        """Check the options (before the op runs, so errors name them), then run the op."""
        name = cls.__name__
        strides = normalize_tuple(strides, 2, "strides", name)
        dilation = normalize_tuple(dilation, 2, "dilation", name)
        return super().apply(x, kernel, bias, strides=strides,
                             padding=normalize_padding(padding, name), dilation=dilation,
                             output_padding=normalize_output_padding(output_padding, strides,
                                                                     dilation, name))

    def forward(self, x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1),
                output_padding=None):
        _check(x, kernel, bias)
        n, h, w, cin = x.shape
        kh, kw, cout, _ = kernel.shape
        out_hw, crops, full_hw = transposed_geometry((h, w), (kh, kw), strides, dilation,
                                                     padding, output_padding)
        kernel2d = kernel.reshape(kh * kw * cout, cin)
        full = col2im(x.reshape(-1, cin), kernel2d, (n, *full_hw, cout), (kh, kw), (h, w),
                      strides, dilation)
        (top, left), (oh, ow) = crops, out_hw
        out = full[:, top:top + oh, left:left + ow]
        out = out + bias if bias is not None else np.ascontiguousarray(out)
        self.geometry = ((kh, kw), (h, w), strides, dilation, crops, full_hw)
        self.save_for_backward(x, kernel2d)
        return out

    def backward(self, grad):
        x, kernel2d = self.saved
        window, x_hw, strides, dilation, (top, left), full_hw = self.geometry
        n, cin = x.shape[0], x.shape[-1]
        cout = grad.shape[-1]
        grad_full = np.zeros((n, *full_hw, cout), dtype=grad.dtype)
        grad_full[:, top:top + grad.shape[1], left:left + grad.shape[2]] = grad
        cols = im2col(grad_full, window, x_hw, strides, dilation)  # (N*H*W, kh*kw*Cout)
        needs_x, needs_kernel, needs_bias = self.needs_input_grad
        dx = dkernel = dbias = None
        if needs_x:
            dx = (cols @ kernel2d).reshape(x.shape)
        if needs_kernel:
            dkernel = (cols.T @ x.reshape(-1, cin)).reshape(*window, cout, cin)
        if needs_bias:
            dbias = grad.reshape(-1, cout).sum(axis=0)
        return dx, dkernel, dbias


# ---------------------------------------------------------------- textbook reference


def conv_transpose2d_reference(x: np.ndarray, kernel: np.ndarray, bias, strides: tuple,
                               padding: str, output_padding: tuple | None = None,
                               dilation: tuple = (1, 1)) -> np.ndarray:
    """The op's forward as a loop over input positions and kernel taps: each input pixel
    x[n, y, x] adds kernel[i, j] @ x[n, y, x] at full[n, y*sh + i*dh, x*sw + j*dw]; the
    output is the (OH, OW) block of ``full`` at the crop, plus the bias."""
    n, h, w, _ = x.shape
    kh, kw, cout, _ = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    out_hw, (top, left), full_hw = transposed_geometry((h, w), (kh, kw), strides, dilation,
                                                       padding, output_padding)
    full = np.zeros((n, *full_hw, cout), dtype=np.result_type(x, kernel))
    for y in range(h):
        for xx in range(w):
            for i in range(kh):
                for j in range(kw):
                    full[:, y * sh + i * dh, xx * sw + j * dw] += x[:, y, xx] @ kernel[i, j].T
    out = full[:, top:top + out_hw[0], left:left + out_hw[1]]
    return out if bias is None else out + bias


def conv_transpose_output_shape(input_shape: tuple, kernel_size: tuple, filters: int,
                                strides: tuple, padding: str, output_padding: tuple | None,
                                dilation: tuple) -> tuple:
    """(N, OH, OW, filters) for inputs (N, H, W, Cin); None sizes stay None."""
    sizes = []
    for k, size in enumerate(input_shape[1:3]):
        if size is None:
            sizes.append(None)
            continue
        op = None if output_padding is None else output_padding[k]
        sizes.append(transposed_length(size, kernel_size[k], strides[k], dilation[k], padding,
                                       op)[0])
    return (input_shape[0], *sizes, filters)

