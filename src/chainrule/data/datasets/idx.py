"""MNIST-style IDX files (gzipped or not): the shipped MNIST test release, or a user's."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .bundled import read_bundled

MNIST_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def parse_idx(data: bytes, source) -> np.ndarray:
    """The uint8 array held by one IDX file's bytes (gunzipped first when gzipped)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"load_mnist: {source} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"load_mnist: {source} holds {body.size} bytes of data; its header "
                         f"promises {dims}.")
    return body.reshape(dims)


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
    elif path.is_file():
        images_path = path
        labels_path = path.with_name(path.name.replace("images", "labels").replace(
            "idx3", "idx1"))
    else:
        raise FileNotFoundError(f"load_mnist: no file or folder at {path}.")
    return _pair(parse_idx(images_path.read_bytes(), images_path),
                 parse_idx(labels_path.read_bytes(), labels_path))
