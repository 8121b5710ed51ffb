"""Safe files for the NumPy-only models (RBM, DBN), built on :mod:`chainrule.io`:
one zip holding ``config.json`` ({"kind": ..., "config": {...}}) and
``weights.safetensors``. Nothing is unpickled or executed on load; writes are
atomic; anything unexpected raises ``ModelFormatError``, and loading draws no
random number."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from ..io import (
    Archive,
    ModelFormatError,
    decode_arrays,
    decode_json,
    encode_arrays,
    encode_json,
    safetensors_budget,
    write_archive,
)

_CONFIG, _WEIGHTS = "config.json", "weights.safetensors"


def save_arrays(path: str | os.PathLike, kind: str, config: dict,
                arrays: dict[str, np.ndarray]) -> None:
    """Write ``{"kind": kind, "config": config}`` and ``arrays`` to one zip at ``path``."""
    write_archive(path, {_CONFIG: encode_json({"kind": kind, "config": config}),
                         _WEIGHTS: encode_arrays(arrays)})


def load_arrays(path: str | os.PathLike, kind: str, shapes_of: Callable[[dict, str], dict],
                dtype) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_arrays` for ``kind``; ``shapes_of(config,
    where)`` checks the saved config and returns the shape of every array it implies.
    Those shapes bound the bytes read (before anything is inflated), and every stored
    array must have its shape; returns the arrays as ``dtype``. Nothing is allocated
    from the config's sizes, and no random number is drawn."""
    where = repr(os.fspath(path))
    with Archive(path, required=(_CONFIG, _WEIGHTS)) as archive:
        header = decode_json(archive.read(_CONFIG), f"{where}: {_CONFIG}")
        if header.get("kind") != kind or not isinstance(header.get("config"), dict):
            raise ModelFormatError(f"{where}: expected a saved {kind}; found "
                                   f"{header.get('kind')!r:.100}.")
        shapes = shapes_of(header["config"], where)
        budget = safetensors_budget(sum(math.prod(s) for s in shapes.values()), len(shapes))
        data = archive.read(_WEIGHTS, budget, needs=f"the {kind} its config describes takes "
                                                    f"at most {budget:,}")
    arrays = decode_arrays(data, f"{where}: {_WEIGHTS}")
    return {name: check_array(arrays, name, shape, where, dtype)
            for name, shape in shapes.items()}


def check_array(arrays: dict[str, np.ndarray], name: str, shape: tuple, where: str,
                dtype) -> np.ndarray:
    """``arrays[name]`` as ``dtype`` if it is a floating array of ``shape``, else
    ``ModelFormatError`` naming what was expected and what was found."""
    arr = arrays.get(name)
    if arr is None or arr.shape != tuple(shape) or arr.dtype.kind != "f":
        found = "nothing" if arr is None else f"shape {arr.shape}, dtype {arr.dtype}"
        raise ModelFormatError(f"{where}: expected a floating array {name!r} of shape "
                               f"{tuple(shape)}; found {found}.")
    return arr.astype(dtype)


def positive_int(config: dict, key: str, where: str) -> int:
    """``config[key]`` if it is a positive int, else ``ModelFormatError``."""
    value = config.get(key)
    if type(value) is not int or value <= 0:
        raise ModelFormatError(f"{where}: config {key!r} must be a positive integer; "
                               f"found {value!r:.100}.")
    return value


def rbm_shapes(prefix: str, n_visible: int, n_hidden: int) -> dict[str, tuple]:
    """The arrays of one RBM (names after ``prefix``) and their shapes."""
    return {f"{prefix}W": (n_visible, n_hidden), f"{prefix}visible_bias": (n_visible,),
            f"{prefix}hidden_bias": (n_hidden,)}
