"""``Layer``: a Module with Keras' life cycle — config in ``__init__``, weights in
``build``, math in ``forward``, and ``get_config`` for saving.

Subclasses set their own configuration first and call ``super().__init__(**kwargs)``
last, so a layer given ``input_shape``/``input_dim`` can build at once.

The call convention (docs/functional.md, "Writing a layer"): ``layer(inputs, ...)``
takes one tensor, or a list/dict of them (merge layers); ``build`` then receives the
shape, or a list/dict of shapes. Called on symbolic tensors (``cr.Input``) a layer runs
no data: it builds from the shapes and ``compute_output_shape`` says what comes out.
A ``forward`` with a ``mask=`` parameter receives its input's mask inside models;
``compute_mask`` gives the mask of the output.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

import numpy as np

from .. import activations, constraints, initializers, regularizers
from ..autograd import no_grad
from ..backend import get_default_dtype
from ..module import Module, Parameter
from ..registry import Registry
from ..tensor import Tensor
from .node import (
    Operation,
    any_symbolic,
    flat_shapes,
    is_shape,
    map_shapes,
    map_structure,
)

# Layer and model classes load_model may rebuild, by class name: chainrule's own layers
# (added as they are defined) and those given to register_layer.
LAYER_REGISTRY = Registry("layer class")
_name_counts: dict[str, int] = {}
_zero_batch_check: Callable | None = None  # set inside zero_batch_bound() only


def _snake(name: str) -> str:
    """Keras' automatic layer names: Conv2D -> conv2d, SimpleRNN -> simple_rnn."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(stem: str) -> str:
    """Keras-style automatic names: dense, dense_1, dense_2, ..."""
    count = _name_counts.get(stem, 0)
    _name_counts[stem] = count + 1
    return stem if count == 0 else f"{stem}_{count}"


def to_tensor(x) -> Tensor:
    """A layer input as a Tensor; floating arrays take the default dtype."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and arr.dtype != get_default_dtype():
        arr = arr.astype(get_default_dtype())
    return Tensor(arr)


def _is_input_list(inputs) -> bool:
    """A list/tuple holding tensors or arrays is several inputs; nested lists of numbers
    are one array, as before."""
    return isinstance(inputs, list | tuple) and any(
        isinstance(i, Tensor | np.ndarray | dict | list | tuple) and not _is_number_list(i)
        for i in inputs)


def _is_number_list(value) -> bool:
    return isinstance(value, list | tuple) and not any(
        isinstance(i, Tensor | np.ndarray | dict) for i in value)


def to_tensors(inputs):
    """A layer's inputs as Tensors: one tensor, or each tensor of a list/dict of them."""
    if isinstance(inputs, dict) or _is_input_list(inputs):
        return map_structure(to_tensor, inputs)
    return to_tensor(inputs)


def shape_of(inputs):
    """The shape of a tensor, or the list/dict of shapes of a list/dict of tensors."""
    return map_structure(lambda t: tuple(t.shape), inputs)


def single_shape(layer, input_shape) -> tuple:
    """``input_shape`` when it is one shape; an error naming ``layer`` for a list/dict."""
    if isinstance(input_shape, dict) or not is_shape(input_shape):
        raise ValueError(f"`{type(layer).__name__}` layer '{layer.name}' expects one input "
                         f"tensor; received {len(input_shape)} inputs with shapes "
                         f"{input_shape}.")
    return tuple(input_shape)


def _zeros_like_shape(shape: tuple, unknown: int) -> np.ndarray:
    return np.zeros([unknown if d is None else d for d in shape], dtype=get_default_dtype())


def has_unbuilt_layers(module: Module) -> bool:
    """Whether a layer below ``module`` (or it) has not made its weights yet."""
    return any(getattr(m, "built", True) is False for m in module.modules())


@contextlib.contextmanager
def zero_batch_bound(check: Callable) -> Iterator[None]:
    """Inside: ``check(module, input_shape)`` runs before any zero batch is run through
    a module to find its shapes or build it (:func:`infer_output_shape`, and
    ``Model.build`` for a subclassed model), and may raise to refuse it.

    ``load_model`` bounds what a file may ask of such a batch this way; building from
    shapes alone (every chainrule layer, Sequential, functional graphs) runs none."""
    global _zero_batch_check
    previous, _zero_batch_check = _zero_batch_check, check
    try:
        yield
    finally:
        _zero_batch_check = previous


def check_zero_batch(module, input_shape) -> None:
    """Ask the active :func:`zero_batch_bound` check (if any) whether ``module`` may
    run a zero batch of ``input_shape`` (batch axis None; a list/dict of shapes for
    several inputs)."""
    if _zero_batch_check is not None:
        _zero_batch_check(module, input_shape)


def infer_output_shape(module, input_shape):
    """A module's output shape found by running it, Keras' ``compute_output_spec`` on
    NumPy: forward on zeros with every unknown dimension set to 2, then to 3; an output
    dimension that differs between the runs is unknown (None). Eval mode, no graph,
    every buffer and training flag restored. The fallback for layers without their own
    ``compute_output_shape``; bounded by :func:`zero_batch_bound` when one is active."""
    check_zero_batch(module, input_shape)
    flags = [(m, m.training) for m in module.modules()]
    saved = [(b, b.data.copy()) for _, b in module.named_buffers()]
    module.eval()
    try:
        with no_grad():
            runs = [shape_of(module(map_shapes(lambda s, n=n: _zeros_like_shape(s, n),
                                               input_shape)))
                    for n in (2, 3)]
    finally:
        for m, training in flags:
            object.__setattr__(m, "training", training)
        for b, data in saved:
            b.data = data
    leaves = iter(zip(flat_shapes(runs[0]), flat_shapes(runs[1])))

    def merge(_):
        a, b = next(leaves)
        return tuple(x if x == y else None for x, y in zip(a, b))

    return map_shapes(merge, runs[0])


class _CallDepth:
    """How deeply layer and model calls are nested right now (Keras' call context): the
    outermost call first clears the losses its modules added in the previous pass, so
    ``losses`` holds those of the latest forward pass, a shared layer's from each call."""

    depth = 0


def run_forward(module: Module, forward, *args, **kwargs):
    """``forward(*args, **kwargs)`` of ``module`` inside the call context (see
    :class:`_CallDepth`)."""
    if _CallDepth.depth == 0:
        module.clear_losses()
    _CallDepth.depth += 1
    try:
        return forward(*args, **kwargs)
    finally:
        _CallDepth.depth -= 1


class Layer(Operation, Module):
    """Base class of every Keras-named layer."""

    ends_with_activation = False  # True where forward(x, logits=True) skips self.activation
    supports_masking = False  # True: compute_mask hands the input's mask on unchanged
    preserves_dtype = False  # True: symbolic outputs keep the input dtype (Flatten)
    activity_regularizer = None  # a penalty on the output, added to ``losses`` per call

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # chainrule's own layers register themselves; any other class (a tutorial's, a
        # user's) goes through register_layer, so it can never shadow a built-in name
        if cls.__module__.startswith("chainrule.layers.") and not cls.__name__.startswith("_"):
            LAYER_REGISTRY.add(cls)

    def __init__(self, input_shape=None, input_dim=None, name: str | None = None,
                 trainable: bool = True, activity_regularizer=None, **unknown):
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s) "
                            f"{sorted(unknown)}.")
        super().__init__()
        self.built = False
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.name = name or unique_name(_snake(type(self).__name__))
        if input_dim is not None:
            input_shape = (input_dim,)
        self.input_shape = None if input_shape is None else tuple(
            (input_shape,) if isinstance(input_shape, int) else input_shape)
        if not trainable:
            self.trainable = False
        if self.input_shape is not None:
            self.build((None, *self.input_shape))
            self.built = True

    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis first; None
        where unknown): a tuple, or a list/dict of tuples for a list/dict of inputs."""

    def build_from_shape(self, input_shape) -> None:
        """``build(input_shape)`` once."""
        if not self.built:
            self.build(input_shape)
            self.built = True

    def __call__(self, inputs, *args, **kwargs):
        """``forward`` on ``inputs`` (a tensor, or a list/dict of them), building the
        layer first from their shapes; on KerasTensors, record the call instead."""
        if any_symbolic(inputs):
            return self.symbolic_call(inputs, *args, **kwargs)
        inputs = to_tensors(inputs)
        if not self.built:
            self.build(shape_of(inputs))
            self.built = True
        outputs = run_forward(self, self.forward, inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            self._add_activity_penalty(outputs, kwargs.get("logits", False))
        return outputs

    def _add_activity_penalty(self, outputs, logits: bool) -> None:
        """``activity_regularizer(output) / batch size`` for each output (Keras); with
        ``logits`` the output is taken after the activation the call skipped."""
        for out in outputs if isinstance(outputs, list | tuple) else [outputs]:
            if logits and self.ends_with_activation:
                out = self.activation(out)
            self.add_loss(self.activity_regularizer(out) / max(out.shape[0], 1))

    def compute_output_shape(self, input_shape):
        """The output shape (batch axis None) for inputs of ``input_shape``, without
        data. Each chainrule layer computes it; this fallback, for your own layers,
        runs ``forward`` on zeros (see :func:`infer_output_shape`)."""
        return infer_output_shape(self, input_shape)

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output, given its input's ``mask`` (None: no mask).
        Layers that keep the time axis pass it on (``supports_masking``); the others
        drop it, as in Keras."""
        return mask if self.supports_masking else None

    compute_mask.none_for_none = True  # no mask in, none out: models may skip the call

    @property
    def output_activation(self) -> str | None:
        """The built-in activation this layer's output ends with ("sigmoid", "softmax",
        ...) when ``layer(x, logits=True)`` gives the values before it (Dense, Conv1D,
        Conv2D, Activation); None otherwise. A model hands these logits to a loss that
        fuses the activation (see ``Model.compute_loss``)."""
        if not self.ends_with_activation:
            return None
        return activations.builtin_name(self.activation)

    def add_weight(self, name: str, shape: tuple, initializer="zeros",
                   trainable: bool = True, regularizer=None, constraint=None) -> Parameter:
        """Create a Parameter attribute ``name`` (frozen if the layer is), with its
        ``regularizer`` (a penalty in ``losses``) and ``constraint`` (applied after each
        optimizer step), each by name, object or None."""
        data = initializers.initialize(initializer, shape)
        p = Parameter(data, requires_grad=trainable and self._trainable,
                      regularizer=regularizers.get(regularizer),
                      constraint=constraints.get(constraint))
        setattr(self, name, p)
        return p

    def set_weight_options(self, weight: str, initializer, regularizer=None,
                           constraint=None) -> None:
        """Keep Keras' ``<weight>_initializer``, ``<weight>_regularizer`` and
        ``<weight>_constraint`` (``weight`` is "kernel", "bias", "recurrent", ...),
        checked now; ``weight_options`` hands them to ``add_weight``."""
        setattr(self, f"{weight}_initializer", initializers.check(initializer))
        setattr(self, f"{weight}_regularizer", regularizers.get(regularizer))
        setattr(self, f"{weight}_constraint", constraints.get(constraint))

    def weight_options(self, weight: str) -> dict:
        """``add_weight``'s initializer, regularizer and constraint for ``weight``."""
        return {option: getattr(self, f"{weight}_{option}")
                for option in ("initializer", "regularizer", "constraint")}

    def weight_options_config(self, *weights: str) -> dict:
        """The ``get_config`` entries of ``set_weight_options`` for each of ``weights``."""
        config = {}
        for weight in weights:
            config[f"{weight}_initializer"] = getattr(self, f"{weight}_initializer")
            config[f"{weight}_regularizer"] = regularizers.serialize(
                getattr(self, f"{weight}_regularizer"))
            config[f"{weight}_constraint"] = constraints.serialize(
                getattr(self, f"{weight}_constraint"))
        return config

    def add_state(self, name: str, shape: tuple, initializer="zeros") -> Tensor:
        """Create a non-trainable buffer ``name`` (e.g. a moving mean)."""
        t = Tensor(initializers.initialize(initializer, shape))
        self.register_buffer(name, t)
        return t

    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (JSON-able)."""
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def count_params(self) -> int:
        return sum(p.size for p in self.parameters())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k not in ("name", "trainable"))
        return f"{type(self).__name__}({args})"
