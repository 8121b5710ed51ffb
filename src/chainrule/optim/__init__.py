"""Optimizers and learning-rate schedules (PyTorch's update rules and names).

``cr.optim.Adam(model.parameters(), lr=1e-3)`` as in torch; the optimizer may also be
made without parameters and handed to ``model.compile``, which attaches them.
"""

from __future__ import annotations

from ..registry import Registry
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grad_norm
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, StepLR
from .sgd import SGD

# Keras' names and Keras' defaults: compile(optimizer="adam") should train like Keras.
# The update rules stay PyTorch's (eps added outside the square root).
OPTIMIZERS = Registry("optimizer", {"sgd": SGD, "adam": Adam, "adamw": AdamW,
                                    "rmsprop": RMSprop, "adagrad": Adagrad},
                      hint="(or pass an Optimizer instance or class)")
KERAS_DEFAULTS: dict[type[Optimizer], dict] = {
    SGD: {"lr": 0.01},
    Adam: {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7},
    AdamW: {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004},
    RMSprop: {"lr": 0.001, "alpha": 0.9, "eps": 1e-7},
    Adagrad: {"lr": 0.001, "initial_accumulator_value": 0.1, "eps": 1e-7},
}


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
    if isinstance(identifier, dict):
        return OPTIMIZERS.lookup(identifier.get("name"))(**identifier.get("hyperparameters", {}))
    cls = OPTIMIZERS.lookup(identifier)
    return cls(**KERAS_DEFAULTS[cls])
