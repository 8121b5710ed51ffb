"""``Tensor``: an array, its gradient, and the op that made it.

Every method here is sugar over one op in ``chainrule.ops`` (or a few of them,
for composites such as ``var``). NumPy arrays and Python scalars mix in freely;
where NumPy and PyTorch disagree, methods follow NumPy (see DESIGN §2).

NumPy's own functions work on tensors too (``np.exp(t)``, ``np.dot(X, W)``,
``ndarray - t``): NumPy hands them to ``Tensor.__array_ufunc__`` (NEP 13) and
``__array_function__`` (NEP 18), which run the op that ``NUMPY_UFUNCS`` or
``NUMPY_FUNCTIONS`` at the end of this file names, so the graph is kept.
"""

from __future__ import annotations

import inspect
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
    if isinstance(data, list | tuple) and _holds_tracked_tensor(data):
        raise TypeError("tensor(): `data` holds tensors that require grad; a new tensor made "
                        "from their values would be a leaf cut from their graph, and their "
                        ".grad would stay None. Use cr.stack(tensors) (or cr.concat) to join "
                        "them differentiably, or .detach() them to copy only their values.")
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        return data
    arr = np.asarray(data)
    if arr.dtype.kind == "f" or arr.dtype == object:
        arr = arr.astype(backend.get_default_dtype())
    return arr


def _holds_tracked_tensor(data: list | tuple) -> bool:
    """Whether nested lists/tuples hold a Tensor that requires grad."""
    pending = [data]
    while pending:
        for item in pending.pop():
            if isinstance(item, Tensor):
                if item.requires_grad:
                    return True
            elif isinstance(item, list | tuple):
                pending.append(item)
    return False


class Tensor(TensorBase):
    """An n-dimensional array that remembers how it was computed.

    ``data`` is the backend array, ``grad`` the accumulated gradient (a Tensor or
    None) and ``_ctx`` the Function that produced it (None for leaves).
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name",
                 "__weakref__")
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
        """``np.asarray(t)``: the explicit way out of the graph (the array, no gradient)."""
        return self.data if dtype is None else self.data.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NEP 13: ``np.exp(t)``, ``np.maximum(a, t)`` and ``ndarray + t`` run chainrule's op."""
        if method == "__call__" and not kwargs:
            op = NUMPY_UFUNCS.get(ufunc)
            if op is not None:
                return op(*inputs)
        return _numpy_fallback(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """NEP 18: ``np.sum(t)``, ``np.dot(X, t)``, ``np.stack([t0, t1])`` run chainrule's ops."""
        call = NUMPY_FUNCTIONS.get(func)
        if call is not None:
            return call(args, kwargs)
        if not all(issubclass(t, Tensor | np.ndarray) for t in types):
            return NotImplemented
        return _numpy_fallback(func, "__call__", args, kwargs)

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


# ---------------------------------------------------------------- NumPy's protocols (NEP 13, 18)
# The one home of "which NumPy function runs which op". A NumPy function not listed
# here runs on the arrays behind the tensors (a plain NumPy result) when no tensor
# argument requires grad, and raises TypeError when one does: it never drops a graph
# silently. docs/autograd.md ("NumPy functions on tensors") lists them all.


def _binary(op):
    """A binary op called NumPy-style, the tensor in either place; the tensor's dtype wins."""
    def call(x, y):
        if isinstance(x, Tensor):
            return op.apply(x, x._operand(y))
        return op.apply(y._operand(x), y)
    return call


def _matmul(x, y) -> Tensor:
    return x.matmul(y) if isinstance(x, Tensor) else y.__rmatmul__(x)


NUMPY_UFUNCS = {
    np.add: _binary(Add), np.subtract: _binary(Sub), np.multiply: _binary(Mul),
    np.divide: _binary(Div), np.power: _binary(Pow), np.maximum: _binary(Maximum),
    np.minimum: _binary(Minimum), np.matmul: _matmul, np.negative: Neg.apply,
    np.positive: lambda x: x, np.exp: Exp.apply, np.log: Log.apply, np.sqrt: Sqrt.apply,
    np.absolute: Abs.apply, np.tanh: Tanh.apply, np.square: Tensor.square,
}
"""NumPy ufunc -> chainrule op (``np.divide`` is ``np.true_divide``, ``np.abs`` is
``np.absolute``). Called with the ufunc's inputs, positional, no keywords."""

NO_GRADIENT = frozenset({
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not, np.isnan, np.isinf,
    np.isfinite, np.signbit, np.sign, np.floor, np.ceil, np.trunc, np.rint,
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero,
    np.count_nonzero, np.any, np.all, np.allclose, np.isclose, np.array_equal,
    np.array_equiv, np.round, np.around, np.shape, np.ndim, np.size, np.zeros_like,
    np.ones_like, np.empty_like, np.full_like, np.shares_memory, np.may_share_memory,
})
"""NumPy functions whose result carries no gradient in any framework (booleans,
indices, shapes, piecewise-constant values): they return NumPy's plain result on the
arrays behind the tensors, even for tensors that require grad."""


def _dot(a, b) -> Tensor:
    """``np.dot``: a product with a scalar, else ``matmul`` (equal while ``b`` has <= 2 axes)."""
    a_ndim, b_ndim = _ndim(a), _ndim(b)
    if a_ndim == 0 or b_ndim == 0:
        return _binary(Mul)(a, b)
    if b_ndim > 2:
        raise TypeError(f"np.dot of operands of shapes {np.shape(_raw(a))} and "
                        f"{np.shape(_raw(b))} (a sum over the second-to-last axis of a "
                        f"{b_ndim}-D second operand) has no chainrule op; use "
                        f"np.matmul / @ for batched matrix products.")
    return _matmul(a, b)


def _ndim(x) -> int:
    return x.ndim if isinstance(x, Tensor | np.ndarray) else np.ndim(x)


def _clip(a, a_min=None, a_max=None, min=None, max=None) -> Tensor:  # noqa: A002
    low, high = (a_min, a_max) if a_min is not None or a_max is not None else (min, max)
    return as_tensor(a).clip(_raw(low), _raw(high))


def _where(condition, x=None, y=None):
    if x is None and y is None:  # np.where(condition) is np.nonzero: indices, no gradient
        return np.nonzero(_raw(condition))
    return where(condition, x, y)


def _reduction(method):
    def call(a, axis=None, keepdims=False) -> Tensor:
        return method(as_tensor(a), axis=axis, keepdims=bool(keepdims))
    return call


def _spread(method):
    def call(a, axis=None, ddof=0, keepdims=False) -> Tensor:
        return method(as_tensor(a), axis=axis, keepdims=bool(keepdims), ddof=ddof)
    return call


_HANDLERS = {
    np.dot: _dot, np.clip: _clip, np.where: _where,
    np.sum: _reduction(Tensor.sum), np.mean: _reduction(Tensor.mean),
    np.max: _reduction(Tensor.max), np.amax: _reduction(Tensor.max),
    np.min: _reduction(Tensor.min), np.amin: _reduction(Tensor.min),
    np.var: _spread(Tensor.var), np.std: _spread(Tensor.std),
    np.reshape: lambda a, shape: as_tensor(a).reshape(shape),
    np.ravel: lambda a: as_tensor(a).flatten(),
    np.transpose: lambda a, axes=None: as_tensor(a).transpose(*(axes or ())),
    np.squeeze: lambda a, axis=None: as_tensor(a).squeeze(axis),
    np.expand_dims: lambda a, axis: as_tensor(a).unsqueeze(axis),
    np.broadcast_to: lambda array, shape: as_tensor(array).broadcast_to(shape),
    np.pad: lambda array, pad_width, constant_values=0.0:
        as_tensor(array).pad(pad_width, constant_values),
    np.stack: lambda arrays, axis=0: stack(arrays, axis),
    np.concatenate: lambda arrays, axis=0: concat(arrays, axis),
    np.split: lambda ary, indices_or_sections, axis=0: split(ary, indices_or_sections, axis),
}
"""NumPy function -> chainrule, each handler taking the arguments it supports under
NumPy's own parameter names (``np.concat`` is ``np.concatenate``)."""


class _NumPyCall:
    """One NumPy function's arguments, bound to NumPy's parameter names, handed to its
    chainrule handler; an argument the handler lacks is refused unless it is NumPy's
    default (``np.sum(t, dtype=None)`` passes, ``np.sum(t, dtype=float)`` raises)."""

    __slots__ = ("name", "handler", "positional", "defaults", "accepted", "leading")

    def __init__(self, func, handler):
        params = inspect.signature(func).parameters
        self.name, self.handler = _numpy_name(func), handler
        self.positional = tuple(n for n, p in params.items()
                                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        self.defaults = {n: p.default for n, p in params.items()}
        mine = tuple(inspect.signature(handler).parameters)
        self.accepted = frozenset(mine)
        # how many leading positional arguments both take in the same order (the fast path)
        self.leading = next((i for i, (a, b) in enumerate(zip(self.positional, mine)) if a != b),
                            min(len(self.positional), len(mine)))

    def __call__(self, args: tuple, kwargs: dict):
        if not kwargs and len(args) <= self.leading:
            return self.handler(*args)
        if len(args) > len(self.positional):
            raise TypeError(f"{self.name}() takes at most {len(self.positional)} positional "
                            f"arguments; {len(args)} were given.")
        bound = dict(zip(self.positional, args))
        bound.update(kwargs)
        for name in bound.keys() - self.accepted:
            value = bound.pop(name)
            if not _is_default(value, self.defaults.get(name, inspect.Parameter.empty)):
                raise TypeError(_refusal(self.name, name))
        return self.handler(**bound)


def _numpy_fallback(func, method: str, args: tuple, kwargs: dict):
    """A NumPy call no op serves: NumPy's plain result on the arrays when the result
    carries no gradient anyway, else a TypeError saying what to do instead."""
    name = _numpy_name(func) + ("" if method == "__call__" else f".{method}")
    if kwargs.get("out") is not None:
        raise TypeError(_refusal(name, "out"))
    if kwargs and method == "__call__" and func in NUMPY_UFUNCS:
        raise TypeError(_refusal(name, next(iter(kwargs))))
    tracked: list = []
    args, kwargs = _unwrap(args, tracked), _unwrap(kwargs, tracked)
    if tracked and func not in NO_GRADIENT:
        raise TypeError(
            f"{name} has no chainrule op, so it cannot keep a tensor that requires grad in the "
            f"graph. Write it with chainrule's functions (cr.<fn>: cr.exp, cr.sum, cr.matmul, "
            f"...; docs/autograd.md, 'NumPy functions on tensors', lists the NumPy functions "
            f"that work on tensors), or leave the graph explicitly with t.numpy() or "
            f"np.asarray(t) (no gradient flows back through the result).")
    return (func if method == "__call__" else getattr(func, method))(*args, **kwargs)


def _refusal(name: str, argument: str) -> str:
    """Why ``name(..., argument=...)`` is refused, and what to write instead."""
    if argument == "out":
        return (f"{name}(..., out=...) is not supported with chainrule tensors: the graph "
                f"needs every value it saw, so nothing is written in place. Assign the result "
                f"instead (y = {name}(...)); for `a += t` with a NumPy array `a`, write "
                f"`a = a + t`.")
    return (f"{name}(..., {argument}=...) is not supported on chainrule tensors: the argument "
            f"has no chainrule equivalent. Leave it out, or call {name} on t.numpy() to leave "
            f"the graph explicitly.")


def _is_default(value, default) -> bool:
    """Whether an argument a handler lacks was passed as NumPy's default (harmless)."""
    return value is default or (type(value) is type(default)
                                and isinstance(value, str | bool | int) and value == default)


def _numpy_name(func) -> str:
    """``np.exp``, ``np.linalg.norm``; other libraries' functions by their module."""
    name = func.__name__
    if isinstance(func, np.ufunc):
        return f"np.{name}" if getattr(np, name, None) is func else name
    module = getattr(func, "__module__", None) or "numpy"
    return f"{'np' + module[5:] if module.startswith('numpy') else module}.{name}"


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _unwrap(obj, tracked: list):
    """``obj`` with every Tensor (in lists, tuples and dicts too) replaced by its array;
    the tensors that require grad are appended to ``tracked``."""
    if isinstance(obj, Tensor):
        if obj.requires_grad:
            tracked.append(obj)
        return obj.data
    if isinstance(obj, list | tuple):
        return type(obj)(_unwrap(o, tracked) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v, tracked) for k, v in obj.items()}
    return obj


NUMPY_FUNCTIONS = {func: _NumPyCall(func, handler) for func, handler in _HANDLERS.items()}
