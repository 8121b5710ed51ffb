"""Safe files for the NumPy-only models (RBM, DBN), built on :mod:`chainrule.io`:
one zip holding ``config.json`` ({"kind": ..., "config": {...}}) and
``weights.safetensors``. Nothing is unpickled or executed on load; writes are
atomic; anything unexpected raises ``ModelFormatError``."""

from __future__ import annotations

import os

import numpy as np

from ..io import (
    ModelFormatError,
    decode_arrays,
    decode_json,
    encode_arrays,
    encode_json,
    read_archive,
    write_archive,
)

_CONFIG, _WEIGHTS = "config.json", "weights.safetensors"


def save_arrays(path: str | os.PathLike, kind: str, config: dict,
                arrays: dict[str, np.ndarray]) -> None:
    """Write ``{"kind": kind, "config": config}`` and ``arrays`` to one zip at ``path``."""
    write_archive(path, {_CONFIG: encode_json({"kind": kind, "config": config}),
                         _WEIGHTS: encode_arrays(arrays)})


def load_arrays(path: str | os.PathLike, kind: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a file written by :func:`save_arrays` for ``kind``: (config, arrays)."""
    where = repr(os.fspath(path))
    members = read_archive(path, required=(_CONFIG, _WEIGHTS))
    header = decode_json(members[_CONFIG], f"{where}: {_CONFIG}")
    if header.get("kind") != kind or not isinstance(header.get("config"), dict):
        raise ModelFormatError(f"{where}: expected a saved {kind}; found "
                               f"{header.get('kind')!r}.")
    return header["config"], decode_arrays(members[_WEIGHTS], f"{where}: {_WEIGHTS}")


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
                               f"found {value!r}.")
    return value
