"""Keras-style loss objects: ``loss(y_true, y_pred, sample_weight=None)`` -> a scalar Tensor.

Each loss computes one value per sample (``call``) and reduces to the mean over the
batch, ``sum(sample_weight * per_sample) / N`` as Keras does (``SumSquaredError``
reduces to the full sum instead). Targets are aligned as in Keras: a ``y_true`` of
shape (N,) against a ``y_pred`` of shape (N, 1) gets the missing axis; any other
shape mismatch is a ValueError naming both shapes, never a silent broadcast.

Probabilities or logits. With ``from_logits=True`` the cross-entropies take logits
and use the fused, stable ops (finite loss and gradient for any finite logit).
With ``from_logits=False`` (the default) ``y_pred`` holds probabilities and, as
Keras does, they are clipped to [1e-7, 1 - 1e-7] before the log (in float16, where
1 - 1e-7 rounds to 1, to [epsneg, 1 - epsneg], epsneg = 2**-11): a saturated
wrong output costs -log(1e-7) = 16.1 and passes no gradient. That holds for any
probabilities (a view, a detached tensor, an array), in or out of ``no_grad``.
The stable path is chosen explicitly, not by looking at the graph: a model whose
output layer ends in the loss's matching activation (``Dense(1,
activation="sigmoid")`` with binary cross-entropy, a softmax with the categorical
ones) hands the loss its logits through :meth:`ProbabilisticLoss.on_logits`
(see ``Model.compute_loss``), in ``fit``, ``evaluate`` and a hand-written loop alike.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import functional as F
from .backend import get_default_dtype
from .registry import Registry
from .tensor import Tensor, as_tensor

EPSILON = 1e-7  # Keras' backend.epsilon(): the clip applied to probabilities


def epsilon(dtype) -> float:
    """The clip for probabilities of ``dtype``: Keras' 1e-7, or the gap below 1 where
    that is larger (float16: 1 - 1e-7 rounds to 1, and log(1 - p) to log 0)."""
    return max(EPSILON, float(np.finfo(dtype).epsneg))


# ---------------------------------------------------------------- helpers


def _as_prediction(y_pred) -> Tensor:
    """y_pred as a floating Tensor (integer predictions take the default dtype)."""
    y_pred = as_tensor(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = Tensor(y_pred.data.astype(get_default_dtype()))
    return y_pred


def _target_like(y_true, y_pred: Tensor):
    """y_true (array-like or Tensor) in y_pred's dtype; a Tensor stays one."""
    if isinstance(y_true, Tensor):
        return y_true.astype(y_pred.dtype)
    return np.asarray(y_true, dtype=y_pred.dtype)


def _add_last_axis(y):
    return y.unsqueeze(-1) if isinstance(y, Tensor) else y[..., None]


def _over_last_axis(fn: Callable, x: Tensor, target) -> Tensor:
    """``fn(x, target, reduction="none")`` of a torch-style class-axis function
    (``F.cross_entropy``, ``F.nll_loss``: classes on axis 1) with the classes on x's
    last axis, Keras' convention: x (..., C) is seen as (M, C) and the result
    reshaped back to (...)."""
    if x.ndim <= 2:
        return fn(x, target, reduction="none")
    lead = x.shape[:-1]
    flat_target = target.reshape((-1, *target.shape[len(lead):]))
    return fn(x.reshape(-1, x.shape[-1]), flat_target, reduction="none").reshape(lead)


class Loss:
    """Base class: subclasses define ``call(y_true, y_pred)`` -> per-sample losses."""

    default_name = "loss"
    reduction = "sum_over_batch_size"  # Keras' name for the (weighted) batch mean

    def __init__(self, name: str | None = None):
        self.name = name or self.default_name

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        """The loss of a batch: y_true and y_pred (N, ...), sample_weight (N,) -> scalar."""
        return self._reduce(self.call, y_true, y_pred, sample_weight)

    def _reduce(self, call: Callable, y_true, y_pred, sample_weight) -> Tensor:
        """Align the targets, ``call`` for per-sample values, weight, reduce."""
        y_pred = _as_prediction(y_pred)
        values = call(self.align(y_true, y_pred), y_pred)
        if sample_weight is not None:
            values = values * self._sample_weight(sample_weight, values)
        return values.sum() if self.reduction == "sum" else values.mean()

    def call(self, y_true, y_pred: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define call()")

    def align(self, y_true, y_pred: Tensor):
        """y_true cast to y_pred's dtype and shape: (N,) against (N, 1) gains the axis."""
        y_true = _target_like(y_true, y_pred)  # NumPy, lists, pandas or a Tensor
        shape = y_true.shape
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


class ProbabilisticLoss(Loss):
    """A cross-entropy: ``from_logits`` says whether ``y_pred`` holds logits or
    probabilities; ``activation`` names the output activation ("sigmoid", "softmax")
    whose logits :meth:`on_logits` takes. Subclasses define ``call_logits`` (fused,
    stable) and ``call_probabilities`` (Keras' clipped formula)."""

    activation = ""

    def __init__(self, from_logits: bool = False, name: str | None = None):
        self.from_logits = bool(from_logits)
        super().__init__(name)

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        if self.from_logits:
            return self.call_logits(y_true, y_pred)
        return self.call_probabilities(y_true, y_pred)

    def on_logits(self, y_true, logits, sample_weight=None) -> Tensor:
        """The loss of ``activation(logits)`` computed from the logits by the fused op,
        whatever ``from_logits`` says: what a model whose output layer ends in
        ``self.activation`` hands over instead of its probabilities (same shapes)."""
        return self._reduce(self.call_logits, y_true, logits, sample_weight)

    def call_logits(self, y_true, logits: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define call_logits()")

    def call_probabilities(self, y_true, probs: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError(
            f"abstract: {type(self).__name__} must define call_probabilities()")

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits}


class _SmoothedLoss(ProbabilisticLoss):
    """A cross-entropy with Keras' ``label_smoothing`` = e: the targets become
    t (1 - e) + e / K, K the number of classes (2 for the binary loss)."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 name: str | None = None):
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"Invalid value for argument `label_smoothing` of "
                             f"`{type(self).__name__}`: expected a float in [0, 1]; received "
                             f"label_smoothing={label_smoothing}.")
        self.label_smoothing = float(label_smoothing)
        super().__init__(from_logits, name)

    def classes(self, y_pred: Tensor) -> int:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define classes()")

    def align(self, y_true, y_pred: Tensor):
        y_true = super().align(y_true, y_pred)
        self.check_targets(y_true.data if isinstance(y_true, Tensor) else y_true)
        if not self.label_smoothing:
            return y_true
        e = self.label_smoothing
        return y_true * (1 - e) + e / self.classes(y_pred)

    def check_targets(self, values: np.ndarray) -> None:
        """Raise a ValueError naming targets this loss cannot take (before smoothing)."""

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class BinaryCrossentropy(_SmoothedLoss):
    """-(t log p + (1 - t) log(1 - p)), mean over the last axis then the batch.

    y_pred holds probabilities (logits with ``from_logits=True``); targets must lie in
    [0, 1] (a ValueError names the others). Probabilities are clipped to
    [1e-7, 1 - 1e-7], as Keras. ``label_smoothing`` = e moves the targets towards 1/2:
    t (1 - e) + e / 2.
    """

    default_name = "binary_crossentropy"
    activation = "sigmoid"

    def classes(self, y_pred: Tensor) -> int:
        return 2

    def call_logits(self, y_true, logits: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, y_true, reduction="none").mean(-1)

    def check_targets(self, values: np.ndarray) -> None:
        """Targets must lie in [0, 1]."""
        if values.size and not 0 <= values.min() <= values.max() <= 1:
            outside = np.unique(values[(values < 0) | (values > 1) | np.isnan(values)])
            raise ValueError(f"{type(self).__name__}: `y_true` must hold labels in [0, 1] "
                             f"(0/1 classes or probabilities); received {_shown(outside)} "
                             f"among them (values in [{values.min()}, {values.max()}]).")

    def call_probabilities(self, y_true, probs: Tensor) -> Tensor:
        eps = epsilon(probs.dtype)
        clipped = probs.clip(eps, 1 - eps)
        return F.binary_cross_entropy(clipped, y_true, reduction="none").mean(axis=-1)


class CategoricalCrossentropy(_SmoothedLoss):
    """-sum(t log p) over the last (class) axis, mean over the batch; one-hot or
    probability targets of y_pred's shape. Probabilities are renormalised to sum to 1
    and clipped, as Keras. ``label_smoothing`` = e mixes the targets with the uniform
    distribution over the C classes: t (1 - e) + e / C (Keras'; with integer targets,
    ``cr.functional.cross_entropy(label_smoothing=)`` is torch's)."""

    default_name = "categorical_crossentropy"
    activation = "softmax"

    def classes(self, y_pred: Tensor) -> int:
        return y_pred.shape[-1]

    def call_logits(self, y_true, logits: Tensor) -> Tensor:
        return _over_last_axis(F.cross_entropy, logits, y_true)

    def call_probabilities(self, y_true, probs: Tensor) -> Tensor:
        return -(y_true * _clipped_log_probs(probs)).sum(axis=-1)


class SparseCategoricalCrossentropy(ProbabilisticLoss):
    """-log p[y] with integer class targets y of y_pred's shape without the last axis
    (or with a last axis of 1); mean over the batch."""

    default_name = "sparse_categorical_crossentropy"
    activation = "softmax"

    def align(self, y_true, y_pred: Tensor) -> np.ndarray:
        """Integer targets (N,) in [0, C) for y_pred (N, C); (N, 1) is squeezed; float
        labels must be whole numbers (2.0, not 1.9)."""
        y = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
        if y.ndim == y_pred.ndim and y.shape[-1:] == (1,):
            y = y[..., 0]
        if y.shape != y_pred.shape[:-1]:
            raise ValueError(f"{type(self).__name__}: y_true has shape {y.shape} but y_pred "
                             f"has shape {y_pred.shape}; expected one class index per "
                             f"sample, of shape {y_pred.shape[:-1]}.")
        if y.dtype.kind not in "iu":
            y = _whole_labels(y, type(self).__name__)
        n_classes = y_pred.shape[-1]
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            bad = np.unique(y[(y < 0) | (y >= n_classes)])
            raise ValueError(f"{type(self).__name__}: `y_true` must hold class indices in "
                             f"[0, {n_classes}) for {n_classes} classes; received "
                             f"{_shown(bad)} (values in [{y.min()}, {y.max()}]).")
        return y

    def call_logits(self, y_true: np.ndarray, logits: Tensor) -> Tensor:
        return _over_last_axis(F.cross_entropy, logits, y_true)

    def call_probabilities(self, y_true: np.ndarray, probs: Tensor) -> Tensor:
        return _over_last_axis(F.nll_loss, _clipped_log_probs(probs), y_true)


def _shown(values: np.ndarray) -> str:
    """Up to five values as their dtype prints them (float32 1.9 as 1.9)."""
    return "[" + ", ".join(map(str, values[:5])) + (", ...]" if values.size > 5 else "]")


def _whole_labels(y: np.ndarray, owner: str) -> np.ndarray:
    """Float or bool class labels as int64 if every one is a whole number."""
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        bad = np.unique(y[~(np.isfinite(y) & (y == np.round(y)))])
        raise ValueError(f"{owner}: `y_true` must hold whole class indices; received "
                         f"{_shown(bad)} (use integer labels; one-hot targets go to "
                         f"categorical_crossentropy).")
    if y.dtype.kind not in "fb":
        raise TypeError(f"{owner}: `y_true` must hold integer class indices; received "
                        f"dtype {y.dtype}.")
    return y.astype(np.int64)


def _clipped_log_probs(y_pred: Tensor) -> Tensor:
    """log of probabilities renormalised over the last axis and clipped to [eps, 1 - eps]."""
    p = y_pred / y_pred.sum(axis=-1, keepdims=True)
    eps = epsilon(p.dtype)
    return p.clip(eps, 1 - eps).log()


class LossFunctionWrapper(Loss):
    """A plain function ``fn(y_true, y_pred) -> per-sample losses`` as a Loss object."""

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "loss"))

    def call(self, y_true, y_pred: Tensor) -> Tensor:
        return as_tensor(self.fn(y_true, y_pred))


# ---------------------------------------------------------------- lookup

LOSSES = Registry("loss", {
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
}, hint="(or pass a Loss object or a function)")


def get(identifier) -> Loss:
    """A Loss from a name ("mse", "binary_crossentropy", ...), a class name, a Loss class
    (instantiated with its defaults), a Loss instance (returned unchanged), a config
    dict ``{"class_name": ..., "config": {...}}``, or a function ``fn(y_true, y_pred)``
    returning per-sample losses (wrapped so alignment and sample weights apply)."""
    return LOSSES.get(identifier, Loss, wrap=LossFunctionWrapper)


def serialize(loss: Loss) -> dict:
    """``{"class_name": ..., "config": ...}``, the inverse of ``get(dict)``."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
