"""The ONNX graph under construction: nodes, weights (initializers) and unique names.

Converters never touch protobuf themselves: they call :meth:`OnnxGraph.op` with an
operator name, its input names and attributes, and :meth:`OnnxGraph.const` with a
NumPy array, and get back the names of the values made. Values flowing between
converters are :class:`Value` objects: an ONNX name and the array chainrule computed
there on the sample input (its shape tells a converter what it needs to know, e.g.
the spatial size of an image for "same" padding).

The ``onnx`` package is imported when a graph is made, not when chainrule is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

import numpy as np

from ..module import Module

OPSET = 17  # the first opset with LayerNormalization
INSTALL = 'pip install "chainrule[onnx]"'


class OnnxExportError(ValueError):
    """A model (or one of its layers) that cannot be written as an ONNX graph; the
    message names the layer and the reason."""


def layer_error(layer, reason: str) -> OnnxExportError:
    """An :class:`OnnxExportError` naming ``layer`` (its name and class) and ``reason``."""
    name = getattr(layer, "name", None)
    named = f"'{name}' " if isinstance(name, str) else ""
    return OnnxExportError(f"Cannot export layer {named}({type(layer).__name__}) to ONNX: "
                           f"{reason}")


def require_onnx() -> ModuleType:
    """The ``onnx`` package, or an ImportError saying how to install it."""
    try:
        return importlib.import_module("onnx")
    except ImportError:
        raise ImportError(f"ONNX export needs the onnx package, which is not installed: "
                          f"{INSTALL}") from None


class Value:
    """A value of the graph: its ONNX ``name`` and the array chainrule computed for it
    on the sample input (``data``)."""

    __slots__ = ("name", "data")

    def __init__(self, name: str, data: np.ndarray):
        self.name, self.data = name, np.asarray(data)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __repr__(self) -> str:
        return f"Value({self.name!r}, shape={self.shape}, dtype={self.data.dtype})"


class OnnxGraph:
    """Nodes and initializers in the order they are added; every name unique."""

    def __init__(self):
        self.onnx = require_onnx()
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()
        self.scope = ""  # the prefix of new names: the layer being converted

    def fresh(self, stem: str) -> str:
        """A name not used yet: ``scope/stem``, or with a suffix ``_1``, ``_2``, ..."""
        base = f"{self.scope}/{stem}" if self.scope else stem
        name, k = base, 0
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claim ``name`` exactly (a model input or output name)."""
        if name in self._used:
            raise OnnxExportError(f"The ONNX name {name!r} is used twice; give the model's "
                                  f"inputs and outputs distinct names.")
        self._used.add(name)
        return name

    def const(self, array, stem: str = "const") -> str:
        """An initializer holding ``array`` (its dtype kept); returns its name."""
        name = self.fresh(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, values, stem: str = "shape") -> str:
        """An int64 initializer (a shape, axes, pads)."""
        return self.const(np.asarray(values, dtype=np.int64), stem)

    def op(self, op_type: str, inputs: list, outputs: int = 1, stem: str | None = None,
           **attrs):
        """Add one node; returns its output name, or a list of ``outputs`` names. An
        input is a name, a Value, or "" (an optional input left out)."""
        stem = stem or op_type
        names = [self.fresh(stem if outputs == 1 else f"{stem}_{i}") for i in range(outputs)]
        inputs = [i.name if isinstance(i, Value) else i for i in inputs]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, names,
                                                     name=self.fresh(op_type), **attrs))
        return names[0] if outputs == 1 else names

    def rename_output(self, name: str, output: str) -> None:
        """Make ``output`` (a graph output name) carry the value ``name`` (an Identity)."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [name], [output],
                                                     name=self.fresh("Identity")))

    def model(self, inputs: list[tuple[str, np.ndarray]], outputs: list[tuple[str, np.ndarray]],
              producer: str, doc: str = ""):
        """The ModelProto: ``inputs``/``outputs`` as (name, sample array) pairs, each
        with a dynamic first (batch) axis named "batch"."""
        helper = self.onnx.helper

        def info(name: str, sample: np.ndarray):
            elem = helper.np_dtype_to_tensor_dtype(sample.dtype)
            return helper.make_tensor_value_info(name, elem, ["batch", *sample.shape[1:]])

        graph = helper.make_graph(self.nodes, "chainrule", [info(*i) for i in inputs],
                                  [info(*o) for o in outputs], self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="chainrule", producer_version=producer)
        model.doc_string = doc
        return model


# class name -> converter(g, layer, *args, **kwargs) -> output name(s)
CONVERTERS: dict[str, Callable] = {}


def converts(*class_names: str) -> Callable:
    """Register a converter for chainrule's layer classes of these names."""
    def register(fn: Callable) -> Callable:
        for name in class_names:
            CONVERTERS[name] = fn
        return fn
    return register


def _chainrule_class(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "chainrule"


def converter_for(layer) -> Callable:
    """The converter of ``layer``'s class. Only chainrule's own classes match by name (a
    user's subclass may compute something else); any other Module with sub-modules (a
    subclassed model) is traced as a chain of them (the converter named "Module")."""
    cls = type(layer)
    if _chainrule_class(cls) and cls.__name__ in CONVERTERS:
        return CONVERTERS[cls.__name__]
    if isinstance(layer, Module) and layer._modules:
        return CONVERTERS["Module"]
    raise layer_error(layer, f"there is no ONNX converter for {cls.__module__}."
                             f"{cls.__qualname__}; chainrule's layers "
                             f"{sorted(n for n in CONVERTERS if n != 'Module')} export, and "
                             f"models made of them.")


def _data(structure):
    """``structure`` with every Value replaced by its array."""
    if isinstance(structure, Value):
        return structure.data
    if isinstance(structure, list | tuple):
        return type(structure)(_data(s) for s in structure)
    if isinstance(structure, dict):
        return {k: _data(v) for k, v in structure.items()}
    return structure


def _arrays(out) -> list[np.ndarray]:
    """A layer's output (a Tensor, or a list/tuple of them) as a flat list of arrays."""
    if isinstance(out, list | tuple):
        return [a for o in out for a in _arrays(o)]
    return [np.asarray(getattr(out, "data", out))]


def apply(g: OnnxGraph, layer, *args, **kwargs):
    """Convert one call ``layer(*args, **kwargs)`` (Values where tensors go): run the
    layer on the Values' arrays, add its nodes, and return its output as a Value (or a
    list of Values for a layer with several outputs)."""
    convert = converter_for(layer)
    out = layer(*_data(args), **_data(kwargs))
    outer = g.scope
    g.scope = f"{outer}/{layer.name}" if outer else str(getattr(layer, "name", "module"))
    try:
        names = convert(g, layer, *args, **kwargs)
    finally:
        g.scope = outer
    arrays = _arrays(out)
    flat = names if isinstance(names, list) else [names]
    if len(flat) != len(arrays):  # pragma: no cover - a converter bug
        raise layer_error(layer, f"its converter made {len(flat)} outputs for its "
                                 f"{len(arrays)}.")
    values = [Value(n, a) for n, a in zip(flat, arrays)]
    return values if isinstance(names, list) else values[0]
