"""Convolution, channels-last as Keras: ``Conv2d`` and ``Conv1d`` by im2col and one GEMM.

Shapes: x (N, H, W, Cin), kernel (kh, kw, Cin, Cout), bias (Cout,) -> (N, OH, OW, Cout);
``Conv1d`` is the same op with H = 1. Like every deep-learning library, "convolution"
here is cross-correlation (the kernel is not flipped):

    out[n, y, x, o] = bias[o] + sum_{i,j,c} xp[n, y*sh + i*dh, x*sw + j*dw, c] kernel[i, j, c, o]

where xp is x zero-padded ("same" pads as TensorFlow: the total is split with the
extra row or column after). im2col lays every receptive field side by side with a
strided view, copies it into a column matrix ``cols`` (N*OH*OW rows by kh*kw*Cin
columns) and one GEMM with the kernel (kh*kw*Cin, Cout) gives every output at once.
The bias rides along: ``cols`` gets one more column of ones and the kernel the bias
as one more row, which costs the GEMM nothing measurable, where a separate
``out += bias`` over (N*OH*OW, Cout) with Cout = 6 took 0.13 ms (LeNet conv1, batch 64).

Backward, with G the output gradient as a (N*OH*OW, Cout) matrix:
    [dkernel; dbias] = [cols, 1]^T @ G          (one GEMM for both)
    dx      = col2im(kernel @ G^T)              (one GEMM, then a scatter-add over the
                                                 kh*kw kernel offsets)
``im2col_reference`` and ``col2im_reference`` below write both as plain loops
(read them first); tests check the fast versions against them. The scatter-add
beat the other formulation, dx as a "full" convolution (im2col of
the zero-padded, stride-dilated G against the flipped kernel, one GEMM): that
copies kh*kw times more data and ran 2.5x (LeNet conv2) to 5x (a 1-channel
28x28 input) slower on one thread.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function, ShapeError
from ..backend import batch_workers, parallel_map
from .activation import check_fused_activation, relu_backward


def normalize_tuple(value, n: int, name: str, op: str) -> tuple:
    """An int or a sequence of ``n`` positive ints as a tuple (Keras' ``strides=2``)."""
    values = (value,) * n if isinstance(value, int | np.integer) else tuple(value)
    if len(values) != n or not all(isinstance(v, int | np.integer) and v > 0 for v in values):
        raise ValueError(f"Invalid value for argument `{name}` of `{op}`: expected a positive "
                         f"int or {n} positive ints; received {name}={value!r}.")
    return tuple(int(v) for v in values)


def normalize_padding(padding, op: str) -> str:
    """``"valid"`` or ``"same"`` (any case), as Keras."""
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in ("valid", "same"):
        raise ValueError(f"Invalid value for argument `padding` of `{op}`: expected \"valid\" "
                         f"or \"same\"; received padding={padding!r}.")
    return mode


def padding_amounts(size: int, window: int, stride: int, dilation: int, mode: str) -> tuple:
    """(before, after) zeros along one axis; "same" is TensorFlow's rule (extra after)."""
    if mode == "valid":
        return 0, 0
    total = max((math.ceil(size / stride) - 1) * stride + (window - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def output_size(padded: int, window: int, stride: int, dilation: int) -> int:
    """How many windows of ``window`` taps, ``dilation`` apart, fit at ``stride`` steps."""
    return (padded - (window - 1) * dilation - 1) // stride + 1


def pad_spatial(x: np.ndarray, pads: tuple, value: float = 0.0) -> np.ndarray:
    """Pad axes 1 and 2 of (N, H, W, C) by ((top, bottom), (left, right)) with ``value``."""
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    n, h, w, c = x.shape
    xp = np.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    xp[:, top:top + h, left:left + w] = x
    return xp


def crop_spatial(xp: np.ndarray, pads: tuple, shape: tuple) -> np.ndarray:
    """The inverse of :func:`pad_spatial`: the (N, H, W, C) block of ``shape`` inside ``xp``."""
    (top, _), (left, _) = pads
    return xp[:, top:top + shape[1], left:left + shape[2]]


def window_view(xp: np.ndarray, window: tuple, out_hw: tuple, strides: tuple,
                dilation: tuple) -> np.ndarray:
    """Read-only strided view (N, OH, OW, kh, kw, C) of every window of padded ``xp``."""
    n, _, _, c = xp.shape
    s_n, s_h, s_w, s_c = xp.strides
    (sh, sw), (dh, dw) = strides, dilation
    return as_strided(xp, (n, *out_hw, *window, c),
                      (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c), writeable=False)


def im2col(xp: np.ndarray, window: tuple, out_hw: tuple, strides: tuple,
           dilation: tuple, ones_column: bool = False) -> np.ndarray:
    """The (N*OH*OW, kh*kw*C) column matrix of padded ``xp``, laid out for a fast copy.

    Copying the window view is fastest along its longest contiguous run: kw*C
    input values (C when dilated) in row-major order, or OW output positions when
    the channels are few (Cin = 1 in a first layer). For the latter the matrix is
    built transposed, (kh*kw*C, N*OH*OW), and handed back as its transpose view,
    which BLAS multiplies without a copy. ``ones_column`` appends a column of ones
    (kh*kw*C + 1 columns), so that a bias row under the kernel rides along in the GEMM.
    """
    windows = window_view(xp, window, out_hw, strides, dilation)
    n, oh, ow, kh, kw, c = windows.shape
    rows, size = n * oh * ow, kh * kw * c
    run_rows = kw * c if dilation[1] == 1 else c
    run_cols = ow if strides[1] == 1 else 1
    transposed = run_cols > run_rows
    if not ones_column:
        if transposed:
            return windows.transpose(3, 4, 5, 0, 1, 2).reshape(size, rows).T
        return windows.reshape(rows, size)
    if transposed:
        cols_t = np.empty((size + 1, rows), dtype=xp.dtype)
        cols_t[:size].reshape(kh, kw, c, n, oh, ow)[...] = windows.transpose(3, 4, 5, 0, 1, 2)
        cols_t[size] = 1
        return cols_t.T
    cols = np.empty((rows, size + 1), dtype=xp.dtype)
    cols[:, :size].reshape(n, oh, ow, kh, kw, c)[...] = windows
    cols[:, size] = 1
    return cols


CHUNK_BYTES = 4 * 2**20  # column matrix per batch chunk: stays in cache (tuned on LeNet)


def batch_chunks(n: int, bytes_per_image: int, chunk_bytes: int | None = None) -> list:
    """Slices of the batch axis, each holding about ``chunk_bytes`` (default CHUNK_BYTES)
    of working array, and at least two per batch worker when there are several (see
    ``backend.parallel_map``)."""
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    step = max(1, chunk_bytes // max(bytes_per_image, 1))
    workers = batch_workers()
    if workers > 1:
        step = min(step, -(-n // (2 * workers)))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def col2im(grad2d: np.ndarray, kernel2d: np.ndarray, padded_shape: tuple, window: tuple,
           out_hw: tuple, strides: tuple, dilation: tuple) -> np.ndarray:
    """d loss / d xp: the column gradient ``kernel @ G^T`` scatter-added back onto the input.

    This is the adjoint of :func:`im2col`: column (i, j, c) of output position
    (n, y, x) came from xp[n, y*sh + i*dh, x*sw + j*dw, c], so its gradient is
    added there. The sum runs over the kh*kw kernel offsets, each one vectorised
    add of a (C, positions) block, in a channels-first (C, N, Hp, Wp) buffer that
    is put back channels-last at the end.

    Stride 1 (the common case) lays G on the padded input's own grid (zeros where
    no window starts) before the GEMM: offset (i, j) is then one flat shift by
    i*dh*Wp + j*dw, a contiguous add, 1.3-1.5x faster on the LeNet layers. With
    strides that grid would be mostly zeros, so each offset adds into a strided slice.
    """
    n, hp, wp, c = padded_shape
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = window, out_hw, strides, dilation
    cout = kernel2d.shape[1]
    if strides == (1, 1):
        grid = np.zeros((n, hp, wp, cout), dtype=grad2d.dtype)
        grid[:, :oh, :ow] = grad2d.reshape(n, oh, ow, cout)
        blocks = (kernel2d @ grid.reshape(-1, cout).T).reshape(kh, kw, c, -1)
        size = n * hp * wp
        dxp = np.zeros((c, size), dtype=blocks.dtype)
        for i in range(kh):
            for j in range(kw):
                # Only zeros of the grid cross a row end or the buffer's end.
                shift = i * dh * wp + j * dw
                dxp[:, shift:] += blocks[i, j, :, :size - shift]
    else:
        blocks = (kernel2d @ grad2d.T).reshape(kh, kw, c, n, oh, ow)
        dxp = np.zeros((c, n, hp, wp), dtype=blocks.dtype)
        for i in range(kh):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            for j in range(kw):
                cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
                dxp[:, :, rows, cols] += blocks[i, j]
    return dxp.reshape(c, n, hp, wp).transpose(1, 2, 3, 0)


# ---------------------------------------------------------------- textbook references
# The two functions above, written the way a textbook does: one loop over output
# positions and kernel taps, batch and channels at once. Slow; tests check the fast
# versions against them (tests/test_conv_ops.py), and they are the place to read first.


def im2col_reference(xp: np.ndarray, window: tuple, out_hw: tuple, strides: tuple,
                     dilation: tuple) -> np.ndarray:
    """Row (n, y, x) of the column matrix is the receptive field of output (y, x) of image n:
    xp[n, y*sh + i*dh, x*sw + j*dw, c] in (i, j, c) order. -> (N*OH*OW, kh*kw*C)."""
    n, _, _, c = xp.shape
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = window, out_hw, strides, dilation
    cols = np.empty((n, oh, ow, kh, kw, c), dtype=xp.dtype)
    for y in range(oh):
        for x in range(ow):
            for i in range(kh):
                for j in range(kw):
                    cols[:, y, x, i, j] = xp[:, y * sh + i * dh, x * sw + j * dw]
    return cols.reshape(n * oh * ow, kh * kw * c)


def col2im_reference(dcols: np.ndarray, padded_shape: tuple, window: tuple, out_hw: tuple,
                     strides: tuple, dilation: tuple) -> np.ndarray:
    """The adjoint of :func:`im2col_reference`: each entry of the column gradient dcols
    (N*OH*OW, kh*kw*C) is added back to the padded input position it was read from."""
    n, _, _, c = padded_shape
    (kh, kw), (oh, ow), (sh, sw), (dh, dw) = window, out_hw, strides, dilation
    blocks = dcols.reshape(n, oh, ow, kh, kw, c)
    dxp = np.zeros(padded_shape, dtype=dcols.dtype)
    for y in range(oh):
        for x in range(ow):
            for i in range(kh):
                for j in range(kw):
                    dxp[:, y * sh + i * dh, x * sw + j * dw] += blocks[:, y, x, i, j]
    return dxp


def _check_conv(op: str, x, kernel, bias, spatial: int) -> None:
    names = ("L",) if spatial == 1 else ("H", "W")
    k_names = ("k",) if spatial == 1 else ("kh", "kw")
    x_form = f"(N, {', '.join(names)}, Cin)"
    k_form = f"({', '.join(k_names)}, Cin, Cout)"
    if np.ndim(x) != spatial + 2 or np.ndim(kernel) != spatial + 2:
        raise ShapeError(f"{op} expects x of shape {x_form} and kernel {k_form}; received x "
                         f"{np.shape(x)} and kernel {np.shape(kernel)}.")
    if x.shape[-1] != kernel.shape[-2]:
        raise ShapeError(f"{op}: x {x.shape} has {x.shape[-1]} input channels but kernel "
                         f"{kernel.shape} expects Cin = {kernel.shape[-2]}.")
    if bias is not None and np.shape(bias) != (kernel.shape[-1],):
        raise ShapeError(f"{op}: bias must have shape ({kernel.shape[-1]},) to match kernel "
                         f"{kernel.shape}; received {np.shape(bias)}.")


class Conv2d(Function):
    """out = conv(x, kernel) + bias, channels-last;  see the module docstring for the math.

    x (N, H, W, Cin), kernel (kh, kw, Cin, Cout), bias (Cout,) or None
    -> (N, OH, OW, Cout).
    """

    spatial = 2
    batch_split = True  # forward and backward on backend.parallel_map

    @classmethod
    def apply(cls, x, kernel, bias=None, strides=1, padding="valid", dilation=1,
              activation=None):
        """Check the options (before the op runs, so errors name them), then run the op.

        ``activation="relu"`` applies max(out, 0) inside the op, to each batch chunk's
        GEMM output while it is in cache (a layer's ``activation="relu"`` runs this way).
        """
        name = cls.__name__
        check_fused_activation(activation, name)
        return super().apply(x, kernel, bias,
                             strides=normalize_tuple(strides, cls.spatial, "strides", name),
                             padding=normalize_padding(padding, name),
                             dilation=normalize_tuple(dilation, cls.spatial, "dilation", name),
                             activation=activation)

    def forward(self, x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1),
                activation=None):
        _check_conv("Conv2d", x, kernel, bias, 2)
        return self._conv(x, kernel, bias, strides, padding, dilation, "Conv2d",
                          activation=activation)

    def _conv(self, x, kernel, bias, strides, padding, dilation, op, shown=None,
              activation=None):
        """The shared 2-D body; ``shown`` is the (x, kernel) shapes to name in errors."""
        n, h, w, _ = x.shape
        kh, kw, cin, cout = kernel.shape
        pads = tuple(padding_amounts(size, k, s, d, padding)
                     for size, k, s, d in zip((h, w), (kh, kw), strides, dilation))
        xp = pad_spatial(x, pads)
        out_hw = tuple(output_size(p, k, s, d)
                       for p, k, s, d in zip(xp.shape[1:3], (kh, kw), strides, dilation))
        if min(out_hw) < 1:
            x_shape, k_shape = shown or (x.shape, kernel.shape)
            raise ShapeError(f"{op}: the (padded) input {x_shape} is smaller than the kernel "
                             f"{k_shape} with dilation {dilation[-self.spatial:]}; no output "
                             f"position fits.")
        kernel2d = kernel.reshape(kh * kw * cin, cout)
        if bias is not None:  # the bias as one more kernel row, against the ones column
            kernel2d = np.concatenate([kernel2d, bias.reshape(1, cout).astype(kernel2d.dtype)])
        self.geometry = (x.shape, xp.shape, pads, (kh, kw), out_hw, strides, dilation)
        out = np.empty((n, *out_hw, cout), dtype=np.result_type(xp, kernel2d))

        def convolve(part):  # a chunk's columns stay in cache from the copy to the ReLU
            out2d = out[part].reshape(-1, cout)
            cols = self._columns(xp[part], bias is not None)
            np.matmul(cols, kernel2d, out=out2d)
            if activation == "relu":
                np.maximum(out2d, 0, out=out2d)
            return cols

        cols = parallel_map(convolve, self._chunks(n, kernel2d))
        # One chunk (a small batch): keep its columns for backward, as cheap as recomputing
        # them would be; several: backward recomputes each, in cache (docs/performance.md).
        self.save_for_backward(xp, kernel2d, out if activation == "relu" else None,
                               cols[0] if len(cols) == 1 else None)
        return out

    def _chunks(self, n, kernel2d):
        """Batch chunks for this op's column matrix (kernel2d's rows columns a position)."""
        return batch_chunks(n, math.prod(self.geometry[4]) * kernel2d.nbytes // kernel2d.shape[1])

    def _columns(self, xp_part, ones_column):
        """im2col of a batch chunk of the padded input (geometry as recorded by forward)."""
        _, _, _, window, out_hw, strides, dilation = self.geometry
        return im2col(xp_part, window, out_hw, strides, dilation, ones_column=ones_column)

    def backward(self, grad):
        xp, kernel2d, out, kept = self.saved
        x_shape, padded_shape, pads, window, out_hw, strides, dilation = self.geometry
        cout = kernel2d.shape[1]
        size = math.prod(window) * padded_shape[3]  # kernel rows; the next one is the bias
        has_bias = kernel2d.shape[0] > size
        needs_x, needs_kernel, needs_bias = self.needs_input_grad
        dxp = np.empty(padded_shape, dtype=np.result_type(grad, kernel2d)) if needs_x else None

        def backpropagate(part):
            """dxp for the chunk (written in place) and its share of [dkernel; dbias]."""
            grad2d = grad[part].reshape(-1, cout)
            if out is not None:  # the fused ReLU: no gradient where its output is 0
                grad2d = relu_backward(grad2d, out[part].reshape(-1, cout))
            if needs_x:
                dxp[part] = col2im(grad2d, kernel2d[:size], (part.stop - part.start,
                                   *padded_shape[1:]), window, out_hw, strides, dilation)
            if needs_kernel or needs_bias:  # one GEMM gives both: dbias is the ones row
                cols = kept if kept is not None else self._columns(xp[part], has_bias)
                return cols.T @ grad2d
            return None

        shares = parallel_map(backpropagate, self._chunks(padded_shape[0], kernel2d))
        dboth = sum(shares[1:], start=shares[0]) if needs_kernel or needs_bias else None
        dx = np.ascontiguousarray(crop_spatial(dxp, pads, x_shape)) if needs_x else None
        dkernel = dboth[:size].reshape(*window, -1, cout) if needs_kernel else None
        dbias = dboth[size] if needs_bias else None
        return dx, dkernel, dbias


class Conv1d(Conv2d):
    """Conv2d on sequences: x (N, L, Cin), kernel (k, Cin, Cout), bias (Cout,) -> (N, OL, Cout).

    Runs as Conv2d with a height of 1 (x as (N, 1, L, Cin), kernel as (1, k, Cin, Cout)).
    """

    spatial = 1

    def forward(self, x, kernel, bias=None, strides=(1,), padding="valid", dilation=(1,),
                activation=None):
        _check_conv("Conv1d", x, kernel, bias, 1)
        out = self._conv(x[:, None], kernel[None], bias, (1, *strides), padding,
                         (1, *dilation), "Conv1d", shown=(x.shape, kernel.shape),
                         activation=activation)
        return out[:, 0]

    def backward(self, grad):
        dx, dkernel, dbias = super().backward(grad[:, None])
        return (None if dx is None else dx[:, 0],
                None if dkernel is None else dkernel[0], dbias)
