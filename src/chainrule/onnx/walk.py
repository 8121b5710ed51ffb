"""Walkers: the converters of whole models, which hand each layer call to its converter.

- ``Sequential``: each layer in turn.
- ``Model(inputs, outputs)`` (the Functional API): the model's graph walked in order
  (``graph.walk``), each node's call converted with the Values of its inputs.
- Any other Module with sub-modules (a subclassed ``Model``, a hand-written block):
  traced. Its ``forward`` runs once on the sample with each direct sub-module's calls
  recorded (``models.summary.recording_calls``, which ``summary()`` uses too). When
  those calls form a chain (the first takes the model's input, each next one the
  previous one's output, given once or several times, as ``attention(x, x)``, with
  constant keyword arguments only, and the last one's output is what ``forward``
  returns) the chain is converted; otherwise an error says why it cannot be traced.
"""

from __future__ import annotations

import numpy as np

from ..models.summary import recording_calls
from ..tensor import Tensor
from .graph import OnnxGraph, Value, apply, converts, layer_error


def _one(layer, value) -> Value:
    if not isinstance(value, Value):
        raise layer_error(layer, "it returns several outputs inside a chain of layers, "
                                 "where the next layer takes one.")
    return value


@converts("Sequential")
def sequential(g: OnnxGraph, model, x: Value) -> str:
    for layer in model.layers:
        x = _one(layer, apply(g, layer, x))
    return x.name


@converts("InputLayer")
def input_layer(g: OnnxGraph, layer, x: Value) -> str:
    return x.name


def _leaves(structure) -> list:
    """The Values of a Value or a list/tuple/dict of them, in order."""
    if isinstance(structure, list | tuple):
        return [v for s in structure for v in _leaves(s)]
    if isinstance(structure, dict):
        return [v for key in structure for v in _leaves(structure[key])]
    return [structure]


def _names(values) -> str | list[str]:
    return values.name if isinstance(values, Value) else [v.name for v in values]


@converts("Model")
def functional(g: OnnxGraph, model, x, **kwargs):
    """A Functional API model: its graph's nodes in order; any other ``Model``: traced."""
    graph = getattr(model, "_graph", None)
    if graph is None:
        return traced(g, model, x, **kwargs)
    if kwargs:
        raise layer_error(model, f"it is called with {sorted(kwargs)}; a graph model takes "
                                 f"its inputs alone.")
    inputs = [x[name] for name in graph.input_names] if isinstance(x, dict) else _leaves(x)
    values = graph.walk(inputs, lambda node, args, kw: apply(g, node.layer, *args, **kw),
                        leaves=_leaves)
    outputs = [values[id(t)] for t in graph.output_tensors]
    return outputs[0].name if len(outputs) == 1 else _names(outputs)


def _chain_problem(calls: list, x: Tensor, out) -> str | None:
    """Why the recorded calls are not a chain from ``x`` to ``out``, or None."""
    if not calls:
        return "its forward calls none of its sub-modules"
    previous = x
    for key, child, args, kwargs, result in calls:
        name = getattr(child, "name", key)
        if any(isinstance(v, Tensor | np.ndarray) for v in kwargs.values()):
            return f"'{name}' is called with a tensor as a keyword argument"
        inputs = [a for i, a in enumerate(args) if i == 0 or a is not None]  # key=None
        if not inputs or any(a is not previous for a in inputs):
            return (f"'{name}' is not called on the output of the call before it (forward "
                    f"computes something between layers, or branches)")
        previous = result
    if out is not previous:
        return "forward returns something other than its last layer's output"
    return None


@converts("Module")
def traced(g: OnnxGraph, module, x: Value, **kwargs):
    """A Module whose forward calls its sub-modules one after another."""
    children = list({id(m): (key, m) for key, m in module._modules.items()}.values())
    if not isinstance(x, Value):
        raise layer_error(module, "a traced model takes one input.")
    x_tensor = Tensor(x.data)
    with recording_calls(children) as calls:
        out = module(x_tensor, **kwargs)
    problem = _chain_problem(calls, x_tensor, out)
    if problem:
        raise layer_error(module, f"it cannot be traced as a chain of its layers: {problem}. "
                                  f"Write it as a Sequential or a functional Model to export "
                                  f"it.")
    for _, child, args, options, _ in calls:  # self-attention: attention(x, x) takes x twice
        x = _one(child, apply(g, child, *[None if a is None else x for a in args], **options))
    return x.name
