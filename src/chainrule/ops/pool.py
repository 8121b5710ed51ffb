"""Pooling, channels-last as Keras: ``MaxPool2d``, ``AvgPool2d``, ``MaxPool1d``, ``AvgPool1d``.

x (N, H, W, C) -> (N, OH, OW, C), each output the max (or mean) of a ph x pw window
moved in steps of (sh, sw); ``strides`` defaults to ``pool_size`` and "same" pads as
TensorFlow (the extra row or column after), as for convolution.

Both ops run over the ph*pw offsets *inside* a window rather than over windows:
offset (i, j) of every window at once is the strided slice
``xp[:, i::sh, j::sw]`` (OH x OW of them), so the max is ph*pw - 1 vectorised
``np.maximum`` calls. This one path serves every case (stride = pool, overlapping
stride < pool, gaps stride > pool, padding) and on the LeNet shapes it is more
than ten times faster than the reshape-and-reduce ``x.reshape(N, OH, ph, OW, pw,
C).max(axis=(2, 4))``, whose multi-axis reduction NumPy runs slowly.

Gradients: max pooling sends each window's gradient to the *first* maximal element
in row-major window order (never split across ties); average pooling spreads it
evenly over the elements of the window that lie inside the input ("same" padding
is excluded from the count, as Keras). Overlapping windows accumulate.
``max_pool2d_backward_reference`` and ``avg_pool2d_backward_reference`` at the end
write both backwards as a plain loop over windows; tests check the ops against them.
"""

import numpy as np

from ..autograd import Function, ShapeError
from ..backend import parallel_map
from .conv import (
    batch_chunks,
    crop_spatial,
    normalize_padding,
    normalize_tuple,
    output_size,
    pad_spatial,
    padding_amounts,
)


def window_offsets(pool: tuple, strides: tuple, out_hw: tuple):
    """(rows, cols) slices picking offset (i, j) of every window, in row-major order."""
    (ph, pw), (sh, sw), (oh, ow) = pool, strides, out_hw
    for i in range(ph):
        for j in range(pw):
            yield slice(i, i + (oh - 1) * sh + 1, sh), slice(j, j + (ow - 1) * sw + 1, sw)


class _Pool2d(Function):
    """Shared option handling and window geometry of the 2-D (and, as H = 1, 1-D) pools."""

    spatial = 2

    @classmethod
    def apply(cls, x, pool_size=2, strides=None, padding="valid"):
        """Check the options (before the op runs, so errors name them), then run the op."""
        name = cls.__name__
        pool_size = normalize_tuple(pool_size, cls.spatial, "pool_size", name)
        strides = pool_size if strides is None else normalize_tuple(strides, cls.spatial,
                                                                    "strides", name)
        return super().apply(x, pool_size=pool_size, strides=strides,
                             padding=normalize_padding(padding, name))

    def _geometry(self, x, pool, strides, padding, shown):
        """Record the pads and output size for ``x`` (N, H, W, C); ``shown`` names x in errors."""
        pads = tuple(padding_amounts(size, p, s, 1, padding)
                     for size, p, s in zip(x.shape[1:3], pool, strides))
        out_hw = tuple(output_size(size + sum(pad), p, s, 1)
                       for size, pad, p, s in zip(x.shape[1:3], pads, pool, strides))
        if min(out_hw) < 1:
            raise ShapeError(f"{type(self).__name__}: the input {shown} is smaller than the "
                             f"pool window {pool[-self.spatial:]}; no output position fits.")
        self.geometry = (x.shape, pads, pool, strides, out_hw)
        return pads, out_hw


def _check_pool(op: str, x, spatial: int) -> None:
    form = "(N, L, C)" if spatial == 1 else "(N, H, W, C)"
    if np.ndim(x) != spatial + 2:
        raise ShapeError(f"{op} expects x of shape {form}; received {np.shape(x)}.")


class MaxPool2d(_Pool2d):
    """out = max over each window;  the gradient goes to the first maximal element.

    x (N, H, W, C) -> (N, OH, OW, C).
    """

    batch_split = True  # forward and backward on backend.parallel_map

    def forward(self, x, pool_size=(2, 2), strides=(2, 2), padding="valid"):
        _check_pool(type(self).__name__, x, self.spatial)
        return self._max(x, pool_size, strides, padding, x.shape)

    def _max(self, x, pool, strides, padding, shown):
        pads, out_hw = self._geometry(x, pool, strides, padding, shown)
        lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = pad_spatial(x, pads, lowest)  # padding never wins a max
        out = np.empty((x.shape[0], *out_hw, x.shape[3]), dtype=x.dtype)

        def take_max(part):  # each chunk of the batch on its own (see backend.parallel_map)
            offsets = window_offsets(pool, strides, out_hw)
            rows, cols = next(offsets)
            np.copyto(out[part], xp[part, rows, cols])
            for rows, cols in offsets:
                np.maximum(out[part], xp[part, rows, cols], out=out[part])

        parallel_map(take_max, batch_chunks(x.shape[0], xp[:1].nbytes))
        self.save_for_backward(xp, out)
        return out

    def backward(self, grad):
        xp, out = self.saved
        x_shape, pads, pool, strides, out_hw = self.geometry
        disjoint = all(s >= p for s, p in zip(strides, pool))  # windows never overlap
        # One pass per window offset stays fastest: a first-maximum mask multiplied by the
        # broadcast gradient in one op, or whole-row passes over tiles, measured slower
        # (channels-last leaves NumPy inner loops of C elements; C = 6 in LeNet).
        # Tiles (stride = pool, no row or column left over) write every element below.
        tiled = strides == pool and xp.shape[1:3] == tuple(o * p for o, p in zip(out_hw, pool))
        dtype = np.result_type(grad, xp)
        dxp = np.empty(xp.shape, dtype) if tiled else np.zeros(xp.shape, dtype)
        offsets = list(window_offsets(pool, strides, out_hw))

        def route(part):  # each chunk of the batch on its own: disjoint slices of dxp
            first = np.empty(out[part].shape, dtype=bool)
            unplaced = None  # windows whose maximum is still unfound
            for k, (rows, cols) in enumerate(offsets):
                np.equal(xp[part, rows, cols], out[part], out=first)
                if unplaced is None:
                    unplaced = ~first
                else:
                    first &= unplaced
                    if k < len(offsets) - 1:
                        unplaced ^= first  # a later tie in the same window gets nothing
                if disjoint:  # write straight into dxp: faster than add-and-assign
                    np.multiply(first, grad[part], out=dxp[part, rows, cols])
                else:
                    dxp[part, rows, cols] += first * grad[part]

        parallel_map(route, batch_chunks(xp.shape[0], xp[:1].nbytes))
        return np.ascontiguousarray(crop_spatial(dxp, pads, x_shape))


class AvgPool2d(_Pool2d):
    """out = mean over each window's elements inside x;  d out / d x = 1 / count.

    x (N, H, W, C) -> (N, OH, OW, C).
    """

    def forward(self, x, pool_size=(2, 2), strides=(2, 2), padding="valid"):
        _check_pool(type(self).__name__, x, self.spatial)
        return self._mean(x, pool_size, strides, padding, x.shape)

    def _mean(self, x, pool_size, strides, padding, shown):
        pads, out_hw = self._geometry(x, pool_size, strides, padding, shown)
        xp = pad_spatial(x, pads)
        offsets = window_offsets(pool_size, strides, out_hw)
        rows, cols = next(offsets)
        total = xp[:, rows, cols].copy()
        for rows, cols in offsets:
            total += xp[:, rows, cols]
        self.count = self._count(x.shape, pads, pool_size, strides, out_hw, total.dtype)
        self.padded_shape = xp.shape
        return total / self.count

    @staticmethod
    def _count(x_shape, pads, pool, strides, out_hw, dtype):
        """How many elements of each window lie inside x: a scalar, or (1, OH, OW, 1)."""
        if not any(any(p) for p in pads):
            return pool[0] * pool[1]
        counts = []
        for size, (before, _), p, s, o in zip(x_shape[1:3], pads, pool, strides, out_hw):
            start = np.arange(o) * s - before
            counts.append(np.minimum(start + p, size) - np.maximum(start, 0))
        return np.multiply.outer(*counts).astype(dtype)[None, :, :, None]

    def backward(self, grad):
        x_shape, pads, pool, strides, out_hw = self.geometry
        share = grad / self.count
        dxp = np.zeros(self.padded_shape, dtype=share.dtype)
        for rows, cols in window_offsets(pool, strides, out_hw):
            dxp[:, rows, cols] += share
        return np.ascontiguousarray(crop_spatial(dxp, pads, x_shape))


class MaxPool1d(MaxPool2d):
    """Max pooling over sequences: x (N, L, C) -> (N, OL, C).

    Runs as MaxPool2d with a height of 1 (x as (N, 1, L, C), window (1, p)).
    """

    spatial = 1

    def forward(self, x, pool_size=(2,), strides=(2,), padding="valid"):
        _check_pool("MaxPool1d", x, 1)
        return self._max(x[:, None], (1, *pool_size), (1, *strides), padding, x.shape)[:, 0]

    def backward(self, grad):
        return super().backward(grad[:, None])[:, 0]


class AvgPool1d(AvgPool2d):
    """Average pooling over sequences: x (N, L, C) -> (N, OL, C).

    Runs as AvgPool2d with a height of 1 (x as (N, 1, L, C), window (1, p)).
    """

    spatial = 1

    def forward(self, x, pool_size=(2,), strides=(2,), padding="valid"):
        _check_pool("AvgPool1d", x, 1)
        return self._mean(x[:, None], (1, *pool_size), (1, *strides), padding, x.shape)[:, 0]

    def backward(self, grad):
        return super().backward(grad[:, None])[:, 0]


# ---------------------------------------------------------------- textbook references
# The two backward passes above, one window at a time (batch and channels at once).
# Slow; tests check the ops against them (tests/test_conv_ops.py).


def _window_slices(y: int, x: int, pool: tuple, strides: tuple) -> tuple:
    return (slice(y * strides[0], y * strides[0] + pool[0]),
            slice(x * strides[1], x * strides[1] + pool[1]))


def max_pool2d_backward_reference(xp: np.ndarray, grad: np.ndarray, pool: tuple,
                                  strides: tuple) -> np.ndarray:
    """d loss / d xp for max pooling of padded xp (N, Hp, Wp, C): each window's gradient
    grad[n, y, x, c] goes to the window's first maximum in row-major order."""
    n, oh, ow, c = grad.shape
    batch, channel = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    dxp = np.zeros(xp.shape, dtype=grad.dtype)
    for y in range(oh):
        for x in range(ow):
            rows, cols = _window_slices(y, x, pool, strides)
            first = xp[:, rows, cols].reshape(n, -1, c).argmax(axis=1)  # (N, C)
            i, j = np.divmod(first, pool[1])
            dxp[batch, rows.start + i, cols.start + j, channel] += grad[:, y, x]
    return dxp


def avg_pool2d_backward_reference(grad: np.ndarray, x_shape: tuple, pads: tuple, pool: tuple,
                                  strides: tuple) -> np.ndarray:
    """d loss / d x for average pooling: each window's gradient is shared equally by the
    elements of the window that lie inside x (N, H, W, C); ``pads`` as ``padding_amounts``."""
    (top, _), (left, _) = pads
    dx = np.zeros(x_shape, dtype=grad.dtype)
    for y in range(grad.shape[1]):
        for x in range(grad.shape[2]):
            rows, cols = _window_slices(y, x, pool, strides)
            rows = slice(max(rows.start - top, 0), min(rows.stop - top, x_shape[1]))
            cols = slice(max(cols.start - left, 0), min(cols.stop - left, x_shape[2]))
            count = (rows.stop - rows.start) * (cols.stop - cols.start)
            dx[:, rows, cols] += grad[:, y, x, None, None] / count
    return dx
