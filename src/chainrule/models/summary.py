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
    child's output shape. Buffers and training flags are left exactly as they were."""
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


def _format_shape(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def summary_lines(model, shapes: dict, line_length: int = 72) -> list[str]:
    """The table: name (class), output shape, parameter count; then the totals.
    Columns widen to fit their longest entry."""
    rows = [("Layer (type)", "Output Shape", "Param #")]
    for key, child in model._summary_children():
        count = sum(_counts(child))
        built = getattr(child, "built", True)
        rows.append((f"{getattr(child, 'name', key)} ({type(child).__name__})",
                     _format_shape(shapes.get(key)),
                     str(count) if built or count else "0 (unbuilt)"))
    first = max(len(r[0]) for r in rows) + 3
    second = max(len(r[1]) for r in rows) + 3
    width = max(line_length, first + second + max(len(r[2]) for r in rows) + 1)
    table = [f" {a:<{first - 1}}{b:<{second}}{c}" for a, b, c in rows]
    lines = [f'Model: "{model.name}"', "_" * width, table[0], "=" * width]
    lines += "\n\n".join(table[1:]).split("\n") if len(table) > 1 else []
    trainable, frozen = _counts(model)
    lines += ["=" * width, f"Total params: {trainable + frozen:,}",
              f"Trainable params: {trainable:,}", f"Non-trainable params: {frozen:,}",
              "_" * width]
    return lines


def print_summary(model, line_length: int = 72, print_fn: Callable | None = None) -> None:
    """Print the summary, building lazy layers first when the input shape is known."""
    shapes: dict = {}
    input_shape = model._known_input_shape()
    if input_shape is not None:
        dtype = model._build_input_dtype or model.input_dtype
        shapes = run_zero_batch(model, input_shape, dtype)
    for line in summary_lines(model, shapes, line_length):
        (print_fn or print)(line)
