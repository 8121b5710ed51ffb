"""What a model built as ``Model(inputs, outputs)`` offers (Keras' ``Functional``):
``inputs``/``outputs``, ``get_layer``, running its graph, its output shape and its
config. A mixin of :class:`~chainrule.models.Model`, which holds the graph in
``self._graph`` (None for subclassed models and Sequential).
"""

from __future__ import annotations

from ..layers.base import to_tensors
from ..layers.node import KerasTensor, flatten, format_shape, pack_like
from ..module import Module
from . import graph_config
from .graph import Graph


class FunctionalAPI:
    """The graph half of ``Model``: everything that reads ``self._graph``."""

    _graph: Graph | None = None

    def _set_graph(self, inputs, outputs) -> None:
        graph = Graph(inputs, outputs, self.name)
        object.__setattr__(self, "_graph", graph)
        for layer in graph.layers:
            self.add_module(layer.name, layer)

    # ------------------------------------------------------------ structure

    @property
    def inputs(self) -> list[KerasTensor]:
        """The model's symbolic inputs, as a flat list (Keras)."""
        return list(self._require_graph("inputs").input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        """The model's symbolic outputs, as a flat list (Keras)."""
        return list(self._require_graph("outputs").output_tensors)

    @property
    def input(self):
        """The inputs as given to the constructor (one tensor, a list or a dict); for
        other models, the input of their one call on a symbolic tensor."""
        return self._graph.inputs if self._graph is not None else super().input

    @property
    def output(self):
        """The outputs as given to the constructor (one tensor, a list or a dict); for
        other models, the output of their one call on a symbolic tensor."""
        return self._graph.outputs if self._graph is not None else super().output

    @property
    def input_names(self) -> list[str]:
        """The names ``fit``/``predict`` match dict inputs against: the Input layers'
        names (or the keys of a dict of inputs)."""
        return list(self._graph.input_names) if self._graph is not None else ["input"]

    @property
    def output_names(self) -> list[str]:
        """The names of the outputs: the layers that make them (or the keys of a dict
        of outputs); they key per-output losses, metrics and targets."""
        return list(self._graph.output_names) if self._graph is not None else ["output"]

    def _require_graph(self, what: str) -> Graph:
        if self._graph is None:
            raise AttributeError(f"{type(self).__name__} '{self.name}' has no `{what}`: only "
                                 f"a model built as Model(inputs, outputs) (or a Sequential "
                                 f"that starts with cr.Input) has symbolic {what}.")
        return self._graph

    def get_layer(self, name: str | None = None, index: int | None = None) -> Module:
        """A layer by its name, or by its index in ``model.layers``."""
        layers = self.layers
        if (name is None) == (index is None):
            raise ValueError("get_layer takes exactly one of `name` and `index`.")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range; model "
                                 f"'{self.name}' has {len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if getattr(layer, "name", None) == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Model '{self.name}' has layers "
                         f"{[getattr(layer, 'name', '?') for layer in layers]}.")

    # ------------------------------------------------------------ running

    def _flat_inputs(self, inputs) -> list:
        """A graph model's inputs (one array, a list in input order, or a dict by input
        name) as a flat list of Tensors."""
        graph = self._graph
        if isinstance(inputs, dict):
            missing = [n for n in graph.input_names if n not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' expects inputs {graph.input_names}; "
                                 f"the dict lacks {missing}.")
            inputs = [inputs[n] for n in graph.input_names]
        flat = flatten(to_tensors(inputs)) if isinstance(inputs, list | tuple) \
            else [to_tensors(inputs)]
        if len(flat) != len(graph.input_tensors):
            raise ValueError(f"Model '{self.name}' expects {len(graph.input_tensors)} "
                             f"input(s) {graph.input_names}; received {len(flat)}.")
        for value, t, name in zip(flat, graph.input_tensors, graph.input_names):
            _check_input(self.name, name, value.shape, t.shape)
        return flat

    def _run_graph(self, inputs, mask=None, logits: bool = False) -> tuple:
        """(outputs, masks) arranged like the model's outputs."""
        graph = self._graph
        flat = self._flat_inputs(inputs)
        masks = None if mask is None else (
            flatten(mask) if isinstance(mask, list | tuple | dict) else [mask])
        outputs, out_masks = graph.run(flat, masks, logits=logits)
        structure = graph.outputs
        return pack_like(structure, outputs), pack_like(structure, out_masks)

    def _graph_output_shape(self, input_shape):
        shapes = [input_shape] if isinstance(input_shape, tuple) and all(
            d is None or isinstance(d, int) for d in input_shape) else flatten_shapes(
                input_shape, self._graph.input_names)
        out = self._graph.output_shapes(shapes)
        structure = self._graph.outputs
        if isinstance(structure, KerasTensor):
            return out[0]
        if isinstance(structure, dict):
            return dict(zip(structure, out))
        return out

    # ------------------------------------------------------------ config

    def _graph_config(self) -> dict:
        return graph_config.graph_config(self._graph, self.name)

    @classmethod
    def _from_graph_config(cls, config: dict, custom_objects: dict | None = None):
        inputs, outputs = graph_config.rebuild_graph(config, custom_objects)
        name = config.get("name")
        return cls(inputs, outputs, name=name if isinstance(name, str) else None)


def flatten_shapes(input_shape, names: list[str]) -> list:
    """A list of shapes, or a dict of shapes by input name, as a list in input order."""
    if isinstance(input_shape, dict):
        return [tuple(input_shape[n]) for n in names]
    return [tuple(s) for s in input_shape]


def _check_input(model: str, name: str, shape: tuple, expected: tuple) -> None:
    """Data for input ``name`` must have the Input's rank and its known dimensions."""
    if len(shape) != len(expected) or any(
            e is not None and e != s for s, e in zip(shape, expected)):
        raise ValueError(f"Input '{name}' of model '{model}' expects shape "
                         f"{format_shape(expected)}; received data of shape "
                         f"{format_shape(shape)}.")

