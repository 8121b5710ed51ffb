"""MNIST-style IDX files (gzipped or not): the shipped MNIST test release, or a user's."""

from __future__ import annotations

import gzip
import io
import math
import os
from pathlib import Path

import numpy as np

from ...io import read_regular
from ...io.archive import MAX_COMPRESSION_RATIO
from .bundled import read_bundled

MNIST_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
MAX_IDX_FILE_BYTES = 1 << 30  # a file on disk, gzipped or not
MAX_IDX_VALUES = 4 << 30  # what its header may declare


def parse_idx(data: bytes, source) -> np.ndarray:
    """The uint8 array held by one IDX file's bytes (gunzipped first when gzipped).

    The header's dimensions are checked before anything is allocated, and a gzipped
    file is inflated only as far as they say (and no more than
    ``MAX_COMPRESSION_RATIO`` times its size): a bomb or a lying header is a
    ValueError naming ``source``, never gigabytes of memory."""
    gzipped = data[:2] == b"\x1f\x8b"
    stream = gzip.GzipFile(fileobj=io.BytesIO(data)) if gzipped else io.BytesIO(data)
    try:
        return _read_idx(stream, len(data), gzipped, source)
    except (OSError, EOFError) as err:  # gzip.BadGzipFile, zlib.error, truncated streams
        raise ValueError(f"load_mnist: {source} is damaged: {type(err).__name__}: "
                         f"{err}") from None


def _read_idx(stream, size: int, gzipped: bool, source) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4 or magic[:3] != b"\x00\x00\x08" or not 1 <= magic[3] <= 8:
        raise ValueError(f"load_mnist: {source} is not an IDX file of unsigned bytes.")
    head = stream.read(4 * magic[3])
    if len(head) < 4 * magic[3]:
        raise ValueError(f"load_mnist: {source} is truncated inside its header.")
    dims = tuple(int.from_bytes(head[4 * i:4 * i + 4], "big") for i in range(magic[3]))
    count = math.prod(dims)
    bound = min(MAX_IDX_VALUES, max(MAX_COMPRESSION_RATIO * size, 1 << 20)) if gzipped \
        else size - 4 - len(head)
    if count > bound:
        raise ValueError(f"load_mnist: {source} declares an array of shape {dims} "
                         f"({count:,} bytes), but " + (
                             f"a file of {size:,} bytes cannot hold that much (at most "
                             f"{bound:,} once unzipped)." if gzipped else
                             f"holds {bound:,} bytes of data."))
    body = stream.read(count)
    if len(body) != count or stream.read(1):
        found = "more" if len(body) == count else f"{len(body):,} bytes"
        raise ValueError(f"load_mnist: {source} holds {found} of data; its header "
                         f"declares shape {dims} ({count:,} bytes).")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def read_idx(path: Path) -> np.ndarray:
    """The array in the IDX file at ``path`` (a regular file, gzipped or not)."""
    return parse_idx(read_regular(path, MAX_IDX_FILE_BYTES, "IDX file", ValueError), path)


def _find(folder: Path, kind: str) -> Path:
    for pattern in (f"*{kind}*idx*", f"*{kind}*"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError(f"load_mnist: no {kind} file (IDX) in {folder}.")


def _pair(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"load_mnist: images {images.shape} and labels {labels.shape} "
                         f"do not pair up.")
    return images, labels


def load_mnist(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from IDX files: by default the 10,000-image test release shipped with
    chainrule; else ``path``, a folder holding an images and a labels file, or the
    images file itself (its labels file beside it).

    Returns images uint8 (N, 28, 28) and labels uint8 (N,).
    """
    if path is None:
        return _pair(*(parse_idx(read_bundled(name), f"chainrule's {name}")
                       for name in MNIST_TEST_FILES))
    path = Path(path)
    if path.is_dir():
        images_path, labels_path = _find(path, "images"), _find(path, "labels")
    elif path.exists():  # a file, or something read_idx refuses by name (a FIFO...)
        images_path = path
        labels_path = path.with_name(path.name.replace("images", "labels").replace(
            "idx3", "idx1"))
    else:
        raise FileNotFoundError(f"load_mnist: no file or folder at {path}.")
    return _pair(read_idx(images_path), read_idx(labels_path))
