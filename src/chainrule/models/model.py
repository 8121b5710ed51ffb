"""``Model``: a Module that can ``compile``, ``fit``, ``evaluate``, ``predict``,
``summary`` and ``save`` (Keras' API), and still trains in a hand-written loop.

Subclass it and define ``forward`` (PyTorch style), use
:class:`~chainrule.models.Sequential`, or draw a graph of layers on ``cr.Input``
and make ``Model(inputs, outputs)`` (the Functional API, ``functional_api.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from .. import losses, optim
from ..layers.base import (
    _snake,
    has_unbuilt_layers,
    infer_output_shape,
    run_forward,
    unique_name,
)
from ..layers.node import Operation, any_symbolic, forward_takes_mask
from ..layers.serialization import register_layer
from ..module import Module
from ..registry import Registry
from ..tensor import Tensor
from . import compile_utils, saving, training
from . import summary as summary_module
from .functional_api import FunctionalAPI

# The formats ``Model.export`` writes, by name: each is an exit above this floor that
# registers its writer here when chainrule is imported (chainrule.onnx adds "onnx"),
# as Sequential registers itself in the layer registry for load_model.
EXPORT_FORMATS = Registry("export format")


class Model(FunctionalAPI, Operation, Module):
    """Base class of trainable models: subclass it and define ``forward(x)``, or give
    it a graph of layers: ``Model(inputs, outputs, name=None)`` with ``inputs`` from
    ``cr.Input`` (one, a list or a dict) and ``outputs`` the layers' symbolic outputs.

    ``compile`` picks the optimizer, loss and metrics; ``fit`` trains; the model is
    also an ordinary Module (``parameters()``, ``state_dict()``, ``train()``).
    """

    input_dtype: str | None = None  # "int64" for models whose input is token ids

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        for name, value in (("optimizer", None), ("loss", None), ("compiled_metrics", []),
                            ("loss_weights", None), ("_metric_entries", []),
                            ("stop_training", False), ("history", None),
                            ("_build_input_shape", None), ("_build_input_dtype", None),
                            ("name", _snake(cls.__name__))):
            object.__setattr__(self, name, value)
        return self

    def __init__(self, inputs=None, outputs=None, name: str | None = None):
        super().__init__()
        graph = inputs is not None or outputs is not None
        if isinstance(inputs, str) and outputs is None and name is None:
            inputs, graph, name = None, False, inputs  # Model("name"), as before
        stem = "functional" if graph and type(self) is Model else _snake(type(self).__name__)
        self.name = name or unique_name(stem)
        if graph:
            if inputs is None or outputs is None:
                raise ValueError("Model(inputs, outputs) needs both `inputs` and `outputs`.")
            self._set_graph(inputs, outputs)

    def __call__(self, x, *args, **kwargs):
        """``forward(x)``; on symbolic tensors (``cr.Input``) the call is recorded, so
        a model is used as a layer inside another."""
        if any_symbolic(x):
            return self.symbolic_call(x, *args, **kwargs)
        self._note_input(x)
        return run_forward(self, self.forward, x, *args, **kwargs)

    def _note_input(self, x) -> None:
        """Remember the first input's shape and dtype (summary and save use them)."""
        if self._build_input_shape is None and hasattr(x, "shape") and len(x.shape):
            self._build_input_shape = (None, *tuple(x.shape)[1:])
            self._build_input_dtype = str(x.dtype)

    def forward(self, inputs, logits: bool = False, mask=None):
        """Run the graph of a ``Model(inputs, outputs)`` on ``inputs`` (one array, a
        list in input order or a dict by input name); the outputs come back as they
        were given (one, a list or a dict). ``logits=True``: outputs whose layer ends
        with an activation stop before it. Subclasses define their own ``forward``."""
        if self._graph is None:
            raise NotImplementedError(f"{type(self).__name__} must define forward(), or be "
                                      f"built as Model(inputs, outputs).")
        return self._run_graph(inputs, mask, logits)[0]

    def call_and_mask(self, x, mask=None, *args, **kwargs) -> tuple:
        """(outputs, output mask) in one pass; a subclassed model whose ``forward``
        takes ``mask=`` receives ``mask``, and its output has no mask."""
        if self._graph is not None:
            return self._run_graph(x, mask, *args, **kwargs)
        if mask is not None and forward_takes_mask(self):
            kwargs["mask"] = mask
        return self(x, *args, **kwargs), None

    def compute_output_shape(self, input_shape):
        """The output shape for inputs of ``input_shape`` (batch axis None): through the
        graph's layers for ``Model(inputs, outputs)``; a subclassed model runs on zeros
        to find it (see ``infer_output_shape``) unless it overrides this method."""
        if self._graph is not None:
            return self._graph_output_shape(input_shape)
        return infer_output_shape(self, input_shape)

    def build_from_shape(self, input_shape) -> None:
        """Build from a symbolic call's input shape (once; a graph is built already)."""
        if self._graph is None and self._build_input_shape is None:
            self.build(input_shape)

    # ------------------------------------------------------------ structure

    @property
    def layers(self) -> list[Module]:
        """The direct sub-modules, in the order they were assigned; for a graph, its
        layers (Input layers first) in the order they run."""
        return list(self._modules.values())

    @property
    def output_activation(self) -> str | None:
        """The built-in activation the model's outputs end with ("sigmoid", "softmax"),
        when its ``forward(x, logits=True)`` can stop before it: a one-output graph
        answers with its output layer's; None for subclassed models. Sequential
        answers with its last layer's (``Dense(1, activation="sigmoid")``)."""
        graph = self._graph
        return graph.output_activations[0] if graph is not None and \
            len(graph.output_activations) == 1 else None

    @property
    def output_activations(self) -> list[str | None]:
        """``output_activation`` per output (``forward(x, logits=True)`` gives the
        values before it)."""
        if self._graph is not None:
            return list(self._graph.output_activations)
        return [self.output_activation]

    def _summary_children(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def _known_input_shape(self) -> tuple | None:
        if self._graph is not None:
            return None
        if self._build_input_shape is not None:
            return self._build_input_shape
        children = self._summary_children()
        first = children[0][1] if children else None
        shape = getattr(first, "input_shape", None)
        return None if shape is None else (None, *shape)

    def _integer_input(self) -> bool:
        """Whether integer input data stays integer (token ids) instead of becoming float."""
        if self._graph is not None:
            return self._graph.input_tensors[0].dtype.kind in "iub"
        return self.input_dtype is not None and np.dtype(self.input_dtype).kind in "iub"

    def build(self, input_shape: tuple, dtype=None) -> None:
        """Create every lazily built weight for inputs of ``input_shape`` ((None,
        features...) or (features...)); nothing learned changes. A subclass that defines
        its own ``compute_output_shape`` (building its parts on the way, as
        ``Autoencoder`` does with ``output_shape_of``) is built from shapes alone; any
        other, or one whose parts that leaves unbuilt, runs a zero batch through
        ``forward`` (which ``load_model`` bounds)."""
        if self._graph is not None:
            return  # a graph is built when it is drawn
        input_shape = tuple(input_shape)
        if not input_shape or input_shape[0] is not None:
            input_shape = (None, *input_shape)
        if self._has_shape_rule():
            self.compute_output_shape(input_shape)
        if not self._has_shape_rule() or has_unbuilt_layers(self):
            summary_module.run_zero_batch(self, input_shape, dtype or self.input_dtype)
        self._build_input_shape = input_shape

    def _has_shape_rule(self) -> bool:
        """Whether a subclassed model says its output shape itself (no zero batch)."""
        return type(self).compute_output_shape is not Model.compute_output_shape

    def count_params(self) -> int:
        """Number of parameter values (trainable and frozen)."""
        return sum(p.size for p in self.parameters())

    def summary(self, line_length: int = 72, print_fn: Callable | None = None) -> None:
        """Print each layer's name, class, output shape and parameter count, and the
        trainable/non-trainable totals (frozen weights and moving statistics are
        non-trainable). Works before any data when the first layer has input_dim/input_shape."""
        summary_module.print_summary(self, line_length, print_fn)

    # ------------------------------------------------------------ compile and train

    def compile(self, optimizer="rmsprop", loss=None, metrics=None,
                loss_weights=None, **keras_only) -> None:
        """Choose how to train: ``optimizer`` and ``loss`` by name or object,
        ``metrics`` a list of names ("accuracy", "auc", ...) or Metric objects (or one).

        With several outputs, ``loss``, ``loss_weights`` and ``metrics`` may each be a
        list in output order or a dict by output name (``model.output_names``); one
        loss serves every output; an output without a loss is not trained. The loss
        ``fit`` minimises is the weighted sum of the outputs' losses. Keras' execution
        settings (``jit_compile``, ``run_eagerly``, ``steps_per_execution``,
        ``auto_scale_loss``) are ignored with a warning: chainrule runs eagerly."""
        compile_utils.ignore_execution_settings(keras_only)
        if optimizer is None:
            raise ValueError("compile needs an optimizer, e.g. optimizer=\"adam\".")
        names = self.output_names
        output_losses = None if loss is None else compile_utils.output_losses(loss, names)
        weights = compile_utils.output_loss_weights(loss_weights, names)
        entries = compile_utils.output_metrics(metrics, names)
        optimizer = optim.get(optimizer)
        if optimizer.params is None:
            optimizer.attach(self.parameters())
        self.optimizer = optimizer
        self.loss = output_losses if output_losses is None or len(names) > 1 \
            else output_losses[0]
        self.loss_weights = None if loss_weights is None else weights
        self._metric_entries = entries
        self.compiled_metrics = [metric for _, metric, _ in entries]

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss is None:
            missing = "compile()" if self.optimizer is None else "a loss in compile()"
            raise RuntimeError(f"{type(self).__name__}.{what} needs {missing} first, e.g. "
                               f"model.compile(optimizer=\"adam\", loss=\"mse\").")

    @property
    def _losses(self) -> list:
        """The compiled loss per output (None for an output that is not trained)."""
        return self.loss if isinstance(self.loss, list) else [self.loss]

    @property
    def metrics_names(self) -> list[str]:
        """The keys of the logs: "loss", each output's "<output>_loss" when there are
        several, then the metrics ("<output>_<metric>" when there are several outputs)."""
        per_output = [f"{name}_loss" for name, loss in zip(self.output_names, self._losses)
                      if loss is not None] if isinstance(self.loss, list) else []
        return ["loss", *per_output, *(name for _, _, name in self._metric_entries)]

    def compute_loss(self, x, y, sample_weight=None) -> Tensor:
        """The compiled loss of the batch ``x`` (N, ...) against targets ``y``: a scalar
        Tensor. ``fit`` and ``evaluate`` use it, and so can a hand-written loop::

            loss = model.compute_loss(xb, yb); opt.zero_grad(); loss.backward(); opt.step()

        When the loss is a cross-entropy on probabilities whose activation the model's
        output ends with (``binary_crossentropy`` after a sigmoid, the categorical ones
        after a softmax), the loss is computed from the logits by the fused, stable op;
        the value is the same with or without ``no_grad``. With several outputs it is
        the weighted sum of their losses, each output choosing this way for itself;
        ``y`` is then a list in output order or a dict by output name. The penalties
        in ``model.losses`` (weight and activity regularizers) are added, as Keras does."""
        return self._loss_and_predictions(x, y, sample_weight)[0]

    def _split_targets(self, y) -> list:
        """Targets per output: ``y`` itself for one output; for several, a list in
        output order or a dict by output name."""
        names = self.output_names
        if len(names) == 1:
            return [y[names[0]] if isinstance(y, dict) and names[0] in y else y]
        if isinstance(y, dict):
            return [y.get(name) for name in names]
        if not isinstance(y, list | tuple) or len(y) != len(names):
            raise ValueError(f"{type(self).__name__} has {len(names)} outputs {names}: give "
                             f"targets as a list of {len(names)} arrays or a dict by output "
                             f"name.")
        return list(y)

    def _loss_and_predictions(self, x, y, sample_weight=None) -> tuple:
        """compute_loss, the predictions (probabilities) as arrays for the metrics (one
        array, or a list per output) and each output's loss value."""
        if self.loss is None:
            raise RuntimeError(f"{type(self).__name__} has no loss: call model.compile("
                               f"optimizer=..., loss=...) first.")
        if y is None:
            raise ValueError(f"{type(self).__name__} needs targets y to compute its loss: "
                             f"call fit(x, y, ...) (for an autoencoder, fit(x, x)), or pass "
                             f"a loader that yields (x, y) batches.")
        targets, fused = self._split_targets(y), self._fused_outputs()
        outputs = self(x, logits=True) if any(fused) else self(x)
        if not isinstance(self.loss, list):
            outputs = [outputs]
        elif isinstance(outputs, dict):
            outputs = [outputs[name] for name in self.output_names]
        weights = self.loss_weights or [1.0] * len(outputs)
        total, predictions, values = None, [], []
        for name, loss, weight, target, out, takes_logits, activation in zip(
                self.output_names, self._losses, weights, targets, outputs, fused,
                self.output_activations):
            if loss is not None and target is None:
                raise ValueError(f"Output '{name}' of {type(self).__name__} has a loss but "
                                 f"no targets were given for it.")
            value, prediction = compile_utils.output_loss(loss, target, out, takes_logits,
                                                          activation, any(fused),
                                                          sample_weight)
            predictions.append(prediction)
            if value is not None:
                values.append(float(value.data))
                term = value if weight == 1.0 else value * weight
                total = term if total is None else total + term
        for penalty in self.losses:
            total = penalty if total is None else total + penalty
        single = not isinstance(self.loss, list)
        return total, predictions[0] if single else predictions, values

    def _fused_outputs(self) -> list[bool]:
        """Per output: whether its loss is a cross-entropy on probabilities whose
        activation (sigmoid, softmax) the output ends with; it is then handed logits."""
        return [isinstance(loss, losses.ProbabilisticLoss) and not loss.from_logits
                and loss.activation == activation
                for loss, activation in zip(self._losses, self.output_activations)]

    def _loss_takes_logits(self) -> bool:
        return any(self._fused_outputs())

    def update_metrics(self, y, y_pred) -> None:
        """Fold a batch's targets and predictions into every compiled metric (with
        several outputs, ``y`` and ``y_pred`` are per output)."""
        if not isinstance(self.loss, list):
            for m in self.compiled_metrics:
                m.update(y, y_pred)
            return
        targets = self._split_targets(y)
        for index, metric, _ in self._metric_entries:
            metric.update(targets[index], y_pred[index])

    def reset_metrics(self) -> None:
        for m in self.compiled_metrics:
            m.reset()

    def metric_results(self) -> dict:
        """The compiled metrics' results by log name."""
        return {name: float(metric.result()) for _, metric, name in self._metric_entries}

    def _step_logs(self, loss: Tensor, values: list) -> dict:
        logs = {"loss": float(loss.data)}
        if isinstance(self.loss, list):
            names = [n for n, loss_ in zip(self.output_names, self._losses) if loss_ is not None]
            logs.update({f"{name}_loss": v for name, v in zip(names, values)})
        return logs

    def train_step(self, x: np.ndarray, y: np.ndarray, sample_weight=None) -> dict:
        """One optimisation step on a batch; returns its logs, ``{"loss": value}``
        (and ``"<output>_loss"`` per output when there are several; ``fit`` averages
        each entry over the epoch). Override it to customise training, as the GAN does."""
        loss, y_pred, values = self._loss_and_predictions(x, y, sample_weight)
        optimizer = self.optimizer
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        self.update_metrics(y, y_pred)
        return self._step_logs(loss, values)

    def test_step(self, x: np.ndarray, y: np.ndarray, sample_weight=None) -> dict:
        """The logs of a batch without training, ``{"loss": value}`` (``evaluate`` runs
        it in eval mode under no_grad)."""
        loss, y_pred, values = self._loss_and_predictions(x, y, sample_weight)
        self.update_metrics(y, y_pred)
        return self._step_logs(loss, values)

    def fit(self, x=None, y=None, batch_size: int | None = 32, epochs: int = 1,
            verbose: int = 1, callbacks=None, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight=None, initial_epoch: int = 0,
            validation_batch_size: int | None = None, distributed: bool = False):
        """Train for ``epochs`` passes over ``x, y`` in batches; returns a History whose
        ``.history`` maps "loss", metric names and "val_*" to per-epoch lists.

        ``validation_split`` holds out the last fraction of the data (before
        shuffling); ``class_weight`` {class: weight} weights each sample's loss.
        ``x`` may also be a DataLoader yielding (x, y) batches. ``distributed=True``
        (after ``cr.distributed.init()``) trains data-parallel over the processes
        mpiexec started, ``batch_size`` rows on each (see docs/distributed.md)."""
        return training.fit(self, x, y, batch_size=batch_size, epochs=epochs,
                            verbose=verbose, validation_split=validation_split,
                            validation_data=validation_data, shuffle=shuffle,
                            callbacks=callbacks, class_weight=class_weight,
                            sample_weight=sample_weight, initial_epoch=initial_epoch,
                            validation_batch_size=validation_batch_size,
                            distributed=distributed)

    def evaluate(self, x=None, y=None, batch_size: int | None = 32, verbose: int = 0,
                 sample_weight=None, return_dict: bool = False):
        """The loss (a float) without metrics, else ``[loss, *metrics]``; a dict with
        ``return_dict``. Runs in eval mode without building a graph."""
        return training.evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                                 sample_weight=sample_weight, return_dict=return_dict)

    def predict(self, x, batch_size: int | None = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs as a NumPy array, in batches, in eval mode and without a
        graph; every module's training flag is restored afterwards."""
        return training.predict(self, x, batch_size=batch_size, verbose=verbose)

    def predict_on_batch(self, x) -> np.ndarray:
        return self.predict(x, batch_size=len(x))

    # ------------------------------------------------------------ saving

    def get_config(self) -> dict:
        """Constructor arguments for ``save``: a ``Model(inputs, outputs)`` gives its
        graph; subclasses override it (and register the class with
        ``cr.models.register_layer``) to be saved whole."""
        if self._graph is not None:
            return self._graph_config()
        raise NotImplementedError(
            f"{type(self).__name__} has no get_config(), so model.save() cannot record its "
            f"architecture. Use save_weights()/load_weights(), or define get_config() "
            f"returning its constructor arguments and register the class with "
            f"cr.models.register_layer.")

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Model:
        """A model from ``get_config()``: a graph config is rebuilt layer by layer
        (see ``graph_config.py``); anything else goes to the constructor."""
        if "input_layers" in config:
            return cls._from_graph_config(config, custom_objects)
        return cls(**config)

    def save(self, filepath: str | os.PathLike) -> None:
        """Write architecture, weights, optimizer state and compile settings to one zip
        file at ``filepath`` (atomically); ``cr.models.load_model`` reads it back."""
        saving.save_model(self, filepath)

    def export(self, filepath: str | os.PathLike, format: str = "onnx", **kwargs):
        """Write the model for another runtime: ``format="onnx"`` is
        ``cr.onnx.export(model, filepath, sample_input=None)`` (see docs/onnx.md)."""
        return EXPORT_FORMATS.lookup(format)(self, filepath, **kwargs)

    def save_weights(self, filepath: str | os.PathLike) -> None:
        """Write the state_dict alone as a safetensors file (atomically)."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike) -> None:
        """Load weights saved by ``save_weights`` (or a full model file); all or nothing."""
        saving.load_weights(self, filepath)


register_layer(Model)  # load_model rebuilds Model(inputs, outputs) graphs by this name
