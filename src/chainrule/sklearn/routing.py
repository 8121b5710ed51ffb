"""Routed parameters, scikeras-style: ``model__units=8`` goes to the function that
builds the model, ``optimizer__learning_rate=0.01`` to the optimizer, ``loss__...`` to
the loss, ``fit__epochs=5`` to ``Model.fit`` and ``predict__batch_size=256`` to
``Model.predict``. They are ordinary estimator parameters: ``get_params`` lists them,
``set_params`` and ``GridSearchCV`` set them, ``clone`` copies them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from .. import losses, optim

ROUTES = ("model", "optimizer", "loss", "fit", "predict")


def is_routed(name: str) -> bool:
    """Whether ``name`` is a routed parameter (``"<route>__<argument>"``)."""
    route, sep, argument = name.partition("__")
    return bool(sep) and bool(argument) and route in ROUTES


def check_routed(params: dict, owner: str) -> None:
    """A TypeError naming any keyword argument that is not a routed parameter."""
    wrong = sorted(k for k in params if not is_routed(k))
    if wrong:
        raise TypeError(f"{owner} got unexpected keyword argument(s) {wrong}; extra arguments "
                        f"must be routed: one of {[r + '__<name>' for r in ROUTES]}.")


def routed(params: dict, route: str) -> dict:
    """The arguments routed to ``route``, without the prefix: {"units": 8}."""
    prefix = f"{route}__"
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def call_with_matching(fn: Callable, offered: dict, required: dict):
    """Call ``fn`` with ``required`` (the routed ``model__`` arguments, all passed) and
    those of ``offered`` (``meta`` and its keys) that its signature names."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return fn(**required)
    extra = {k: v for k, v in offered.items() if k in parameters and k not in required}
    return fn(**extra, **required)


def make_optimizer(spec, arguments: dict) -> optim.Optimizer:
    """An optimizer from a name (Keras defaults), class or instance, with ``arguments``
    (``optimizer__*``) overriding its hyperparameters."""
    if isinstance(spec, optim.Optimizer):
        if arguments:
            raise ValueError(f"optimizer__ parameters {sorted(arguments)} need an optimizer "
                             f"given by name or class, not an instance.")
        return spec
    if isinstance(spec, str) and arguments:
        cls = optim.OPTIMIZERS.lookup(spec)
        defaults = dict(optim.KERAS_DEFAULTS[cls])
        if "learning_rate" in arguments:
            defaults.pop("lr", None)
        return cls(**{**defaults, **arguments})
    if isinstance(spec, type) and issubclass(spec, optim.Optimizer):
        return spec(**arguments)
    return optim.get(spec)


def make_loss(spec, arguments: dict) -> losses.Loss:
    """A loss from a name, class, instance or function, with ``arguments``
    (``loss__*``) passed to a named or given class."""
    if arguments:
        cls = losses.LOSSES.lookup(spec) if isinstance(spec, str) else spec
        if not (isinstance(cls, type) and issubclass(cls, losses.Loss)):
            raise ValueError(f"loss__ parameters {sorted(arguments)} need a loss given by "
                             f"name or class; received {spec!r:.100}.")
        return cls(**arguments)
    return losses.get(spec)
