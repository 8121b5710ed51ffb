"""``DataLoader``: batches of (x, y) for hand-written loops and for ``fit``."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..backend import rng
from ..tensor import Tensor
from .inputs import as_array, check_count


class DataLoader:
    """Iterate over ``x`` (and ``y``) in batches of ``batch_size`` rows.

    Yields ``(x_batch, y_batch)`` Tensors, or ``x_batch`` alone when ``y`` is None.
    With ``shuffle`` the order is a fresh permutation each epoch, drawn from
    chainrule's seeded generator (``cr.manual_seed``); ``drop_last`` drops a final
    batch smaller than ``batch_size``. Inputs may be NumPy arrays, lists, pandas
    objects or Tensors; floating data takes the default dtype, integer labels stay
    integers. ``fit`` accepts a DataLoader in place of ``x, y``.
    """

    def __init__(self, x, y=None, batch_size: int = 32, shuffle: bool = False,
                 drop_last: bool = False):
        batch_size = check_count(batch_size, "batch_size", 1, "DataLoader")
        self.x = as_array(x, "x")
        self.y = None if y is None else as_array(y, "y")
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"DataLoader: `x` has {len(self.x)} samples but `y` has "
                             f"{len(self.y)}; they must match.")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def indices(self) -> np.ndarray:
        """This epoch's sample order (a permutation when shuffling)."""
        n = len(self.x)
        return rng().permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self) -> Iterator:
        order = self.indices()
        x = self.x[order] if self.shuffle else self.x
        y = None if self.y is None else (self.y[order] if self.shuffle else self.y)
        for b in range(len(self)):
            rows = slice(b * self.batch_size, (b + 1) * self.batch_size)
            xb = Tensor(x[rows])
            yield xb if y is None else (xb, Tensor(y[rows]))

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.x)} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
