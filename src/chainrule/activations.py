"""Activation functions by Keras name: ``activations.get("relu")(x)``, or
``activations.relu(x)``."""

from __future__ import annotations

from collections.abc import Callable

from .registry import Registry
from .tensor import Tensor


def linear(x: Tensor) -> Tensor:
    """The identity."""
    return x


def softmax(x: Tensor) -> Tensor:
    """Softmax over the last axis."""
    return x.softmax(axis=-1)


# Keras' functions (``keras.activations.relu(x)``, ``activation=keras.activations.relu``)
# are the Tensor methods themselves.
sigmoid, tanh, relu = Tensor.sigmoid, Tensor.tanh, Tensor.relu
leaky_relu, elu, gelu = Tensor.leaky_relu, Tensor.elu, Tensor.gelu

ACTIVATIONS = Registry("activation", {f.__name__: f for f in (
    sigmoid, tanh, relu, leaky_relu, elu, gelu, softmax, linear)})


def get(identifier: str | Callable | None) -> Callable[[Tensor], Tensor]:
    """An activation by name (None means linear), or a callable unchanged."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return ACTIVATIONS.lookup(identifier)


def name_of(identifier: str | Callable | None) -> str | None:
    """The name to store in a layer's config."""
    if identifier is None or isinstance(identifier, str):
        return identifier
    return ACTIVATIONS.name_of(identifier) or getattr(identifier, "__name__", None)


def builtin_name(fn: Callable) -> str | None:
    """The registered name of ``fn`` if it is one of chainrule's activations, else None
    (a user's function called "sigmoid" is not chainrule's sigmoid)."""
    return ACTIVATIONS.name_of(fn)
