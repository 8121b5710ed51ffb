"""``Optimizer``: the base class that walks the parameters and keeps per-parameter state.

An optimizer is one rule written per parameter, ``_update(p, g, state)``: it moves the
array ``p`` in place given its gradient ``g`` and its ``state`` (``"step"``, the count t
including this step, and the buffers named by ``_buffers``, arrays of p's shape that it
updates in place). That is all a subclass writes, and ``state_dict`` shows the same
per-parameter arrays.

Underneath, one private speed-up (``_Layout``) decides which arrays the rule is handed,
without the rule noticing: a small model's parameters, gradients and buffers are packed
into one flat array per kind (the per-parameter state arrays are views into them), so the
rule runs once per step instead of once per array, as torch's "foreach" kernels do; a large
parameter is handed over in blocks of rows, so the rule's temporaries stay in cache.

Parameters are re-read from the iterable on every ``step`` (a Module's ``parameters()``
is a live view, so weights of a layer built after the optimizer was made are trained too);
their state lives in a dict keyed by ``id(param)`` that also holds the parameter, so an id
is never reused while its state exists.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable, Iterable

import numpy as np

from ..tensor import Tensor

FLAT_MAX_SIZE = 65_536  # elements; see Optimizer.flat_max_size


class Optimizer:
    """Base class: ``step()``, ``zero_grad()``, ``attach(params)``, ``state_dict()``.

    Subclasses name their per-parameter buffers and initial values in ``_buffers`` and
    write their rule once, for one parameter, in ``_update``.
    """

    # _update treats every element on its own, so it may run on parameters packed together
    # or cut into blocks; a rule with per-tensor norms (LARS, LAMB) must set this False.
    elementwise = True
    # Packing copies every parameter and gradient in, and the parameters back, once per
    # step: that pays while per-array call overhead dominates (see _Layout).
    flat_max_size = FLAT_MAX_SIZE

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
        self._layout: _Layout | None = None
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

    # ------------------------------------------------------------ the rule

    def _buffers(self) -> dict[str, float]:
        """Name and initial value of each per-parameter buffer (none by default)."""
        return {}

    def _update(self, p: np.ndarray, g: np.ndarray,
                state: dict) -> None:  # pragma: no cover - abstract
        """Move ``p`` and advance the buffers in ``state``, both in place (they may be
        views); never write ``g``."""
        raise NotImplementedError(f"{type(self).__name__} must define _update")

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
        """Apply ``_update`` to every parameter that requires grad and has one; the others
        are untouched."""
        self.iterations += 1
        active = [p for p in self._parameters() if p.requires_grad and p.grad is not None]
        if self._layout is None or not self._layout.holds(self, active):
            self._layout = _Layout(self, active)
        self._layout.step(self._update)

    def _state_of(self, p: Tensor) -> dict:
        """p's state: made at step 0 on first use; a buffer missing (a hyperparameter
        changed since) starts at its initial value."""
        entry = self.state.get(id(p))
        if entry is None or entry[0] is not p:
            entry = self.state[id(p)] = (p, {"step": 0})
        state = entry[1]
        for name, fill in self._buffers().items():
            if name not in state:
                state[name] = np.full_like(p.data, fill)
            elif state[name].shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}.step: a parameter changed shape "
                                 f"from {state[name].shape} to {p.data.shape} after its "
                                 f"optimizer state was made.")
        return state

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
            missing = sorted({"step", *self._buffers()} - set(buffers))
            if missing:
                raise ValueError(f"{type(self).__name__}.load_state_dict: the state of "
                                 f"parameter {i} lacks {missing}.")
        self.state = {id(params[i]): (params[i], buffers) for i, buffers in per_param.items()}
        self._layout = None  # packed buffers are rebuilt from the loaded state
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


def _writable_data(p: Tensor) -> np.ndarray:
    """``p.data``, replaced by a copy first if read-only (e.g. memory-mapped weights)."""
    if not p.data.flags.writeable:
        p.data = p.data.copy()
    return p.data


def _checked_grad(optimizer: Optimizer, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``g``, if it has the shape of the parameter ``p``."""
    if g.shape != p.shape:
        raise ValueError(f"{type(optimizer).__name__}.step: a parameter of shape "
                         f"{p.shape} has a gradient of shape {g.shape}.")
    return g


class _Layout:
    """How ``Optimizer.step`` hands the trained parameters to the rule: in blocks.

    Built for one list of parameters (those that require and have a gradient) and rebuilt
    when that list, a parameter's array or the buffer names change. Each call of the rule
    sees about ``BLOCK_SIZE`` elements or fewer: a large parameter is cut into blocks of
    rows (views, so the rule's temporaries stay in cache instead of streaming whole
    arrays through memory); small ones are ``packed`` into one flat array each for values,
    gradients and every buffer kind, whose slices *are* the per-parameter state arrays, so
    a small model takes one call per step instead of one per array (torch's "foreach").
    Packing needs an elementwise rule and parameters of one dtype and step count, each
    listed once, at most ``flat_max_size`` elements in all. Step counts then stay equal
    because they advance together. A rule that is not elementwise sees whole parameters.
    """

    def __init__(self, optimizer: Optimizer, params: list[Tensor]):
        self.optimizer = optimizer
        self.params = params
        self.buffer_names = tuple(optimizer._buffers())
        self.states = [optimizer._state_of(p) for p in params]
        self.arrays = [_writable_data(p) for p in params]
        self.packed = self._packable(optimizer)
        if self.packed:
            self._pack()

    def _packable(self, optimizer: Optimizer) -> bool:
        return (optimizer.elementwise
                and len({a.dtype for a in self.arrays}) == 1
                and len({id(p) for p in self.params}) == len(self.params)
                and len({state["step"] for state in self.states}) == 1
                and 0 < sum(a.size for a in self.arrays) <= optimizer.flat_max_size)

    def _pack(self) -> None:
        """Flat values, gradients and buffers; each parameter's state arrays become views."""
        self.value, self.values = _flat_and_views(self.arrays)
        self.grad, self.grads = _flat_and_views(self.arrays)
        flat_state = {}
        for name in self.buffer_names:
            flat_state[name], views = _flat_and_views(self.arrays)
            for state, view in zip(self.states, views):
                view[...] = state[name]  # what earlier steps (or a loaded state) hold
                state[name] = view
        self.blocks = [(self.value[b], self.grad[b], _block_of(flat_state, b))
                       for b in _blocks(self.value, True)]

    def holds(self, optimizer: Optimizer, params: list[Tensor]) -> bool:
        """Whether this layout still describes ``params``: the same tensors holding the
        same arrays, and the same buffer names."""
        return (len(params) == len(self.params)
                and all(map(operator.is_, params, self.params))
                and all(map(operator.is_, [p.data for p in params], self.arrays))
                and tuple(optimizer._buffers()) == self.buffer_names)

    def step(self, rule: Callable[[np.ndarray, np.ndarray, dict], None]) -> None:
        """Advance each parameter's step count and run ``rule`` on every block."""
        grads = [p.grad.data for p in self.params]
        for a, g in zip(self.arrays, grads):
            if g.shape != a.shape:
                _checked_grad(self.optimizer, a, g)
        if self.packed:
            self._step_packed(rule, grads)
            return
        elementwise = self.optimizer.elementwise
        for a, g, state in zip(self.arrays, grads, self.states):
            state["step"] += 1
            for b in _blocks(a, elementwise):
                rule(a[b], g[b], _block_of(state, b))

    def _step_packed(self, rule: Callable, grads: list[np.ndarray]) -> None:
        """Gather values and gradients, run ``rule`` on the flat blocks, scatter back."""
        for a, g, value, grad, state in zip(self.arrays, grads, self.values, self.grads,
                                            self.states):
            value[...] = a
            grad[...] = g
            state["step"] += 1
        step = self.states[0]["step"]
        for value, grad, state in self.blocks:
            state["step"] = step
            rule(value, grad, state)
        for a, value in zip(self.arrays, self.values):
            a[...] = value


BLOCK_SIZE = 32_768  # elements per call of the rule (128 KiB of float32): measured fastest


def _blocks(a: np.ndarray, elementwise: bool) -> list:
    """Indices that cut ``a`` into blocks of whole rows of about BLOCK_SIZE elements."""
    if not elementwise or a.ndim == 0 or a.size <= BLOCK_SIZE:
        return [...]
    rows = max(1, BLOCK_SIZE // (a.size // len(a)))
    return [slice(start, start + rows) for start in range(0, len(a), rows)]


def _block_of(state: dict, block) -> dict:
    """``state`` with every array cut to ``block`` (views); the step count as it is."""
    return {k: v[block] if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _flat_and_views(like: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """A flat array for all of ``like`` (same dtype) and its consecutive views shaped as
    each of them."""
    flat = np.empty(sum(a.size for a in like), like[0].dtype)
    views, start = [], 0
    for a in like:
        views.append(flat[start:start + a.size].reshape(a.shape))
        start += a.size
    return flat, views
