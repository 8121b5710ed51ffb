"""``Model``: a Module that can ``compile``, ``fit``, ``evaluate``, ``predict``,
``summary`` and ``save`` (Keras' API), and still trains in a hand-written loop.

Subclass it and define ``forward`` (PyTorch style), or use
:class:`~chainrule.models.Sequential`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from .. import activations, losses, optim
from .. import metrics as metrics_module
from ..autograd import no_grad
from ..layers.base import _snake, unique_name
from ..module import Module
from ..registry import Registry
from ..tensor import Tensor
from . import saving, training
from . import summary as summary_module

# The formats ``Model.export`` writes, by name: each is an exit above this floor that
# registers its writer here when chainrule is imported (chainrule.onnx adds "onnx"),
# as Sequential registers itself in the layer registry for load_model.
EXPORT_FORMATS = Registry("export format")


class Model(Module):
    """Base class of trainable models: subclass it and define ``forward(x)``.

    ``compile`` picks the optimizer, loss and metrics; ``fit`` trains; the model is
    also an ordinary Module (``parameters()``, ``state_dict()``, ``train()``).
    """

    input_dtype: str | None = None  # "int64" for models whose input is token ids

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        for name, value in (("optimizer", None), ("loss", None), ("compiled_metrics", []),
                            ("stop_training", False), ("history", None),
                            ("_build_input_shape", None), ("_build_input_dtype", None),
                            ("name", _snake(cls.__name__))):
            object.__setattr__(self, name, value)
        return self

    def __init__(self, name: str | None = None):
        super().__init__()
        self.name = name or unique_name(_snake(type(self).__name__))

    def __call__(self, x, *args, **kwargs):
        if self._build_input_shape is None and hasattr(x, "shape") and len(x.shape):
            self._build_input_shape = (None, *tuple(x.shape)[1:])
            self._build_input_dtype = str(x.dtype)
        return self.forward(x, *args, **kwargs)

    # ------------------------------------------------------------ structure

    @property
    def layers(self) -> list[Module]:
        """The direct sub-modules, in the order they were assigned."""
        return list(self._modules.values())

    @property
    def output_activation(self) -> str | None:
        """The built-in activation the model's outputs end with ("sigmoid", "softmax"),
        when its ``forward(x, logits=True)`` can stop before it; None here. Sequential
        answers with its last layer's (``Dense(1, activation="sigmoid")``)."""
        return None

    def _summary_children(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def _known_input_shape(self) -> tuple | None:
        if self._build_input_shape is not None:
            return self._build_input_shape
        children = self._summary_children()
        first = children[0][1] if children else None
        shape = getattr(first, "input_shape", None)
        return None if shape is None else (None, *shape)

    def _integer_input(self) -> bool:
        return self.input_dtype is not None and np.dtype(self.input_dtype).kind in "iub"

    def build(self, input_shape: tuple, dtype=None) -> None:
        """Create every lazily built weight by running a zero batch of ``input_shape``
        ((None, features...) or (features...)) through the model; nothing learned changes."""
        input_shape = tuple(input_shape)
        if not input_shape or input_shape[0] is not None:
            input_shape = (None, *input_shape)
        summary_module.run_zero_batch(self, input_shape, dtype or self.input_dtype)
        self._build_input_shape = input_shape

    def count_params(self) -> int:
        """Number of parameter values (trainable and frozen)."""
        return sum(p.size for p in self.parameters())

    def summary(self, line_length: int = 72, print_fn: Callable | None = None) -> None:
        """Print each layer's name, class, output shape and parameter count, and the
        trainable/non-trainable totals (frozen weights and moving statistics are
        non-trainable). Works before any data when the first layer has input_dim/input_shape."""
        summary_module.print_summary(self, line_length, print_fn)

    # ------------------------------------------------------------ compile and train

    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose how to train: ``optimizer`` and ``loss`` by name or object,
        ``metrics`` a list of names ("accuracy", "auc", ...) or Metric objects."""
        if optimizer is None:
            raise ValueError("compile needs an optimizer, e.g. optimizer=\"adam\".")
        optimizer = optim.get(optimizer)
        if optimizer.params is None:
            optimizer.attach(self.parameters())
        self.optimizer = optimizer
        self.loss = None if loss is None else losses.get(loss)
        self.compiled_metrics = _unique_names([metrics_module.get(m) for m in metrics or []])

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss is None:
            missing = "compile()" if self.optimizer is None else "a loss in compile()"
            raise RuntimeError(f"{type(self).__name__}.{what} needs {missing} first, e.g. "
                               f"model.compile(optimizer=\"adam\", loss=\"mse\").")

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *(m.name for m in self.compiled_metrics)]

    def compute_loss(self, x, y, sample_weight=None) -> Tensor:
        """The compiled loss of the batch ``x`` (N, ...) against targets ``y``: a scalar
        Tensor. ``fit`` and ``evaluate`` use it, and so can a hand-written loop::

            loss = model.compute_loss(xb, yb); opt.zero_grad(); loss.backward(); opt.step()

        When the loss is a cross-entropy on probabilities whose activation the model's
        output ends with (``binary_crossentropy`` after a sigmoid, the categorical ones
        after a softmax), the loss is computed from the logits by the fused, stable op;
        the value is the same with or without ``no_grad``."""
        return self._loss_and_predictions(x, y, sample_weight)[0]

    def _loss_and_predictions(self, x, y, sample_weight=None) -> tuple[Tensor, np.ndarray]:
        """compute_loss, and the predictions (probabilities) as an array for the metrics."""
        if self.loss is None:
            raise RuntimeError(f"{type(self).__name__} has no loss: call model.compile("
                               f"optimizer=..., loss=...) first.")
        if y is None:
            raise ValueError(f"{type(self).__name__} needs targets y to compute its loss: "
                             f"call fit(x, y, ...) (for an autoencoder, fit(x, x)), or pass "
                             f"a loader that yields (x, y) batches.")
        if not self._loss_takes_logits():
            y_pred = self(x)
            return self.loss(y, y_pred, sample_weight), y_pred.data
        logits = self(x, logits=True)
        with no_grad():
            y_pred = activations.get(self.output_activation)(logits)
        return self.loss.on_logits(y, logits, sample_weight), y_pred.data

    def _loss_takes_logits(self) -> bool:
        """Whether the loss is a cross-entropy on probabilities whose activation
        (sigmoid, softmax) the model's output ends with: then it is handed the logits."""
        loss = self.loss
        return isinstance(loss, losses.ProbabilisticLoss) and not loss.from_logits \
            and loss.activation == self.output_activation

    def update_metrics(self, y, y_pred: np.ndarray) -> None:
        """Fold a batch's targets and predictions into every compiled metric."""
        for m in self.compiled_metrics:
            m.update(y, y_pred)

    def train_step(self, x: np.ndarray, y: np.ndarray, sample_weight=None) -> dict:
        """One optimisation step on a batch; returns its logs, ``{"loss": value}``
        (``fit`` averages each entry over the epoch). Override it to customise training,
        as the GAN does."""
        loss, y_pred = self._loss_and_predictions(x, y, sample_weight)
        optimizer = self.optimizer
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        self.update_metrics(y, y_pred)
        return {"loss": float(loss.data)}

    def test_step(self, x: np.ndarray, y: np.ndarray, sample_weight=None) -> dict:
        """The logs of a batch without training, ``{"loss": value}`` (``evaluate`` runs
        it in eval mode under no_grad)."""
        loss, y_pred = self._loss_and_predictions(x, y, sample_weight)
        self.update_metrics(y, y_pred)
        return {"loss": float(loss.data)}

    def fit(self, x=None, y=None, batch_size: int | None = 32, epochs: int = 1,
            verbose: int = 1, callbacks=None, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight=None, initial_epoch: int = 0,
            validation_batch_size: int | None = None):
        """Train for ``epochs`` passes over ``x, y`` in batches; returns a History whose
        ``.history`` maps "loss", metric names and "val_*" to per-epoch lists.

        ``validation_split`` holds out the last fraction of the data (before
        shuffling); ``class_weight`` {class: weight} weights each sample's loss.
        ``x`` may also be a DataLoader yielding (x, y) batches."""
        return training.fit(self, x, y, batch_size=batch_size, epochs=epochs,
                            verbose=verbose, validation_split=validation_split,
                            validation_data=validation_data, shuffle=shuffle,
                            callbacks=callbacks, class_weight=class_weight,
                            sample_weight=sample_weight, initial_epoch=initial_epoch,
                            validation_batch_size=validation_batch_size)

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
        """Constructor arguments for ``save``; subclasses override it (and register the
        class with ``cr.models.register_layer``) to be saved whole."""
        raise NotImplementedError(
            f"{type(self).__name__} has no get_config(), so model.save() cannot record its "
            f"architecture. Use save_weights()/load_weights(), or define get_config() "
            f"returning its constructor arguments and register the class with "
            f"cr.models.register_layer.")

    @classmethod
    def from_config(cls, config: dict) -> Model:
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



def _unique_names(metrics: list) -> list:
    """Give repeated metric names a suffix (accuracy, accuracy_1) so logs keep both."""
    seen: dict[str, int] = {}
    for m in metrics:
        if m.name in seen:
            seen[m.name] += 1
            m.name = f"{m.name}_{seen[m.name]}"
        else:
            seen[m.name] = 0
    return metrics
