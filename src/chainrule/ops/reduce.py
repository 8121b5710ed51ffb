"""Reductions: sum, mean, max, min over an axis, a tuple of axes or everything.

``Max``/``Min`` send the gradient to the first extreme element along the reduced
axes (NumPy's ``argmax`` order), never splitting it across ties.
"""

import numpy as np

from ..autograd import Function


def normalize_axes(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of axes.

    A 0-d tensor accepts axis 0 or -1, as torch does, and reduces over nothing: ().
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    bound = max(ndim, 1)
    for a in axes:
        if not -bound <= a < bound:
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for a tensor of "
                                          f"dimension {ndim}")
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def expand_reduced(grad, shape: tuple, axes: tuple, keepdims: bool):
    """A gradient of a reduction's output, viewed with the input's shape."""
    if not keepdims:  # put the reduced axes back as length 1
        grad = grad.reshape(tuple(1 if a in axes else n for a, n in enumerate(shape)))
    return np.broadcast_to(grad, shape)


class Sum(Function):
    """y = sum(x) over ``axis``;  dy/dx = 1 for every element."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.keepdims = x.shape, keepdims
        self.axes = normalize_axes(axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        return expand_reduced(grad, self.shape, self.axes, self.keepdims)


class Mean(Function):
    """y = mean(x) over ``axis``;  dy/dx = 1 / n."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.keepdims = x.shape, keepdims
        self.axes = normalize_axes(axis, x.ndim)
        self.count = int(np.prod([x.shape[a] for a in self.axes]))
        return x.sum(axis=self.axes, keepdims=keepdims) / self.count

    def backward(self, grad):
        return expand_reduced(grad / self.count, self.shape, self.axes, self.keepdims)


class Max(Function):
    """y = max(x) over ``axis``;  dy/dx = 1 at the first maximal element, else 0."""

    pick = staticmethod(np.argmax)

    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.keepdims = x.shape, keepdims
        axes = normalize_axes(axis, x.ndim)
        kept = tuple(a for a in range(x.ndim) if a not in axes)
        self.perm = kept + axes
        self.kept_shape = tuple(x.shape[a] for a in kept)
        rows = np.transpose(x, self.perm).reshape(self.kept_shape + (-1,))
        self.index = self.pick(rows, axis=-1)[..., None]
        y = np.take_along_axis(rows, self.index, axis=-1)[..., 0]
        self.out_shape = tuple(1 if a in axes else n for a, n in enumerate(x.shape))
        return y.reshape(self.out_shape) if keepdims else y

    def backward(self, grad):
        moved = [self.shape[a] for a in self.perm]
        rows = np.zeros(self.kept_shape + (int(np.prod(moved[len(self.kept_shape):])),),
                        dtype=grad.dtype)
        g = np.reshape(grad, self.kept_shape)[..., None]
        np.put_along_axis(rows, self.index, g, axis=-1)
        return np.transpose(rows.reshape(moved), np.argsort(self.perm))


class Min(Max):
    """y = min(x) over ``axis``;  dy/dx = 1 at the first minimal element, else 0."""

    pick = staticmethod(np.argmin)
