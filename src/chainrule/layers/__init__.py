"""Keras-named layers, each a :class:`~chainrule.module.Module`."""

from .base import LAYER_REGISTRY, Layer
from .core import Activation, Dense, Dropout, Flatten, Reshape

__all__ = ["LAYER_REGISTRY", "Activation", "Dense", "Dropout", "Flatten", "Layer", "Reshape"]
