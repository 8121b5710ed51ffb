"""``DistributedOptimizer``: average the gradients over the processes, then step.

Data parallelism as Horovod does it: every process holds the whole model, computes the
gradients of its share of the batch, and before each step the gradients are summed
over the processes, each weighted by its share (``process_group.gradient_weight``), so
every process applies the same update to the same weights. All of a step's gradients
travel in one flat buffer per dtype, one allreduce each, not one call per parameter.

The optimizer it returns is of a subclass of the given one's class with the same name,
so ``isinstance``, ``state_dict`` and ``model.save`` see the optimizer they know.
"""

from __future__ import annotations

import copy

import numpy as np

from .. import process_group
from ..process_group import FlatBuffers, ProcessGroup
from ..tensor import Tensor
from .optimizer import Optimizer


class _GradientAverage:
    """The flat buffers for a list of parameters: their gradients, then one presence
    flag per parameter and dtype (1 where a process has a gradient), so a parameter
    that no process's loss reached keeps no gradient and is not stepped."""

    def __init__(self, params: list[Tensor], group: ProcessGroup):
        self.ids = [id(p) for p in params]
        dtypes = list(dict.fromkeys(p.dtype for p in params))
        specs = [(p.shape, p.dtype) for p in params]
        specs += [((sum(p.dtype == d for p in params),), d) for d in dtypes]
        _check_same_everywhere(specs, group)
        self.flat = FlatBuffers(specs)
        self.grads = self.flat.views[:len(params)]
        flags = dict(zip(dtypes, self.flat.views[len(params):]))
        slots = dict.fromkeys(dtypes, 0)
        self.flags = []
        for p in params:
            self.flags.append((flags[p.dtype], slots[p.dtype]))
            slots[p.dtype] += 1

    def holds(self, params: list[Tensor]) -> bool:
        return [id(p) for p in params] == self.ids

    def average(self, params: list[Tensor], weight: float, group: ProcessGroup) -> None:
        """Replace every gradient by the weighted sum over the processes."""
        for p, view, (flags, slot) in zip(params, self.grads, self.flags):
            if p.grad is None:
                view.fill(0)
                flags[slot] = 0
            else:
                if p.grad.shape != p.shape:
                    raise ValueError(f"DistributedOptimizer.step: a parameter of shape "
                                     f"{p.shape} has a gradient of shape {p.grad.shape}.")
                np.multiply(p.grad.data, weight, out=view)
                flags[slot] = 1
        self.flat.run(lambda buffer: group.allreduce(buffer, "allreduce of the gradients"))
        for p, view, (flags, slot) in zip(params, self.grads, self.flags):
            p.grad = Tensor._from_op(view, None) if flags[slot] else None


def _check_same_everywhere(specs: list, group: ProcessGroup) -> None:
    """Every process must train the same parameters, or the buffers would not match."""
    everyone = process_group.allgather_objects(
        [(tuple(shape), str(dtype)) for shape, dtype in specs], "the parameters' shapes")
    for rank, theirs in enumerate(everyone):
        if theirs != everyone[group.rank]:
            raise ValueError(f"DistributedOptimizer: the processes train different "
                             f"parameters: rank {group.rank} has {len(everyone[group.rank])} "
                             f"(shapes and flags {everyone[group.rank]}), rank {rank} has "
                             f"{len(theirs)} ({theirs}). Build the same model on every rank.")


class _Averaging:
    """The mixin of every distributed optimizer class: average, then the rule's step."""

    distributed = True

    def step(self) -> None:
        group = process_group.current()
        if group.size > 1:
            params = [p for p in self._parameters() if p.requires_grad]
            average = self.__dict__.get("_average")
            if average is None or not average.holds(params):
                average = self._average = _GradientAverage(params, group)
            average.average(params, process_group.gradient_weight(), group)
        super().step()


_classes: dict[type, type] = {}


def DistributedOptimizer(optimizer: Optimizer) -> Optimizer:
    """``optimizer`` made to average its gradients over the processes before every step
    (``cr.distributed``): a copy of it whose class is a subclass of its class with the
    same name, sharing its parameters and state. Use the returned optimizer in place of
    the given one. With one process, it steps exactly as the given one would."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"DistributedOptimizer expects a chainrule optimizer (e.g. "
                        f"cr.optim.Adam(...)); received {type(optimizer).__name__}.")
    if isinstance(optimizer, _Averaging):
        return optimizer
    base = type(optimizer)
    if base not in _classes:
        _classes[base] = type(base.__name__, (_Averaging, base),
                              {"__module__": base.__module__, "__qualname__": base.__qualname__,
                               "__doc__": base.__doc__})
    averaging = copy.copy(optimizer)
    averaging.__class__ = _classes[base]
    averaging._average = None
    return averaging


def is_distributed(optimizer) -> bool:
    """Whether ``optimizer`` averages its gradients over the processes."""
    return isinstance(optimizer, _Averaging)
