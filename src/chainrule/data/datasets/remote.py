"""Larger data sets, downloaded once into the cache by ``get_file`` and checked.

Each fetcher takes ``origin``, the folder URL its files are fetched from (default:
the published mirror; point it at your own mirror, or at a test server), and
``cache_dir`` (default ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``). Files
are read without unpickling anything: MNIST's ``.npz`` with ``allow_pickle=False``,
CIFAR-10 in its binary release, Fashion-MNIST as IDX files.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...io import get_file
from .idx import read_idx

KERAS_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TORONTO = "https://www.cs.toronto.edu/~kriz/"

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class RemoteSet:
    """A data set as files at a URL: ``files`` maps each file name to its sha256."""

    name: str
    origin: str
    files: dict[str, str]
    read: Callable[[dict[str, Path]], Split]

    def fetch(self, origin: str | None = None, cache_dir: str | os.PathLike | None = None,
              progress: bool = True) -> Split:
        base = (origin or self.origin).rstrip("/") + "/"
        paths = {fname: get_file(fname, base + fname, file_hash=sha256, cache_dir=cache_dir,
                                 cache_subdir=f"datasets/{self.name}", progress=progress)
                 for fname, sha256 in self.files.items()}
        return self.read(paths)


def _read_mnist_npz(paths: dict[str, Path]) -> Split:
    with np.load(paths["mnist.npz"], allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_idx_quartet(paths: dict[str, Path]) -> Split:
    arrays = {name: read_idx(path) for name, path in paths.items()}
    return ((arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"]),
            (arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]))


_CIFAR_RECORD = 1 + 32 * 32 * 3  # a label byte, then 1024 red, 1024 green, 1024 blue


def _cifar_batch(tar: tarfile.TarFile, name: str, archive: Path) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    member = tar.getmember(f"cifar-10-batches-bin/{name}")
    if not member.isfile() or member.size % _CIFAR_RECORD:
        raise ValueError(f"fetch_cifar10: {archive} has no usable {name}.")
    records = np.frombuffer(tar.extractfile(member).read(), np.uint8).reshape(-1, _CIFAR_RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # channels-last
    return np.ascontiguousarray(images), records[:, :1].copy()


def _read_cifar10(paths: dict[str, Path]) -> Split:
    archive = paths["cifar-10-binary.tar.gz"]
    with tarfile.open(archive, "r:gz") as tar:  # members are read, never extracted
        train = [_cifar_batch(tar, f"data_batch_{i}.bin", archive) for i in range(1, 6)]
        test = _cifar_batch(tar, "test_batch.bin", archive)
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])), test


# The sha256 values are the published ones:
# - mnist.npz: keras/src/datasets/mnist.py (keras-team/keras), file_hash;
# - Fashion-MNIST: keras/src/datasets/fashion_mnist.py (keras-team/keras), FILE_HASHES;
# - CIFAR-10 binary release: tensorflow_datasets/url_checksums/cifar10.txt
#   (tensorflow/datasets), 170,052,171 bytes.
MNIST = RemoteSet("mnist", KERAS_MIRROR, {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
}, _read_mnist_npz)
FASHION_MNIST = RemoteSet("fashion-mnist", KERAS_MIRROR, {
    "train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz":
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz":
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}, _read_idx_quartet)
CIFAR10 = RemoteSet("cifar-10", TORONTO, {
    "cifar-10-binary.tar.gz": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
}, _read_cifar10)


def fetch_mnist(origin: str | None = None, cache_dir: str | os.PathLike | None = None,
                progress: bool = True) -> Split:
    """All of MNIST: ``(x_train (60000, 28, 28), y_train (60000,)), (x_test (10000, 28, 28),
    y_test (10000,))``, uint8, downloaded once (11 MB) and checked."""
    return MNIST.fetch(origin, cache_dir, progress)


def fetch_fashion_mnist(origin: str | None = None, cache_dir: str | os.PathLike | None = None,
                        progress: bool = True) -> Split:
    """Fashion-MNIST (Zalando, MIT licence), shaped as ``fetch_mnist``'s (30 MB)."""
    return FASHION_MNIST.fetch(origin, cache_dir, progress)


def fetch_cifar10(origin: str | None = None, cache_dir: str | os.PathLike | None = None,
                  progress: bool = True) -> Split:
    """CIFAR-10: ``(x_train (50000, 32, 32, 3), y_train (50000, 1)), (x_test (10000, 32, 32,
    3), y_test (10000, 1))``, uint8, channels-last as Keras (163 MB download)."""
    return CIFAR10.fetch(origin, cache_dir, progress)
