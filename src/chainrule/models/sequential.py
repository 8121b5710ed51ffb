"""``Sequential``: a stack of layers, each feeding the next (Keras' Sequential)."""

from __future__ import annotations

from ..layers import Embedding, deserialize_layer, register_layer, serialize_layer
from ..module import Module
from .model import Model


@register_layer  # so load_model can rebuild it
class Sequential(Model):
    """``Sequential([Dense(6, activation="relu", input_dim=11), Dense(1)])``, or build
    it with ``add``. Layers are registered under their index, so state-dict keys
    read ``"0.kernel"``, ``"2.moving_mean"``."""

    def __init__(self, layers: list | None = None, name: str | None = None):
        super().__init__(name=name)
        self._layers: list[Module] = []
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Module]:
        return list(self._layers)

    @property
    def input_dtype(self) -> str | None:
        """Integer input for a stack that starts with an Embedding; float otherwise."""
        first = self._layers[0] if self._layers else None
        return getattr(first, "input_dtype", None) or (
            "int64" if isinstance(first, Embedding) else None)

    def add(self, layer: Module) -> None:
        """Append ``layer`` to the stack."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add expects a layer (a Module); received "
                            f"{type(layer).__name__}.")
        setattr(self, str(len(self._layers)), layer)
        self._layers.append(layer)

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

    def forward(self, x, logits: bool = False):
        """Each layer in turn; with ``logits`` the last stops before its activation."""
        last = len(self._layers) - 1
        for i, layer in enumerate(self._layers):
            x = layer(x, logits=True) if logits and i == last else layer(x)
        return x

    def _summary_children(self) -> list[tuple[str, Module]]:
        return [(str(i), layer) for i, layer in enumerate(self._layers)]

    def get_config(self) -> dict:
        return {"name": self.name, "layers": [serialize_layer(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        layers, name = config.get("layers", []), config.get("name")
        if not isinstance(layers, list) or not isinstance(name, str | None):
            raise TypeError("Sequential config: `layers` must be a list and `name` a string.")
        return cls([deserialize_layer(spec, custom_objects) for spec in layers],
                   name=name)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer).replace("\n", "\n  ") for layer in self._layers)
        return f"Sequential([\n  {inner}\n])" if self._layers else "Sequential([])"
