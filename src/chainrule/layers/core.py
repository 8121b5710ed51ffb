"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""

from __future__ import annotations

from .. import activations, initializers
from .. import functional as F
from ..tensor import Tensor
from .base import Layer


def _check_rate(layer: str, rate: float) -> float:
    if not 0 <= rate < 1:
        raise ValueError(f"Invalid value for argument `rate` of `{layer}`: expected a float "
                         f"in [0, 1); received rate={rate}.")
    return float(rate)


class Dense(Layer):
    """y = activation(x @ kernel + bias);  x (..., in) -> y (..., units).

    ``kernel`` is (in, units) and ``bias`` (units,), as in Keras; ``logits=True``
    returns x @ kernel + bias, before the activation.
    """

    ends_with_activation = True

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        if int(units) <= 0:
            raise ValueError(f"Invalid value for argument `units` of `Dense`: expected a "
                             f"positive integer; received units={units}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.activation_name = activations.name_of(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.check(kernel_initializer)
        self.bias_initializer = initializers.check(bias_initializer)
        self.kernel = self.bias = None
        super().__init__(**kwargs)

    def build(self, input_shape: tuple) -> None:
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)

    def forward(self, x: Tensor, logits: bool = False) -> Tensor:
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"`Dense` expected inputs with {self.kernel.shape[0]} features "
                             f"(its kernel is {self.kernel.shape}); received shape {x.shape}.")
        y = F.linear(x, self.kernel, self.bias)
        return y if logits else self.activation(y)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": self.activation_name, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


class Activation(Layer):
    """Apply an activation by name: ``Activation("relu")`` (``logits=True``: the input)."""

    ends_with_activation = True

    def __init__(self, activation, **kwargs):
        self.activation = activations.get(activation)
        self.activation_name = activations.name_of(activation)
        super().__init__(**kwargs)

    def forward(self, x: Tensor, logits: bool = False) -> Tensor:
        return x if logits else self.activation(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation_name}


class Dropout(Layer):
    """Inverted dropout: zero each input with probability ``rate`` and scale the rest
    by 1 / (1 - rate) in training; the identity in eval."""

    def __init__(self, rate: float, **kwargs):
        self.rate = _check_rate("Dropout", rate)
        super().__init__(**kwargs)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.rate, training=self.training)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...): keeps the batch axis."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry may be -1."""

    def __init__(self, target_shape, **kwargs):
        self.target_shape = tuple(target_shape)
        super().__init__(**kwargs)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
