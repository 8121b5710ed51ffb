"""``Layer``: a Module with Keras' life cycle — config in ``__init__``, weights in
``build``, math in ``forward``, and ``get_config`` for saving.

Subclasses set their own configuration first and call ``super().__init__(**kwargs)``
last, so a layer given ``input_shape``/``input_dim`` can build at once.
"""

from __future__ import annotations

import re

import numpy as np

from .. import activations, initializers
from ..backend import get_default_dtype
from ..module import Module, Parameter
from ..registry import Registry
from ..tensor import Tensor

# Layer and model classes load_model may rebuild, by class name: chainrule's own layers
# (added as they are defined) and those given to register_layer.
LAYER_REGISTRY = Registry("layer class")
_name_counts: dict[str, int] = {}


def _snake(name: str) -> str:
    """Keras' automatic layer names: Conv2D -> conv2d, SimpleRNN -> simple_rnn."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(stem: str) -> str:
    """Keras-style automatic names: dense, dense_1, dense_2, ..."""
    count = _name_counts.get(stem, 0)
    _name_counts[stem] = count + 1
    return stem if count == 0 else f"{stem}_{count}"


def to_tensor(x) -> Tensor:
    """A layer input as a Tensor; floating arrays take the default dtype."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and arr.dtype != get_default_dtype():
        arr = arr.astype(get_default_dtype())
    return Tensor(arr)


class Layer(Module):
    """Base class of every Keras-named layer."""

    ends_with_activation = False  # True where forward(x, logits=True) skips self.activation

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # chainrule's own layers register themselves; any other class (a tutorial's, a
        # user's) goes through register_layer, so it can never shadow a built-in name
        if cls.__module__.startswith("chainrule.layers.") and not cls.__name__.startswith("_"):
            LAYER_REGISTRY.add(cls)

    def __init__(self, input_shape=None, input_dim=None, name: str | None = None,
                 trainable: bool = True, **unknown):
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s) "
                            f"{sorted(unknown)}.")
        super().__init__()
        self.built = False
        self.name = name or unique_name(_snake(type(self).__name__))
        if input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape = None if input_shape is None else tuple(
            (input_shape,) if isinstance(input_shape, int) else input_shape)
        if not trainable:
            self.trainable = False
        if self.input_shape is not None:
            self.build((None, *self.input_shape))
            self.built = True

    def build(self, input_shape: tuple) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis first)."""

    def __call__(self, x, *args, **kwargs):
        x = to_tensor(x)
        if not self.built:
            self.build(x.shape)
            self.built = True
        return self.forward(x, *args, **kwargs)

    @property
    def output_activation(self) -> str | None:
        """The built-in activation this layer's output ends with ("sigmoid", "softmax",
        ...) when ``layer(x, logits=True)`` gives the values before it (Dense, Conv1D,
        Conv2D, Activation); None otherwise. A model hands these logits to a loss that
        fuses the activation (see ``Model.compute_loss``)."""
        if not self.ends_with_activation:
            return None
        return activations.builtin_name(self.activation)

    def add_weight(self, name: str, shape: tuple, initializer="zeros",
                   trainable: bool = True) -> Parameter:
        """Create a Parameter attribute ``name`` (frozen if the layer is)."""
        data = initializers.initialize(initializer, shape)
        p = Parameter(data, requires_grad=trainable and self._trainable)
        setattr(self, name, p)
        return p

    def add_state(self, name: str, shape: tuple, initializer="zeros") -> Tensor:
        """Create a non-trainable buffer ``name`` (e.g. a moving mean)."""
        t = Tensor(initializers.initialize(initializer, shape))
        self.register_buffer(name, t)
        return t

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (JSON-able)."""
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def count_params(self) -> int:
        return sum(p.size for p in self.parameters())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k not in ("name", "trainable"))
        return f"{type(self).__name__}({args})"
