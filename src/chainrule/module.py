"""``Module`` and ``Parameter``: the containers that hold weights.

A Module registers every ``Parameter``, sub-Module and buffer assigned to it as
an attribute, so ``parameters()``, ``state_dict()`` and ``train()/eval()`` reach
the whole tree. State-dict keys are dotted attribute paths ("0.kernel").
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains (``requires_grad`` unless frozen).

    ``regularizer`` (a function of the parameter giving a scalar penalty, or None)
    joins the training loss through ``Module.losses``; ``constraint`` (a function of
    its array giving the projected array, or None) is applied by the optimizer after
    each update of the parameter. Layers set both from their Keras arguments
    (``kernel_regularizer``, ``kernel_constraint``, ...).
    """

    __slots__ = ("regularizer", "constraint")

    def __init__(self, data, requires_grad: bool = True, name: str | None = None,
                 regularizer=None, constraint=None):
        super().__init__(data, requires_grad=requires_grad, name=name)
        self.regularizer = regularizer
        self.constraint = constraint


_structure_version = 0  # bumped whenever any Module gains or loses a Parameter/sub-Module


class ParameterView:
    """A live view of a module's parameters.

    An optimizer built from it before a lazily built layer has seen its first
    input still finds that layer's weights once they exist. The list is cached
    and re-read only after some module's structure changed, so iterating it in
    every training step costs nothing.
    """

    def __init__(self, module: Module):
        self.module = module
        self._version = -1
        self._cache: list[Parameter] = []

    def __iter__(self) -> Iterator[Parameter]:
        if self._version != _structure_version:
            self._cache = [p for _, p in self.module.named_parameters()]
            self._version = _structure_version
        return iter(self._cache)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"ParameterView({len(self)} parameters of {type(self.module).__name__})"


class Module:
    """Base class of layers and models: subclass it and define ``forward``."""

    def __new__(cls, *args, **kwargs):
        # The registries exist before any __init__ runs, so subclasses may assign
        # attributes before (or without) calling super().__init__().
        self = super().__new__(cls)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_trainable", True)
        object.__setattr__(self, "_call_losses", [])
        object.__setattr__(self, "_parameter_view", None)
        return self

    def __init__(self):
        """Nothing to set: ``__new__`` made the registries, so that subclasses may skip
        calling ``super().__init__()``."""

    def __setattr__(self, name: str, value) -> None:
        if name in self._buffers and isinstance(value, Tensor) \
                and not isinstance(value, Parameter):
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        global _structure_version
        for registry in (self._parameters, self._modules, self._buffers):
            if registry.pop(name, None) is not None:
                _structure_version += 1
        if isinstance(value, Parameter | Module):
            _structure_version += 1
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` under ``name`` without making it an attribute (a
        functional model's layers, keyed by layer name: "dense.kernel")."""
        global _structure_version
        if not isinstance(module, Module):
            raise TypeError(f"add_module expects a Module; received {type(module).__name__}.")
        self._modules[name] = module
        _structure_version += 1

    def register_buffer(self, name: str, value: Tensor) -> None:
        """State that is saved but not trained (e.g. BatchNormalization's moving mean)."""
        setattr(self, name, value)
        self._buffers[name] = value

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module below it, with dotted names."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each parameter once."""
        seen = set()
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self) -> ParameterView:
        """A live view of every parameter (see :class:`ParameterView`); one per module,
        so its cached list serves every caller."""
        if self._parameter_view is None:
            object.__setattr__(self, "_parameter_view", ParameterView(self))
        return self._parameter_view

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), b

    # ------------------------------------------------------------ modes

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout, batch statistics, augmentation active)."""
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Inference mode."""
        return self.train(False)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """False freezes every parameter below this module (no gradient, no update)."""
        for m in self.modules():
            object.__setattr__(m, "_trainable", bool(value))
            for p in m._parameters.values():
                p.requires_grad = bool(value)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------ added losses

    def add_loss(self, loss: Tensor) -> None:
        """Keep a scalar ``loss`` made during this forward pass (Keras' ``add_loss``; an
        activity regularizer's penalty): it joins ``losses`` until the next outermost
        call of a layer or model above it."""
        self._call_losses.append(loss)

    def clear_losses(self) -> None:
        """Forget the losses added by the previous forward pass, in every module below."""
        for m in self.modules():
            if m._call_losses:
                object.__setattr__(m, "_call_losses", [])

    @property
    def losses(self) -> list[Tensor]:
        """Keras' ``losses``: the scalar penalties the training loss adds. The
        ``regularizer`` penalty of every parameter that trains (computed now, from its
        current value), then the losses added during the latest forward pass
        (activity regularizers), from every module below this one."""
        penalties = [p.regularizer(p) for p in self.parameters()
                     if getattr(p, "regularizer", None) is not None and p.requires_grad]
        for m in self.modules():
            penalties.extend(m._call_losses)
        return penalties

    # ------------------------------------------------------------ state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update({name: b.data.copy() for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers; names and shapes must match."""
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        wrong = [f"{k}: expected {own[k].shape}, got {np.shape(state[k])}"
                 for k in own if k in state and tuple(np.shape(state[k])) != own[k].shape]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if wrong:
            problems.append("mis-shaped keys [" + "; ".join(wrong) + "]")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: "
                             + ", ".join(problems) + ".")
        for name, target in own.items():
            if name in state:
                value = state[name].data if isinstance(state[name], Tensor) else state[name]
                target.data = np.array(value, dtype=target.dtype)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter and buffer, in ``state_dict`` order (Keras)."""
        return list(self.state_dict().values())

    def set_weights(self, weights: list) -> None:
        """Assign arrays in ``get_weights`` order; counts and shapes must match."""
        names = list(self.state_dict())
        if len(weights) != len(names):
            raise ValueError(f"set_weights on {type(self).__name__}: expected {len(names)} "
                             f"arrays ({names}); received {len(weights)}.")
        self.load_state_dict(dict(zip(names, weights)))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return "\n".join(lines) + ")" if len(lines) > 1 else f"{type(self).__name__}()"
