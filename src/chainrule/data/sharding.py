"""Which rows each process trains on when ``fit(distributed=True)`` spreads the batches
over several processes.

With ``size`` processes and ``batch_size`` rows each, a step trains on a global batch
of ``batch_size * size`` rows, the same ones one process with that batch size would
take: every process draws the same permutation (their generators are in step, see
``models/data_parallel.py``), cuts the same global batches and keeps its own consecutive
slice, split as ``np.array_split`` splits (the last, shorter batch of an epoch too).
A last batch with fewer rows than processes is skipped, so every process has rows in
every step. Each batch is yielded inside ``process_group.batch_shard``: dropout and
the optimizer then know which rows of the global batch this process holds.

A data loader (or generator) is read the same way on every process, and its batches
are dealt out in turns: batch ``i`` goes to process ``i % size``. The processes agree
on each turn's row counts (one small allgather per step), and an epoch ends at the
first turn in which some process has no batch left.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import numpy as np

from .. import process_group
from ..process_group import BatchShard, ProcessGroup
from .inputs import ArrayData, Batch, IterableData, batch_length


def split_rows(total: int, rank: int, size: int) -> tuple[int, int]:
    """(start, rows) of process ``rank``'s share of ``total`` rows, as ``np.array_split``
    cuts them: the first ``total % size`` shares get one row more."""
    base, extra = divmod(total, size)
    return rank * base + min(rank, extra), base + (rank < extra)


def steps(data, batch_size: int, size: int) -> int | None:
    """Steps per epoch when each of ``size`` processes takes ``batch_size`` rows."""
    if isinstance(data, ArrayData):
        full, last = divmod(len(data), batch_size * size)
        return full + (last >= size)
    n = data.steps(batch_size)
    return None if n is None else n // size


def batches(data, batch_size: int, shuffle: bool, group: ProcessGroup) -> Iterator[Batch]:
    """This process's share of each global batch, each yielded inside its
    ``batch_shard``."""
    if isinstance(data, ArrayData):
        return _array_batches(data, batch_size, shuffle, group)
    return _dealt_batches(data, batch_size, shuffle, group)


def _array_batches(data: ArrayData, batch_size: int, shuffle: bool,
                   group: ProcessGroup) -> Iterator[Batch]:
    data = data.shuffled() if shuffle else data
    width = batch_size * group.size
    for begin in range(0, len(data), width):
        total = min(width, len(data) - begin)
        if total < group.size:
            return
        start, rows = split_rows(total, group.rank, group.size)
        with process_group.batch_shard(BatchShard(start, rows, total)):
            yield data.rows(begin + start, begin + start + rows)


def _dealt_batches(data: IterableData, batch_size: int, shuffle: bool,
                   group: ProcessGroup) -> Iterator[Batch]:
    source = data.batches(batch_size, shuffle)
    while True:
        turn = list(itertools.islice(source, group.size))
        mine = turn[group.rank] if len(turn) > group.rank else None
        rows = group.allgather(np.array([0 if mine is None else batch_length(mine[0])], np.int64),
                               "the batch sizes of a data loader's turn")[:, 0]
        if not rows.all():
            return
        shard = BatchShard(int(rows[:group.rank].sum()), int(rows[group.rank]),
                           int(rows.sum()))
        with process_group.batch_shard(shard):
            yield mine


def evaluation_share(data, group: ProcessGroup):
    """This process's part of validation data: a consecutive slice of arrays (as
    ``split_rows``), or every ``size``-th batch of a loader."""
    if isinstance(data, ArrayData):
        start, rows = split_rows(len(data), group.rank, group.size)
        return ArrayData(*data.rows(start, start + rows))
    return IterableData(_EveryNth(data.source, group.rank, group.size), data.integer_x)


class _EveryNth:
    """Batches ``offset``, ``offset + step``, ... of ``source``, re-iterable."""

    def __init__(self, source: Iterable, offset: int, step: int):
        self.source, self.offset, self.step = source, offset, step

    def __iter__(self) -> Iterator:
        return itertools.islice(self.source, self.offset, None, self.step)
