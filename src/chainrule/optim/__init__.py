"""Optimizers and learning-rate schedules (PyTorch's update rules and names).

``cr.optim.Adam(model.parameters(), lr=1e-3)`` as in torch; the optimizer may also be
made without parameters and handed to ``model.compile``, which attaches them.
"""

from __future__ import annotations

from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, StepLR
from .sgd import SGD

# Keras' names and Keras' defaults: compile(optimizer="adam") should train like Keras.
# The update rules stay PyTorch's (eps added outside the square root).
KERAS_DEFAULTS: dict[str, tuple[type[Optimizer], dict]] = {
    "sgd": (SGD, {"lr": 0.01}),
    "adam": (Adam, {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7}),
    "adamw": (AdamW, {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004}),
    "rmsprop": (RMSprop, {"lr": 0.001, "alpha": 0.9, "eps": 1e-7}),
    "adagrad": (Adagrad, {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7}),
}
_CLASSES = {cls.__name__: cls for cls, _ in KERAS_DEFAULTS.values()}


def get(identifier) -> Optimizer:
    """An optimizer from a Keras name, a class, a config dict or an instance.

    Names ("sgd", "adam", "adamw", "rmsprop", "adagrad", any case) give instances with
    KERAS defaults, not torch's: adam lr=0.001 eps=1e-7; adamw also weight_decay=0.004;
    rmsprop lr=0.001 alpha (Keras' rho)=0.9 eps=1e-7; sgd lr=0.01; adagrad lr=0.001
    initial_accumulator_value=0.1 eps=1e-7. A class is instantiated with its own
    (torch) defaults; ``{"name": "Adam", "hyperparameters": {...}}`` (the start of a
    ``state_dict``) rebuilds one; an Optimizer instance is returned unchanged.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in KERAS_DEFAULTS:
        cls, defaults = KERAS_DEFAULTS[identifier.lower()]
        return cls(**defaults)
    if isinstance(identifier, dict) and identifier.get("name") in _CLASSES:
        return _CLASSES[identifier["name"]](**identifier.get("hyperparameters", {}))
    raise ValueError(f"Unknown optimizer {identifier!r}; choose one of "
                     f"{sorted(KERAS_DEFAULTS)}, or pass an Optimizer instance or class.")
