"""``cr.Input``: the symbolic tensor a functional model starts from (Keras' ``Input``)."""

from __future__ import annotations

import numpy as np

from ..backend import get_default_dtype
from ..tensor import Tensor
from .base import Layer
from .node import KerasTensor, Node, format_shape


def _check_batch_shape(batch_shape) -> tuple:
    try:
        dims = tuple(batch_shape)
        ok = all(d is None or (isinstance(d, int | np.integer) and not isinstance(d, bool)
                               and d >= 0) for d in dims)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"Invalid value for argument `shape` of `Input`: expected a tuple of "
                         f"non-negative ints or None (the batch axis excluded); received "
                         f"{batch_shape!r}.")
    return tuple(None if d is None else int(d) for d in dims)


class InputLayer(Layer):
    """The layer behind ``cr.Input``: no weights, its one node makes the model's input.

    ``shape`` excludes the batch axis (``batch_shape`` includes it); ``dtype`` defaults
    to the default float dtype. Called on data it is the identity.
    """

    is_input_layer = True
    preserves_dtype = True
    supports_masking = True

    def __init__(self, shape=None, batch_size: int | None = None, dtype=None,
                 batch_shape=None, name: str | None = None, **kwargs):
        if shape is not None and batch_shape is not None:
            raise ValueError("`Input` takes `shape` or `batch_shape`, not both.")
        if shape is None and batch_shape is None:
            raise ValueError("`Input` needs a `shape`, e.g. cr.Input(shape=(11,)).")
        if batch_shape is None:
            shape = (shape,) if isinstance(shape, int | np.integer) else shape
            batch_shape = (batch_size, *_check_batch_shape(shape))
        self.batch_shape = _check_batch_shape(batch_shape)
        if not self.batch_shape:
            raise ValueError("`Input` needs a batch axis: `batch_shape` must not be empty.")
        try:
            self.dtype = np.dtype(dtype or get_default_dtype())
        except TypeError:
            raise ValueError(f"Invalid value for argument `dtype` of `Input`: received "
                             f"dtype={dtype!r}.") from None
        super().__init__(name=name or None, **kwargs)
        self.built = True
        tensor = KerasTensor(self.batch_shape, self.dtype, name=self.name)
        Node(self, (), {}, tensor)

    def forward(self, x: Tensor) -> Tensor:
        return x

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {"name": self.name, "batch_shape": list(self.batch_shape),
                "dtype": self.dtype.name}

    def __repr__(self) -> str:
        return f"InputLayer(name={self.name!r}, shape={format_shape(self.batch_shape)})"


def Input(shape=None, batch_size: int | None = None, dtype=None, name: str | None = None,
          batch_shape=None) -> KerasTensor:
    """A symbolic input of ``shape`` (batch axis excluded): ``cr.Input(shape=(11,))``
    has shape (None, 11). Call layers on it, then make ``cr.Model(inputs, outputs)``."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype,
                       batch_shape=batch_shape, name=name)
    return layer.output
