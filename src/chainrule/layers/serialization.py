"""Layers (and models) as ``{"class_name": ..., "config": {...}}`` and back.

Classes resolve only through ``custom_objects`` and the one layer registry,
:data:`~chainrule.layers.base.LAYER_REGISTRY`: chainrule's own layers enter it when
they are defined, ``Sequential`` and the unsupervised models and your own classes
through :func:`register_layer`. Nothing named in a config is ever imported.
"""

from __future__ import annotations

import inspect

from ..io import ModelFormatError
from ..module import Module
from .base import LAYER_REGISTRY


def register_layer(cls: type | None = None, *, name: str | None = None):
    """Allow ``load_model`` to rebuild a custom layer or Model class by its name.

    Use as ``register_layer(MyLayer)`` or as a decorator. The class needs
    ``get_config()`` returning its constructor arguments (JSON-able)."""
    def register(klass: type) -> type:
        if not (isinstance(klass, type) and issubclass(klass, Module)):
            raise TypeError(f"register_layer expects a Layer or Model class; received "
                            f"{klass!r}.")
        return LAYER_REGISTRY.add(klass, name or klass.__name__)

    return register if cls is None else register(cls)


def serialize_layer(layer: Module) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}``."""
    if not hasattr(layer, "get_config"):
        raise NotImplementedError(f"Cannot save {type(layer).__name__}: it has no get_config().")
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(spec, custom_objects: dict | None = None) -> Module:
    """A layer (or model) from ``{"class_name": ..., "config": {...}}``; a class whose
    ``from_config`` takes ``custom_objects`` (a container) receives them. Raises
    :class:`~chainrule.io.ModelFormatError` for a malformed spec or an unknown class."""
    if not isinstance(spec, dict) or not isinstance(spec.get("config", {}), dict):
        raise ModelFormatError(f"a layer entry must be an object with class_name and a "
                               f"config object; found {spec!r:.100}.")
    cls = _resolve_class(spec.get("class_name"), custom_objects or {})
    config = spec.get("config", {})
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)


def _resolve_class(class_name, custom_objects: dict) -> type:
    if not isinstance(class_name, str):
        raise ModelFormatError(f"class_name must be a string; found "
                               f"{type(class_name).__name__}.")
    cls = custom_objects.get(class_name) or LAYER_REGISTRY.find(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise ModelFormatError(f"unknown layer class {class_name!r:.100}: only chainrule "
                               f"layers, classes registered with cr.models.register_layer "
                               f"and custom_objects can be loaded.")
    return cls
