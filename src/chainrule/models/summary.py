"""Running a model on a zero batch to learn shapes, and ``summary()``'s table.

The zero batch runs in eval mode under ``no_grad`` with every buffer restored
afterwards, so building or summarising a model changes nothing it has learned
(BatchNormalization's moving statistics stay put) and draws no random numbers
beyond the initial weights of layers that were not built yet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

from ..backend import get_default_dtype
from ..layers.base import check_zero_batch
from ..layers.node import flat_shapes, format_shape, inbound_nodes
from .training import inference_mode


def _shape_of(out) -> tuple | list | None:
    if hasattr(out, "shape"):
        return (None, *tuple(out.shape)[1:])
    if isinstance(out, tuple | list):
        return [_shape_of(o) for o in out]
    return None


@contextlib.contextmanager
def recording_calls(children: list[tuple[str, object]]) -> Iterator[list]:
    """Record every call of each child as (key, child, args, kwargs, output) while the
    block runs, in the order the calls return (by shadowing each child's ``forward``
    with an instance attribute, removed afterwards)."""
    calls: list[tuple] = []
    shadowed = []
    for key, child in children:
        original = child.forward

        def wrapper(*args, _original=original, _key=key, _child=child, **kwargs):
            out = _original(*args, **kwargs)
            calls.append((_key, _child, args, kwargs, out))
            return out

        shadowed.append((child, vars(child).get("forward")))
        object.__setattr__(child, "forward", wrapper)
    try:
        yield calls
    finally:
        for child, previous in shadowed:
            if previous is None:
                object.__delattr__(child, "forward")
            else:
                object.__setattr__(child, "forward", previous)


@contextlib.contextmanager
def recording_shapes(children: list[tuple[str, object]]) -> Iterator[dict]:
    """Record each child's output shape (its last call's) while the block runs; the
    dict is filled when the block ends."""
    shapes: dict[str, object] = {}
    with recording_calls(children) as calls:
        yield shapes
    shapes.update((key, _shape_of(out)) for key, _, _, _, out in calls)


def zero_batch(input_shape: tuple, dtype=None) -> np.ndarray:
    """Two samples of zeros of ``input_shape`` (its batch entry ignored)."""
    return np.zeros((2, *input_shape[1:]), dtype=dtype or get_default_dtype())


def run_zero_batch(model, input_shape: tuple, dtype=None) -> dict:
    """Run a zero batch through ``model``, building lazy layers; returns each direct
    child's output shape. Buffers and training flags are left exactly as they were;
    bounded by ``zero_batch_bound`` when one is active (``load_model``)."""
    check_zero_batch(model, input_shape)
    saved = {id(b): (b, b.data.copy()) for _, b in model.named_buffers()}
    try:
        with inference_mode(model), recording_shapes(model._summary_children()) as shapes:
            out = model(zero_batch(input_shape, dtype))
    finally:
        for b, data in saved.values():
            b.data = data
    shapes["__output__"] = _shape_of(out)
    return shapes


def _counts(module) -> tuple[int, int]:
    """(trainable, non-trainable) numbers of values: frozen parameters and buffers
    (moving statistics) are non-trainable, as in Keras."""
    trainable = frozen = 0
    for _, p in module.named_parameters():
        if p.requires_grad:
            trainable += p.size
        else:
            frozen += p.size
    frozen += sum(b.size for _, b in module.named_buffers())
    return trainable, frozen


def format_shapes(shape) -> str:
    """A shape as summary() prints it: "(None, 10)", several joined by ", ", "?" unknown."""
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(format_shapes(s) for s in shape)
    return format_shape(shape)


def _table(rows: list[tuple], line_length: int) -> tuple[list[str], int]:
    """Left-aligned columns that widen to their longest entry; a cell may hold several
    lines (Connected to), which continue under their column. Rows are separated by a
    blank line."""
    widths = [max(len(line) for r in rows for line in r[i].split("\n")) + 3
              for i in range(len(rows[0]) - 1)]
    last = max(len(line) for r in rows for line in r[-1].split("\n"))
    width = max(line_length, sum(widths) + last + 1)
    widths[0] -= 1  # after the leading space
    lines = []
    for k, row in enumerate(rows):
        cells = [cell.split("\n") for cell in row]
        for i in range(max(len(c) for c in cells)):
            parts = [c[i] if i < len(c) else "" for c in cells]
            text = " " + "".join(f"{p:<{w}}" for p, w in zip(parts[:-1], widths)) + parts[-1]
            lines.append(text.rstrip() if k else text)
        if 0 < k < len(rows) - 1:
            lines.append("")
    return lines, width


def _layer_rows(model, shapes: dict) -> list[tuple]:
    rows = []
    for key, child in model._summary_children():
        count = sum(_counts(child))
        built = getattr(child, "built", True)
        rows.append((f"{getattr(child, 'name', key)} ({type(child).__name__})",
                     format_shapes(shapes.get(key)),
                     str(count) if built or count else "0 (unbuilt)"))
    return rows


def _graph_rows(model) -> list[tuple]:
    """One row per layer of a functional model with Keras' "Connected to": the tensors
    each of its calls in this graph reads, as ``layer[node][tensor]``."""
    graph = model._graph
    index = graph.node_index_in_graph()
    rows = []
    for layer in graph.layers:
        nodes = [n for n in inbound_nodes(layer) if id(n) in index]
        shapes = {tuple(flat_shapes([t.shape for t in n.output_tensors])) for n in nodes}
        shape = "multiple" if len(shapes) > 1 else ", ".join(
            format_shape(t.shape) for t in nodes[0].output_tensors)
        sources = [reference_in(t, index) for n in nodes for t in n.input_tensors]
        rows.append((f"{layer.name} ({type(layer).__name__})", shape,
                     str(sum(_counts(layer))), "\n".join(sources) or "-"))
    return rows


def reference_in(t, index: dict) -> str:
    """``reference`` with the node numbered among the graph's own nodes of its layer."""
    node = inbound_nodes(t.history.layer)[t.history.node_index]
    return f"{t.history.layer.name}[{index[id(node)]}][{t.history.tensor_index}]"


def summary_lines(model, shapes: dict, line_length: int = 72) -> list[str]:
    """The table: name (class), output shape, parameter count (and, for a functional
    model, what each layer is connected to); then the totals."""
    if getattr(model, "_graph", None) is not None:
        header = ("Layer (type)", "Output Shape", "Param #", "Connected to")
        table, width = _table([header, *_graph_rows(model)], line_length)
    else:
        header = ("Layer (type)", "Output Shape", "Param #")
        table, width = _table([header, *_layer_rows(model, shapes)], line_length)
    lines = [f'Model: "{model.name}"', "_" * width, table[0], "=" * width, *table[1:]]
    trainable, frozen = _counts(model)
    lines += ["=" * width, f"Total params: {trainable + frozen:,}",
              f"Trainable params: {trainable:,}", f"Non-trainable params: {frozen:,}",
              "_" * width]
    return lines


def print_summary(model, line_length: int = 72, print_fn: Callable | None = None) -> None:
    """Print the summary, building lazy layers first when the input shape is known."""
    shapes: dict = {}
    input_shape = model._known_input_shape()
    if hasattr(model, "layer_output_shapes") and input_shape is not None:
        shapes = dict(zip((k for k, _ in model._summary_children()),
                          model.layer_output_shapes(input_shape)))
    elif input_shape is not None:
        dtype = model._build_input_dtype or model.input_dtype
        shapes = run_zero_batch(model, input_shape, dtype)
    for line in summary_lines(model, shapes, line_length):
        (print_fn or print)(line)
