"""``Optimizer``: the base class that walks the parameters and keeps per-parameter state.

Subclasses implement ``_update(p, g, state)`` on raw arrays, in place on ``p`` (the hot
path of every training step, so it avoids temporaries). Parameters are re-read from
the iterable on every ``step`` (a Module's ``parameters()`` is a live view, so weights
of a layer built after the optimizer was made are trained too); their state lives in
a dict keyed by ``id(param)`` that also holds the parameter, so an id is never reused
while its state exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor


class Optimizer:
    """Base class: ``step()``, ``zero_grad()``, ``attach(params)``, ``state_dict()``."""

    def __init__(self, params=None, lr: float = 0.001, learning_rate: float | None = None,
                 **hyperparameters):
        self.lr = self._resolve_lr(lr, learning_rate)
        for name, value in hyperparameters.items():
            setattr(self, name, value)
        self._hyper_names = ("lr", *hyperparameters)
        self._check(lr=self.lr)
        self.state: dict[int, tuple[Tensor, dict]] = {}
        self.iterations = 0  # calls to step(), as Keras' optimizer.iterations
        self.params = None
        self.attach(params)

    def _resolve_lr(self, lr: float, learning_rate: float | None) -> float:
        """``learning_rate=`` is Keras' name for ``lr``; both, differing, is an error."""
        if learning_rate is None:
            return float(lr)
        lr_parameter = inspect.signature(type(self).__init__).parameters.get("lr")
        default = None if lr_parameter is None else lr_parameter.default
        if lr != default and lr != learning_rate:
            raise ValueError(f"{type(self).__name__} got lr={lr} and learning_rate="
                             f"{learning_rate}; they are the same setting, give one.")
        return float(learning_rate)

    def _check(self, **values: float) -> None:
        """Every value must be a non-negative number (the hyperparameters torch checks)."""
        for name, value in values.items():
            if not value >= 0:
                raise ValueError(f"Invalid value for argument `{name}` of "
                                 f"`{type(self).__name__}`: expected a non-negative float; "
                                 f"received {name}={value}.")

    # ------------------------------------------------------------ parameters

    def attach(self, params: Iterable[Tensor] | Tensor | None) -> Optimizer:
        """Train ``params``: any iterable of tensors, kept as given and re-read every step
        (a one-shot iterator is stored as a list)."""
        if isinstance(params, Tensor):
            params = [params]
        elif params is not None and iter(params) is params:
            params = list(params)
        self.params = params
        return self

    def _parameters(self) -> Iterable[Tensor]:
        if self.params is None:
            raise RuntimeError(f"{type(self).__name__} has no parameters: pass them as "
                               f"{type(self).__name__}(model.parameters(), ...) or call "
                               f"optimizer.attach(params) (compile does it).")
        return self.params

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to None, as torch's default)."""
        for p in self._parameters():
            p.grad = None

    def step(self) -> None:
        """Update every parameter that requires grad and has one; others are untouched."""
        params = self._parameters()
        self.iterations += 1
        for p in params:
            if not p.requires_grad or p.grad is None:
                continue
            if not p.data.flags.writeable:  # e.g. memory-mapped weights: update a copy
                p.data = p.data.copy()
            grad = p.grad.data
            if grad.shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}.step: a parameter of shape "
                                 f"{p.data.shape} has a gradient of shape {grad.shape}.")
            self._update(p.data, grad, self._state_of(p))

    def _state_of(self, p: Tensor) -> dict:
        entry = self.state.get(id(p))
        if entry is None or entry[0] is not p:
            entry = self.state[id(p)] = (p, {"step": 0, **self._init_state(p.data)})
        return entry[1]

    def _init_state(self, p: np.ndarray) -> dict:
        """The per-parameter buffers before the first step (none by default)."""
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    def _decayed(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """g + weight_decay * p (L2 penalty) as a new array; g itself when no decay."""
        if not self.weight_decay:
            return g
        d = p * self.weight_decay
        d += g
        return d

    # ------------------------------------------------------------ saving

    def get_config(self) -> dict:
        """The hyperparameters, JSON-able (tuples as lists)."""
        return {name: list(v) if isinstance(v, tuple) else v
                for name in self._hyper_names for v in [getattr(self, name)]}

    def state_dict(self) -> dict:
        """Everything needed to resume exactly.

        ``{"name", "hyperparameters", "scalars", "arrays"}``: all JSON-able but
        ``arrays``, a flat dict of ``"<index>.<buffer>"`` -> ndarray copies, where index
        is the parameter's position in the parameter list; ``scalars`` holds
        ``"<index>.step"`` counts and ``"iterations"``.
        """
        scalars: dict = {"iterations": self.iterations}
        arrays: dict[str, np.ndarray] = {}
        for i, p in enumerate(self.params or ()):
            entry = self.state.get(id(p))
            if entry is None or entry[0] is not p:
                continue
            for key, value in entry[1].items():
                if isinstance(value, np.ndarray):
                    arrays[f"{i}.{key}"] = value.copy()
                else:
                    scalars[f"{i}.{key}"] = value
        return {"name": type(self).__name__, "hyperparameters": self.get_config(),
                "scalars": scalars, "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        """Restore hyperparameters and per-parameter state saved by ``state_dict``."""
        name = state.get("name")
        if name != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state was saved "
                             f"by {name!r}, not {type(self).__name__!r}.")
        params = list(self._parameters())
        per_param: dict[int, dict] = {}
        for kind in ("scalars", "arrays"):
            for key, value in state.get(kind, {}).items():
                if key == "iterations":
                    continue
                index, _, buffer = key.partition(".")
                i = int(index)
                if i >= len(params):
                    raise ValueError(f"{type(self).__name__}.load_state_dict: state for "
                                     f"parameter {i} but the optimizer has {len(params)} "
                                     f"parameters.")
                if kind == "arrays":
                    value = self._checked_array(key, value, params[i])
                per_param.setdefault(i, {})[buffer] = value
        for hyper, value in state.get("hyperparameters", {}).items():
            if hyper not in self._hyper_names:
                raise ValueError(f"{type(self).__name__}.load_state_dict: unknown "
                                 f"hyperparameter {hyper!r}.")
            setattr(self, hyper, tuple(value) if isinstance(value, list) else value)
        for i, buffers in per_param.items():
            missing = sorted({"step", *self._init_state(params[i].data)} - set(buffers))
            if missing:
                raise ValueError(f"{type(self).__name__}.load_state_dict: the state of "
                                 f"parameter {i} lacks {missing}.")
        self.state = {id(params[i]): (params[i], buffers) for i, buffers in per_param.items()}
        self.iterations = int(state.get("scalars", {}).get("iterations", 0))

    def _checked_array(self, key: str, value, p: Tensor) -> np.ndarray:
        value = np.array(value, dtype=p.dtype)  # a copy: loading never aliases the source
        if value.shape != p.shape:
            raise ValueError(f"{type(self).__name__}.load_state_dict: {key!r} has shape "
                             f"{value.shape} but its parameter has shape {p.shape}.")
        return value

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
