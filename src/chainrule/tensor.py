"""``Tensor``: an array, its gradient, and the op that made it.

Every method here is sugar over one op in ``chainrule.ops`` (or a few of them,
for composites such as ``var``). NumPy arrays and Python scalars mix in freely;
where NumPy and PyTorch disagree, methods follow NumPy (see DESIGN §2).
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Sequence

import numpy as np

from . import backend
from .autograd import ShapeError, TensorBase, run_backward
from .ops.activation import (
    Elu,
    Gelu,
    LeakyRelu,
    LogSoftmax,
    LogSumExp,
    Relu,
    Sigmoid,
    Softmax,
    Tanh,
)
from .ops.arithmetic import Add, Clip, Div, Maximum, Minimum, Mul, Neg, Pow, Sub, Where
from .ops.linalg import MatMul
from .ops.math import Abs, Cast, Exp, Log, Sqrt
from .ops.reduce import Max, Mean, Min, Sum, normalize_axes
from .ops.shape import BroadcastTo, Concat, GetItem, Pad, Reshape, Stack, Transpose


def _to_array(data, dtype=None) -> np.ndarray:
    """``data`` as an ndarray: floats in the default dtype, arrays keep theirs."""
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        return data
    arr = np.asarray(data)
    if arr.dtype.kind == "f" or arr.dtype == object:
        arr = arr.astype(backend.get_default_dtype())
    return arr


class Tensor(TensorBase):
    """An n-dimensional array that remembers how it was computed.

    ``data`` is the backend array, ``grad`` the accumulated gradient (a Tensor or
    None) and ``_ctx`` the Function that produced it (None for leaves).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected op
    __hash__ = object.__hash__

    def __init__(self, data, dtype=None, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _to_array(data, dtype)
        if requires_grad and not backend.is_floating(self.data.dtype):
            raise TypeError(f"Only floating-point tensors can require gradients; this tensor "
                            f"has dtype {self.data.dtype}.")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self.name = name

    @classmethod
    def _from_op(cls, data, ctx) -> Tensor:
        """Wrap an op's output without the checks of ``__init__`` (the hot path)."""
        t = object.__new__(cls if cls is Tensor else Tensor)
        if not isinstance(data, np.ndarray):
            data = np.asarray(data)
        if ctx is not None and data.dtype.kind != "f":
            ctx = None  # integer and boolean results never carry gradients
        t.data = data
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t.name = None
        return t

    # ------------------------------------------------------------ attributes

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element; this one has shape "
                             f"{self.shape}.")
        return self.data.item()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype != backend.get_default_dtype():
            extra = f", dtype={self.data.dtype}" + extra
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------ autograd

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor; ``grad`` (d loss / d self) defaults to 1 for scalars."""
        if not self.requires_grad:
            raise RuntimeError("backward() was called on a tensor that does not require grad: "
                               "no input of the computation had requires_grad=True (or it ran "
                               "under no_grad()).")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() on a non-scalar tensor of shape {self.shape} needs `grad`, "
                    f"the gradient of the loss with respect to it; reduce to a scalar first "
                    f"(e.g. .sum()) or pass grad=.")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad,
                              dtype=self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): grad has shape {grad.shape} but the tensor has "
                                 f"shape {self.shape}.")
        run_backward(self, grad, retain_graph=retain_graph)

    def _accumulate_grad(self, g: np.ndarray) -> None:
        if self.grad is None:
            # Always a copy: backward may hand the same array to several tensors (x + y
            # gives both the upstream gradient itself), and an optimizer that scales one
            # .grad in place must not scale the others.
            self.grad = Tensor._from_op(np.array(g, dtype=self.data.dtype), None)
        elif self.grad.data.flags.writeable and self.grad.data.dtype == self.data.dtype:
            self.grad.data += g  # accumulate in place, as torch does
        else:
            self.grad.data = (self.grad.data + g).astype(self.data.dtype)

    def retain_grad(self) -> Tensor:
        """Keep this (non-leaf) tensor's gradient in ``.grad`` after backward."""
        if self._ctx is not None:
            self._ctx.retained = weakref.ref(self)
        return self

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory)."""
        return Tensor._from_op(self.data, None)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def astype(self, dtype) -> Tensor:
        """A copy in another dtype (cut from the graph unless both are floating)."""
        dtype = np.dtype(dtype)
        if backend.is_floating(dtype) and backend.is_floating(self.dtype):
            return Cast.apply(self, dtype=dtype) if dtype != self.dtype else self
        return Tensor(self.data.astype(dtype))

    # ------------------------------------------------------------ operators

    def _operand(self, other):
        """Another operand as a Tensor or raw array matching this tensor's float dtype.

        Python numbers stay as they are (NumPy treats them as weak, so float32 stays
        float32); NumPy scalars such as ``np.float64(2)`` are cast like arrays, since
        NumPy would otherwise promote the result to float64.
        """
        if isinstance(other, Tensor) or (isinstance(other, numbers.Number)
                                         and not isinstance(other, np.generic)):
            return other
        arr = np.asarray(other)
        if arr.dtype.kind in "fiub" and self.data.dtype.kind == "f" and arr.dtype != self.dtype:
            arr = arr.astype(self.data.dtype)
        return arr

    def __add__(self, other):
        return Add.apply(self, self._operand(other))

    def __radd__(self, other):
        return Add.apply(self._operand(other), self)

    def __sub__(self, other):
        return Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        return Sub.apply(self._operand(other), self)

    def __mul__(self, other):
        return Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        return Mul.apply(self._operand(other), self)

    def __truediv__(self, other):
        return Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        return Div.apply(self._operand(other), self)

    def __pow__(self, other):
        return Pow.apply(self, self._operand(other))

    def __rpow__(self, other):
        return Pow.apply(self._operand(other), self)

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return as_tensor(self._operand(other)).matmul(self)

    def __neg__(self):
        return Neg.apply(self)

    def __pos__(self):
        return self

    def _compare(self, other, ufunc) -> Tensor:
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._from_op(ufunc(self.data, other), None)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):  # elementwise, as in NumPy and torch
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __getitem__(self, index):
        return GetItem.apply(self, _raw_index(index))

    # ------------------------------------------------------------ math

    def matmul(self, other) -> Tensor:
        """Matrix product as ``np.matmul`` (batched, broadcasting)."""
        other = self._operand(other)
        try:
            return MatMul.apply(self, other)
        except ShapeError:  # say which axes disagree (checked only on failure: a hot path)
            oshape = np.shape(other.data if isinstance(other, Tensor) else other)
            if self.ndim == 0 or len(oshape) == 0:
                raise ShapeError(f"MatMul: operands of shapes {self.shape} and {oshape} must "
                                 f"have at least one dimension each.") from None
            k_self = self.shape[-1]
            k_other = oshape[0] if len(oshape) == 1 else oshape[-2]
            if k_self != k_other:
                raise ShapeError(f"MatMul: shapes {self.shape} and {oshape} are not aligned: "
                                 f"{k_self} (last axis of the first) != {k_other} "
                                 f"(second-to-last axis of the second).") from None
            raise

    def exp(self) -> Tensor:
        return Exp.apply(self)

    def log(self) -> Tensor:
        return Log.apply(self)

    def sqrt(self) -> Tensor:
        return Sqrt.apply(self)

    def abs(self) -> Tensor:
        return Abs.apply(self)

    def tanh(self) -> Tensor:
        return Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return Relu.apply(self)

    def leaky_relu(self, alpha: float = 0.01) -> Tensor:
        return LeakyRelu.apply(self, alpha=alpha)

    def elu(self, alpha: float = 1.0) -> Tensor:
        return Elu.apply(self, alpha=alpha)

    def gelu(self) -> Tensor:
        return Gelu.apply(self)

    def square(self) -> Tensor:
        return Mul.apply(self, self)

    def clip(self, min=None, max=None) -> Tensor:  # noqa: A002 - NumPy's argument names
        """Limit values to [min, max]; the gradient passes where min <= x <= max."""
        return Clip.apply(self, low=min, high=max)

    def maximum(self, other) -> Tensor:
        return Maximum.apply(self, self._operand(other))

    def minimum(self, other) -> Tensor:
        return Minimum.apply(self, self._operand(other))

    def where(self, condition, other) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (torch's ``x.where``)."""
        return where(condition, self, other)

    # ------------------------------------------------------------ reductions

    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Tensor:
        return Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Variance, ``ddof=0`` by default as in NumPy."""
        n = int(np.prod([self.shape[a] for a in normalize_axes(axis, self.ndim)]))
        centered = self - self.mean(axis=axis, keepdims=True)
        return (centered * centered).sum(axis=axis, keepdims=keepdims) / (n - ddof)

    def std(self, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        return self.var(axis=axis, keepdims=keepdims, ddof=ddof).sqrt()

    def softmax(self, axis: int = -1) -> Tensor:
        return Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return LogSoftmax.apply(self, axis=axis)

    def logsumexp(self, axis=None, keepdims: bool = False) -> Tensor:
        return LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None) -> Tensor:
        return Tensor._from_op(np.argmax(self.data, axis=axis), None)

    def argmin(self, axis=None) -> Tensor:
        return Tensor._from_op(np.argmin(self.data, axis=axis), None)

    # ------------------------------------------------------------ shape

    def reshape(self, *shape) -> Tensor:
        return Reshape.apply(self, shape=_resolve_shape(_shape_arg(shape), self.shape))

    def transpose(self, *axes) -> Tensor:
        """Permute axes like ``np.transpose`` (reversed when none are given)."""
        axes = _shape_arg(axes) if axes else None
        return Transpose.apply(self, axes=axes)

    def permute(self, *dims) -> Tensor:
        return Transpose.apply(self, axes=_shape_arg(dims))

    def flatten(self) -> Tensor:
        """All elements in one axis (the ``Flatten`` layer keeps the batch axis)."""
        return Reshape.apply(self, shape=(self.size,))

    def squeeze(self, axis=None) -> Tensor:
        """Drop axes of length 1 (all of them, or the ones named)."""
        axes = [a for a, n in enumerate(self.shape) if n == 1] if axis is None \
            else normalize_axes(axis, self.ndim)
        for a in axes:
            if self.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of a tensor of shape {self.shape} has "
                                 f"length {self.shape[a]}, not 1.")
        return Reshape.apply(self, shape=tuple(n for a, n in enumerate(self.shape)
                                               if a not in axes))

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert an axis of length 1 at ``axis``."""
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise np.exceptions.AxisError(f"unsqueeze: axis {axis} is out of bounds for a tensor "
                                          f"of dimension {self.ndim} (allowed "
                                          f"{-self.ndim - 1}..{self.ndim}).")
        axis = axis + self.ndim + 1 if axis < 0 else axis
        return Reshape.apply(self, shape=self.shape[:axis] + (1,) + self.shape[axis:])

    def expand(self, *shape) -> Tensor:
        return self.broadcast_to(_shape_arg(shape))

    def broadcast_to(self, shape) -> Tensor:
        shape = tuple(shape)
        try:
            np.broadcast_shapes(self.shape, shape)
        except ValueError:
            raise ValueError(f"BroadcastTo: cannot broadcast a tensor of shape {self.shape} "
                             f"to shape {shape}.") from None
        return BroadcastTo.apply(self, shape=shape)

    def pad(self, pad_width, value: float = 0.0) -> Tensor:
        """Constant padding with NumPy's ``pad_width``."""
        return Pad.apply(self, pad_width=pad_width, value=value)


# ---------------------------------------------------------------- helpers


def _shape_arg(shape) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        return tuple(int(s) for s in shape[0])
    return tuple(int(s) for s in shape)


def _resolve_shape(shape: tuple, old: tuple) -> tuple:
    """``shape`` with any -1 filled in; an error naming both shapes if sizes differ."""
    size = int(np.prod(old))
    known = int(np.prod([n for n in shape if n != -1]))
    if shape.count(-1) == 1 and known and size % known == 0:
        shape = tuple(size // known if n == -1 else n for n in shape)
    if shape.count(-1) or int(np.prod(shape)) != size:
        raise ValueError(f"Reshape: cannot reshape a tensor of shape {old} ({size} elements) "
                         f"into shape {shape}.")
    return shape


def _raw_index(index):
    """An index with Tensors and lists replaced by arrays."""
    if isinstance(index, tuple):
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


# ---------------------------------------------------------------- constructors


def tensor(data, dtype=None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A new leaf tensor from a number, list or array (floats in the default dtype)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def as_tensor(data) -> Tensor:
    """``data`` itself if it is a Tensor, else a new tensor wrapping it."""
    return data if isinstance(data, Tensor) else Tensor(data)


def _float_dtype(dtype):
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape_arg(shape), _float_dtype(dtype)), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape_arg(shape), _float_dtype(dtype)), requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor(np.full(shape, fill_value, _float_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(np.asarray(t)), requires_grad=requires_grad)


def ones_like(t, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(np.asarray(t)), requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from chainrule's seeded generator."""
    data = backend.rng().standard_normal(_shape_arg(shape)).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from chainrule's seeded generator."""
    data = backend.rng().random(_shape_arg(shape)).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Like ``np.arange``; integers stay integers unless a float dtype is asked for."""
    data = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        data = data.astype(dtype)
    elif data.dtype.kind == "f":
        data = data.astype(backend.get_default_dtype())
    return Tensor(data, requires_grad=requires_grad)


# ---------------------------------------------------------------- functions of several tensors


def concat(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``np.concatenate``)."""
    return Concat.apply(*[as_tensor(t) for t in tensors], axis=axis)


def stack(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join tensors along a new axis (``np.stack``)."""
    return Stack.apply(*[as_tensor(t) for t in tensors], axis=axis)


def split(x: Tensor, indices_or_sections, axis: int = 0) -> list[Tensor]:
    """Split like ``np.split``: a number of equal sections or a list of split points."""
    x = as_tensor(x)
    n = x.shape[axis]
    if isinstance(indices_or_sections, int | np.integer):
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of length {n} does not divide into "
                             f"{indices_or_sections} equal sections.")
        step = n // indices_or_sections
        bounds = list(range(0, n + 1, step))
    else:
        bounds = [0, *indices_or_sections, n]
    prefix = (slice(None),) * (axis % x.ndim)
    return [x[prefix + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]


def where(condition, x, y) -> Tensor:
    """Elementwise choice: ``x`` where ``condition`` holds, else ``y``."""
    condition = (condition.data if isinstance(condition, Tensor)
                 else np.asarray(condition)).astype(bool)
    if isinstance(x, Tensor):
        return Where.apply(condition, x, x._operand(y))
    y = as_tensor(y)
    return Where.apply(condition, y._operand(x), y)


def maximum(x, y) -> Tensor:
    return as_tensor(x).maximum(y)


def minimum(x, y) -> Tensor:
    return as_tensor(x).minimum(y)


def matmul(x, y) -> Tensor:
    return as_tensor(x).matmul(y)


def _method_as_function(name: str):
    method = getattr(Tensor, name)

    def function(x, *args, **kwargs):
        return method(as_tensor(x), *args, **kwargs)

    function.__name__ = name
    function.__doc__ = method.__doc__ or f"``x.{name}(...)`` as a function."
    return function


# Every method above as a module-level function (cr.exp(x), cr.sum(x, axis=1)),
# exported by chainrule/__init__.py.
functions = {name: _method_as_function(name) for name in (
    "sum", "mean", "max", "min", "var", "std", "exp", "log", "sqrt", "abs", "tanh", "sigmoid",
    "relu", "leaky_relu", "elu", "gelu", "clip", "softmax", "log_softmax", "logsumexp",
    "reshape", "transpose", "permute", "flatten", "squeeze", "unsqueeze", "expand",
    "broadcast_to", "pad", "argmax", "argmin", "square")}
