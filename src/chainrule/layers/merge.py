"""Merge layers: combine a list of tensors into one (Keras' ``Add``, ``Concatenate``, ...).

Each is called on a list, ``Add()([a, b])``, or through its lower-case function,
``add([a, b])``. The element-wise ones take two or more tensors of one rank whose
shapes match after broadcasting a 1; ``Concatenate(axis)`` joins along ``axis``;
``Dot(axes, normalize)`` takes the per-sample dot product along one axis of each
input. The mask of the output is that of the inputs combined (Keras).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..tensor import Tensor, concat
from ..tensor import maximum as tensor_maximum
from ..tensor import minimum as tensor_minimum
from .base import Layer
from .node import format_shape, is_shape


def _shapes_text(shapes) -> str:
    return ", ".join(format_shape(s) for s in shapes)


class _Merge(Layer):
    """What the merge layers share: a list of inputs, checked shapes, masks AND-ed."""

    supports_masking = True
    exact_inputs: int | None = None  # Subtract and Dot take exactly two

    def _input_shapes(self, input_shape) -> list[tuple]:
        """``input_shape`` as a list of at least two shapes (``exact_inputs`` if set)."""
        name, layer = type(self).__name__, self.name
        if is_shape(input_shape) or isinstance(input_shape, dict):
            raise ValueError(f"`{name}` layer '{layer}' must be called on a list of tensors; "
                             f"received one input of shape {input_shape}.")
        shapes = [tuple(s) for s in input_shape]
        wanted = self.exact_inputs
        if (wanted is not None and len(shapes) != wanted) or len(shapes) < 2:
            count = f"exactly {wanted}" if wanted else "at least 2"
            raise ValueError(f"`{name}` layer '{layer}' takes {count} inputs; received "
                             f"{len(shapes)}.")
        return shapes

    def build(self, input_shape) -> None:
        self.compute_output_shape(input_shape)

    def forward(self, inputs) -> Tensor:
        if not isinstance(inputs, list | tuple):
            raise ValueError(f"`{type(self).__name__}` layer '{self.name}' must be called on "
                             f"a list of tensors; received {type(inputs).__name__}.")
        self.compute_output_shape([tuple(t.shape) for t in inputs])
        return self._merge(list(inputs))

    def _merge(self, inputs: list[Tensor]) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _merge()")

    def compute_mask(self, inputs, mask=None):
        """The positions every masked input keeps (None when no input has a mask)."""
        masks = [m for m in (mask or []) if m is not None]
        if not masks:
            return None
        return functools.reduce(np.logical_and, masks)


class _ElementwiseMerge(_Merge):
    """Element-wise merges: shapes of one rank, equal where neither is 1 (or None)."""

    def compute_output_shape(self, input_shape) -> tuple:
        shapes = self._input_shapes(input_shape)
        if len({len(s) for s in shapes}) > 1:
            raise ValueError(f"`{type(self).__name__}` layer '{self.name}': inputs must have "
                             f"the same rank; received shapes {_shapes_text(shapes)}.")
        return tuple(functools.reduce(lambda a, b: self._combine(a, b, shapes), dims)
                     for dims in zip(*shapes))

    def _combine(self, a, b, shapes):
        """One axis of two shapes: unknown if either is, else equal or broadcast from 1."""
        if a is None or b is None:
            return None
        if a == 1 or b == 1 or a == b:
            return b if a == 1 else a
        raise ValueError(f"`{type(self).__name__}` layer '{self.name}': inputs have "
                         f"incompatible shapes {_shapes_text(shapes)}.")


class Add(_ElementwiseMerge):
    """y = x1 + x2 + ... (element-wise, broadcasting)."""

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        return functools.reduce(lambda a, b: a + b, inputs)


class Subtract(_ElementwiseMerge):
    """y = x1 - x2 (exactly two inputs)."""

    exact_inputs = 2

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        return inputs[0] - inputs[1]


class Multiply(_ElementwiseMerge):
    """y = x1 * x2 * ... (element-wise)."""

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        return functools.reduce(lambda a, b: a * b, inputs)


class Average(_ElementwiseMerge):
    """y = (x1 + ... + xn) / n."""

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        return functools.reduce(lambda a, b: a + b, inputs) * (1.0 / len(inputs))


class Maximum(_ElementwiseMerge):
    """y = max(x1, x2, ...) element-wise (at a tie the gradient goes to the earlier
    input, as ``cr.maximum``)."""

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        return functools.reduce(tensor_maximum, inputs)


class Minimum(_ElementwiseMerge):
    """y = min(x1, x2, ...) element-wise (at a tie the gradient goes to the earlier
    input, as ``cr.minimum``)."""

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        return functools.reduce(tensor_minimum, inputs)


def _axis(layer: Layer, axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` in [1, rank) (negative counts from the end); the batch axis is refused."""
    index = axis + rank if axis < 0 else axis
    if not 1 <= index < rank:
        raise ValueError(f"Invalid value for argument `{what}` of `{type(layer).__name__}`: "
                         f"{axis} is not a non-batch axis of inputs of rank {rank}.")
    return index


class Concatenate(_Merge):
    """Join the inputs along ``axis`` (default the last); the other axes must match."""

    def __init__(self, axis: int = -1, **kwargs):
        self.axis = int(axis)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape) -> tuple:
        shapes = self._input_shapes(input_shape)
        rank = len(shapes[0])
        axis = _axis(self, self.axis, rank)
        others = [tuple(d for i, d in enumerate(s) if i != axis) for s in shapes]
        fits = len({len(s) for s in shapes}) == 1 and all(
            len({d for d in dims if d is not None}) <= 1 for dims in zip(*others))
        if not fits:
            raise ValueError(f"`Concatenate` layer '{self.name}' (axis={self.axis}) needs "
                             f"inputs that match on every other axis; received shapes "
                             f"{_shapes_text(shapes)}.")
        joined = [s[axis] for s in shapes]
        merged = [next((d for d in dims if d is not None), None) for dims in zip(*others)]
        merged.insert(axis, None if None in joined else sum(joined))
        return tuple(merged)

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        return concat(inputs, axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Keras' rule: unmasked inputs count as all kept, masks are joined along
        ``axis`` (a (N, T) mask is first spread over the features) and a position is
        kept if any of its joined features is."""
        if mask is None or all(m is None for m in mask):
            return None
        parts = []
        for x, m in zip(inputs, mask):
            shape = tuple(getattr(x, "shape", ()))
            if m is None:
                parts.append(np.ones(shape, dtype=bool))
            else:
                m = np.asarray(m, dtype=bool)
                parts.append(np.broadcast_to(m[..., None], shape) if m.ndim < len(shape) else m)
        return np.concatenate(parts, axis=self.axis).any(axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


def _l2_normalize(x: Tensor, axis: int) -> Tensor:
    """x / sqrt(max(sum(x**2, axis), 1e-12)): unit length along ``axis`` (Keras)."""
    squares = (x * x).sum(axis=axis, keepdims=True)
    return x / tensor_maximum(squares, 1e-12).sqrt()


class Dot(_Merge):
    """The dot product of two inputs along one axis of each, per sample (Keras' Dot).

    ``axes`` is an int or a pair; x (N, ..., k, ...) and y (N, ..., k, ...) give
    (N, x's other axes..., y's other axes...), and (N, 1) when none are left.
    ``normalize=True`` first scales both to unit L2 norm along those axes, so 2-D
    inputs give their cosine similarity.
    """

    exact_inputs = 2

    def __init__(self, axes, normalize: bool = False, **kwargs):
        pair = (axes, axes) if isinstance(axes, int | np.integer) else tuple(axes)
        if len(pair) != 2 or not all(isinstance(a, int | np.integer) for a in pair):
            raise ValueError(f"Invalid value for argument `axes` of `Dot`: expected an int or "
                             f"a pair of ints; received axes={axes!r}.")
        self.axes = tuple(int(a) for a in pair)
        self.normalize = bool(normalize)
        super().__init__(**kwargs)

    def _contracted(self, shapes: list[tuple]) -> tuple[int, int]:
        a0 = _axis(self, self.axes[0], len(shapes[0]), "axes")
        a1 = _axis(self, self.axes[1], len(shapes[1]), "axes")
        d0, d1 = shapes[0][a0], shapes[1][a1]
        if d0 is not None and d1 is not None and d0 != d1:
            raise ValueError(f"`Dot` layer '{self.name}' (axes={self.axes}): the contracted "
                             f"axes differ, {d0} vs {d1}; received shapes "
                             f"{_shapes_text(shapes)}.")
        return a0, a1

    def compute_output_shape(self, input_shape) -> tuple:
        shapes = self._input_shapes(input_shape)
        a0, a1 = self._contracted(shapes)
        x_rest = [d for i, d in enumerate(shapes[0]) if i != a0]
        y_rest = [d for i, d in enumerate(shapes[1]) if i not in (0, a1)]
        out = x_rest + y_rest
        return tuple(out + [1] if len(out) == 1 else out)

    def _merge(self, inputs: list[Tensor]) -> Tensor:
        x, y = inputs
        a0, a1 = self._contracted([x.shape, y.shape])
        if self.normalize:
            x, y = _l2_normalize(x, a0), _l2_normalize(y, a1)
        x = _move_axis(x, a0, x.ndim - 1)  # (N, x rest..., k)
        y = _move_axis(y, a1, 1)  # (N, k, y rest...)
        n, k = x.shape[0], x.shape[-1]
        x_rest, y_rest = x.shape[1:-1], y.shape[2:]
        out = x.reshape(n, -1, k) @ y.reshape(n, k, -1)
        return out.reshape(n, *x_rest, *y_rest) if x_rest or y_rest else out.reshape(n, 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def _move_axis(x: Tensor, source: int, destination: int) -> Tensor:
    order = [i for i in range(x.ndim) if i != source]
    order.insert(destination, source)
    return x if order == list(range(x.ndim)) else x.transpose(*order)


# ---------------------------------------------------------------- functional forms


def _functional_form(cls: type) -> Callable:
    """Keras' lower-case form of an element-wise merge: ``add(inputs, **kwargs)`` is
    ``Add(**kwargs)(inputs)``."""
    def merge(inputs: list, **kwargs) -> Tensor:
        return cls(**kwargs)(inputs)

    merge.__name__ = merge.__qualname__ = cls.__name__.lower()
    merge.__doc__ = f"``{cls.__name__}(**kwargs)(inputs)``: {cls.__doc__.splitlines()[0]}"
    return merge


add = _functional_form(Add)
subtract = _functional_form(Subtract)
multiply = _functional_form(Multiply)
average = _functional_form(Average)
maximum = _functional_form(Maximum)
minimum = _functional_form(Minimum)


def concatenate(inputs: list, axis: int = -1, **kwargs) -> Tensor:
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes, normalize: bool = False, **kwargs) -> Tensor:
    """``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
