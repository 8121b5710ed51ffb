"""Turning what users pass to ``fit``/``evaluate``/``predict`` into batches.

Arrays (NumPy, nested lists, pandas, Tensors) are converted and checked once, then
sliced: one permutation per epoch, contiguous slices per step. A model with several
inputs or outputs passes :class:`Arrays` (one array per input or output, sharing the
batch axis), which are converted and sliced array by array. Anything else that
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


class Arrays(list):
    """Several arrays that share the batch axis: the inputs of a multi-input model or
    the targets of a multi-output one, in the model's order (a batch is an Arrays of
    slices)."""


def batch_length(a) -> int:
    """Samples in an array or in Arrays (the first array that is given)."""
    if isinstance(a, Arrays):
        return next(len(part) for part in a if part is not None)
    return len(a)


def _take(a, index):
    """Rows ``index`` (a slice or an index array) of an array or of each of Arrays."""
    if a is None:
        return None
    if isinstance(a, Arrays):
        return Arrays(None if part is None else part[index] for part in a)
    return a[index]


def _convert(data, name: str, integer_ok, finite: bool = True):
    """``as_array`` (and ``check_finite``) for one array or each of Arrays;
    ``integer_ok`` may be a list, one per array."""
    if isinstance(data, Arrays):
        flags = integer_ok if isinstance(integer_ok, list) else [integer_ok] * len(data)
        parts = Arrays(None if d is None else _convert(d, f"{name}[{i}]", ok, finite)
                       for i, (d, ok) in enumerate(zip(data, flags)))
        lengths = [len(p) for p in parts if p is not None]
        if not lengths or len(set(lengths)) > 1:
            raise ValueError(f"the arrays of `{name}` must be given and have the same "
                             f"number of samples; found {lengths}.")
        return parts
    arr = as_array(data, name, integer_ok=bool(integer_ok))
    if finite:
        check_finite(arr, name)
    return arr


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
                  integer_x: bool | list = False, what: str = "x") -> ArrayData:
        x = _convert(x, what, integer_x)
        n = batch_length(x)
        if y is not None:
            y = _convert(y, what.replace("x", "y"), True)
            y = _map_arrays(lambda a: a.astype(get_default_dtype())
                            if a is not None and a.dtype == np.bool_ else a, y)
            if batch_length(y) != n:
                raise ValueError(f"`{what}` has {n} samples but "
                                 f"`{what.replace('x', 'y')}` has {batch_length(y)}; they must "
                                 f"match.")
        if sample_weight is not None:
            sample_weight = as_array(sample_weight, "sample_weight", integer_ok=False)
            check_finite(sample_weight, "sample_weight")
            if len(sample_weight) != n:
                raise ValueError(f"`sample_weight` has {len(sample_weight)} entries for "
                                 f"{n} samples.")
        if class_weight is not None:
            if y is None:
                raise ValueError("class_weight needs targets y.")
            if isinstance(y, Arrays):
                raise ValueError("class_weight is for models with one output; with several, "
                                 "pass sample_weight.")
            w = class_weights_to_samples(y, class_weight)
            sample_weight = w if sample_weight is None else sample_weight * w
        return cls(x, y, sample_weight)

    def __len__(self) -> int:
        return batch_length(self.x)

    def steps(self, batch_size: int) -> int:
        return math.ceil(len(self) / batch_size)

    def split(self, fraction: float) -> tuple[ArrayData, ArrayData]:
        """(first 1 - fraction, last fraction): Keras' validation_split, before shuffling."""
        if not 0 < fraction < 1:
            raise ValueError(f"validation_split must be in (0, 1); received {fraction}.")
        at = int(math.floor(len(self) * (1.0 - fraction)))
        if at == 0 or at == len(self):
            raise ValueError(f"validation_split={fraction} of {len(self)} samples leaves "
                             f"an empty training or validation set.")
        parts = [(_take(a, slice(None, at)), _take(a, slice(at, None)))
                 for a in (self.x, self.y, self.sample_weight)]
        return ArrayData(*(p[0] for p in parts)), ArrayData(*(p[1] for p in parts))

    def batches(self, batch_size: int, shuffle: bool = False) -> Iterator[Batch]:
        """Slices of ``batch_size`` rows; with ``shuffle`` one permutation (from
        chainrule's seeded generator) is applied to every array first."""
        data = self.shuffled() if shuffle else self
        for start in range(0, len(data), batch_size):
            yield data.rows(start, start + batch_size)

    def shuffled(self) -> ArrayData:
        """The arrays in one random order (a permutation from chainrule's generator)."""
        perm = rng().permutation(len(self))
        return ArrayData(*(_take(a, perm) for a in (self.x, self.y, self.sample_weight)))

    def rows(self, start: int, stop: int) -> Batch:
        """Rows ``start:stop`` of x, y and sample_weight."""
        rows = slice(start, stop)
        return _take(self.x, rows), _take(self.y, rows), _take(self.sample_weight, rows)


def _map_arrays(fn, a):
    return Arrays(fn(p) for p in a) if isinstance(a, Arrays) else fn(a)


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
