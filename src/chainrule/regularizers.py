"""Weight and activity penalties by Keras name: ``kernel_regularizer=regularizers.l2(1e-4)``.

A regularizer maps a tensor to a scalar penalty that joins the training loss:
``L1(l1)`` is ``l1 * sum(|x|)``, ``L2(l2)`` is ``l2 * sum(x**2)`` and ``L1L2`` both.
Layers take them as ``kernel_regularizer``, ``bias_regularizer`` (and
``recurrent_regularizer``, ``embeddings_regularizer``) and ``activity_regularizer``;
``model.losses`` collects the penalties and ``compute_loss`` (so ``fit``) adds them.

Note the factor: ``L2(l2)`` adds ``2 * l2 * w`` to the gradient, so it equals torch's
``weight_decay = 2 * l2`` (for SGD, and for Adam's coupled decay).
"""

from __future__ import annotations

from collections.abc import Callable

from .registry import Configurable, Registry, config_number
from .tensor import Tensor, as_tensor


class Regularizer(Configurable):
    """Base class: ``regularizer(x)`` is a scalar penalty Tensor; ``get_config()`` gives
    the constructor arguments that ``from_config`` rebuilds it from."""

    def __call__(self, x) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define __call__")


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x**2), over every element of x."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = config_number(type(self).__name__, "l1", 0.0 if l1 is None else l1)
        self.l2 = config_number(type(self).__name__, "l2", 0.0 if l2 is None else l2)

    def __call__(self, x) -> Tensor:
        x = as_tensor(x)
        penalty = as_tensor(x.data.dtype.type(0))
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum(|x|)  (Keras' default l1 = 0.01)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(x**2)  (Keras' default l2 = 0.01)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2  # Keras' lower-case names are the classes themselves

REGULARIZERS = Registry("regularizer", {"l1": L1, "l2": L2, "l1_l2": L1L2},
                        hint="(or pass a Regularizer or a function of one tensor)")
# By name, "l1_l2" has l1 = l2 = 0.01 (Keras' documented default for the name; the
# class L1L2's own defaults are 0).
NAME_DEFAULTS = {"l1_l2": {"l1": 0.01, "l2": 0.01}}


def _by_name(obj, name: str):
    return obj(**NAME_DEFAULTS.get(name, {})) if isinstance(obj, type) else obj


def get(identifier) -> Callable | None:
    """A regularizer from None, a name ("l1", "l2", "l1_l2"), a class, a config
    ``{"class_name": "L2", "config": {"l2": 1e-4}}``, an instance or a function."""
    if identifier is None:
        return None
    return REGULARIZERS.get(identifier, Regularizer, make=_by_name, wrap=lambda fn: fn)


def serialize(regularizer) -> dict | str | None:
    """What a layer's config stores; :func:`get` reads it back by registered name only."""
    return REGULARIZERS.serialize(regularizer)
