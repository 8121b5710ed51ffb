"""The graph the Functional API records: symbolic tensors, nodes, and the call protocol
every layer and model shares (Keras 3's ``KerasTensor``, ``Node`` and ``Operation``).

A :class:`KerasTensor` has a shape (batch axis None), a dtype and a history: the layer
that made it, which call of that layer (node index) and which of its outputs (tensor
index). Calling a layer on KerasTensors runs no data: the layer is built from the input
shapes, ``compute_output_shape`` gives the output shapes, and a :class:`Node` records
the call. ``cr.models.Model(inputs, outputs)`` walks these nodes back from its outputs.

Masks travel beside values, not on them: :func:`call_with_masks` hands a layer whose
``forward`` takes ``mask=`` the mask of its first input and asks ``compute_mask`` for
the mask of its outputs. Sequential and functional models both run their layers
through it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..backend import get_default_dtype

# ---------------------------------------------------------------- nested structures


def flatten(structure) -> list:
    """The leaves of a tensor, list/tuple or dict (values in key order) of them."""
    if isinstance(structure, list | tuple):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    return [structure]


def map_structure(fn: Callable, structure):
    """``structure`` with every leaf replaced by ``fn(leaf)`` (lists, tuples, dicts)."""
    if isinstance(structure, list | tuple):
        return type(structure)(map_structure(fn, item) for item in structure)
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    return fn(structure)


def pack_like(structure, leaves: list):
    """The inverse of :func:`flatten`: ``leaves`` arranged as ``structure``."""
    it = iter(leaves)
    return map_structure(lambda _: next(it), structure)


def is_shape(value) -> bool:
    """Whether ``value`` is one shape (a tuple/list of ints and None), not a structure."""
    return isinstance(value, tuple | list) and all(
        d is None or isinstance(d, int | np.integer) for d in value)


def map_shapes(fn: Callable, shapes):
    """Apply ``fn`` to each shape in a shape or a list/dict of shapes."""
    if is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {key: map_shapes(fn, value) for key, value in shapes.items()}
    return [map_shapes(fn, s) for s in shapes]


def flat_shapes(shapes) -> list[tuple]:
    """A shape or a structure of shapes as a flat list of tuples."""
    if is_shape(shapes):
        return [tuple(shapes)]
    values = shapes.values() if isinstance(shapes, dict) else shapes
    return [s for value in values for s in flat_shapes(value)]


def format_shape(shape) -> str:
    """(None, 3) -> "(None, 3)"; (None,) -> "(None,)"."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------- symbolic tensors


class History(NamedTuple):
    """Where a KerasTensor came from: ``layer._inbound_nodes[node_index]``'s output
    number ``tensor_index``."""

    layer: object
    node_index: int
    tensor_index: int


class KerasTensor:
    """A symbolic tensor: ``shape`` (batch axis None), ``dtype``, and the layer call
    that made it. It holds no data; call layers on it to build a graph."""

    __slots__ = ("shape", "dtype", "name", "history")

    def __init__(self, shape: tuple, dtype, name: str | None = None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.history: History | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return (f"<KerasTensor shape={format_shape(self.shape)}, dtype={self.dtype}, "
                f"name={self.name}>")

    def _no_data(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic (from cr.Input): it holds no data, so tensor operations "
            f"cannot run on it. Call layers on it instead, e.g. cr.layers.add([a, b]), "
            f"cr.layers.Activation(...), cr.layers.Reshape(...).")

    __array__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _no_data
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __neg__ = __pow__ = _no_data
    __getitem__ = __len__ = __iter__ = __bool__ = __float__ = _no_data


def any_symbolic(structure) -> bool:
    """Whether any leaf of ``structure`` is a KerasTensor."""
    if isinstance(structure, KerasTensor):
        return True
    if isinstance(structure, list | tuple | dict):
        return any(isinstance(leaf, KerasTensor) for leaf in flatten(structure))
    return False


# ---------------------------------------------------------------- nodes


class Node:
    """One call of a layer on symbolic tensors: ``call_args`` / ``call_kwargs`` as
    given (KerasTensors inside), and ``outputs`` (a KerasTensor or a structure)."""

    def __init__(self, layer, call_args: tuple, call_kwargs: dict, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in flatten([list(call_args), call_kwargs])
                              if isinstance(t, KerasTensor)]
        self.output_tensors = flatten(outputs)
        nodes = inbound_nodes(layer)
        for i, t in enumerate(self.output_tensors):
            t.history = History(layer, len(nodes), i)
        nodes.append(self)

    @property
    def is_input(self) -> bool:
        """An InputLayer's node: it has no inputs and makes one tensor."""
        return not self.input_tensors and getattr(self.layer, "is_input_layer", False)


def inbound_nodes(layer) -> list[Node]:
    """The nodes of ``layer`` (one per symbolic call), kept in its ``__dict__``."""
    nodes = vars(layer).get("_inbound_nodes")
    if nodes is None:
        nodes = []
        object.__setattr__(layer, "_inbound_nodes", nodes)
    return nodes


# ---------------------------------------------------------------- the call protocol


def output_dtype(layer, input_dtypes: list[np.dtype]) -> np.dtype:
    """The dtype of a layer's symbolic outputs: the input's for layers that only move
    values (``preserves_dtype``), else floating (integer ids become vectors)."""
    from_input = input_dtypes[0] if input_dtypes else None
    if from_input is not None and getattr(layer, "preserves_dtype", False):
        return from_input
    if from_input is not None and from_input.kind == "f":
        return from_input
    return np.dtype(get_default_dtype())


class Operation:
    """What layers and models share in a graph (a mixin before ``Module``):
    ``symbolic_call``, ``input``/``output`` and their per-call variants."""

    def symbolic_call(self, inputs, *args, **kwargs):
        """Record a call on KerasTensors: build from the input shapes, take the output
        shapes from ``compute_output_shape``, and return new KerasTensors."""
        try:
            inspect.signature(self.forward).bind(inputs, *args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__} '{self.name}' cannot be called with "
                            f"these arguments: {err}.") from None
        input_shape = map_structure(lambda t: t.shape, inputs)
        self.build_from_shape(input_shape)
        output_shape = self.compute_output_shape(input_shape)
        dtypes = [t.dtype for t in flatten(inputs) if isinstance(t, KerasTensor)]
        dtype = output_dtype(self, dtypes)

        def make(shape):
            return KerasTensor(shape, dtype, name=self.name)

        outputs = map_shapes(make, output_shape)
        Node(self, (inputs, *args), kwargs, outputs)
        return outputs

    def build_from_shape(self, input_shape) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define build_from_shape()")

    def compute_output_shape(self, input_shape):  # pragma: no cover - abstract
        raise NotImplementedError(
            f"abstract: {type(self).__name__} must define compute_output_shape()")

    def _node_attribute(self, attribute: str, what: str, node_index: int | None):
        nodes = inbound_nodes(self)
        if not nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on a "
                                 f"symbolic tensor (cr.Input), so it has no {what}.")
        if node_index is None:
            if len(nodes) > 1:
                raise AttributeError(
                    f"Layer '{self.name}' has been called {len(nodes)} times, so its "
                    f"{what} is ill-defined; use get_{what}_at(node_index).")
            node_index = 0
        if not 0 <= node_index < len(nodes):
            raise ValueError(f"Layer '{self.name}' has {len(nodes)} node(s); asked for "
                             f"node_index={node_index}.")
        node = nodes[node_index]
        return node.call_args[0] if attribute == "input" else node.outputs

    @property
    def input(self):
        """The symbolic input of this layer's only call (an error if called twice)."""
        return self._node_attribute("input", "input", None)

    @property
    def output(self):
        """The symbolic output of this layer's only call (an error if called twice)."""
        return self._node_attribute("output", "output", None)

    def get_input_at(self, node_index: int):
        return self._node_attribute("input", "input", node_index)

    def get_output_at(self, node_index: int):
        return self._node_attribute("output", "output", node_index)


class _MaskPlan(NamedTuple):
    """How ``call_with_masks`` treats a class: its own pass (models), a ``mask``
    parameter in ``forward``, a ``compute_mask``, and whether that gives None for no
    mask (the base rule), so it can be skipped."""

    runner: bool
    takes_mask: bool
    computes_mask: bool
    none_for_none: bool


_PLANS: dict[type, _MaskPlan] = {}


def _plan(cls: type) -> _MaskPlan:
    plan = _PLANS.get(cls)
    if plan is None:
        try:
            takes = "mask" in inspect.signature(cls.forward).parameters
        except (TypeError, ValueError, AttributeError):
            takes = False
        compute = getattr(cls, "compute_mask", None)
        plan = _MaskPlan(hasattr(cls, "call_and_mask"), takes, compute is not None,
                         getattr(compute, "none_for_none", False))
        _PLANS[cls] = plan
    return plan


def forward_takes_mask(module) -> bool:
    """Whether ``module.forward`` has a ``mask`` parameter (cached per class)."""
    return _plan(type(module)).takes_mask


def call_with_masks(layer, inputs, mask, *args, **kwargs) -> tuple:
    """Run ``layer`` on ``inputs`` with the input ``mask``; returns (outputs, output mask).

    A layer whose ``forward`` takes ``mask=`` receives it (unless it was given one);
    models (``call_and_mask``) give their outputs and masks from one pass; the output
    mask is ``layer.compute_mask(inputs, mask)`` (None for modules without one)."""
    plan = _plan(type(layer))
    if plan.runner:
        return layer.call_and_mask(inputs, mask, *args, **kwargs)
    if mask is not None and plan.takes_mask and "mask" not in kwargs:
        kwargs["mask"] = mask
    outputs = layer(inputs, *args, **kwargs)
    mask = kwargs.get("mask", mask)
    if not plan.computes_mask or (mask is None and plan.none_for_none):
        return outputs, None
    return outputs, layer.compute_mask(inputs, mask)
