"""Keras-style loss objects: ``loss(y_true, y_pred, sample_weight=None)`` -> a scalar Tensor.

Each loss computes one value per sample (``call``) and reduces to the mean over the
batch, ``sum(sample_weight * per_sample) / N`` as Keras does (``SumSquaredError``
reduces to the full sum instead). Targets are aligned as in Keras: a ``y_true`` of
shape (N,) against a ``y_pred`` of shape (N, 1) gets the missing axis; any other
shape mismatch is a ValueError naming both shapes, never a silent broadcast.

Stability, as Keras: with ``from_logits=False``, a ``y_pred`` made by a sigmoid (or a
last-axis softmax) is traced back to its logits and the fused, stable op is used, so
a saturated output gives a finite loss and gradient. Other probabilities are
clipped to [1e-7, 1 - 1e-7] before the log. (Under ``no_grad`` no graph is kept, so
the clipped form is used there.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import functional as F
from .backend import get_default_dtype
from .functional import _float_target, _pick_class
from .ops.activation import Sigmoid, Softmax
from .ops.loss import SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy
from .tensor import Tensor, as_tensor

EPSILON = 1e-7  # Keras' backend.epsilon(): the clip applied to probabilities


# ---------------------------------------------------------------- helpers


def _as_prediction(y_pred) -> Tensor:
    """y_pred as a floating Tensor (integer predictions take the default dtype)."""
    y_pred = as_tensor(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = Tensor(y_pred.data.astype(get_default_dtype()))
    return y_pred


def _shape(x) -> tuple:
    return x.shape if isinstance(x, Tensor | np.ndarray) else np.shape(x)


def _add_last_axis(y):
    return y.unsqueeze(-1) if isinstance(y, Tensor) else y[..., None]


def _logits_of(y_pred: Tensor, op: type) -> Tensor | None:
    """The input of the sigmoid/softmax that produced ``y_pred``, if it did (Keras'
    ``_keras_logits``); softmax counts only over the last axis."""
    ctx = y_pred._ctx
    if not isinstance(ctx, op) or ctx.parents is None:
        return None
    if op is Softmax and getattr(ctx, "axis", None) not in (-1, y_pred.ndim - 1):
        return None
    parent = ctx.parents[0]
    if isinstance(parent, Tensor):
        return parent  # the activation was applied to a leaf
    return Tensor._from_op(ctx.logits, parent)  # a tensor for the logits, in the same graph


# ---------------------------------------------------------------- base


class Loss:
    """Base class: subclasses define ``call(y_true, y_pred)`` -> per-sample losses."""

    default_name = "loss"
    reduction = "sum_over_batch_size"  # Keras' name for the (weighted) batch mean

    def __init__(self, name: str | None = None):
        self.name = name or self.default_name

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        """The loss of a batch: y_true and y_pred (N, ...), sample_weight (N,) -> scalar."""
        y_pred = _as_prediction(y_pred)
        values = self.call(self.align(y_true, y_pred), y_pred)
        if sample_weight is not None:
            values = values * self._sample_weight(sample_weight, values)
        return values.sum() if self.reduction == "sum" else values.mean()

    def call(self, y_true, y_pred: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define call()")

    def align(self, y_true, y_pred: Tensor):
        """y_true cast to y_pred's dtype and shape: (N,) against (N, 1) gains the axis."""
        y_true = _float_target(y_true, y_pred)  # NumPy, lists, pandas or a Tensor
        shape = _shape(y_true)
        if shape == y_pred.shape:
            return y_true
        if y_pred.ndim and y_pred.shape[-1] == 1 and shape == y_pred.shape[:-1]:
            return _add_last_axis(y_true)
        raise ValueError(f"{type(self).__name__}: y_true has shape {shape} but y_pred has "
                         f"shape {y_pred.shape}; they must be equal (a y_true of shape (N,) "
                         f"is also accepted against y_pred of shape (N, 1)).")

    def _sample_weight(self, sample_weight, values: Tensor) -> np.ndarray:
        """Weights (N,) (or (N, ...) matching the per-sample losses' leading axes)."""
        w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor)
                       else sample_weight, dtype=values.dtype)
        while w.ndim > values.ndim and w.shape[-1] == 1:
            w = w[..., 0]
        if w.shape != values.shape[:w.ndim]:
            raise ValueError(f"{type(self).__name__}: sample_weight of shape {w.shape} does "
                             f"not match the per-sample losses of shape {values.shape}; "
                             f"expected one weight per sample.")
        return w.reshape(w.shape + (1,) * (values.ndim - w.ndim))

    def get_config(self) -> dict:
        """Constructor arguments, JSON-able (model save stores them)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------- regression


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2) over the last axis, then over the batch."""

    default_name = "mean_squared_error"

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        return F.mse_loss(y_pred, y_true, reduction="none").mean(axis=-1)


class SumSquaredError(Loss):
    """sum((y_pred - y_true)**2) over everything: the tutorial's loss."""

    default_name = "sum_squared_error"
    reduction = "sum"

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        squared = F.mse_loss(y_pred, y_true, reduction="none")
        return squared.sum(axis=tuple(range(1, squared.ndim))) if squared.ndim > 1 else squared


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis, then over the batch."""

    default_name = "mean_absolute_error"

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        return F.l1_loss(y_pred, y_true, reduction="none").mean(axis=-1)


class Huber(Loss):
    """0.5 d**2 where |d| <= delta, else delta (|d| - delta / 2); mean over the last axis."""

    default_name = "huber_loss"

    def __init__(self, delta: float = 1.0, name: str | None = None):
        if delta <= 0:
            raise ValueError(f"Invalid value for argument `delta` of `Huber`: expected a "
                             f"positive float; received delta={delta}.")
        self.delta = float(delta)
        super().__init__(name)

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        return F.huber_loss(y_pred, y_true, reduction="none", delta=self.delta).mean(axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "delta": self.delta}


# ---------------------------------------------------------------- classification


class _ProbabilisticLoss(Loss):
    """Shared ``from_logits`` handling."""

    def __init__(self, from_logits: bool = False, name: str | None = None):
        self.from_logits = bool(from_logits)
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits}


class BinaryCrossentropy(_ProbabilisticLoss):
    """-(t log p + (1 - t) log(1 - p)), mean over the last axis then the batch.

    y_pred holds probabilities (logits with ``from_logits=True``); targets in [0, 1].
    """

    default_name = "binary_crossentropy"

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        logits = y_pred if self.from_logits else _logits_of(y_pred, Sigmoid)
        if logits is not None:
            values = SigmoidBinaryCrossEntropy.apply(logits, y_true)
        else:
            values = F.binary_cross_entropy(y_pred.clip(EPSILON, 1 - EPSILON), y_true,
                                            reduction="none")
        return values.mean(axis=-1)


class CategoricalCrossentropy(_ProbabilisticLoss):
    """-sum(t log p) over the last (class) axis, mean over the batch; one-hot or
    probability targets of y_pred's shape. Probabilities are renormalised to sum to 1
    and clipped, as Keras."""

    default_name = "categorical_crossentropy"

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        logits = y_pred if self.from_logits else _logits_of(y_pred, Softmax)
        if logits is not None:
            return SoftmaxCrossEntropy.apply(logits, y_true, axis=-1)
        return -(y_true * _clipped_log_probs(y_pred)).sum(axis=-1)


class SparseCategoricalCrossentropy(_ProbabilisticLoss):
    """-log p[y] with integer class targets y of y_pred's shape without the last axis
    (or with a last axis of 1); mean over the batch."""

    default_name = "sparse_categorical_crossentropy"

    def align(self, y_true, y_pred: Tensor) -> np.ndarray:
        """Integer targets (N,) for y_pred (N, C); (N, 1) is squeezed, floats truncated."""
        y = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
        if y.ndim == y_pred.ndim and y.shape[-1:] == (1,):
            y = y[..., 0]
        if y.shape != y_pred.shape[:-1]:
            raise ValueError(f"{type(self).__name__}: y_true has shape {y.shape} but y_pred "
                             f"has shape {y_pred.shape}; expected one class index per "
                             f"sample, of shape {y_pred.shape[:-1]}.")
        return y if y.dtype.kind in "iu" else y.astype(np.int64)

    def call(self, y_true: np.ndarray, y_pred: Tensor) -> Tensor:
        logits = y_pred if self.from_logits else _logits_of(y_pred, Softmax)
        if logits is not None:
            return SoftmaxCrossEntropy.apply(logits, y_true, axis=-1)
        n_classes = y_pred.shape[-1]
        if y_true.size and (y_true.min() < 0 or y_true.max() >= n_classes):
            raise IndexError(f"{type(self).__name__}: class indices must be in "
                             f"[0, {n_classes}); received values in "
                             f"[{y_true.min()}, {y_true.max()}].")
        return -_pick_class(_clipped_log_probs(y_pred), y_true, -1)


def _clipped_log_probs(y_pred: Tensor) -> Tensor:
    """log of probabilities renormalised over the last axis and clipped to [eps, 1 - eps]."""
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    return p.clip(EPSILON, 1 - EPSILON).log()


class LossFunctionWrapper(Loss):
    """A plain function ``fn(y_true, y_pred) -> per-sample losses`` as a Loss object."""

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "loss"))

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        return as_tensor(self.fn(y_true, y_pred))


# ---------------------------------------------------------------- lookup

_BY_NAME: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "sse": SumSquaredError,
    "sum_squared_error": SumSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "huber_loss": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_BY_CLASS_NAME: dict[str, type[Loss]] = {cls.__name__: cls for cls in set(_BY_NAME.values())}


def get(identifier) -> Loss:
    """A Loss from a name ("mse", "binary_crossentropy", ...), a class name, a Loss class
    (instantiated with its defaults), a Loss instance (returned unchanged), a config
    dict ``{"class_name": ..., "config": {...}}``, or a function ``fn(y_true, y_pred)``
    returning per-sample losses (wrapped so alignment and sample weights apply)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _BY_CLASS_NAME.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss {identifier!r}; choose one of "
                             f"{sorted(_BY_NAME)} or pass a Loss object or a function.")
        return cls()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in _BY_CLASS_NAME:
            raise ValueError(f"Unknown loss class {name!r} in config {identifier!r}; choose "
                             f"one of {sorted(_BY_CLASS_NAME)}.")
        return _BY_CLASS_NAME[name].from_config(identifier.get("config", {}))
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"Cannot interpret {identifier!r} as a loss: pass a name, a Loss class or "
                    f"instance, or a function.")


def serialize(loss: Loss) -> dict:
    """``{"class_name": ..., "config": ...}``, the inverse of ``get(dict)``."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
