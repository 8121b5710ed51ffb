"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

import math

from .. import activations
from .. import functional as F
from ..tensor import Tensor
from .base import Layer, single_shape
from .kernel import _KernelLayer


def _check_rate(layer: str, rate: float) -> float:
    if not 0 <= rate < 1:
        raise ValueError(f"Invalid value for argument `rate` of `{layer}`: expected a float "
                         f"in [0, 1); received rate={rate}.")
    return float(rate)


class Dense(_KernelLayer):
    """y = activation(x @ kernel + bias);  x (..., in) -> y (..., units).

    ``kernel`` is (in, units) and ``bias`` (units,), as in Keras; ``logits=True``
    returns x @ kernel + bias, before the activation. Regularizers and constraints:
    see :class:`~chainrule.layers.kernel._KernelLayer`.
    """

    supports_masking = True

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        if int(units) <= 0:
            raise ValueError(f"Invalid value for argument `units` of `Dense`: expected a "
                             f"positive integer; received units={units}.")
        self.units = int(units)
        super().__init__(activation, use_bias, kernel_initializer, bias_initializer, **kwargs)

    def build(self, input_shape: tuple) -> None:
        features = single_shape(self, input_shape)[-1]
        if features is None:
            raise ValueError(f"`Dense` layer '{self.name}' needs a known last axis; received "
                             f"input shape {tuple(input_shape)}.")
        self.add_kernel_and_bias((features, self.units), (self.units,))

    def _check_features(self, shape: tuple) -> None:
        if shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"`Dense` expected inputs with {self.kernel.shape[0]} features "
                             f"(its kernel is {self.kernel.shape}); layer '{self.name}' "
                             f"received shape {tuple(shape)}.")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = single_shape(self, input_shape)
        self._check_features(input_shape)
        return (*input_shape[:-1], self.units)

    def forward(self, x: Tensor, logits: bool = False) -> Tensor:
        self._check_features(x.shape)
        return self.run_with_activation(
            lambda activation: F.linear(x, self.kernel, self.bias, activation=activation),
            logits)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


class Activation(Layer):
    """Apply an activation by name: ``Activation("relu")`` (``logits=True``: the input)."""

    ends_with_activation = True
    supports_masking = True

    def __init__(self, activation, **kwargs):
        self.activation = activations.get(activation)
        self.activation_name = activations.name_of(activation)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(single_shape(self, input_shape))

    def forward(self, x: Tensor, logits: bool = False) -> Tensor:
        return x if logits else self.activation(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation_name}


class Dropout(Layer):
    """Inverted dropout: zero each input with probability ``rate`` and scale the rest
    by 1 / (1 - rate) in training; the identity in eval."""

    supports_masking = True

    def __init__(self, rate: float, **kwargs):
        self.rate = _check_rate("Dropout", rate)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(single_shape(self, input_shape))

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.rate, training=self.training)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...): keeps the batch axis."""

    preserves_dtype = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, *rest = single_shape(self, input_shape)
        return (batch, None if None in rest else math.prod(rest))

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry may be -1."""

    preserves_dtype = True

    def __init__(self, target_shape, **kwargs):
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(
                d < -1 or d == 0 for d in self.target_shape):
            raise ValueError(f"Invalid value for argument `target_shape` of `Reshape`: expected "
                             f"positive ints with at most one -1; received {target_shape!r}.")
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """(N, *target_shape), the -1 resolved when the input size is known."""
        batch, *rest = single_shape(self, input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        size = None if None in rest else math.prod(rest)
        if size is not None and (size % known if -1 in self.target_shape else size != known):
            raise ValueError(f"`Reshape` layer '{self.name}' cannot reshape inputs of shape "
                             f"{tuple(input_shape)} ({size} values per sample) to "
                             f"{self.target_shape}.")
        missing = None if size is None else size // known
        return (batch, *(missing if d == -1 else d for d in self.target_shape))

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
