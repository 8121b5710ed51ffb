"""Activation functions by Keras name: ``activations.get("relu")(x)``."""

from __future__ import annotations

from collections.abc import Callable

from .tensor import Tensor


def linear(x: Tensor) -> Tensor:
    """The identity."""
    return x


def softmax(x: Tensor) -> Tensor:
    """Softmax over the last axis."""
    return x.softmax(axis=-1)


_REGISTRY: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": Tensor.sigmoid,
    "tanh": Tensor.tanh,
    "relu": Tensor.relu,
    "leaky_relu": Tensor.leaky_relu,
    "elu": Tensor.elu,
    "gelu": Tensor.gelu,
    "softmax": softmax,
    "linear": linear,
}


def get(identifier: str | Callable | None) -> Callable[[Tensor], Tensor]:
    """An activation by name (None means linear), or a callable unchanged."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    try:
        return _REGISTRY[identifier]
    except KeyError:
        raise ValueError(f"Unknown activation {identifier!r}; choose one of "
                         f"{sorted(_REGISTRY)}.") from None


def name_of(identifier: str | Callable | None) -> str | None:
    """The name to store in a layer's config."""
    if identifier is None or isinstance(identifier, str):
        return identifier
    for name, fn in _REGISTRY.items():
        if fn is identifier:
            return name
    return getattr(identifier, "__name__", None)
