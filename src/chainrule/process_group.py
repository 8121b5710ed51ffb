"""The processes that train one model together: one, unless ``cr.distributed.init()``
has joined the processes an MPI launcher started.

The floors below ``models`` need a few collective operations without knowing MPI: the
optimizer averages gradients, synchronised batch norm shares batch statistics, ``fit``
shards batches and merges logs. They ask :func:`current` for the group. Until
``cr.distributed.init()`` installs the MPI group (``chainrule/distributed/``), it is a
:class:`ProcessGroup` of one process, whose collectives leave every array as it is.

This module also knows which rows of the global batch this process holds during a step
of a sharded ``fit`` (:func:`batch_shard`), so that random numbers drawn per sample
(dropout masks) are the same for a sample whichever process holds it
(:func:`draw_for_batch`), and the optimizer weighs each process's gradients by its
share of the batch (:func:`gradient_weight`).
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn

import numpy as np


class ProcessGroup:
    """One process, rank 0 of 1: every collective leaves its arrays as they are.

    The MPI group (``cr.distributed``) overrides the five primitives; ``what`` names the
    operation in the error raised when it cannot complete.
    """

    rank = 0
    size = 1

    def allreduce(self, array: np.ndarray, what: str) -> np.ndarray:
        """Sum the contiguous ``array`` over the processes, in place; returns it."""
        return array

    def broadcast(self, array: np.ndarray, root: int, what: str) -> np.ndarray:
        """Overwrite the contiguous ``array`` with process ``root``'s, in place; returns it."""
        return array

    def allgather(self, array: np.ndarray, what: str) -> np.ndarray:
        """Every process's ``array`` (same shape and dtype everywhere): (size, *shape)."""
        return np.array(array)[None]

    def barrier(self, what: str, timeout: float | None = None) -> None:
        """Wait until every process has reached this point (``timeout``: seconds, if not
        the group's own)."""

    def fail(self, message: str) -> NoReturn:
        """Stop every process with ``message`` (one process: raise it)."""
        raise RuntimeError(message)


_ONE_PROCESS = ProcessGroup()
_joined: ProcessGroup | None = None


def current() -> ProcessGroup:
    """The group this process trains in: the one ``cr.distributed.init()`` joined, else
    a group of one."""
    return _joined if _joined is not None else _ONE_PROCESS


def joined() -> bool:
    """Whether ``cr.distributed.init()`` has run in this process."""
    return _joined is not None


def join(group: ProcessGroup) -> None:
    """Make ``group`` the current one (``cr.distributed.init()`` calls this)."""
    global _joined
    _joined = group


# ---------------------------------------------------------------- several arrays at once


class FlatBuffers:
    """One flat buffer per dtype for a list of arrays, and a view of it shaped as each:
    a collective over many arrays then costs one call per dtype, not one per array."""

    def __init__(self, specs: list[tuple[tuple, np.dtype]]):
        sizes: dict[np.dtype, int] = {}
        for shape, dtype in specs:
            sizes[np.dtype(dtype)] = sizes.get(np.dtype(dtype), 0) + int(np.prod(shape))
        self.buffers = {dtype: np.empty(n, dtype) for dtype, n in sizes.items()}
        offsets = dict.fromkeys(sizes, 0)
        self.views = []
        for shape, dtype in specs:
            dtype = np.dtype(dtype)
            start, n = offsets[dtype], int(np.prod(shape))
            self.views.append(self.buffers[dtype][start:start + n].reshape(shape))
            offsets[dtype] = start + n

    @classmethod
    def like(cls, arrays: list[np.ndarray]) -> FlatBuffers:
        """Buffers holding copies of ``arrays``."""
        flat = cls([(a.shape, a.dtype) for a in arrays])
        for view, a in zip(flat.views, arrays):
            view[...] = a
        return flat

    def run(self, collective: Callable[[np.ndarray], object]) -> None:
        """Apply ``collective`` to each buffer, in the order of the dtypes' first use."""
        for buffer in self.buffers.values():
            collective(buffer)


def allreduce_arrays(arrays: list[np.ndarray], what: str, mean: bool = False) -> None:
    """Sum (or average) each of ``arrays`` over the processes, in place."""
    group = current()
    if group.size == 1 or not arrays:
        return
    flat = FlatBuffers.like(arrays)
    flat.run(lambda buffer: group.allreduce(buffer, what))
    for a, view in zip(arrays, flat.views):
        a[...] = view / group.size if mean else view


def broadcast_arrays(arrays: list[np.ndarray], root: int, what: str) -> None:
    """Overwrite each of ``arrays`` with process ``root``'s, in place."""
    group = current()
    if group.size == 1 or not arrays:
        return
    flat = FlatBuffers.like(arrays)
    flat.run(lambda buffer: group.broadcast(buffer, root, what))
    for a, view in zip(arrays, flat.views):
        a[...] = view


def allgather_objects(obj, what: str) -> list:
    """Every process's ``obj`` (picklable), in rank order. The bytes travel between the
    processes of one job, never through a file."""
    group = current()
    if group.size == 1:
        return [obj]
    payload = np.frombuffer(pickle.dumps(obj), np.uint8)
    sizes = group.allgather(np.array([payload.size], np.int64), what)[:, 0]
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[:payload.size] = payload
    parts = group.allgather(padded, what)
    return [pickle.loads(part[:n].tobytes()) for part, n in zip(parts, sizes)]


def broadcast_object(obj, root: int, what: str):
    """Process ``root``'s ``obj`` (picklable), on every process."""
    group = current()
    if group.size == 1:
        return obj
    payload = np.frombuffer(pickle.dumps(obj), np.uint8) if group.rank == root else None
    size = group.broadcast(np.array([0 if payload is None else payload.size], np.int64),
                           root, what)
    buffer = np.empty(int(size[0]), np.uint8) if payload is None else payload.copy()
    return pickle.loads(group.broadcast(buffer, root, what).tobytes())


def broadcast_parameters(module, root: int = 0) -> None:
    """Give every process ``root``'s parameters and buffers (moving statistics) of
    ``module``, so that all start from the same weights; one broadcast per dtype."""
    tensors = [p for _, p in module.named_parameters()] + [b for _, b in module.named_buffers()]
    for t in tensors:
        if not t.data.flags.writeable:  # e.g. memory-mapped weights
            t.data = t.data.copy()
    broadcast_arrays([t.data for t in tensors], root, "broadcast_parameters")


# ---------------------------------------------------------------- the batch of a step


@dataclass(frozen=True)
class BatchShard:
    """This process holds rows ``start:start + rows`` of a global batch of ``total``."""

    start: int
    rows: int
    total: int


_shard: BatchShard | None = None


@contextlib.contextmanager
def batch_shard(shard: BatchShard | None) -> Iterator[None]:
    """Within the block, this process's batch is ``shard`` of a global batch."""
    global _shard
    previous, _shard = _shard, shard
    try:
        yield
    finally:
        _shard = previous


def gradient_weight() -> float:
    """The weight of this process's gradients in the average: its share of the global
    batch during a sharded step, else 1 / size. (Losses are means over their batch, so
    the weighted sum of the processes' gradients is the global batch's gradient.)"""
    shard = _shard
    return shard.rows / shard.total if shard is not None else 1.0 / current().size


def draw_for_batch(draw: Callable[[tuple], np.ndarray], shape: tuple) -> np.ndarray:
    """``draw(shape)``: random numbers for a batch whose leading axis is the samples.

    During a sharded step they are drawn for the whole global batch, and this process
    keeps its rows: every process draws the same numbers (their generators move in
    step), and each sample gets what one process holding the global batch would have
    drawn for it. An array whose leading axis is not this process's batch gets
    ``draw(shape)``.
    """
    shard = _shard
    if shard is None or not shape or shape[0] != shard.rows or shard.rows == shard.total:
        return draw(shape)
    return draw((shard.total, *shape[1:]))[shard.start:shard.start + shard.rows]
