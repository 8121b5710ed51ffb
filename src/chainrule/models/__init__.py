"""Keras-style models: ``Model`` (subclass it), ``Sequential``, ``load_model``.

``compile`` / ``fit`` / ``evaluate`` / ``predict`` / ``summary`` / ``save``, and the
same model trains in a hand-written PyTorch-style loop.
"""

from ..layers import Input, register_layer
from .model import Model
from .saving import load_extra_json, load_model, load_weights, save_model, save_weights
from .sequential import Sequential

__all__ = ["Input", "Model", "Sequential", "load_extra_json", "load_model", "load_weights",
           "register_layer", "save_model", "save_weights"]
