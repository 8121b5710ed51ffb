"""The array module, the default dtype and the random generator.

Everything numeric in chainrule goes through ``xp`` (NumPy today; CuPy could take
its place later) and draws randomness from :func:`rng`, so one call to
:func:`manual_seed` makes initialisation, dropout, shuffling and augmentation
reproducible.
"""

from __future__ import annotations

import numpy as np

xp = np

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def get_default_dtype() -> np.dtype:
    """The floating dtype new tensors get when none is given (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the floating dtype of new tensors: ``np.float32`` or ``np.float64``."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype expects a floating dtype; received {dtype}.")
    _default_dtype = dtype


def manual_seed(seed: int) -> None:
    """Reseed chainrule's global random generator."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    """chainrule's global random generator (reseeded by :func:`manual_seed`)."""
    return _rng


def is_floating(dtype) -> bool:
    """True for floating dtypes, the only ones that can carry gradients."""
    return np.dtype(dtype).kind == "f"
