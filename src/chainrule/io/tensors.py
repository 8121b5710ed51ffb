"""Named arrays as safetensors bytes, with the header validated before loading."""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np

from .archive import MAX_MEMBER_BYTES, atomic_write
from .errors import ModelFormatError

# safetensors dtype code -> itemsize; only plain numeric types (no object, no bfloat16)
ALLOWED_DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "U32": 4, "I32": 4,
                  "U64": 8, "I64": 8, "F16": 2, "F32": 4, "F64": 8}
MAX_HEADER_BYTES = 100 << 20


def encode_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    """``{name: array}`` as safetensors bytes (numeric and bool dtypes only)."""
    from safetensors.numpy import save

    clean = {}
    for name, value in arrays.items():
        arr = np.ascontiguousarray(getattr(value, "data", value))
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"Cannot save array {name!r} of dtype {arr.dtype}: only bool, "
                            f"integer and floating arrays are saved.")
        clean[name] = arr
    return save(clean)


def decode_arrays(data: bytes, where: str) -> dict[str, np.ndarray]:
    """The arrays in safetensors ``data`` (writable copies); ``where`` names the
    source in error messages. Raises :class:`ModelFormatError` on any problem."""
    _check_header(data, where)
    from safetensors.numpy import load

    try:
        arrays = load(bytes(data))
    except Exception as err:  # SafetensorError and friends
        raise ModelFormatError(f"{where}: invalid safetensors data: {err}") from None
    out = {}
    for name, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
            raise ModelFormatError(f"{where}: array {name!r} has unsupported dtype "
                                   f"{getattr(arr, 'dtype', type(arr))}.")
        out[name] = np.array(arr, copy=True)
    return out


def _check_header(data: bytes, where: str) -> None:
    """Validate the header: its size, JSON, dtypes, shapes and offsets."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ModelFormatError(f"{where}: expected bytes; received {type(data).__name__}.")
    if len(data) < 8:
        raise ModelFormatError(f"{where}: {len(data)} bytes is too short for safetensors.")
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    if n > min(len(data) - 8, MAX_HEADER_BYTES):
        raise ModelFormatError(f"{where}: header length {n} does not fit in "
                               f"{len(data)} bytes.")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ModelFormatError(f"{where}: header is not valid JSON: {err}") from None
    if not isinstance(header, dict):
        raise ModelFormatError(f"{where}: header must be a JSON object; "
                               f"found {type(header).__name__}.")
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                    isinstance(v, str) for v in entry.values()):
                raise ModelFormatError(f"{where}: __metadata__ must map strings to strings.")
            continue
        _check_entry(name, entry, len(data) - 8 - n, where)


def _check_entry(name: str, entry, buffer_len: int, where: str) -> None:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ModelFormatError(f"{where}: entry {name!r} must have exactly dtype, shape "
                               f"and data_offsets; found {entry!r:.200}.")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in ALLOWED_DTYPES:
        raise ModelFormatError(f"{where}: array {name!r} has dtype {dtype!r}; allowed: "
                               f"{sorted(ALLOWED_DTYPES)}.")
    if not _int_list(shape) or any(d < 0 for d in shape) or len(shape) > 32:
        raise ModelFormatError(f"{where}: array {name!r} has invalid shape {shape!r:.200}.")
    if not _int_list(offsets) or len(offsets) != 2 or not 0 <= offsets[0] <= offsets[1]:
        raise ModelFormatError(f"{where}: array {name!r} has invalid data_offsets "
                               f"{offsets!r:.200}.")
    nbytes = math.prod(shape) * ALLOWED_DTYPES[dtype]
    if offsets[1] - offsets[0] != nbytes or offsets[1] > buffer_len:
        raise ModelFormatError(f"{where}: array {name!r} of shape {shape} and dtype {dtype} "
                               f"needs {nbytes} bytes; its offsets {offsets} do not match "
                               f"the {buffer_len}-byte data buffer.")


def _int_list(value) -> bool:
    return isinstance(value, list) and all(type(v) is int for v in value)


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a safetensors file at ``path``, atomically."""
    data = encode_arrays(arrays)
    with atomic_write(path) as f:
        f.write(data)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a safetensors file written by :func:`save_arrays` (validated)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ModelFormatError(f"{path!r} is larger than {MAX_MEMBER_BYTES} bytes.")
    return decode_arrays(data, repr(path))
