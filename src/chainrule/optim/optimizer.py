"""``Optimizer``: the base class that walks the parameters and keeps per-parameter state.

Subclasses name their per-parameter buffers (``_buffers``) and compute the step from a
gradient (``_direction``, on raw arrays, in place on the buffers: the hot path of every
training step, so it avoids temporaries). Parameters are re-read from the iterable on
every ``step`` (a Module's ``parameters()`` is a live view, so weights of a layer built
after the optimizer was made are trained too); their state lives in a dict keyed by
``id(param)`` that also holds the parameter, so an id is never reused while its state
exists. Small models are updated on flat buffers, all parameters at once (torch's
"foreach" path, see ``_FlatLayout``), large ones one parameter at a time.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor

FLAT_MAX_SIZE = 65_536  # elements; see Optimizer.flat_max_size


class Optimizer:
    """Base class: ``step()``, ``zero_grad()``, ``attach(params)``, ``state_dict()``.

    Subclasses name their buffers in ``_buffers`` and give the update direction in
    ``_direction``; the base class applies weight decay and walks the parameters.
    """

    weight_decay = 0.0
    decoupled_weight_decay = False  # AdamW: p *= 1 - lr weight_decay instead of L2
    # The flat (multi-tensor) path copies every gradient once per step: that pays for
    # itself while per-array call overhead dominates. Measured (6 float32 arrays, 1
    # thread): SGD with momentum breaks even near 70k elements in all.
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
        self._layout: _FlatLayout | None = None
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
        """Update every parameter that requires grad and has one; others are untouched.

        Small parameter sets take the multi-tensor path (one update on flat buffers,
        see ``_FlatLayout``); large ones, or a layout the flat path cannot hold (mixed
        dtypes, a parameter listed twice, a subclass with its own ``_update``), are
        updated one parameter at a time. Both give the same numbers.
        """
        params = self._parameters()
        self.iterations += 1
        active = [p for p in params if p.requires_grad and p.grad is not None]
        layout = self._layout
        if layout is None or layout.ids != tuple(map(id, active)) \
                or layout.buffer_names != tuple(self._buffers()):
            layout = self._layout = _FlatLayout(self, active)
        if layout.flat:
            self._step_flat(layout)
            return
        for p in active:
            grad = self._checked_grad(p)
            self._update(_writable_data(p), grad, self._state_of(p))

    def _checked_grad(self, p: Tensor) -> np.ndarray:
        grad = p.grad.data
        if grad.shape != p.data.shape:
            raise ValueError(f"{type(self).__name__}.step: a parameter of shape "
                             f"{p.data.shape} has a gradient of shape {grad.shape}.")
        return grad

    def _step_flat(self, layout: _FlatLayout) -> None:
        """Gather the grads, run the update once on the flat buffers, scatter it back."""
        for p, g_view, state in zip(layout.params, layout.grads, layout.states):
            g = p.grad.data
            if g.shape != g_view.shape:  # the grad, or the parameter since the layout
                self._checked_grad(p)
                raise ValueError(f"{type(self).__name__}.step: a parameter changed shape "
                                 f"from {g_view.shape} to {p.data.shape} after its "
                                 f"optimizer state was made.")
            g_view[...] = g
            state["step"] += 1
        g = layout.grad
        if self.weight_decay and not self.decoupled_weight_decay:  # L2 reads p too
            for p, p_view in zip(layout.params, layout.values_views):
                p_view[...] = p.data
            g = self._decayed(layout.values, g, out=layout.values)
        for sl, state, buffers, delta in layout.runs:  # one run unless step counts differ
            self._direction(g[sl], buffers, state["step"], delta)
        factor = self._decoupled_factor()
        for p, d in zip(layout.params, layout.deltas):
            data = _writable_data(p)
            if factor is not None:
                data *= factor
            data -= d

    def _state_of(self, p: Tensor) -> dict:
        entry = self.state.get(id(p))
        if entry is None or entry[0] is not p:
            entry = self.state[id(p)] = (p, {"step": 0, **self._init_state(p.data)})
        return entry[1]

    def _buffers(self) -> dict[str, float]:
        """Name and initial value of each per-parameter buffer (none by default)."""
        return {}

    def _init_state(self, p: np.ndarray) -> dict:
        """The per-parameter buffers before the first step."""
        return {name: np.full_like(p, fill) for name, fill in self._buffers().items()}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        """One parameter's step, in place on ``p`` (the per-parameter path)."""
        state["step"] += 1
        g = self._decayed(p, g)
        factor = self._decoupled_factor()
        if factor is not None:
            p *= factor
        p -= self._direction(g, state, state["step"], np.empty_like(p))

    def _direction(self, g: np.ndarray, state: dict, step: int,
                   out: np.ndarray) -> np.ndarray:  # pragma: no cover
        """Advance the buffers in ``state`` in place and return d (written into ``out``,
        never aliasing ``g``, which it must not modify) for ``p -= d``."""
        raise NotImplementedError(f"{type(self).__name__} must define _direction")

    def _decayed(self, p: np.ndarray, g: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """g + weight_decay * p (L2 penalty), new or in ``out``; g itself when no L2 decay."""
        if not self.weight_decay or self.decoupled_weight_decay:
            return g
        d = np.multiply(p, self.weight_decay, out=out)
        d += g
        return d

    def _decoupled_factor(self) -> float | None:
        """1 - lr weight_decay, applied to p before the step (AdamW); None when unused."""
        if self.decoupled_weight_decay and self.weight_decay:
            return 1 - self.lr * self.weight_decay
        return None

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
        self._layout = None  # the flat buffers are rebuilt from the loaded state
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


class _FlatLayout:
    """Where each trained parameter lives in an optimizer's flat buffers.

    One flat array per buffer kind (``exp_avg``, ``momentum_buffer``...) and one each
    for the gathered gradients, the step ``d`` and the gathered parameters (read by L2
    weight decay only). Each parameter's state dict holds views into the flat buffers, so the
    per-parameter code, ``state_dict`` and ``load_state_dict`` see ordinary arrays of
    the parameter's shape. Built for one list of parameters (those with a gradient
    that require one, by id) and rebuilt by ``Optimizer.step`` when that list changes.
    """

    def __init__(self, optimizer: Optimizer, params: list[Tensor]):
        self.ids = tuple(map(id, params))
        self.buffer_names = tuple(optimizer._buffers())
        self.params = params
        dtypes = {p.data.dtype for p in params}
        total = sum(p.data.size for p in params)
        self.flat = (len(dtypes) == 1 and len(set(self.ids)) == len(params)
                     and 0 < total <= optimizer.flat_max_size
                     and type(optimizer)._update is Optimizer._update)
        if not self.flat:
            return
        dtype = dtypes.pop()
        bounds = np.cumsum([0] + [p.data.size for p in params]).tolist()
        slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        shapes = [p.data.shape for p in params]

        def views(flat: np.ndarray) -> list[np.ndarray]:
            return [flat[sl].reshape(shape) for sl, shape in zip(slices, shapes)]

        self.grad = np.empty(total, dtype)
        self.grads = views(self.grad)
        self.delta = np.empty(total, dtype)
        self.deltas = views(self.delta)
        self.values = np.empty(total, dtype)  # the parameters, for L2 weight decay
        self.values_views = views(self.values)
        self.buffers = {}
        self.states = [optimizer._state_of(p) for p in params]
        for name, fill in optimizer._buffers().items():
            flat = self.buffers[name] = np.full(total, fill, dtype)
            for state, view in zip(self.states, views(flat)):
                if name in state:  # keep what earlier steps (or a loaded state) hold
                    view[...] = state[name]
                state[name] = view
        self.runs = self._runs(bounds)

    def _runs(self, bounds: list[int]) -> list[tuple]:
        """(slice, first state, buffer slices, delta slice) per run of neighbouring
        parameters with equal step counts (they all advance together from here)."""
        starts = [i for i, state in enumerate(self.states)
                  if i == 0 or state["step"] != self.states[i - 1]["step"]]
        if len(starts) == 1:
            return [(slice(None), self.states[0], self.buffers, self.delta)]
        runs = []
        for i, j in zip(starts, [*starts[1:], len(self.states)]):
            sl = slice(bounds[i], bounds[j])
            runs.append((sl, self.states[i], {k: b[sl] for k, b in self.buffers.items()},
                         self.delta[sl]))
        return runs
