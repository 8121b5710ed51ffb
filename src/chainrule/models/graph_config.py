"""A functional model's graph as JSON and back (Keras' functional config).

``{"name", "layers": [{"class_name", "config", "name", "inbound_nodes": [{"args": [...],
"kwargs": {...}}]}], "input_layers": ..., "output_layers": ...}``. A symbolic tensor is
written ``{"keras_history": [layer name, node index, tensor index]}``; node indices count
only the nodes of this graph.

Rebuilding trusts nothing: layers come only through ``deserialize_layer`` (registered
classes), a reference must name a layer of the list and a node and output that exist,
a node runs only once all the tensors it names exist (so a cycle or a dangling
reference is reported, never looped on), and the sizes are bounded. Any problem
raises :class:`~chainrule.io.ModelFormatError` naming the layer.
"""

from __future__ import annotations

from collections import deque

from ..io import ModelFormatError
from ..layers import deserialize_layer, serialize_layer
from ..layers.input_layer import InputLayer
from ..layers.node import KerasTensor, flatten, inbound_nodes, map_structure
from .graph import Graph

MAX_LAYERS = 10_000  # layers in one graph
MAX_NODES = 100_000  # calls of layers in one graph, all layers together
MAX_ARGUMENT_ITEMS = 1_000  # tensors and values in one call's arguments
MAX_DEPTH = 4  # nesting of lists/dicts inside one call's arguments
HISTORY = "keras_history"


# ---------------------------------------------------------------- to JSON


def graph_config(graph: Graph, name: str) -> dict:
    """The JSON-able config of ``graph`` (see the module docstring)."""
    index = graph.node_index_in_graph()

    def ref(t: KerasTensor) -> dict:
        layer, node_index, tensor_index = t.history
        node = inbound_nodes(layer)[node_index]
        return {HISTORY: [layer.name, index[id(node)], tensor_index]}

    def encode(x):
        return map_structure(lambda v: ref(v) if isinstance(v, KerasTensor) else v, x)

    layers = []
    for layer in graph.layers:
        nodes = [n for n in inbound_nodes(layer)
                 if not n.is_input and any(n is m for m in graph.nodes)]
        layers.append({**serialize_layer(layer), "name": layer.name, "inbound_nodes": [
            {"args": [encode(a) for a in n.call_args], "kwargs": encode(n.call_kwargs)}
            for n in nodes]})
    return {"name": name, "layers": layers, "input_layers": encode(graph.inputs),
            "output_layers": encode(graph.outputs)}


# ---------------------------------------------------------------- from JSON


def _fail(message: str):
    raise ModelFormatError(f"functional graph: {message}")


def _is_ref(x) -> bool:
    return isinstance(x, dict) and set(x) == {HISTORY}


def _check_ref(x) -> tuple[str, int, int]:
    history = x[HISTORY]
    if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)
            and all(type(i) is int and i >= 0 for i in history[1:])):
        _fail(f"a tensor reference must be [layer name, node index, tensor index]; found "
              f"{history!r:.100}.")
    return history[0], history[1], history[2]


def _refs(x, depth: int = 0) -> list[tuple[str, int, int]]:
    """Every tensor reference inside ``x`` (bounded in depth)."""
    if depth > MAX_DEPTH:
        _fail(f"call arguments nested deeper than {MAX_DEPTH} levels.")
    if _is_ref(x):
        return [_check_ref(x)]
    if isinstance(x, list):
        return [r for item in x for r in _refs(item, depth + 1)]
    if isinstance(x, dict):
        return [r for key in x for r in _refs(x[key], depth + 1)]
    if x is None or isinstance(x, str | int | float | bool):
        return []
    _fail(f"unexpected value in call arguments: {x!r:.100}.")


def _decode(x, produced: dict[str, list]):
    """``x`` with each reference replaced by the tensor it names (all exist)."""
    if _is_ref(x):
        name, node, tensor = _check_ref(x)
        outputs = flatten(produced[name][node])
        if tensor >= len(outputs):
            _fail(f"layer {name!r} node {node} has {len(outputs)} output(s); a reference "
                  f"asks for output {tensor}.")
        return outputs[tensor]
    if isinstance(x, list):
        return [_decode(item, produced) for item in x]
    if isinstance(x, dict):
        return {key: _decode(value, produced) for key, value in x.items()}
    return x


def _layer_entries(config: dict, custom_objects: dict) -> tuple[dict, dict]:
    """name -> layer and name -> its list of node configs, in file order."""
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries or len(entries) > MAX_LAYERS:
        _fail(f"`layers` must be a non-empty list of at most {MAX_LAYERS} entries.")
    layers: dict = {}
    nodes: dict = {}
    total = 0
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            _fail(f"each layer entry needs a string `name`; found {entry!r:.100}.")
        name = entry["name"]
        calls = entry.get("inbound_nodes", [])
        if name in layers:
            _fail(f"the layer name {name!r} appears twice.")
        if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
            _fail(f"layer {name!r}: `inbound_nodes` must be a list of objects.")
        total += len(calls)
        if total > MAX_NODES:
            _fail(f"more than {MAX_NODES} layer calls.")
        layer = deserialize_layer(entry, custom_objects)
        if getattr(layer, "name", None) != name:
            _fail(f"layer entry {name!r} builds a layer named {getattr(layer, 'name', None)!r}.")
        if isinstance(layer, InputLayer) and calls:
            _fail(f"input layer {name!r} cannot have inbound nodes.")
        layers[name], nodes[name] = layer, deque(calls)
    return layers, nodes


def _call_refs(name: str, call: dict, layers: dict) -> list:
    args, kwargs = call.get("args", []), call.get("kwargs", {})
    if not isinstance(args, list) or not args or not isinstance(kwargs, dict):
        _fail(f"layer {name!r}: a node needs a non-empty `args` list and a `kwargs` object.")
    refs = _refs(args) + _refs(kwargs)
    if not refs or len(refs) > MAX_ARGUMENT_ITEMS:
        _fail(f"layer {name!r}: a node must name between 1 and {MAX_ARGUMENT_ITEMS} tensors.")
    for ref_name, _, _ in refs:
        if ref_name not in layers:
            _fail(f"layer {name!r} takes a tensor from layer {ref_name!r:.100}, which is not "
                  f"in the graph (a dangling reference).")
    return refs


def rebuild_graph(config: dict, custom_objects: dict | None = None) -> tuple:
    """(inputs, outputs) KerasTensor structures rebuilt from ``graph_config`` output.

    Each layer's nodes run in order, each once every tensor it names exists; the
    layers build from the symbolic shapes as they are called."""
    layers, pending = _layer_entries(config, custom_objects or {})
    produced: dict[str, list] = {name: [] for name in layers}
    for name, layer in layers.items():
        if isinstance(layer, InputLayer):
            produced[name].append(layer.output)
    waiting: dict[tuple[str, int], list[str]] = {}
    ready = deque(name for name in layers if pending[name])
    while ready:
        name = ready.popleft()
        call = pending[name][0]
        refs = _call_refs(name, call, layers)
        missing = next(((n, i) for n, i, _ in refs if i >= len(produced[n])), None)
        if missing is not None:
            waiting.setdefault(missing, []).append(name)
            continue
        args = _decode(call.get("args", []), produced)
        kwargs = _decode(call.get("kwargs", {}), produced)
        produced[name].append(layers[name](*args, **kwargs))
        pending[name].popleft()
        ready.extend(waiting.pop((name, len(produced[name]) - 1), []))
        if pending[name]:
            ready.append(name)
    stuck = [name for name in layers if pending[name]]
    if stuck:
        _fail(f"the calls of layer(s) {stuck[:10]} wait on tensors that are never made "
              f"(a cycle, or a reference to a node that does not exist).")
    return _endpoint(config, "input_layers", produced), \
        _endpoint(config, "output_layers", produced)


def _endpoint(config: dict, key: str, produced: dict):
    """The model's inputs or outputs: a reference, or a list/dict of them."""
    spec = config.get(key)
    refs = _refs(spec) if spec is not None else []
    if not refs or len(refs) > MAX_ARGUMENT_ITEMS:
        _fail(f"`{key}` must name between 1 and {MAX_ARGUMENT_ITEMS} tensors.")
    for name, node, _ in refs:
        if name not in produced or node >= len(produced[name]):
            _fail(f"`{key}` names node {node} of layer {name!r:.100}, which does not exist.")
    return _decode(spec, produced)
