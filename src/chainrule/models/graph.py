"""The graph behind ``Model(inputs, outputs)``: which layer calls it runs, in what order.

Built once from the nodes the symbolic calls recorded (``layers/node.py``): walking
back from the outputs collects every node they need, in an order where each node
comes after the nodes that make its inputs, and stops at the model's inputs. The
same walk then runs the graph on data (``run``), on shapes (``output_shapes``) or
on anything else a caller computes per node.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import activations
from ..layers.node import (
    KerasTensor,
    Node,
    call_with_masks,
    flat_shapes,
    flatten,
    inbound_nodes,
    map_structure,
)


def node_of(t: KerasTensor) -> Node:
    """The node that made ``t``."""
    return inbound_nodes(t.history.layer)[t.history.node_index]


def _check_structure(what: str, structure, model: str) -> list[KerasTensor]:
    tensors = flatten(structure)
    if not tensors:
        raise ValueError(f"Model '{model}': `{what}` is empty.")
    for t in tensors:
        if not isinstance(t, KerasTensor) or t.history is None:
            raise TypeError(f"Model '{model}': every entry of `{what}` must be a symbolic "
                            f"tensor from cr.Input or a layer called on one; received "
                            f"{type(t).__name__}.")
    return tensors


def _names(structure, tensors: list[KerasTensor]) -> list[str]:
    """Dict keys for dict structures, else the names of the layers that make the
    tensors (a repeated name gets a suffix, as Keras' metric names do)."""
    if isinstance(structure, dict):
        return [str(key) for key in structure]
    names: list[str] = []
    for t in tensors:
        name, k = t.history.layer.name, 1
        while name in names:
            name, k = f"{t.history.layer.name}_{k}", k + 1
        names.append(name)
    return names


class Graph:
    """The nodes between ``inputs`` and ``outputs`` (KerasTensors or lists/dicts of
    them), in the order they run; ``layers`` the layers they call, inputs first."""

    def __init__(self, inputs, outputs, model_name: str):
        self.model_name = model_name
        self.inputs, self.outputs = inputs, outputs
        self.input_tensors = _check_structure("inputs", inputs, model_name)
        self.output_tensors = _check_structure("outputs", outputs, model_name)
        for t in self.input_tensors:
            if not node_of(t).is_input:
                raise ValueError(f"Model '{model_name}': inputs must come from cr.Input; "
                                 f"one comes from layer '{t.history.layer.name}' "
                                 f"({type(t.history.layer).__name__}).")
        self.input_names = _names(inputs, self.input_tensors)
        self.output_names = _names(outputs, self.output_tensors)
        self.nodes = self._ordered_nodes()
        self.layers = self._layers()
        self.consumed = {id(t) for node in self.nodes for t in node.input_tensors}
        self.output_activations = [_logit_activation(t) for t in self.output_tensors]
        self._activation_of = {id(t): a for t, a in
                               zip(self.output_tensors, self.output_activations)}

    def _ordered_nodes(self) -> list[Node]:
        """Every node the outputs need, each after its parents (iterative depth-first
        walk, so deep graphs need no recursion); errors for a missing or unused input."""
        given = {id(t) for t in self.input_tensors}
        reached: set[int] = set()
        order: list[Node] = []
        done: set[int] = set()
        stack: list[tuple[Node, bool]] = [(node_of(t), False) for t in
                                          reversed(self.output_tensors) if id(t) not in given]
        reached.update(id(t) for t in self.output_tensors if id(t) in given)
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if id(node) not in done:
                    done.add(id(node))
                    order.append(node)
                continue
            if id(node) in done:
                continue
            stack.append((node, True))
            for t in reversed(node.input_tensors):
                if id(t) in given:
                    reached.add(id(t))
                    continue
                parent = node_of(t)
                if parent.is_input:
                    self._disconnected(node, t)
                stack.append((parent, False))
        self._check_all_used(reached)
        return order

    def _disconnected(self, node: Node, t: KerasTensor) -> None:
        needed = t.history.layer.name
        raise ValueError(
            f"Graph disconnected in model '{self.model_name}': layer '{node.layer.name}' "
            f"({type(node.layer).__name__}) needs Input '{needed}', which is not among the "
            f"model's inputs {[t.history.layer.name for t in self.input_tensors]}. Add it "
            f"to `inputs`.")

    def _check_all_used(self, reached: set[int]) -> None:
        unused = [t.history.layer.name for t in self.input_tensors if id(t) not in reached]
        if unused:
            raise ValueError(f"Model '{self.model_name}': input(s) {unused} are not "
                             f"connected to any of the outputs; remove them from `inputs` "
                             f"or use them.")

    def _layers(self) -> list:
        """The inputs' layers first, then each layer once in the order its first node
        runs; layer names must be unique (weights are saved under them)."""
        layers: list = []
        for layer in [t.history.layer for t in self.input_tensors] + \
                [n.layer for n in self.nodes]:
            if all(layer is not seen for seen in layers):
                layers.append(layer)
        names = [layer.name for layer in layers]
        for name in names:
            if names.count(name) > 1 or "." in name or not name:
                problem = "used more than once" if names.count(name) > 1 else "not allowed"
                raise ValueError(f"Model '{self.model_name}': the layer name {name!r} is "
                                 f"{problem}; every layer of a model needs a unique, "
                                 f"non-empty name without '.' (weights are saved under it).")
        return layers

    def node_index_in_graph(self) -> dict[int, int]:
        """id(node) -> its index among its layer's nodes that belong to this graph (the
        numbering saved models and ``summary``'s "Connected to" use)."""
        counts: dict[int, int] = {}
        index: dict[int, int] = {}
        for layer in self.layers:
            for node in inbound_nodes(layer):
                if node.is_input or any(node is n for n in self.nodes):
                    index[id(node)] = counts.get(id(layer), 0)
                    counts[id(layer)] = index[id(node)] + 1
        return index

    # ------------------------------------------------------------ running

    def walk(self, input_values: list, call: Callable, leaves: Callable = flatten) -> dict:
        """Compute every node: ``call(node, args, kwargs)`` gets the node's call
        arguments with each KerasTensor replaced by its value and returns the node's
        outputs, which ``leaves`` flattens. Returns id(tensor) -> value."""
        values = {id(t): v for t, v in zip(self.input_tensors, input_values)}

        def value(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x

        for node in self.nodes:
            args = tuple(map_structure(value, a) for a in node.call_args)
            kwargs = {k: map_structure(value, v) for k, v in node.call_kwargs.items()}
            outs = leaves(call(node, args, kwargs))
            for t, v in zip(node.output_tensors, outs):
                values[id(t)] = v
        return values

    def output_shapes(self, input_shapes: list) -> list[tuple]:
        """Each output's shape for inputs of ``input_shapes`` (building layers)."""
        def call(node, args, kwargs):
            node.layer.build_from_shape(args[0])
            return node.layer.compute_output_shape(args[0])

        values = self.walk(list(input_shapes), call, leaves=flat_shapes)
        return [values[id(t)] for t in self.output_tensors]

    def run(self, inputs: list, masks: list | None = None, logits: bool = False) -> tuple:
        """(outputs, output masks) for the flat list of input values (Tensors).

        Each layer runs through ``call_with_masks`` with the mask of its first input.
        With ``logits``, an output whose layer ends with an activation (Dense(...,
        activation="sigmoid"), a Sequential) comes back before it, as
        ``Sequential.forward(x, logits=True)`` does; layers inside the graph that read
        that output still get the activated values."""
        mask_of = {id(t): m for t, m in zip(self.input_tensors, masks or [])}
        logits_of: dict[int, object] = {}

        def call(node, args, kwargs):
            mask = map_structure(lambda t: mask_of.get(id(t)), node.call_args[0])
            if not any(m is not None for m in flatten(mask)):
                mask = None
            out_tensor = node.output_tensors[0]
            activation = self._activation_of.get(id(out_tensor)) if logits else None
            if activation is not None:
                kwargs = {**kwargs, "logits": True}
            outs, out_masks = call_with_masks(node.layer, args[0], mask, *args[1:], **kwargs)
            for t, m in zip(node.output_tensors, _masks_like(out_masks, node)):
                mask_of[id(t)] = m
            if activation is None:
                return outs
            logits_of[id(out_tensor)] = outs
            consumed = id(out_tensor) in self.consumed
            return activations.get(activation)(outs) if consumed else outs

        values = self.walk(list(inputs), call)
        outputs = [logits_of.get(id(t), values[id(t)]) for t in self.output_tensors]
        return outputs, [mask_of.get(id(t)) for t in self.output_tensors]


def _logit_activation(t: KerasTensor) -> str | None:
    """The activation the layer making output ``t`` can stop before (its logits), or
    None: a one-output layer or model whose ``output_activation`` is not linear."""
    node = node_of(t)
    activation = getattr(node.layer, "output_activation", None)
    if activation in (None, "linear") or len(node.output_tensors) != 1:
        return None
    return activation


def _masks_like(masks, node: Node) -> list:
    """A layer's output masks, one per output tensor (None when it gave none)."""
    count = len(node.output_tensors)
    if count == 1:
        return [masks]
    flat = [] if masks is None else flatten(masks)
    return flat if len(flat) == count else [None] * count
