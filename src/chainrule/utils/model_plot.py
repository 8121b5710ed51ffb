"""``plot_model``: a picture of a model's layers and how they connect (Keras' ``plot_model``).

The layers become :class:`~chainrule.viz.graph.GraphNode` boxes, drawn by the same
code that draws computational graphs: Graphviz's ``dot`` when it is on PATH
(``viz.graph.nodes_to_dot``), else matplotlib (``viz.drawing.draw_nodes``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

from ..layers.node import flat_shapes, inbound_nodes
from ..models.summary import format_shapes
from ..viz.drawing import draw_nodes
from ..viz.graph import GraphNode, nodes_to_dot


def _fields(layer, shape, dtype, options: dict) -> tuple[str, ...]:
    """A layer's box: its class (and name), then what ``options`` ask to show."""
    kind = type(layer).__name__
    name = getattr(layer, "name", kind.lower())
    fields = [f"{name} ({kind})" if options["show_layer_names"] else kind]
    activation = getattr(layer, "activation_name", None)
    if options["show_layer_activations"] and activation is not None:
        fields.append(f"activation: {activation}")
    if options["show_shapes"]:
        fields.append(f"output shape: {format_shapes(shape)}")
    if options["show_dtype"]:
        fields.append(f"dtype: {dtype or '?'}")
    if options["show_trainable"] and any(True for _ in layer.parameters()):
        fields.append("trainable" if layer.trainable else "non-trainable")
    return tuple(fields)


def _graph_nodes(model, options: dict) -> list[GraphNode]:
    """A functional model's layers, each fed by the layers whose outputs it reads."""
    graph = model._graph
    index = graph.node_index_in_graph()
    nodes, depth = [], {}
    for layer in graph.layers:
        calls = [n for n in inbound_nodes(layer) if id(n) in index]
        sources = tuple(dict.fromkeys(f"l{id(t.history.layer)}" for n in calls
                                      for t in n.input_tensors))
        key = f"l{id(layer)}"
        depth[key] = 1 + max((depth[s] for s in sources), default=-1)
        outputs = [t for n in calls[:1] for t in n.output_tensors]
        shapes = [tuple(s) for s in flat_shapes([t.shape for t in outputs])]
        shape = shapes[0] if len(shapes) == 1 else shapes
        dtype = str(outputs[0].dtype) if outputs else None
        nodes.append(GraphNode(key, "layer", _fields(layer, shape, dtype, options), sources,
                               depth[key]))
    return nodes


def _chain_nodes(model, options: dict) -> list[GraphNode]:
    """A Sequential's layers one after the other (its Input first when it has one),
    with output shapes when the input shape is known."""
    input_shape = model._known_input_shape()
    shapes = model.layer_output_shapes(input_shape) if input_shape is not None else None
    chain = [(layer, None if shapes is None else shapes[i])
             for i, layer in enumerate(model.layers)]
    if model._input_layer is not None:
        chain.insert(0, (model._input_layer, model._input_layer.batch_shape))
    nodes = []
    for i, (layer, shape) in enumerate(chain):
        inputs = (nodes[-1].key,) if nodes else ()
        nodes.append(GraphNode(f"l{i}", "layer", _fields(layer, shape, None, options),
                               inputs, i))
    return nodes


def model_nodes(model, show_shapes: bool = False, show_dtype: bool = False,
                show_layer_names: bool = False, show_layer_activations: bool = False,
                show_trainable: bool = False) -> list[GraphNode]:
    """The boxes and arrows of ``plot_model``: a functional model's graph, a
    Sequential's chain, or one box for a subclassed model (as Keras draws it)."""
    options = {"show_shapes": show_shapes, "show_dtype": show_dtype,
               "show_layer_names": show_layer_names,
               "show_layer_activations": show_layer_activations,
               "show_trainable": show_trainable}
    if getattr(model, "_graph", None) is not None:
        return _graph_nodes(model, options)
    if hasattr(model, "layer_output_shapes"):
        return _chain_nodes(model, options)
    return [GraphNode("l0", "layer", _fields(model, None, None, options), (), 0)]


def plot_model(model, to_file: str | os.PathLike = "model.png", show_shapes: bool = False,
               show_dtype: bool = False, show_layer_names: bool = False, rankdir: str = "TB",
               expand_nested: bool = False, dpi: int = 200,
               show_layer_activations: bool = False, show_trainable: bool = False,
               **ignored) -> Path:
    """Save a picture of ``model``'s layers at ``to_file`` (PNG, or the format its
    suffix names) and return its path: one box per layer (its class; with the
    ``show_*`` options its name, activation, output shape, dtype, trainability), an
    arrow per connection, flowing top to bottom (``rankdir="TB"``) or left to right
    ("LR"). Drawn by Graphviz's ``dot`` when it is on PATH, else by matplotlib.
    Keras arguments chainrule does not use (``expand_nested``, ``splines``, ...) are
    ignored with a warning."""
    if expand_nested:
        ignored["expand_nested"] = expand_nested
    if ignored:
        warnings.warn(f"plot_model ignores {sorted(ignored)} (nested models are drawn as one "
                      f"box).", stacklevel=2)
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"Invalid value for argument `rankdir` of `plot_model`: expected "
                         f"'TB' or 'LR'; received rankdir={rankdir!r}.")
    nodes = model_nodes(model, show_shapes, show_dtype, show_layer_names,
                        show_layer_activations, show_trainable)
    path = Path(to_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower() or "png"
    dot = shutil.which("dot")
    if dot is not None:
        done = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], text=True,
                              input=nodes_to_dot(nodes, rankdir, dpi), capture_output=True)
        if done.returncode:
            raise RuntimeError(f"plot_model: Graphviz's {dot} -T{fmt} failed (exit "
                               f"{done.returncode}): {done.stderr.strip()[:500]}")
        return path
    if draw_nodes(nodes, path, rankdir, dpi) is None:
        raise ImportError("plot_model needs Graphviz's `dot` on PATH or matplotlib "
                          "(pip install chainrule[examples]).")
    return path
