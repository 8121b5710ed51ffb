"""Metrics by Keras name: ``"accuracy"``, ``"precision"``, ``"auc"``, ... and
``confusion_matrix``.

A metric is a small stateful object: ``update(y_true, y_pred)`` folds in one batch
(NumPy arrays or Tensors; no graph is built), ``result()`` is the value over every
batch since the last ``reset()``. ``fit`` updates them once per step, so updates
are a handful of vectorised NumPy operations on running sums.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .registry import Registry


def _array(x) -> np.ndarray:
    return np.asarray(getattr(x, "data", x))


def _align(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop a trailing axis of 1 where one side has it and the other does not
    (targets (N,) against predictions (N, 1)), as Keras does."""
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_pred = y_pred[..., 0]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Metric: targets of shape {y_true.shape} do not match predictions "
                         f"of shape {y_pred.shape}.")
    return y_true, y_pred


class Metric:
    """Base class: running state, ``update``, ``result``, ``reset`` and a ``name``.

    ``_additive`` names the running-state attributes that add up over batches (counts,
    sums, lists of scores): ``merge_state`` adds other copies' into this one's.
    """

    name = "metric"
    _additive: tuple[str, ...] = ()

    def __init__(self, name: str | None = None):
        if name is not None:
            self.name = name
        self.reset()

    def reset(self) -> None:  # abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define reset()")

    def update(self, y_true, y_pred) -> None:  # abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define update()")

    def result(self) -> float:  # abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define result()")

    # Keras spellings
    def update_state(self, y_true, y_pred) -> None:
        self.update(y_true, y_pred)

    def reset_state(self) -> None:
        self.reset()

    def state(self) -> dict:
        """The running state that adds up over batches: ``{attribute: value}``."""
        return {name: getattr(self, name) for name in self._additive}

    def merge_state(self, states: list[dict]) -> None:
        """Fold ``states`` (the ``state()`` of copies of this metric that saw other
        batches, e.g. on other processes) into this one: ``result()`` is then the metric
        over all their batches together."""
        if not self._additive:
            raise NotImplementedError(f"{type(self).__name__} cannot merge_state: list its "
                                      f"additive state attributes in `_additive`.")
        for state in states:
            for name in self._additive:
                setattr(self, name, getattr(self, name) + state[name])

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __call__(self, y_true, y_pred) -> float:
        """The metric on one batch alone (the running state is left as it was)."""
        fresh = type(self).__new__(type(self))
        fresh.__dict__.update(self.__dict__)
        fresh.reset()
        fresh.update(y_true, y_pred)
        return fresh.result()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class _CountMetric(Metric):
    """A fraction of matching elements: ``correct / total``, kept as running ints."""

    _additive = ("correct", "total")

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def result(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def _count(self, hits: np.ndarray) -> None:
        self.correct += int(np.count_nonzero(hits))
        self.total += hits.size


class BinaryAccuracy(_CountMetric):
    """Fraction of predictions on the right side of ``threshold`` (0.5)."""

    name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name)

    def update(self, y_true, y_pred) -> None:
        y_true, y_pred = _align(_array(y_true), _array(y_pred))
        self._count((y_pred > self.threshold) == (y_true > 0.5))

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(_CountMetric):
    """One-hot targets (..., C): argmax of prediction equals argmax of target."""

    name = "categorical_accuracy"

    def update(self, y_true, y_pred) -> None:
        y_true, y_pred = _array(y_true), _array(y_pred)
        self._count(y_pred.argmax(axis=-1) == y_true.argmax(axis=-1))


class SparseCategoricalAccuracy(_CountMetric):
    """Integer targets (...,) or (..., 1) against scores (..., C): argmax equals target."""

    name = "sparse_categorical_accuracy"

    def update(self, y_true, y_pred) -> None:
        y_true, y_pred = _array(y_true), _array(y_pred)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        self._count(y_pred.argmax(axis=-1) == y_true)


class Accuracy(_CountMetric):
    """``"accuracy"``: binary, categorical or sparse, chosen from the shapes as Keras does.

    Predictions with one column (or none) are probabilities thresholded at 0.5;
    predictions (..., C) are compared by argmax with one-hot targets of the same
    shape, or with integer targets otherwise.
    """

    name = "accuracy"

    def update(self, y_true, y_pred) -> None:
        y_true, y_pred = _array(y_true), _array(y_pred)
        if y_pred.ndim == 0 or y_pred.shape[-1] == 1 or y_pred.ndim < y_true.ndim \
                or (y_pred.ndim == y_true.ndim == 1):
            y_true, y_pred = _align(y_true, y_pred)
            hits = (y_pred > 0.5) == (y_true > 0.5)
        elif y_true.shape == y_pred.shape:
            hits = y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)
        else:
            if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
                y_true = y_true[..., 0]
            hits = y_pred.argmax(axis=-1) == y_true
        self._count(hits)


class _ConfusionMetric(Metric):
    """Binary true/false positive counts at a threshold, element by element."""

    _additive = ("tp", "fp", "fn")

    def __init__(self, name: str | None = None, threshold: float = 0.5):
        self.threshold = threshold
        super().__init__(name)

    def reset(self) -> None:
        self.tp = self.fp = self.fn = 0

    def update(self, y_true, y_pred) -> None:
        y_true, y_pred = _align(_array(y_true), _array(y_pred))
        pred, true = y_pred > self.threshold, y_true > 0.5
        self.tp += int(np.count_nonzero(pred & true))
        self.fp += int(np.count_nonzero(pred & ~true))
        self.fn += int(np.count_nonzero(~pred & true))

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


class Precision(_ConfusionMetric):
    """tp / (tp + fp): of the predicted positives, the fraction that are positive."""

    name = "precision"

    def result(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0


class Recall(_ConfusionMetric):
    """tp / (tp + fn): of the actual positives, the fraction found."""

    name = "recall"

    def result(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


class AUC(Metric):
    """Area under the ROC curve over every batch since ``reset``, exact: the
    Mann-Whitney statistic, the fraction of (positive, negative) pairs whose scores
    are in the right order, tied scores counting one half (scikit-learn's
    ``roc_auc_score``; Keras approximates the same area with 200 thresholds).

    Linear in the number of scores over a run, however often ``result()`` is called
    (``fit`` calls it after every batch when a callback wants batch logs): each
    ``update`` counts its pairs against the scores seen so far, which are kept sorted
    in a few runs of doubling sizes (positives and negatives apart), so that
    ``result()`` is one division.
    """

    name = "auc"
    _additive = ("positives", "negatives", "twice_u")  # merged by merge_state below

    def reset(self) -> None:
        self.positives = _SortedRuns()
        self.negatives = _SortedRuns()
        self.twice_u = 0  # twice the Mann-Whitney U: an integer, so the sum is exact

    def update(self, y_true, y_pred) -> None:
        y_true, y_pred = _align(_array(y_true), _array(y_pred))
        labels = (y_true > 0.5).ravel()
        scores = y_pred.astype(np.float64).ravel()
        pos, neg = np.sort(scores[labels]), np.sort(scores[~labels])
        # pairs inside the batch, then against the positives and negatives seen before
        self.twice_u += _twice_pairs_below(pos, neg) + self.negatives.twice_pairs_below(pos) \
            + self.positives.twice_pairs_above(neg)
        self.positives.add(pos)
        self.negatives.add(neg)

    def result(self) -> float:
        n_pos, n_neg = self.positives.size, self.negatives.size
        if n_pos == 0 or n_neg == 0:
            return 0.0
        return self.twice_u / (2 * n_pos * n_neg)

    def state(self) -> dict:
        return {"positives": self.positives.sorted(), "negatives": self.negatives.sorted(),
                "twice_u": self.twice_u}

    def merge_state(self, states: list[dict]) -> None:
        """Each state's pairs, plus the pairs between its scores and those already here."""
        for state in states:
            pos, neg = state["positives"], state["negatives"]
            self.twice_u += state["twice_u"] + self.negatives.twice_pairs_below(pos) \
                + self.positives.twice_pairs_above(neg)
            self.positives.add(pos)
            self.negatives.add(neg)


def _twice_pairs_below(queries: np.ndarray, sorted_run: np.ndarray) -> int:
    """Twice the number of (q, s) pairs with s < q, ties counting one half: for each
    query, #(s < q) + #(s <= q)."""
    if not queries.size or not sorted_run.size:
        return 0
    return int(np.searchsorted(sorted_run, queries, "left").sum()
               + np.searchsorted(sorted_run, queries, "right").sum())


class _SortedRuns:
    """A growing multiset of scores kept as sorted runs whose sizes at least double
    from the newest to the oldest, so there are O(log n) runs and each score is
    merged O(log n) times: counting against all of them costs O(batch log² n)."""

    def __init__(self):
        self.runs: list[np.ndarray] = []
        self.size = 0

    def add(self, sorted_scores: np.ndarray) -> None:
        if not sorted_scores.size:
            return
        self.runs.append(sorted_scores)
        self.size += sorted_scores.size
        while len(self.runs) > 1 and self.runs[-2].size <= 2 * self.runs[-1].size:
            newer = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate([self.runs[-1], newer]), kind="stable")

    def sorted(self) -> np.ndarray:
        """Every stored score, sorted."""
        return np.sort(np.concatenate([np.empty(0), *self.runs]), kind="stable")

    def twice_pairs_below(self, queries: np.ndarray) -> int:
        """Twice the pairs (query, stored) with stored < query, ties one half."""
        return sum(_twice_pairs_below(queries, run) for run in self.runs)

    def twice_pairs_above(self, queries: np.ndarray) -> int:
        """Twice the pairs (query, stored) with stored > query, ties one half."""
        return 2 * queries.size * self.size - self.twice_pairs_below(queries)


class MeanMetricWrapper(Metric):
    """The batch-size-weighted mean of ``fn(y_true, y_pred)`` (per-sample values)."""

    _additive = ("sum", "count")

    def __init__(self, fn: Callable, name: str | None = None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def reset(self) -> None:
        self.sum = 0.0
        self.count = 0

    def update(self, y_true, y_pred) -> None:
        values = _array(self.fn(_array(y_true), _array(y_pred)))
        self.sum += float(values.sum())
        self.count += values.size

    def result(self) -> float:
        return self.sum / self.count if self.count else 0.0


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of squared errors over the last axis."""
    y_true, y_pred = _align(_array(y_true), _array(y_pred))
    return np.mean(np.square(y_pred - y_true).reshape(len(y_pred), -1), axis=-1) \
        if y_pred.ndim > 1 else np.square(y_pred - y_true)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean of absolute errors over the last axis."""
    y_true, y_pred = _align(_array(y_true), _array(y_pred))
    return np.mean(np.abs(y_pred - y_true).reshape(len(y_pred), -1), axis=-1) \
        if y_pred.ndim > 1 else np.abs(y_pred - y_true)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str | None = "mean_squared_error"):
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str | None = "mean_absolute_error"):
        super().__init__(mean_absolute_error, name)


METRICS = Registry("metric", {
    "accuracy": Accuracy, "acc": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "precision": Precision, "recall": Recall, "auc": AUC,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}, hint="(or pass a Metric or a function)")


def get(identifier) -> Metric:
    """A fresh metric from a Keras name (``"accuracy"``, ``"auc"``, ...) or class
    name (``"AUC"``), a config ``{"class_name": "Precision", "config": {...}}`` (as
    :func:`serialize` writes), a :class:`Metric` (returned as is), or a function
    ``fn(y_true, y_pred) -> per-sample values`` (averaged)."""
    return METRICS.get(identifier, Metric, make=_named, wrap=MeanMetricWrapper)


def _named(cls: type, name: str) -> Metric:
    """A metric asked for by a Keras name logs under that name ("acc"); by its class
    name, under its default one."""
    return cls() if name == cls.__name__ else cls(name=name)


def serialize(metric: Metric) -> dict:
    """``{"class_name": ..., "config": ...}``, the inverse of ``get(dict)``."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of samples with true class i predicted as j, (C, C) int64,
    as scikit-learn's. Labels are integers 0..C-1 (or booleans); ``num_classes``
    defaults to one more than the largest label seen."""
    y_true, y_pred = (_labels(_array(v), name) for v, name in
                      ((y_true, "y_true"), (y_pred, "y_pred")))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: y_true has {y_true.size} labels but y_pred "
                         f"has {y_pred.size}.")
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if y_true.size and max(y_true.max(), y_pred.max()) >= num_classes:
        raise ValueError(f"confusion_matrix: labels must be below num_classes={num_classes}.")
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def _labels(y: np.ndarray, name: str) -> np.ndarray:
    y = y.reshape(-1)
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError(f"confusion_matrix: {name} holds non-integer values (scores?); "
                             f"threshold them first, e.g. y_pred > 0.5.")
        y = y.astype(np.int64)
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"confusion_matrix: {name} holds negative labels.")
    return y
