"""``export(model, path, sample_input=None)``: write a model as an ONNX file.

The model runs once on a sample batch in inference mode (eval, no graph, its training
flags restored afterwards), and each layer call on the way is converted into ONNX
nodes (``walk.py`` and the converter files). The file holds one graph with the
model's input and output names, a dynamic batch axis named "batch", opset 17, and the
weights as initializers; ``onnx.checker`` checks it before it is written (atomically).
"""

from __future__ import annotations

import os

import numpy as np

from ..io import atomic_write
from ..models.training import inference_mode
from ..version import __version__
from . import attention, core, merge, recurrent, spatial, walk  # noqa: F401 - converters
from .graph import OnnxExportError, OnnxGraph, Value, apply, require_onnx


def input_names(model) -> list[str]:
    """The model's ``input_names`` (a functional model's Input names), else "input"."""
    names = getattr(model, "input_names", None)
    return list(names) if names else ["input"]


def output_names(model, count: int) -> list[str]:
    """The model's ``output_names`` (a functional model's output layers), else "output"
    (numbered when a model returns several)."""
    names = getattr(model, "output_names", None)
    if names and len(names) == count:
        return list(names)
    return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]


def _symbolic_inputs(model) -> list | None:
    """A functional model's ``inputs`` (symbolic tensors with shape and dtype), or None."""
    try:
        inputs = model.inputs
    except AttributeError:  # not a graph model
        return None
    return inputs if all(hasattr(t, "shape") and hasattr(t, "dtype") for t in inputs) \
        else None


def _as_sample(array, name: str, integer: bool) -> np.ndarray:
    """A sample as ``predict`` would see it: int64 ids for a model that takes token
    ids (``input_dtype``), float32 for any other floating input."""
    array = np.asarray(getattr(array, "data", array))
    if array.ndim == 0:
        raise OnnxExportError(f"sample_input for input {name!r} must have a batch axis; "
                              f"received a scalar.")
    if integer and array.dtype.kind == "f":
        return array.astype(np.int64)
    return array.astype(np.float32) if array.dtype.kind == "f" else array


def sample_inputs(model, sample_input) -> list[np.ndarray]:
    """One array per model input: ``sample_input`` (an array, a list in input order, or
    a dict by input name), or zeros of the input shape the model knows."""
    names = input_names(model)
    if sample_input is not None:
        if isinstance(sample_input, dict):
            missing = [n for n in names if n not in sample_input]
            if missing:
                raise OnnxExportError(f"sample_input lacks the input(s) {missing}; the "
                                      f"model's inputs are {names}.")
            sample_input = [sample_input[n] for n in names]
        arrays = list(sample_input) if isinstance(sample_input, list | tuple) \
            else [sample_input]
        if len(arrays) != len(names):
            raise OnnxExportError(f"sample_input holds {len(arrays)} array(s); the model has "
                                  f"{len(names)} input(s) {names}.")
        integer = getattr(model, "_integer_input", lambda: False)()
        return [_as_sample(a, n, integer) for a, n in zip(arrays, names)]
    symbolic = _symbolic_inputs(model)
    if symbolic is not None:
        shapes = [(tuple(t.shape), np.dtype(t.dtype)) for t in symbolic]
    else:
        known = model._known_input_shape() if hasattr(model, "_known_input_shape") else None
        shapes = [] if known is None else [(known, np.dtype(model.input_dtype or np.float32))]
    if not shapes or any(d is None for shape, _ in shapes for d in shape[1:]):
        raise OnnxExportError(f"{type(model).__name__} '{getattr(model, 'name', '?')}': its "
                              f"input shape is not known, so pass sample_input= (a batch of "
                              f"inputs; only its shape and dtype matter).")
    return [np.zeros((2, *shape[1:]), dtype=dtype) for shape, dtype in shapes]


def _check_float32(model) -> None:
    wrong = sorted({str(p.dtype) for p in model.parameters()} - {"float32"})
    if wrong:
        raise OnnxExportError(f"ONNX export writes float32 models; {type(model).__name__} "
                              f"'{getattr(model, 'name', '?')}' has {wrong} weights. Build it "
                              f"with the default dtype float32.")


def build(model, sample_input=None):
    """The ``onnx.ModelProto`` of ``model`` (checked), without writing it."""
    onnx = require_onnx()
    _check_float32(model)
    samples = sample_inputs(model, sample_input)
    names = input_names(model)
    g = OnnxGraph()
    inputs = [Value(g.reserve(n), s) for n, s in zip(names, samples)]
    with inference_mode(model):
        out = apply(g, model, inputs[0] if len(inputs) == 1 else inputs)
    outputs = out if isinstance(out, list) else [out]
    named = []
    for value, name in zip(outputs, output_names(model, len(outputs))):
        g.rename_output(value.name, g.reserve(name))
        named.append((name, value.data))
    proto = g.model(list(zip(names, samples)), named, producer=__version__,
                    doc=f"{type(model).__name__} '{getattr(model, 'name', '')}' exported by "
                        f"chainrule {__version__}")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, path: str | os.PathLike, sample_input=None):
    """Write ``model`` as an ONNX file at ``path`` and return its ``onnx.ModelProto``.

    ``sample_input``: a batch of inputs (an array; a list or a dict by input name for a
    model with several), used for its shapes and dtypes; by default zeros of the input
    shape the model knows (its first layer's ``input_shape``, its ``cr.Input``, or the
    data it was built or trained on). Raises :class:`OnnxExportError` naming the layer
    and the reason when a layer cannot be exported.
    """
    proto = build(model, sample_input)
    with atomic_write(path) as f:
        f.write(proto.SerializeToString())
    return proto
