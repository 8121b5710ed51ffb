"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches.

Arrays (NumPy, nested lists, pandas, Tensors) are converted and checked once, then
sliced: one permutation per epoch, contiguous slices per step. Anything else that
is iterable (a :class:`~chainrule.data.DataLoader`, a generator) is taken to yield
batches ``x``, ``(x, y)`` or ``(x, y, sample_weight)`` and is re-iterated each epoch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator

import numpy as np

from ..backend import get_default_dtype, rng
from ..tensor import Tensor

Batch = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]


def check_count(value, name: str, minimum: int = 1, owner: str = "") -> int:
    """``value`` as an int if it is a whole number >= ``minimum`` (a bool is not);
    else a TypeError or ValueError naming the argument and the value."""
    where = f" of `{owner}`" if owner else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid value for argument `{name}`{where}: expected an integer; "
                        f"received {name}={value!r:.100}.")
    if not (math.isfinite(value) and float(value).is_integer()) or value < minimum:
        raise ValueError(f"Invalid value for argument `{name}`{where}: expected a whole "
                         f"number >= {minimum}; received {name}={value!r}.")
    return int(value)


def as_array(data, name: str, integer_ok: bool = True) -> np.ndarray:
    """``data`` as a numeric ndarray with a batch axis and at least one sample; floats
    in the default dtype, integers cast to it unless ``integer_ok``. pandas objects go
    through ``to_numpy``."""
    if data is None:
        raise TypeError(f"`{name}` must be an array of samples (NumPy, a list, pandas, a "
                        f"Tensor) or a data loader; received {name}=None.")
    if isinstance(data, Tensor):
        data = data.data
    elif hasattr(data, "to_numpy") and not isinstance(data, np.ndarray):
        data = data.to_numpy()
    try:
        arr = np.asarray(data)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"`{name}` cannot be made into an array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must hold numbers; received dtype {arr.dtype}"
                        + (" (a DataFrame with non-numeric columns?)"
                           if arr.dtype == object else "") + ".")
    if arr.ndim == 0:
        raise ValueError(f"`{name}` must have a batch axis; received a scalar.")
    if len(arr) == 0:
        raise ValueError(f"`{name}` is empty: it has shape {arr.shape}, no samples.")
    if arr.dtype.kind == "f" or not integer_ok:
        if arr.dtype != get_default_dtype():
            arr = arr.astype(get_default_dtype())
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """A clear error naming the first row with NaN or infinity. One vectorised pass
    (a sum, which NaN and infinity make non-finite) when there is none."""
    if arr.dtype.kind != "f" or not arr.size or np.isfinite(arr.sum()):
        return
    bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
    if not bad.any():
        return  # finite values whose sum overflowed
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = "NaN" if np.isnan(arr[row]).any() else "inf"
        raise ValueError(f"`{name}` contains {what} at row {row} "
                         f"({int(bad.sum())} row(s) in all); clean or impute it first.")


def class_weights_to_samples(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """Per-sample weights (N,) from ``{class: weight}`` (missing classes weigh 1).

    The class of a sample is its integer label, or the argmax of a one-hot row,
    or its 0/1 value for a single binary column."""
    labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
    labels = np.rint(labels).astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError("class_weight needs non-negative integer class labels in y.")
    table = np.ones(max([int(labels.max(initial=0)), *(int(k) for k in class_weight)]) + 1)
    for cls, weight in class_weight.items():
        table[int(cls)] = weight
    return table[labels].astype(get_default_dtype())


class ArrayData:
    """Converted arrays ``x`` (N, ...), optional ``y`` and ``sample_weight`` (N,)."""

    def __init__(self, x: np.ndarray, y: np.ndarray | None = None,
                 sample_weight: np.ndarray | None = None):
        self.x, self.y, self.sample_weight = x, y, sample_weight

    @classmethod
    def from_user(cls, x, y=None, sample_weight=None, class_weight=None,
                  integer_x: bool = False, what: str = "x") -> ArrayData:
        x = as_array(x, what, integer_ok=integer_x)
        check_finite(x, what)
        if y is not None:
            y = as_array(y, what.replace("x", "y"))
            if y.dtype == np.bool_:
                y = y.astype(get_default_dtype())
            if len(y) != len(x):
                raise ValueError(f"`{what}` has {len(x)} samples but "
                                 f"`{what.replace('x', 'y')}` has {len(y)}; they must match.")
            check_finite(y, what.replace("x", "y"))
        if sample_weight is not None:
            sample_weight = as_array(sample_weight, "sample_weight", integer_ok=False)
            check_finite(sample_weight, "sample_weight")
            if len(sample_weight) != len(x):
                raise ValueError(f"`sample_weight` has {len(sample_weight)} entries for "
                                 f"{len(x)} samples.")
        if class_weight is not None:
            if y is None:
                raise ValueError("class_weight needs targets y.")
            w = class_weights_to_samples(y, class_weight)
            sample_weight = w if sample_weight is None else sample_weight * w
        return cls(x, y, sample_weight)

    def __len__(self) -> int:
        return len(self.x)

    def steps(self, batch_size: int) -> int:
        return math.ceil(len(self.x) / batch_size)

    def split(self, fraction: float) -> tuple[ArrayData, ArrayData]:
        """(first 1 - fraction, last fraction): Keras' validation_split, before shuffling."""
        if not 0 < fraction < 1:
            raise ValueError(f"validation_split must be in (0, 1); received {fraction}.")
        at = int(math.floor(len(self.x) * (1.0 - fraction)))
        if at == 0 or at == len(self.x):
            raise ValueError(f"validation_split={fraction} of {len(self.x)} samples leaves "
                             f"an empty training or validation set.")
        parts = [(a[:at], a[at:]) if a is not None else (None, None)
                 for a in (self.x, self.y, self.sample_weight)]
        return ArrayData(*(p[0] for p in parts)), ArrayData(*(p[1] for p in parts))

    def batches(self, batch_size: int, shuffle: bool = False) -> Iterator[Batch]:
        """Slices of ``batch_size`` rows; with ``shuffle`` one permutation (from
        chainrule's seeded generator) is applied to every array first."""
        x, y, w = self.x, self.y, self.sample_weight
        if shuffle:
            perm = rng().permutation(len(x))
            x = x[perm]
            y = None if y is None else y[perm]
            w = None if w is None else w[perm]
        for start in range(0, len(x), batch_size):
            stop = start + batch_size
            yield (x[start:stop], None if y is None else y[start:stop],
                   None if w is None else w[start:stop])


class IterableData:
    """Batches from an iterable (a DataLoader, a generator), re-iterated every epoch."""

    def __init__(self, source: Iterable, integer_x: bool = False):
        self.source = source
        self.integer_x = integer_x

    def steps(self, batch_size: int) -> int | None:
        try:
            return len(self.source)
        except TypeError:
            return None

    def batches(self, batch_size: int = 0, shuffle: bool = False) -> Iterator[Batch]:
        """Each batch converted and checked (no NaN or infinity) as it arrives."""
        for step, batch in enumerate(self.source):
            if isinstance(batch, tuple | list) and len(batch) in (2, 3) \
                    and not isinstance(batch[0], int | float):
                parts = list(batch) + [None] * (3 - len(batch))
            else:
                parts = [batch, None, None]
            arrays = []
            for part, name, integer_ok in zip(parts, ("x", "y", "sample_weight"),
                                              (self.integer_x, True, False)):
                if part is not None:
                    part = as_array(part, f"{name} (batch {step})", integer_ok)
                    check_finite(part, f"{name} (batch {step})")
                arrays.append(part)
            yield tuple(arrays)


def is_batch_iterable(data) -> bool:
    """True for loaders and generators; False for array-likes (arrays, lists, pandas)."""
    if data is None or isinstance(data, np.ndarray | Tensor | list | tuple):
        return False
    if hasattr(data, "to_numpy") or hasattr(data, "__array__"):
        return False
    return hasattr(data, "__iter__")


def make_data(x, y=None, sample_weight=None, class_weight=None, integer_x: bool = False,
              what: str = "x") -> ArrayData | IterableData:
    """``ArrayData`` for array-likes, ``IterableData`` for loaders and generators."""
    if is_batch_iterable(x):
        if y is not None:
            raise ValueError(f"`y` must not be given when `{what}` is a data loader or "
                             f"generator; it yields (x, y) batches itself.")
        if class_weight is not None or sample_weight is not None:
            raise ValueError("class_weight and sample_weight need array inputs; have the "
                             "loader yield (x, y, sample_weight) instead.")
        return IterableData(x, integer_x)
    return ArrayData.from_user(x, y, sample_weight, class_weight, integer_x, what)
