"""Bilinear resizing, channels-last: ``UpsampleBilinear2d``.

x (N, H, W, C) -> (N, OH, OW, C), torch's ``Upsample(mode="bilinear",
align_corners=False)`` and TensorFlow's ``tf.image.resize(method="bilinear")``
(half-pixel centres), which Keras' ``UpSampling2D(interpolation="bilinear")`` runs.
Output row o reads the input at

    src = max((o + 0.5) * H / OH - 0.5, 0),  lo = floor(src),  hi = min(lo + 1, H - 1)
    y[o] = (1 - w) x[lo] + w x[hi],  w = src - lo

and the same along the width. The interpolation is separable, so the op runs one
axis at a time: two gathers and a blend per axis (about four reads per output
value, never a dense (OH, H) matrix). Backward is the adjoint, one axis at a time:
each output gradient is shared between its two taps with weights 1 - w and w. The
taps are sorted, so the scatter-add is one ``np.add.reduceat`` per tap array rather
than an unbuffered ``np.add.at``. ``upsample_bilinear2d_reference`` and its
backward, at the end, loop over output pixels; tests check the op against them.
"""

import numpy as np

from ..autograd import Function, ShapeError


def bilinear_taps(size: int, out: int) -> tuple:
    """(lo, hi, w) for one axis of ``size`` resized to ``out``: out[o] = (1 - w[o]) x[lo[o]]
    + w[o] x[hi[o]] (half-pixel centres, the source clamped at 0)."""
    src = np.maximum((np.arange(out) + 0.5) * (size / out) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.intp), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    return lo, hi, src - lo


def _blend(x: np.ndarray, taps: tuple, axis: int) -> np.ndarray:
    """(1 - w) x[lo] + w x[hi] along ``axis``."""
    lo, hi, w = taps
    shape = [1] * x.ndim
    shape[axis] = -1
    w = w.astype(x.dtype).reshape(shape)
    low = np.take(x, lo, axis=axis)
    low *= 1 - w
    low += np.take(x, hi, axis=axis) * w
    return low


def _scatter_sorted(values: np.ndarray, index: np.ndarray, out: np.ndarray,
                    axis: int) -> None:
    """out[..., index[k], ...] += values[..., k, ...] along ``axis``, ``index`` sorted."""
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    sums = np.add.reduceat(values, starts, axis=axis)
    target = [slice(None)] * out.ndim
    target[axis] = index[starts]
    out[tuple(target)] += sums


def _blend_backward(grad: np.ndarray, taps: tuple, size: int, axis: int) -> np.ndarray:
    """The adjoint of :func:`_blend`: grad along ``axis`` back onto ``size`` rows."""
    lo, hi, w = taps
    shape = [1] * grad.ndim
    shape[axis] = -1
    w = w.astype(grad.dtype).reshape(shape)
    out_shape = list(grad.shape)
    out_shape[axis] = size
    dx = np.zeros(out_shape, dtype=grad.dtype)
    _scatter_sorted(grad * (1 - w), lo, dx, axis)
    _scatter_sorted(grad * w, hi, dx, axis)
    return dx


def check_size(op: str, size) -> tuple:
    """A positive (OH, OW)."""
    values = tuple(size) if isinstance(size, tuple | list) else ()
    if len(values) != 2 or not all(isinstance(v, int | np.integer) and v > 0 for v in values):
        raise ValueError(f"Invalid value for argument `size` of `{op}`: expected two positive "
                         f"ints (OH, OW); received size={size!r}.")
    return tuple(int(v) for v in values)


class UpsampleBilinear2d(Function):
    """Bilinear resize (half-pixel centres) of x (N, H, W, C) to (N, OH, OW, C);
    see the module docstring for the taps. dx is the transpose of the same blend."""

    @classmethod
    def apply(cls, x, size):
        return super().apply(x, size=check_size(cls.__name__, size))

    def forward(self, x, size=(1, 1)):
        if x.ndim != 4:
            raise ShapeError(f"UpsampleBilinear2d expects x of shape (N, H, W, C); received "
                             f"{x.shape}.")
        self.taps = [bilinear_taps(n, o) for n, o in zip(x.shape[1:3], size)]
        self.in_hw = x.shape[1:3]
        return _blend(_blend(x, self.taps[0], 1), self.taps[1], 2)

    def backward(self, grad):
        rows = _blend_backward(grad, self.taps[1], self.in_hw[1], 2)
        return _blend_backward(rows, self.taps[0], self.in_hw[0], 1)


# ---------------------------------------------------------------- textbook reference
# The op as a loop over output pixels, each reading (forward) or writing (backward)
# its four neighbours. Slow; tests check the op against it (tests/test_resize_ops.py).


def _neighbours(o: int, size: int, out: int) -> tuple:
    src = max((o + 0.5) * size / out - 0.5, 0.0)
    lo = min(int(src), size - 1)
    return lo, min(lo + 1, size - 1), src - lo


def upsample_bilinear2d_reference(x: np.ndarray, size: tuple) -> np.ndarray:
    """y[n, oy, ox] = sum of the four neighbours of (src_y, src_x), each weighted by its
    (1 - distance) along both axes."""
    n, h, w, c = x.shape
    y = np.zeros((n, *size, c), dtype=x.dtype)
    for oy in range(size[0]):
        y0, y1, wy = _neighbours(oy, h, size[0])
        for ox in range(size[1]):
            x0, x1, wx = _neighbours(ox, w, size[1])
            y[:, oy, ox] = ((1 - wy) * (1 - wx) * x[:, y0, x0] + (1 - wy) * wx * x[:, y0, x1]
                            + wy * (1 - wx) * x[:, y1, x0] + wy * wx * x[:, y1, x1])
    return y


def upsample_bilinear2d_backward_reference(grad: np.ndarray, x_shape: tuple) -> np.ndarray:
    """d loss / dx: each output gradient added to its four neighbours with their weights."""
    _, h, w, _ = x_shape
    oh, ow = grad.shape[1:3]
    dx = np.zeros(x_shape, dtype=grad.dtype)
    for oy in range(oh):
        y0, y1, wy = _neighbours(oy, h, oh)
        for ox in range(ow):
            x0, x1, wx = _neighbours(ox, w, ow)
            g = grad[:, oy, ox]
            dx[:, y0, x0] += (1 - wy) * (1 - wx) * g
            dx[:, y0, x1] += (1 - wy) * wx * g
            dx[:, y1, x0] += wy * (1 - wx) * g
            dx[:, y1, x1] += wy * wx * g
    return dx
