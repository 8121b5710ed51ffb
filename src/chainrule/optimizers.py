"""Keras' optimizer names and arguments: ``keras.optimizers.Adam(learning_rate=1e-3)``.

Each class is a thin subclass of chainrule's optimizer of the same name
(:mod:`chainrule.optim`) whose only content is Keras' signature: ``learning_rate``
first, Keras' argument names (``beta_1``, ``beta_2``, ``epsilon``, ``rho``) and
Keras' default values, which are ``cr.optim.KERAS_DEFAULTS`` (what
``compile(optimizer="adam")`` uses too). The update rules are chainrule's (PyTorch's;
docs/keras.md says where Keras' differ). ``compile`` attaches the model's parameters;
a hand-written loop passes ``params=model.parameters()``. Saved and loaded, each
is its ``cr.optim`` parent with the same hyperparameters.

Keras' ``weight_decay`` is decoupled (p -= lr * weight_decay * p before the step):
Adam takes it as torch's ``decoupled_weight_decay``; SGD without momentum, where the
two forms agree, as torch's ``weight_decay``; elsewhere it is refused. Keras arguments
that would change the updates (``clipnorm``, ``use_ema``, ...) are refused; ``name``
and ``jit_compile`` are ignored with a warning.
"""

from __future__ import annotations

import warnings

from . import optim
from .optim import KERAS_DEFAULTS, Optimizer

_IGNORED = ("name", "jit_compile")
_ADAM = KERAS_DEFAULTS[optim.Adam]
_ADAMW = KERAS_DEFAULTS[optim.AdamW]
_RMSPROP = KERAS_DEFAULTS[optim.RMSprop]
_ADAGRAD = KERAS_DEFAULTS[optim.Adagrad]


def _keras_only(owner: str, arguments: dict) -> None:
    """Warn about Keras arguments without effect here; refuse those that would change
    the updates (a set ``clipnorm`` silently dropped would train differently)."""
    refused = sorted(k for k, v in arguments.items() if k not in _IGNORED
                     and v not in (None, False))
    if refused:
        raise ValueError(f"keras.optimizers.{owner}: chainrule does not support the Keras "
                         f"argument(s) {refused}; clip with cr.optim.clip_grad_norm in a "
                         f"hand-written loop, or leave them out.")
    ignored = sorted(k for k in arguments if k in _IGNORED)
    if ignored:
        warnings.warn(f"keras.optimizers.{owner} ignores {ignored}.", stacklevel=3)


def _coupled_weight_decay(owner: str, weight_decay, equal_forms: bool) -> float:
    """Keras' ``weight_decay`` where it equals torch's (added to the gradient)."""
    if not weight_decay:
        return 0.0
    if not equal_forms:
        raise ValueError(f"keras.optimizers.{owner}(weight_decay=...) is Keras' decoupled "
                         f"decay, which chainrule's {owner} rule does not have; use "
                         f"kernel_regularizer=cr.regularizers.L2(...) or cr.optim.{owner}("
                         f"weight_decay=...) (torch's, added to the gradient).")
    return float(weight_decay)


class SGD(optim.SGD):
    """Keras' SGD(learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None)."""

    def __init__(self, learning_rate: float = KERAS_DEFAULTS[optim.SGD]["lr"],
                 momentum: float = 0.0, nesterov: bool = False, weight_decay=None,
                 params=None, **keras_only):
        _keras_only("SGD", keras_only)
        decay = _coupled_weight_decay("SGD", weight_decay, equal_forms=not momentum)
        super().__init__(params, lr=learning_rate, momentum=momentum, nesterov=nesterov,
                         weight_decay=decay)


class Adam(optim.Adam):
    """Keras' Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
    amsgrad=False, weight_decay=None)."""

    def __init__(self, learning_rate: float = _ADAM["lr"], beta_1: float = _ADAM["betas"][0],
                 beta_2: float = _ADAM["betas"][1], epsilon: float = _ADAM["eps"],
                 amsgrad: bool = False, weight_decay=None, params=None, **keras_only):
        _keras_only("Adam", keras_only)
        super().__init__(params, lr=learning_rate, betas=(beta_1, beta_2), eps=epsilon,
                         weight_decay=weight_decay or 0.0, amsgrad=amsgrad,
                         decoupled_weight_decay=bool(weight_decay))


class AdamW(optim.AdamW):
    """Keras' AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
    epsilon=1e-7, amsgrad=False)."""

    def __init__(self, learning_rate: float = _ADAMW["lr"],
                 weight_decay: float = _ADAMW["weight_decay"],
                 beta_1: float = _ADAMW["betas"][0], beta_2: float = _ADAMW["betas"][1],
                 epsilon: float = _ADAMW["eps"], amsgrad: bool = False, params=None,
                 **keras_only):
        _keras_only("AdamW", keras_only)
        super().__init__(params, lr=learning_rate, betas=(beta_1, beta_2), eps=epsilon,
                         weight_decay=weight_decay, amsgrad=amsgrad)


class RMSprop(optim.RMSprop):
    """Keras' RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
    centered=False)."""

    def __init__(self, learning_rate: float = _RMSPROP["lr"], rho: float = _RMSPROP["alpha"],
                 momentum: float = 0.0, epsilon: float = _RMSPROP["eps"],
                 centered: bool = False, weight_decay=None, params=None, **keras_only):
        _keras_only("RMSprop", keras_only)
        super().__init__(params, lr=learning_rate, alpha=rho, eps=epsilon,
                         momentum=momentum, centered=centered,
                         weight_decay=_coupled_weight_decay("RMSprop", weight_decay, False))


class Adagrad(optim.Adagrad):
    """Keras' Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)."""

    def __init__(self, learning_rate: float = _ADAGRAD["lr"],
                 initial_accumulator_value: float = _ADAGRAD["initial_accumulator_value"],
                 epsilon: float = _ADAGRAD["eps"], weight_decay=None, params=None,
                 **keras_only):
        _keras_only("Adagrad", keras_only)
        super().__init__(params, lr=learning_rate,
                         initial_accumulator_value=initial_accumulator_value, eps=epsilon,
                         weight_decay=_coupled_weight_decay("Adagrad", weight_decay, False))


def get(identifier) -> Optimizer:
    """Keras' ``optimizers.get``: ``cr.optim.get`` (names give Keras' defaults)."""
    return optim.get(identifier)


__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "get"]
