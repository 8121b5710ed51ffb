"""``Registry``: names -> objects of one kind, with one error for an unknown name.

Every "by name" lookup in chainrule goes through one of these: activations,
initializers, losses, metrics, optimizers and layer classes (which ``load_model``
resolves). Each kind keeps its own rules for what a name gives (a function, a
fresh instance with Keras' defaults, a class); the registry only maps names and
says, the same way everywhere, what was asked for and what exists::

    ValueError: Unknown loss 'mse2'; choose one of ['binary_crossentropy', ...].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator


def config_number(owner: str, name: str, value, minimum: float = 0.0) -> float:
    """``value`` as a float when it is a finite number >= ``minimum``; else a ValueError
    naming ``owner``'s argument (objects rebuilt from configs check what they are given)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or value < minimum:
        raise ValueError(f"Invalid value for argument `{name}` of `{owner}`: expected a "
                         f"finite number >= {minimum:g}; received {name}={value!r:.50}.")
    return float(value)


class Configurable:
    """What objects rebuilt by name share (regularizers, constraints): ``get_config()``
    gives the constructor arguments, ``from_config`` calls the constructor with them."""

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Registry:
    """Objects of one ``kind`` ("loss", "metric", ...) by name.

    ``Registry("loss", {"mse": MeanSquaredError, ...})`` or
    ``add(obj, "name", "alias")`` registers ``obj`` under each name; a class is also
    found by its class name (``"BinaryCrossentropy"``), which error messages do not
    list. A name is looked up as given, then in lower case.
    """

    def __init__(self, kind: str, entries: dict | None = None, hint: str = ""):
        self.kind = kind
        self.hint = hint  # what else the caller accepts, appended to the error
        self._objects: dict[str, object] = {}
        self._unlisted: set[str] = set()  # class names of objects registered under others
        for name, obj in (entries or {}).items():
            self.add(obj, name)

    def add(self, obj, *names: str):
        """Register ``obj`` under ``names`` (default: its ``__name__``); returns ``obj``."""
        names = names or (obj.__name__,)
        for name in names:
            self._objects[name] = obj
            self._unlisted.discard(name)
        if isinstance(obj, type) and obj.__name__ not in names:
            self._objects.setdefault(obj.__name__, obj)
            self._unlisted.add(obj.__name__)
        return obj

    def register(self, *names: str):
        """Decorator form of :meth:`add`: ``@REGISTRY.register("name")``."""
        return lambda obj: self.add(obj, *names)

    def find(self, name: str):
        """The object registered as ``name`` (or its lower case, or a class name); None
        when there is none."""
        if not isinstance(name, str):
            return None
        return self._objects.get(name, self._objects.get(name.lower()))

    def lookup(self, name: str):
        """The object registered as ``name``; a ValueError listing the names otherwise."""
        obj = self.find(name)
        if obj is None:
            raise ValueError(self.unknown(name))
        return obj

    def get(self, identifier, base: type, make: Callable | None = None,
            wrap: Callable | None = None):
        """Keras' ``get`` for objects of class ``base`` (losses, metrics).

        An instance of ``base`` is returned unchanged; a subclass is instantiated with
        its defaults; a registered name gives ``make(cls, name)`` (default ``cls()``);
        a config ``{"class_name": ..., "config": {...}}`` gives
        ``cls.from_config(config)``; any other callable gives ``wrap(fn)`` when
        ``wrap`` is given. Anything else is a TypeError naming what is accepted.
        """
        if isinstance(identifier, base):
            return identifier
        if isinstance(identifier, type) and issubclass(identifier, base):
            return identifier()
        if isinstance(identifier, str):
            cls = self.lookup(identifier)
            return make(cls, identifier) if make else cls()
        if isinstance(identifier, dict):
            config = identifier.get("config", {})
            if not isinstance(config, dict):
                raise ValueError(f"{self.kind} config {identifier!r:.200}: `config` must be "
                                 f"a dict.")
            return self.lookup(identifier.get("class_name")).from_config(config)
        if wrap is not None and callable(identifier):
            return wrap(identifier)
        also = ", or a function" if wrap is not None else ""
        raise TypeError(f"Cannot interpret {identifier!r:.100} as a {self.kind}: pass a name, "
                        f"a {base.__name__} class or instance{also}.")

    def serialize(self, obj):
        """What :meth:`get` rebuilds ``obj`` from: None for None, a registered object's
        name, ``{"class_name": ..., "config": obj.get_config()}`` for an instance (its
        class must be registered to load again), else the function's ``__name__``."""
        if obj is None or isinstance(obj, str):
            return obj
        name = self.name_of(obj)
        if name is not None:
            return name
        if hasattr(obj, "get_config") and not isinstance(obj, type):
            return {"class_name": type(obj).__name__, "config": obj.get_config()}
        return getattr(obj, "__name__", repr(obj))

    def unknown(self, name) -> str:
        """The error message for a name that is not registered."""
        hint = f" {self.hint}" if self.hint else ""
        return f"Unknown {self.kind} {name!r:.100}; choose one of {self.names()}{hint}."

    def name_of(self, obj) -> str | None:
        """The first name ``obj`` itself was registered under; None if it is not here."""
        return next((name for name, o in self._objects.items()
                     if o is obj and name not in self._unlisted), None)

    def names(self) -> list[str]:
        """The registered names, sorted (class names excepted)."""
        return sorted(self._objects.keys() - self._unlisted)

    def __contains__(self, name) -> bool:
        return self.find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._objects) - len(self._unlisted)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
