"""Shape ops: reshape, transpose, indexing, broadcast, pad, concatenate, stack.

They move numbers around without changing them, so each backward puts the
gradient back where the forward took the value from.
"""

import numpy as np

from ..autograd import Function, unbroadcast


class Reshape(Function):
    """y = x viewed with a new shape;  dx = g reshaped back."""

    def forward(self, x, shape):
        self.shape = x.shape
        return np.reshape(x, shape)

    def backward(self, grad):
        return np.reshape(grad, self.shape)


class Transpose(Function):
    """y = x with axes permuted;  dx = g with the inverse permutation."""

    def forward(self, x, axes=None):
        self.axes = tuple(reversed(range(x.ndim))) if axes is None else axes
        return np.transpose(x, self.axes)

    def backward(self, grad):
        return np.transpose(grad, np.argsort(self.axes))


def is_basic_index(index: tuple) -> bool:
    """True when ``index`` holds only ints, slices, None and Ellipsis (no repeats)."""
    return all(i is None or i is Ellipsis or isinstance(i, int | slice | np.integer)
               for i in index)


class GetItem(Function):
    """y = x[index];  dx scatters g back, adding where an index repeats."""

    def forward(self, x, index):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        try:
            return x[index]
        except IndexError as err:
            raise IndexError(f"GetItem on a tensor of shape {x.shape}: {err}") from None

    def backward(self, grad):
        out = np.zeros(self.shape, dtype=grad.dtype)
        index = self.index if isinstance(self.index, tuple) else (self.index,)
        if is_basic_index(index) or _is_single_mask(index):
            out[self.index] = grad
        else:
            np.add.at(out, self.index, grad)
        return out


def _is_single_mask(index: tuple) -> bool:
    return len(index) == 1 and isinstance(index[0], np.ndarray) and index[0].dtype == bool


class BroadcastTo(Function):
    """y = x broadcast to ``shape``;  dx = g summed over the broadcast axes."""

    def forward(self, x, shape):
        self.shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, grad):
        return unbroadcast(grad, self.shape)


class Pad(Function):
    """y = np.pad(x, pad_width, constant);  dx = the un-padded window of g."""

    def forward(self, x, pad_width, value=0.0):
        self.pad = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
        return np.pad(x, self.pad, mode="constant", constant_values=value)

    def backward(self, grad):
        window = tuple(slice(lo, n - hi) for (lo, hi), n in zip(self.pad, grad.shape))
        return grad[window]


class Concat(Function):
    """y = concatenate(xs, axis);  each dx is its slice of g."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, grad):
        return tuple(np.split(grad, self.bounds, axis=self.axis))


class Stack(Function):
    """y = stack(xs, axis);  each dx is its slice of g along the new axis."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, grad):
        return tuple(np.moveaxis(grad, self.axis, 0))
