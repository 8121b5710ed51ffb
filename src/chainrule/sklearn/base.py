"""``BaseNeuralNet``: what the classifier and the regressor share.

Parameters, building and compiling the model, ``fit`` / ``partial_fit`` /
``predict``, seeding, and pickling (weights as safetensors bytes). The subclasses
say how targets are encoded and predictions decoded.
"""

from __future__ import annotations

import contextlib
import copy
import numbers
from collections.abc import Iterator

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import backend, initializers
from ..io import decode_arrays, encode_arrays
from ..models import Model
from ..models.saving import assign_weights
from ..module import Module
from . import routing
from .builders import mlp


@contextlib.contextmanager
def seeded(random_state) -> Iterator[None]:
    """Inside: chainrule's generator starts from ``random_state`` (an int or a NumPy
    RandomState); afterwards the global generator continues as if nothing had run.
    ``None`` leaves the global generator alone."""
    if random_state is None:
        yield
        return
    seed = random_state if isinstance(random_state, numbers.Integral) \
        else check_random_state(random_state).randint(np.iinfo(np.int32).max)
    saved = backend.rng().bit_generator.state
    backend.manual_seed(int(seed))
    try:
        yield
    finally:
        backend.rng().bit_generator.state = saved


class BaseNeuralNet(BaseEstimator):
    """A chainrule model as a scikit-learn estimator (see ``docs/sklearn.md``).

    ``model``: a function (or class) that returns an uncompiled ``cr.models.Model``,
    called with the routed ``model__*`` parameters and, when its signature names them,
    ``meta`` (the dict below) or single entries of it (``n_features_in_``,
    ``n_outputs_``, ``output_activation_``, ``classes_``, ``n_classes_``,
    ``target_type_``); a Model instance (copied at each fit); or None for
    :func:`~chainrule.sklearn.mlp`. The estimator compiles it with ``optimizer``,
    ``loss`` (None: chosen from the target) and ``metrics``, and trains it with the fit
    settings; routed ``fit__*`` and ``predict__*`` parameters override those.
    ``random_state`` seeds initialisation, shuffling and dropout for each call to
    ``fit``, leaving chainrule's global generator as it was.
    """

    def __init__(self, model=None, *, optimizer="adam", loss=None, metrics=None,
                 epochs: int = 10, batch_size: int = 32, validation_split: float = 0.0,
                 callbacks=None, shuffle: bool = True, verbose: int = 0,
                 warm_start: bool = False, random_state=None, **routed_params):
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.shuffle = shuffle
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state
        vars(self).update(routed_params)

    # ------------------------------------------------------------ parameters

    def _extra_params(self) -> dict:
        """The keyword arguments beyond the named ones (checked by ``fit``, as
        scikit-learn validates nothing in ``__init__``)."""
        named = self._get_param_names()
        return {k: v for k, v in vars(self).items()
                if k not in named and not k.startswith("_") and not k.endswith("_")}

    def _routed_params(self) -> dict:
        return {k: v for k, v in self._extra_params().items() if routing.is_routed(k)}

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters and every routed ``<route>__<name>`` one."""
        return {**super().get_params(deep=deep), **self._extra_params()}

    def set_params(self, **params) -> BaseNeuralNet:
        """Set parameters; routed ones (``model__units``) may be new."""
        for key in [k for k in params if routing.is_routed(k)]:
            setattr(self, key, params.pop(key))
        if params:
            super().set_params(**params)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    # ------------------------------------------------------------ subclasses fill in

    def _validate_y(self) -> dict:
        """Keyword arguments of scikit-learn's ``validate_data`` for the target."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _validate_y()")

    def _learn_target(self, y: np.ndarray, classes=None) -> dict:
        """Set the target's fitted attributes (``classes_``, ``n_outputs_``...) and
        return what the model builder may ask for: ``n_outputs_`` (the width of the
        model's output) and ``output_activation_`` among them."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _learn_target()")

    def _encode_target(self, y: np.ndarray, loss) -> np.ndarray:
        """The targets as the compiled ``loss`` expects them."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _encode_target()")

    def _default_loss(self, width: int) -> str:
        """The loss used when ``loss`` is None, for a model with ``width`` outputs."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _default_loss()")

    def _check_output_width(self, width: int) -> None:
        """A ValueError when a model with ``width`` outputs cannot fit the target."""
        raise NotImplementedError(
            f"abstract: {type(self).__name__} must define _check_output_width()")

    # ------------------------------------------------------------ building

    def _new_model(self) -> Model:
        """A fresh model from ``self.model``, built for ``n_features_in_`` inputs and
        compiled with this estimator's optimizer, loss and metrics."""
        params = self._routed_params()
        model = self._instantiate(routing.routed(params, "model"))
        n_features = self._meta["n_features_in_"]
        model.build((None, n_features))
        width = model.predict(np.zeros((1, n_features), np.float32)).shape[-1]
        self._check_output_width(width)
        self._output_units = width
        loss = self._default_loss(width) if self.loss is None else self.loss
        model.compile(
            optimizer=routing.make_optimizer(copy.deepcopy(self.optimizer),
                                             routing.routed(params, "optimizer")),
            loss=routing.make_loss(copy.deepcopy(loss), routing.routed(params, "loss")),
            metrics=copy.deepcopy(self.metrics))
        return model

    def _instantiate(self, arguments: dict) -> Model:
        """Call the builder (or copy the model instance) that ``model`` names."""
        spec = self.model
        if isinstance(spec, Module):
            if arguments:
                raise ValueError(f"model__ parameters {sorted(arguments)} need `model` to be "
                                 f"a function that builds the model, not a model instance.")
            model = copy.deepcopy(spec)
        elif spec is None or callable(spec):
            model = routing.call_with_matching(mlp if spec is None else spec,
                                               {"meta": dict(self._meta), **self._meta},
                                               arguments)
        else:
            model = spec
        if not isinstance(model, Model):
            raise TypeError(f"`model` of {type(self).__name__} must be a chainrule Model or "
                            f"a function returning one; received {type(model).__name__}.")
        return model

    # ------------------------------------------------------------ training

    def fit(self, X, y, sample_weight=None, **fit_params) -> BaseNeuralNet:
        """Build a new model (unless ``warm_start`` and fitted) and train it on ``X``
        (N, n_features) and ``y``; ``fit_params`` override the fit settings
        (``epochs=3``). Returns self."""
        fresh = not (self.warm_start and self.__sklearn_is_fitted__())
        return self._fit(X, y, sample_weight, fit_params, fresh)

    def _partial_fit(self, X, y, sample_weight, classes=None) -> BaseNeuralNet:
        """One epoch, continuing from the current weights (building them first)."""
        return self._fit(X, y, sample_weight, {"epochs": 1},
                         not self.__sklearn_is_fitted__(), classes)

    def _fit(self, X, y, sample_weight, overrides: dict, fresh: bool,
             classes=None) -> BaseNeuralNet:
        routing.check_routed(self._extra_params(), type(self).__name__)
        X, y = validate_data(self, X, y, reset=fresh, dtype=(np.float64, np.float32),
                             **self._validate_y())
        sample_weight = _sample_weight(sample_weight, len(X))
        with seeded(self.random_state):
            if fresh:
                self._meta = {"n_features_in_": self.n_features_in_,
                              **self._learn_target(y, classes)}
                self.model_ = self._new_model()
                self.history_ = {}
            target = self._encode_target(y, self.model_.loss)
            self._check_sample_weight(target, sample_weight)
            history = self.model_.fit(X, target, sample_weight=sample_weight,
                                      **self._fit_arguments(overrides))
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(values)
        return self

    def _check_sample_weight(self, target: np.ndarray, sample_weight) -> None:
        """Classifiers refuse weights that leave one class; nothing here."""

    def _fit_arguments(self, overrides: dict) -> dict:
        arguments = {"epochs": self.epochs, "batch_size": self.batch_size,
                     "validation_split": self.validation_split, "callbacks": self.callbacks,
                     "shuffle": self.shuffle, "verbose": self.verbose,
                     **routing.routed(self._routed_params(), "fit"), **overrides}
        arguments["callbacks"] = copy.deepcopy(arguments["callbacks"])  # params stay as given
        return arguments

    # ------------------------------------------------------------ predicting

    def _raw_predict(self, X) -> np.ndarray:
        """The model's outputs (N, n_outputs_) on ``X`` checked as in ``fit``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        arguments = {"batch_size": self.batch_size,
                     **routing.routed(self._routed_params(), "predict")}
        return self.model_.predict(X, **arguments).astype(np.float64)

    # ------------------------------------------------------------ pickling

    def __getstate__(self) -> dict:
        """The estimator's state with the model as safetensors bytes: its weights and
        its optimizer's buffers (the optimizer's counters as plain values)."""
        state = dict(super().__getstate__())  # a copy: object's is the live __dict__
        model = state.pop("model_", None)
        if model is not None:
            optimizer = dict(model.optimizer.state_dict())
            state["_model_bytes"] = {
                "weights": encode_arrays(model.state_dict()),
                "optimizer_arrays": encode_arrays(optimizer.pop("arrays", {})),
                "optimizer": optimizer}
        return state

    def __setstate__(self, state: dict) -> None:
        """Rebuild the model as ``fit`` does (weights start as zeros, no random draws),
        then load the pickled weights and optimizer state into it."""
        packed = state.pop("_model_bytes", None)
        super().__setstate__(state)
        if packed is None:
            return
        weights = decode_arrays(packed["weights"], "the pickled weights")
        with initializers.placeholder_weights(sum(a.size for a in weights.values()) + 1024):
            model = self._new_model()
        assign_weights(model, weights, "the pickled weights")
        model.optimizer.load_state_dict(
            {**packed["optimizer"],
             "arrays": decode_arrays(packed["optimizer_arrays"], "the pickled optimizer")})
        self.model_ = model


def _sample_weight(sample_weight, n: int) -> np.ndarray | None:
    """``sample_weight`` as a float array (n,), or None."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), one weight per sample; "
                         f"received shape {weights.shape}.")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must hold finite, non-negative numbers.")
    if not weights.any():
        raise ValueError("sample_weight is zero for every sample; nothing to learn from.")
    return weights
