"""``Optimizer``: the base class that walks the parameters and keeps per-parameter state.

An optimizer is one rule written per parameter, ``_update(p, g, state)``: it moves the
array ``p`` in place given its gradient ``g`` and its ``state`` (``"step"``, the count t
including this step, and the buffers named by ``_buffers``, arrays of p's shape that it
updates in place). That is all a subclass writes, and ``state_dict`` shows the same
per-parameter arrays.

Underneath, one private speed-up (``_Layout``) decides which arrays the rule is handed,
without the rule noticing: small parameters, their gradients and buffers are packed into
one flat array per kind (the per-parameter state arrays are views into them), so the rule
runs once per step for all of them instead of once per array, as torch's "foreach"
kernels do; a large parameter is handed over in blocks of rows, so the rule's temporaries
stay in cache.

Parameters are re-read from the iterable on every ``step`` (a Module's ``parameters()``
is a live view, so weights of a layer built after the optimizer was made are trained too);
their state lives in a dict keyed by ``id(param)`` that also holds the parameter, so an id
is never reused while its state exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

import numpy as np

from ..tensor import Tensor

# What the rule is handed (see _Layout), measured on float32 SGD with momentum and Adam:
PACK_SIZE = 4_096  # parameters up to this many elements are packed and updated together
BLOCK_SIZE = 32_768  # larger ones are updated in blocks of rows of about this many


class Optimizer:
    """Base class: ``step()``, ``zero_grad()``, ``attach(params)``, ``state_dict()``.

    Subclasses name their per-parameter buffers and initial values in ``_buffers`` and
    write their rule once, for one parameter, in ``_update``.
    """

    # _update treats every element on its own, so it may run on parameters packed together
    # or cut into blocks; a rule with per-tensor norms (LARS, LAMB) must set this False.
    elementwise = True

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
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _update")

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
        """Apply ``_update`` to every parameter that requires grad and has one, then its
        ``constraint`` when it has one (Keras: ``kernel_constraint=MaxNorm(3)``); the
        others are untouched."""
        self.iterations += 1
        active = [p for p in self._parameters() if p.requires_grad and p.grad is not None]
        if self._layout is None or not self._layout.holds(self, active):
            self._layout = _Layout(self, active)
        self._layout.step(self._update)
        for p in active:
            constraint = getattr(p, "constraint", None)
            if constraint is not None:
                p.data[...] = constraint(p.data)  # in place: the layout keeps the array

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


class _Layout:
    """What ``Optimizer.step`` hands the rule: small parameters packed, large ones in blocks.

    Per-array call overhead dominates small arrays and memory traffic large ones, so:
    parameters of up to ``PACK_SIZE`` elements are packed into one flat array each for
    values, gradients and every buffer kind (their state arrays become views into the
    flat buffers, so they keep their values and ``state_dict`` sees arrays of each
    parameter's shape), and the rule runs once for all of them, as torch's "foreach"
    kernels do; the values are copied in before and back after. A larger parameter is
    handed over in blocks of rows of about ``BLOCK_SIZE`` elements (views), so the rule's
    temporaries stay in cache. Packing needs an elementwise rule and small parameters of
    one dtype and step count, each listed once (their step counts then stay equal, since
    they advance together); otherwise each parameter goes alone. A rule that is not
    elementwise sees whole parameters. Built for one list of parameters (those that
    require and have a gradient), rebuilt when the list, a parameter's array or the
    buffer names change.
    """

    def __init__(self, optimizer: Optimizer, params: list[Tensor]):
        self.optimizer = optimizer
        self.buffer_names = tuple(optimizer._buffers())
        arrays = [_writable_data(p) for p in params]
        self.param_ids, self.array_ids = list(map(id, params)), list(map(id, arrays))
        entries = [(p, a, optimizer._state_of(p)) for p, a in zip(params, arrays)]
        small = [e for e in entries if e[1].size <= PACK_SIZE]
        self.packed = small if optimizer.elementwise and _packable(small) else []
        packed = {id(e) for e in self.packed}
        self.alone = [e for e in entries if id(e) not in packed]
        if self.packed:
            self._pack()

    def _pack(self) -> None:
        """Flat values, gradients and buffers; the packed state arrays become views."""
        arrays = [a for _, a, _ in self.packed]
        self.value, self.values = _flat_and_views(arrays)
        self.grad, self.grads = _flat_and_views(arrays)
        flat_state = {}
        for name in self.buffer_names:
            flat_state[name], views = _flat_and_views(arrays)
            for (_, _, state), view in zip(self.packed, views):
                view[...] = state[name]  # what earlier steps (or a loaded state) hold
                state[name] = view
        self.blocks = [(self.value[b], self.grad[b], _block_of(flat_state, b))
                       for b in _blocks(self.value)]

    def holds(self, optimizer: Optimizer, params: list[Tensor]) -> bool:
        """Whether this layout still describes ``params``: the same tensors holding the
        same arrays (ids are safe: the layout keeps both alive), and the same buffers."""
        return (list(map(id, params)) == self.param_ids
                and [id(p.data) for p in params] == self.array_ids
                and tuple(optimizer._buffers()) == self.buffer_names)

    def step(self, rule: Callable[[np.ndarray, np.ndarray, dict], None]) -> None:
        """Advance each parameter's step count and run ``rule`` on all of them."""
        if self.packed:
            self._step_packed(rule)
        elementwise = self.optimizer.elementwise
        for p, a, state in self.alone:
            g = p.grad.data
            if g.shape != a.shape:
                raise self._grad_error(a, g)
            state["step"] += 1
            if a.size <= BLOCK_SIZE or not elementwise:
                rule(a, g, state)
                continue
            for b in _blocks(a):
                rule(a[b], g[b], _block_of(state, b))

    def _step_packed(self, rule: Callable[[np.ndarray, np.ndarray, dict], None]) -> None:
        """Gather values and gradients, run ``rule`` on the flat blocks, scatter back."""
        for (p, a, _), value, grad in zip(self.packed, self.values, self.grads):
            g = p.grad.data
            if g.shape != a.shape:
                raise self._grad_error(a, g)
            value[...] = a
            grad[...] = g
        for _, _, state in self.packed:
            state["step"] += 1
        step = self.packed[0][2]["step"]
        for value, grad, state in self.blocks:
            state["step"] = step
            rule(value, grad, state)
        for (_, a, _), value in zip(self.packed, self.values):
            a[...] = value

    def _grad_error(self, a: np.ndarray, g: np.ndarray) -> ValueError:
        return ValueError(f"{type(self.optimizer).__name__}.step: a parameter of shape "
                          f"{a.shape} has a gradient of shape {g.shape}.")


def _packable(entries: list[tuple[Tensor, np.ndarray, dict]]) -> bool:
    """Two or more parameters, each listed once, of one dtype and one step count."""
    return (len(entries) > 1
            and len({id(p) for p, _, _ in entries}) == len(entries)
            and len({a.dtype for _, a, _ in entries}) == 1
            and len({state["step"] for _, _, state in entries}) == 1)


def _blocks(a: np.ndarray) -> list[slice]:
    """Slices that cut ``a`` (ndim >= 1) into blocks of whole rows of about BLOCK_SIZE
    elements (one row at least)."""
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
