"""``NeuralNetClassifier`` and ``NeuralNetRegressor``: chainrule models inside
scikit-learn pipelines, grid searches and cross-validation."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets

from .. import losses
from .base import BaseNeuralNet


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(N, C) class probabilities in float64 from a classifier model's outputs: one
    sigmoid column (N, 1) gives [1 - p, p]; a softmax (N, C) is kept. Rows are
    renormalised to sum to 1."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape[1] == 1:
        outputs = np.hstack([1.0 - outputs, outputs])
    return outputs / outputs.sum(axis=1, keepdims=True)


class NeuralNetClassifier(ClassifierMixin, BaseNeuralNet):
    """A chainrule classifier with scikit-learn's interface (parameters: see
    :class:`~chainrule.sklearn.base.BaseNeuralNet`).

    Labels may be any sortable values (ints, strings); ``classes_`` holds them sorted.
    The model must end with one sigmoid unit (two classes) or a softmax over
    ``n_classes_`` units; the default loss is binary or sparse categorical
    cross-entropy accordingly (``loss="categorical_crossentropy"`` gets one-hot
    targets). ``predict_proba`` returns (N, n_classes_) rows that sum to 1.
    """

    def _validate_y(self) -> dict:
        return {}

    def _learn_target(self, y: np.ndarray, classes=None) -> dict:
        check_classification_targets(y)
        self.classes_ = np.unique(y if classes is None else classes)
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                             f"y holds one class, {self.classes_.tolist()}.")
        binary = self.n_classes_ == 2
        return {"classes_": self.classes_, "n_classes_": self.n_classes_,
                "target_type_": "binary" if binary else "multiclass",
                "n_outputs_": 1 if binary else self.n_classes_,
                "output_activation_": "sigmoid" if binary else "softmax"}

    def _encode_target(self, y: np.ndarray, loss) -> np.ndarray:
        codes = np.searchsorted(self.classes_, y)
        unknown = (codes >= self.n_classes_) | (self.classes_[np.minimum(
            codes, self.n_classes_ - 1)] != y)
        if unknown.any():
            raise ValueError(f"y holds labels {np.unique(y[unknown]).tolist()[:10]} that are "
                             f"not among the classes {self.classes_.tolist()} of the first fit.")
        if isinstance(loss, losses.CategoricalCrossentropy):
            return np.eye(self.n_classes_, dtype=np.float32)[codes]
        return codes.astype(np.float32) if self._output_units == 1 else codes

    def _default_loss(self, width: int) -> str:
        return "binary_crossentropy" if width == 1 else "sparse_categorical_crossentropy"

    def _check_output_width(self, width: int) -> None:
        if width == self.n_classes_ or (width == 1 and self.n_classes_ == 2):
            return
        raise ValueError(f"The model gives {width} outputs; {type(self).__name__} with "
                         f"{self.n_classes_} classes needs "
                         + ("1 (sigmoid) or 2 (softmax)." if self.n_classes_ == 2
                            else f"{self.n_classes_} (softmax)."))

    def _check_sample_weight(self, target: np.ndarray, sample_weight) -> None:
        if sample_weight is None:
            return
        codes = target.argmax(axis=1) if target.ndim == 2 else target.astype(np.int64)
        weighted = np.unique(codes[sample_weight > 0])
        if len(weighted) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes with "
                             f"positive sample_weight; only the class "
                             f"{self.classes_[weighted].tolist()} has any.")

    def partial_fit(self, X, y, classes=None, sample_weight=None) -> NeuralNetClassifier:
        """One epoch on ``X, y``, continuing from the current weights. ``classes`` (all
        labels, on the first call) is needed when the first batch lacks some."""
        return self._partial_fit(X, y, sample_weight, classes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (N, n_classes_), columns in the order of ``classes_``."""
        return class_probabilities(self._raw_predict(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (N,), as labels from ``classes_``."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class NeuralNetRegressor(RegressorMixin, BaseNeuralNet):
    """A chainrule regressor with scikit-learn's interface (parameters: see
    :class:`~chainrule.sklearn.base.BaseNeuralNet`).

    ``y`` is (N,) or (N, n_outputs_); the model's output has ``n_outputs_`` units
    (linear, for the default mean squared error). ``predict`` returns the shape ``y``
    had: (N,) or (N, n_outputs_).
    """

    def _validate_y(self) -> dict:
        return {"multi_output": True, "y_numeric": True}

    def _learn_target(self, y: np.ndarray, classes=None) -> dict:
        self._y_ndim = y.ndim
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return {"n_outputs_": self.n_outputs_, "output_activation_": None,
                "target_type_": "continuous" if self.n_outputs_ == 1
                else "continuous-multioutput"}

    def _encode_target(self, y: np.ndarray, loss) -> np.ndarray:
        return np.asarray(y, dtype=np.float32).reshape(len(y), self.n_outputs_)

    def _default_loss(self, width: int) -> str:
        return "mse"

    def _check_output_width(self, width: int) -> None:
        if width != self.n_outputs_:
            raise ValueError(f"The model gives {width} outputs; y has {self.n_outputs_} "
                             f"column(s), so {type(self).__name__} needs {self.n_outputs_}.")

    def partial_fit(self, X, y, sample_weight=None) -> NeuralNetRegressor:
        """One epoch on ``X, y``, continuing from the current weights."""
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predictions (N,) or (N, n_outputs_), the shape ``y`` had in ``fit``."""
        out = self._raw_predict(X)
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
