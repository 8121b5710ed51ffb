"""How ``fit`` runs on one process, or on several with ``fit(distributed=True)``.

``fit`` asks a plan at a handful of points: which batches to train on, which logs to
report, whether to stop. :class:`OneProcess` answers as ``fit`` always has. After
``cr.distributed.init()`` has joined more than one process, :class:`DataParallel`
answers for data-parallel training, Horovod's recipe:

- every optimizer of the model becomes a ``DistributedOptimizer`` (gradients averaged
  over the processes before each step), and before the first epoch every process takes
  rank 0's weights and buffers;
- at the start of each epoch every process takes rank 0's random generator, so all draw
  the same permutation and cut the same global batches (``data/sharding.py``), each
  process training on its own slice of each. The generators stay in step through the
  epoch (``process_group.draw_for_batch``), so a layer built lazily on the first batch
  draws the same initial weights everywhere;
- the epoch's logs and metrics are those of all the processes' samples together, the
  moving statistics (per-process batch norm) are averaged, and the processes agree on
  stopping, so every process sees the same ``History`` and takes the same decisions;
- only rank 0 shows progress and runs the callbacks that write files (checkpoints,
  CSV logs); the others wait for it at the end of each epoch;
- an exception on one process stops them all, with a message naming the process.
"""

from __future__ import annotations

import traceback

import numpy as np

from .. import process_group
from ..backend import rng
from ..data import sharding
from ..optim import Optimizer
from ..optim.distributed import DistributedOptimizer
from ..process_group import ProcessGroup


class OneProcess:
    """``fit`` on this process alone."""

    def callbacks(self, callbacks: list) -> list:
        return callbacks

    def verbose(self, verbose: int) -> int:
        return verbose

    def steps(self, data, batch_size: int) -> int | None:
        return data.steps(batch_size)

    def begin_epoch(self, model) -> None:
        """Before the epoch's first batch."""

    def batches(self, data, batch_size: int, shuffle: bool):
        return data.batches(batch_size, shuffle)

    def evaluation_data(self, data):
        return data

    def merge(self, running) -> None:
        """Make the running logs (sums, count, metrics) those of every process."""

    def stop_now(self, model, every_step: bool) -> bool:
        """Whether to stop the epoch after this step."""
        return model.stop_training

    def end_training_pass(self, model) -> None:
        """After the epoch's training batches, before validation."""

    def end_epoch(self, model) -> None:
        """After the epoch's callbacks."""

    def end(self) -> None:
        """After ``on_train_end``."""

    def failed(self, error: BaseException) -> None:
        """``fit`` raised ``error``; it is re-raised unless this stops the process."""


class DataParallel(OneProcess):
    """``fit`` on this process's share of every batch; see the module docstring."""

    def __init__(self, model, group: ProcessGroup):
        self.group = group
        self.weights_shared = False
        for name, value in list(vars(model).items()):
            if isinstance(value, Optimizer):
                setattr(model, name, DistributedOptimizer(value))

    def callbacks(self, callbacks: list) -> list:
        if self.group.rank == 0:
            return callbacks
        return [cb for cb in callbacks if not getattr(cb, "writes_files", False)]

    def verbose(self, verbose: int) -> int:
        return verbose if self.group.rank == 0 else 0

    def steps(self, data, batch_size: int) -> int | None:
        return sharding.steps(data, batch_size, self.group.size)

    def begin_epoch(self, model) -> None:
        if not self.weights_shared:
            process_group.broadcast_parameters(model, root=0)
            self.weights_shared = True
        generator = rng().bit_generator
        generator.state = process_group.broadcast_object(generator.state, 0,
                                                         "the random generator's state")

    def batches(self, data, batch_size: int, shuffle: bool):
        return sharding.batches(data, batch_size, shuffle, self.group)

    def evaluation_data(self, data):
        return sharding.evaluation_share(data, self.group)

    def merge(self, running) -> None:
        metrics = [(name, metric) for _, metric, name in running.model._metric_entries]
        mine = (running.sums, running.seen, [_state(m) for _, m in metrics])
        everyone = process_group.allgather_objects(mine, "the epoch's logs")
        keys = list(dict.fromkeys(k for sums, _, _ in everyone for k in sums))
        running.sums = {k: sum(sums.get(k, 0.0) for sums, _, _ in everyone) for k in keys}
        running.seen = sum(seen for _, seen, _ in everyone)
        for i, (name, metric) in enumerate(metrics):
            states = [(theirs[i], seen) for _, seen, theirs in everyone]
            if metric._additive:  # folded in rank order: the same result everywhere
                metric.reset()
                metric.merge_state([state for state, _ in states])
            else:  # the mean of the processes' results, weighted by their samples
                running.results[name] = \
                    sum(value * seen for value, seen in states) / max(running.seen, 1)

    def stop_now(self, model, every_step: bool) -> bool:
        return every_step and self._agree_to_stop(model)

    def end_training_pass(self, model) -> None:
        buffers = [b.data for _, b in model.named_buffers() if b.dtype.kind == "f"]
        process_group.allreduce_arrays(buffers, "averaging the moving statistics", mean=True)

    def end_epoch(self, model) -> None:
        self._agree_to_stop(model)  # every process waits here for rank 0's files too

    def end(self) -> None:
        self.group.barrier("the end of fit")

    def failed(self, error: BaseException) -> None:
        detail = "".join(traceback.format_exception(error))
        self.group.fail(f"{detail}chainrule.distributed: rank {self.group.rank} of "
                        f"{self.group.size} failed in fit: {type(error).__name__}: {error}")

    def _agree_to_stop(self, model) -> bool:
        flag = np.array([1.0 if model.stop_training else 0.0])
        self.group.allreduce(flag, "agreeing whether to stop")
        model.stop_training = bool(flag[0])
        return model.stop_training


def plan_for(model, distributed: bool):
    """The plan ``fit`` follows: DataParallel when asked for and more than one process
    has joined, else OneProcess."""
    if not distributed:
        return OneProcess()
    if not process_group.joined():
        raise RuntimeError("fit(distributed=True) needs cr.distributed.init() first: it "
                           "joins the processes that mpiexec (or srun) started.")
    group = process_group.current()
    if group.size == 1:
        return OneProcess()
    return DataParallel(model, group)


def _state(metric):
    """What a metric sends the others: its additive state, else its result."""
    return metric.state() if metric._additive else float(metric.result())
