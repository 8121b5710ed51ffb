"""The default model of the estimators: a multilayer perceptron sized from the data."""

from __future__ import annotations

from collections.abc import Sequence

from ..layers import Dense, Dropout
from ..models import Sequential


def mlp(meta: dict, hidden_layer_sizes: Sequence[int] = (100,), activation: str = "relu",
        dropout: float = 0.0) -> Sequential:
    """Dense layers of ``hidden_layer_sizes`` units (each followed by Dropout when
    ``dropout`` > 0), then the output layer ``meta`` asks for: one sigmoid unit for two
    classes, a softmax over K classes, or ``n_outputs_`` linear units for regression.

    Input (N, n_features_in_) -> output (N, n_outputs_). Routed as ``model__*``:
    ``NeuralNetClassifier(model__hidden_layer_sizes=(64, 32))``.
    """
    model = Sequential()
    for units in hidden_layer_sizes:
        model.add(Dense(int(units), activation=activation))
        if dropout:
            model.add(Dropout(dropout))
    model.add(Dense(meta["n_outputs_"], activation=meta["output_activation_"]))
    return model
