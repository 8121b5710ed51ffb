"""``_KernelLayer``: what Dense and the convolutions share.

Each computes y = activation(op(x, kernel) + bias) and takes Keras' arguments for it:
``activation``, ``use_bias``, and for each of its two weights an initializer, a
regularizer (a penalty in ``model.losses``) and a constraint (applied after each
optimizer step): ``kernel_initializer``, ``kernel_regularizer``,
``kernel_constraint``, ``bias_initializer``, ``bias_regularizer``,
``bias_constraint``; ``activity_regularizer`` comes with every layer.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import activations
from ..tensor import Tensor
from .base import Layer


class _KernelLayer(Layer):
    """The activation, kernel and bias of Dense, Conv1D, Conv2D and Conv2DTranspose;
    ``forward(x, logits=True)`` stops before the activation."""

    ends_with_activation = True

    def __init__(self, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        self.activation = activations.get(activation)
        self.activation_name = activations.name_of(activation)
        self.use_bias = use_bias
        self.set_weight_options("kernel", kernel_initializer, kernel_regularizer,
                                kernel_constraint)
        self.set_weight_options("bias", bias_initializer, bias_regularizer, bias_constraint)
        self.kernel = self.bias = None
        super().__init__(**kwargs)

    def add_kernel_and_bias(self, kernel_shape: tuple, bias_shape: tuple) -> None:
        """Create ``kernel`` and, with ``use_bias``, ``bias`` with their options."""
        self.add_weight("kernel", kernel_shape, **self.weight_options("kernel"))
        if self.use_bias:
            self.add_weight("bias", bias_shape, **self.weight_options("bias"))

    def run_with_activation(self, op: Callable[[str | None], Tensor], logits: bool) -> Tensor:
        """``activate(op(None), logits)``, or ``op("relu")`` when chainrule's own ReLU
        follows: the op then applies it to its output in place (a convolution to each
        chunk while in cache; docs/performance.md)."""
        if logits or activations.builtin_name(self.activation) != "relu":
            return self.activate(op(None), logits)
        return op("relu")

    def activate(self, y: Tensor, logits: bool) -> Tensor:
        """``y`` itself with ``logits``, else ``activation(y)``."""
        return y if logits else self.activation(y)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation_name,
                "use_bias": self.use_bias, **self.weight_options_config("kernel", "bias")}
