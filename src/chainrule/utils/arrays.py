"""Keras' array utilities: ``to_categorical``, ``normalize``, ``pad_sequences``.

NumPy in, NumPy out, with Keras' arguments and defaults (``keras.utils``)."""

from __future__ import annotations

import numpy as np


def to_categorical(x, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot rows for integer class labels: shape (...) -> (..., num_classes).

    A trailing axis of 1 is dropped first ((N, 1) labels give (N, num_classes)), as in
    Keras; ``num_classes`` defaults to max(x) + 1. ``to_categorical([0, 2], 3)`` is
    ``[[1, 0, 0], [0, 0, 1]]``.
    """
    labels = np.asarray(x)
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ValueError(f"to_categorical expects integer class labels; received values "
                         f"such as {labels[labels != np.round(labels)].flat[0].item()!r}.")
    labels = labels.astype(np.int64)
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    num_classes = int(num_classes)
    bad = flat[(flat < 0) | (flat >= num_classes)]
    if bad.size:
        raise ValueError(f"to_categorical: class labels must lie in [0, num_classes = "
                         f"{num_classes}); received {int(bad[0])}.")
    out = np.zeros((flat.size, num_classes), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(*shape, num_classes)


def normalize(x, axis: int = -1, order: int = 2) -> np.ndarray:
    """``x`` divided by its ``order``-norm along ``axis`` (a zero norm leaves the values
    as they are); ``normalize([[3, 4]])`` is ``[[0.6, 0.8]]``."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def _position(name: str, value: str) -> str:
    if value not in ("pre", "post"):
        raise ValueError(f"Invalid value for argument `{name}` of `pad_sequences`: expected "
                         f"'pre' or 'post'; received {name}={value!r}.")
    return value


def pad_sequences(sequences, maxlen: int | None = None, dtype="int32", padding: str = "pre",
                  truncating: str = "pre", value=0.0) -> np.ndarray:
    """A list of N sequences as one (N, maxlen) array (Keras' ``pad_sequences``).

    ``maxlen`` defaults to the longest sequence. Shorter sequences are filled with
    ``value`` before them (``padding="pre"``) or after them ("post"); longer ones lose
    their first values (``truncating="pre"``) or their last ("post"). Each element may
    itself be an array (all of one shape), which becomes the trailing axes.
    """
    padding, truncating = _position("padding", padding), _position("truncating", truncating)
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"pad_sequences expects a list of sequences; received "
                         f"{type(sequences).__name__}.")
    rows = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(f"pad_sequences expects a list of sequences; element {i} is "
                             f"{s!r:.50}.")
        rows.append(np.asarray(s, dtype=dtype) if len(s) else None)
    item_shape = next((r.shape[1:] for r in rows if r is not None), ())
    if maxlen is None:
        maxlen = max((len(s) for s in sequences), default=0)
    out = np.full((len(rows), int(maxlen), *item_shape), value, dtype=dtype)
    for i, row in enumerate(rows):
        if row is None or maxlen == 0:
            continue
        if row.shape[1:] != item_shape:
            raise ValueError(f"pad_sequences: the elements of sequence {i} have shape "
                             f"{row.shape[1:]}, those before it {item_shape}.")
        row = row[-maxlen:] if truncating == "pre" else row[:maxlen]
        if padding == "pre":
            out[i, maxlen - len(row):] = row
        else:
            out[i, :len(row)] = row
    return out
