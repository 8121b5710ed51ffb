"""Named arrays as safetensors bytes, with the header validated before loading."""

from __future__ import annotations

import json
import math
import os
import struct
import warnings
from collections.abc import Callable

import numpy as np

from .archive import MAX_MEMBER_BYTES, atomic_write
from .errors import ModelFormatError, NonFiniteWeightsWarning
from .files import open_regular

# safetensors dtype code -> itemsize; only plain numeric types (no object, no bfloat16)
ALLOWED_DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "U32": 4, "I32": 4,
                  "U64": 8, "I64": 8, "F16": 2, "F32": 4, "F64": 8}
MAX_HEADER_BYTES = 4 << 20  # some 40,000 arrays; JSON parsing costs ~10x its size
MAX_ITEMSIZE = max(ALLOWED_DTYPES.values())
HEADER_BYTES_PER_ARRAY = 512  # one header entry: a name of a few hundred characters at most


def safetensors_budget(n_values: int, n_arrays: int) -> int:
    """The most bytes safetensors data of ``n_arrays`` arrays holding ``n_values``
    values in all can take (any allowed dtype): what a reader that knows the shapes it
    expects may accept before reading."""
    return 8 + 1024 + HEADER_BYTES_PER_ARRAY * n_arrays + MAX_ITEMSIZE * n_values


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
    source in error messages. Raises :class:`ModelFormatError` on any problem, and
    warns (:class:`NonFiniteWeightsWarning`, naming them) when floating arrays hold
    NaN or infinity: they load, as a diverged checkpoint should, but not silently."""
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
    warn_non_finite(out, where)
    return out


def warn_non_finite(arrays: dict[str, np.ndarray], where: str) -> None:
    """One :class:`NonFiniteWeightsWarning` naming every floating array of ``arrays``
    that holds NaN or infinity, with counts."""
    bad = []
    for name, arr in arrays.items():
        if arr.dtype.kind != "f" or np.isfinite(arr.sum(dtype=np.float64)):
            continue  # a finite sum (one pass, no copy) rules out NaN and infinity
        non_finite = arr.size - int(np.isfinite(arr).sum())
        if non_finite:
            nan = int(np.isnan(arr).sum())
            bad.append(f"{name!r} ({nan} NaN, {non_finite - nan} infinite of {arr.size})")
    if bad:
        warnings.warn(f"{where}: array(s) {', '.join(bad)} hold NaN or infinite values; "
                      f"a model using them computes NaN.", NonFiniteWeightsWarning,
                      stacklevel=3)


def read_header(read_prefix: Callable[[int], bytes], size: int, where: str) -> dict:
    """The validated header (array name -> dtype, shape, offsets) of safetensors data
    of ``size`` bytes, read through ``read_prefix(n)`` (its first ``n`` bytes) without
    reading the arrays: what a reader checks before it reads on."""
    n = _header_length(read_prefix(8), size, where)
    return _parse_header(read_prefix(8 + n)[8:], size - 8 - n, where)


def _check_header(data: bytes, where: str) -> dict:
    """Validate the header: its size, JSON, dtypes, shapes and offsets."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ModelFormatError(f"{where}: expected bytes; received {type(data).__name__}.")
    n = _header_length(data[:8], len(data), where)
    return _parse_header(data[8:8 + n], len(data) - 8 - n, where)


def _header_length(first: bytes, size: int, where: str) -> int:
    """The header length the first 8 bytes give, checked against ``size`` in all."""
    if size < 8 or len(first) < 8:
        raise ModelFormatError(f"{where}: {size} bytes is too short for safetensors data "
                               f"(truncated?).")
    (n,) = struct.unpack("<Q", bytes(first[:8]))
    if n > MAX_HEADER_BYTES:
        raise ModelFormatError(f"{where}: not safetensors data: its first 8 bytes give a "
                               f"header length of {n:,} bytes (at most {MAX_HEADER_BYTES:,}).")
    if n > size - 8:
        raise ModelFormatError(f"{where}: truncated: its header says it is {n:,} bytes long "
                               f"but only {size - 8:,} bytes follow the length.")
    return n


def _parse_header(text: bytes, buffer_len: int, where: str) -> dict:
    try:
        header = json.loads(bytes(text).decode("utf-8"))
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
        _check_entry(name, entry, buffer_len, where)
    header.pop("__metadata__", None)
    return header


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
    if offsets[1] - offsets[0] != nbytes:
        raise ModelFormatError(f"{where}: array {name!r} of shape {shape} and dtype {dtype} "
                               f"needs {nbytes} bytes; its offsets {offsets} span "
                               f"{offsets[1] - offsets[0]}.")
    if offsets[1] > buffer_len:
        raise ModelFormatError(f"{where}: truncated: array {name!r} ends at byte "
                               f"{offsets[1]:,} of the data, which holds only "
                               f"{buffer_len:,} bytes.")


def _int_list(value) -> bool:
    return isinstance(value, list) and all(type(v) is int for v in value)


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a safetensors file at ``path``, atomically."""
    data = encode_arrays(arrays)
    with atomic_write(path) as f:
        f.write(data)


def load_arrays(path: str | os.PathLike, limit: int = MAX_MEMBER_BYTES
                ) -> dict[str, np.ndarray]:
    """Read a safetensors file written by :func:`save_arrays` (validated), of at most
    ``limit`` bytes. Its header is checked against the file's size before the arrays
    are read; a path that is not a regular file raises ``ModelFormatError``."""
    path = os.fspath(path)
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise ModelFormatError(f"{path!r} is {size:,} bytes, more than the {limit:,} "
                                   f"a weights file may hold here.")
        def prefix(n: int) -> bytes:
            f.seek(0)
            return f.read(n)

        read_header(prefix, size, repr(path))  # a garbage file fails before it is read
        data = prefix(size)
    if len(data) != size:
        raise ModelFormatError(f"{path!r} changed while it was read.")
    return decode_arrays(data, repr(path))
