"""scikit-learn estimators around chainrule models (the ``chainrule[sklearn]`` extra).

``NeuralNetClassifier`` and ``NeuralNetRegressor`` take a model, or a function that
builds one, and work wherever a scikit-learn estimator does: ``Pipeline``,
``GridSearchCV``, ``cross_val_score``, ``clone``, ``pickle``. Parameters routed by
prefix reach the model builder (``model__``), optimizer, loss, ``fit`` and
``predict``, as in scikeras. ``import chainrule`` does not import this module.
See ``docs/sklearn.md``.
"""

from .base import BaseNeuralNet
from .builders import mlp
from .estimators import NeuralNetClassifier, NeuralNetRegressor, class_probabilities

__all__ = ["BaseNeuralNet", "NeuralNetClassifier", "NeuralNetRegressor",
           "class_probabilities", "mlp"]
