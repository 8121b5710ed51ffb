"""``Sequential``: a stack of layers, each feeding the next (Keras' Sequential)."""

from __future__ import annotations

from ..layers import Embedding, deserialize_layer, register_layer, serialize_layer
from ..layers.base import infer_output_shape
from ..layers.input_layer import InputLayer
from ..layers.node import KerasTensor, call_with_masks
from ..module import Module
from .model import Model


def output_shape_of(module: Module, input_shape):
    """``module``'s output shape for ``input_shape``, building it first: a layer's or
    model's own ``build_from_shape`` + ``compute_output_shape``; any other Module is
    run on zeros."""
    if hasattr(module, "compute_output_shape") and hasattr(module, "build_from_shape"):
        module.build_from_shape(input_shape)
        return module.compute_output_shape(input_shape)
    return infer_output_shape(module, input_shape)


@register_layer  # so load_model can rebuild it
class Sequential(Model):
    """``Sequential([Dense(6, activation="relu", input_dim=11), Dense(1)])``, or build
    it with ``add``. Layers are registered under their index, so state-dict keys
    read ``"0.kernel"``, ``"2.moving_mean"``.

    Once the input shape is known (``input_dim``/``input_shape`` on the first layer,
    ``cr.Input(shape)`` first in the list, or ``add(cr.Input(...))``) every layer is
    built as it is added, from shapes alone: ``set_weights`` works before any data.
    """

    def __init__(self, layers: list | None = None, name: str | None = None):
        super().__init__(name=name)
        self._layers: list[Module] = []
        self._input_layer: InputLayer | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Module]:
        return list(self._layers)

    @property
    def input_dtype(self) -> str | None:
        """Integer input for a stack that starts with an Embedding (or an integer
        ``cr.Input``); float otherwise."""
        if self._input_layer is not None and self._input_layer.dtype.kind in "iub":
            return self._input_layer.dtype.name
        first = self._layers[0] if self._layers else None
        return getattr(first, "input_dtype", None) or (
            "int64" if isinstance(first, Embedding) else None)

    def add(self, layer) -> None:
        """Append ``layer`` to the stack (``cr.Input(shape)`` first sets the input
        shape); builds it when the stack's input shape is known."""
        if isinstance(layer, KerasTensor):
            layer = layer.history.layer
        if isinstance(layer, InputLayer):
            self._set_input(layer)
            return
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add expects a layer (a Module); received "
                            f"{type(layer).__name__}.")
        setattr(self, str(len(self._layers)), layer)
        self._layers.append(layer)
        try:
            self._build_known()
        except Exception:
            self.pop()
            raise

    def _set_input(self, layer: InputLayer) -> None:
        if self._layers or self._input_layer is not None:
            raise ValueError(f"Sequential '{self.name}': cr.Input can only come first, "
                             f"before any layer; it already has "
                             f"{len(self._layers)} layer(s).")
        self._input_layer = layer
        self._build_input_shape = layer.batch_shape
        self._build_input_dtype = layer.dtype.name

    def pop(self) -> Module:
        """Remove and return the last layer (to replace a head in transfer learning)."""
        if not self._layers:
            raise TypeError("Sequential.pop: there are no layers to remove.")
        layer = self._layers.pop()
        key = str(len(self._layers))
        del self._modules[key]
        object.__delattr__(self, key)
        return layer

    @property
    def output_activation(self) -> str | None:
        """The last layer's ``output_activation`` ("sigmoid" for ``Dense(1,
        activation="sigmoid")``), or None."""
        return getattr(self._layers[-1], "output_activation", None) if self._layers else None

    def forward(self, x, logits: bool = False, mask=None):
        """Each layer in turn; with ``logits`` the last stops before its activation. A
        layer whose ``forward`` takes ``mask=`` receives the mask of its input
        (``Embedding(mask_zero=True)`` makes one)."""
        return self.call_and_mask(x, mask, logits=logits)[0]

    def call_and_mask(self, x, mask=None, logits: bool = False) -> tuple:
        """(output, output mask): the layers run through ``call_with_masks``."""
        self._note_input(x)
        last = len(self._layers) - 1
        for i, layer in enumerate(self._layers):
            if logits and i == last:
                x, mask = call_with_masks(layer, x, mask, logits=True)
            else:
                x, mask = call_with_masks(layer, x, mask)
        return x, mask

    # ------------------------------------------------------------ shapes

    def _known_input_shape(self) -> tuple | None:
        if self._build_input_shape is not None:
            return tuple(self._build_input_shape)
        shape = getattr(self._layers[0], "input_shape", None) if self._layers else None
        return None if shape is None else (None, *shape)

    def _build_known(self) -> None:
        """Build every layer from the known input shape (nothing when unknown)."""
        shape = self._known_input_shape()
        if shape is not None:
            self.compute_output_shape(shape)

    def build(self, input_shape: tuple, dtype=None) -> None:
        """Build every layer from ``input_shape`` ((None, features...) or
        (features...)) by shape inference: no data runs, nothing learned changes."""
        input_shape = tuple(input_shape)
        if not input_shape or input_shape[0] is not None:
            input_shape = (None, *input_shape)
        self.compute_output_shape(input_shape)
        self._build_input_shape = input_shape
        if dtype is not None:
            self._build_input_dtype = str(dtype)

    def build_from_shape(self, input_shape) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        """Each layer's output shape in turn (building the layers on the way)."""
        return self.layer_output_shapes(input_shape)[-1] if self._layers \
            else tuple(input_shape)

    def layer_output_shapes(self, input_shape) -> list:
        """Every layer's output shape for ``input_shape``, building the layers."""
        shapes = []
        for layer in self._layers:
            input_shape = output_shape_of(layer, input_shape)
            shapes.append(input_shape)
        return shapes

    def _summary_children(self) -> list[tuple[str, Module]]:
        return [(str(i), layer) for i, layer in enumerate(self._layers)]

    # ------------------------------------------------------------ saving

    def get_config(self) -> dict:
        config = {"name": self.name,
                  "layers": [serialize_layer(layer) for layer in self._layers]}
        if self._input_layer is not None:
            config["input_layer"] = serialize_layer(self._input_layer)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        layers, name = config.get("layers", []), config.get("name")
        if not isinstance(layers, list) or not isinstance(name, str | None):
            raise TypeError("Sequential config: `layers` must be a list and `name` a string.")
        model = cls(name=name)
        if config.get("input_layer") is not None:
            model.add(_input_layer(config["input_layer"], custom_objects))
        for spec in layers:
            model.add(deserialize_layer(spec, custom_objects))
        return model

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer).replace("\n", "\n  ") for layer in self._layers)
        return f"Sequential([\n  {inner}\n])" if self._layers else "Sequential([])"


def _input_layer(spec, custom_objects) -> InputLayer:
    layer = deserialize_layer(spec, custom_objects)
    if not isinstance(layer, InputLayer):
        raise TypeError(f"Sequential config: `input_layer` must be an InputLayer; found "
                        f"{type(layer).__name__}.")
    return layer
