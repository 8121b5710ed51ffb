"""Datasets: the tutorials' small sets built in code, and readers for shared files.

Nothing is downloaded: ``load_churn`` and ``load_mnist`` take a path.
"""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np

CHURN_FEATURES = ["Geography_Germany", "Geography_Spain", "CreditScore", "Gender", "Age",
                  "Tenure", "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember",
                  "EstimatedSalary"]
_CHURN_NUMERIC = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard",
                  "IsActiveMember", "EstimatedSalary"]


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The two-layer tutorial's data: X (4, 3) (third column a constant 1), y (4, 1)."""
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    return X, y


def celsius() -> tuple[np.ndarray, np.ndarray]:
    """-50..49 degrees Celsius and their Fahrenheit values, each (100, 1)."""
    c = np.arange(-50, 50, dtype=np.float64).reshape(-1, 1)
    return c, c * 1.8 + 32


def load_churn(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read Churn_Modelling.csv and encode it as the Keras tutorial does.

    Returns X float32 (N, 11) with columns ``CHURN_FEATURES`` (Geography one-hot
    with France dropped, Gender as 1 for Male), y int64 (N,) from ``Exited``,
    and the feature names. Not standardised.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_churn: no file at {path} (the bank-churn CSV, "
                                f"Churn_Modelling.csv).")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"load_churn: {path} has no rows.")
    needed = {"Geography", "Gender", "Exited", *_CHURN_NUMERIC}
    missing = needed - set(rows[0])
    if missing:
        raise ValueError(f"load_churn: {path} lacks the columns {sorted(missing)}.")
    unknown = {r["Geography"] for r in rows} - {"France", "Germany", "Spain"}
    if unknown:
        raise ValueError(f"load_churn: unexpected Geography values {sorted(unknown)}.")
    X = np.array([[r["Geography"] == "Germany", r["Geography"] == "Spain",
                   float(r["CreditScore"]), r["Gender"] == "Male",
                   *(float(r[c]) for c in _CHURN_NUMERIC[1:])] for r in rows],
                 dtype=np.float32)
    y = np.array([int(r["Exited"]) for r in rows], dtype=np.int64)
    return X, y, list(CHURN_FEATURES)


def _read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not) as a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"load_mnist: {path} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"load_mnist: {path} holds {body.size} bytes of data; its header "
                         f"promises {dims}.")
    return body.reshape(dims)


def _find(folder: Path, kind: str) -> Path:
    for pattern in (f"*{kind}*idx*", f"*{kind}*"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError(f"load_mnist: no {kind} file (IDX) in {folder}.")


def load_mnist(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from IDX files: a folder holding an images and a labels file, or the
    images file itself (its labels file beside it).

    Returns images uint8 (N, 28, 28) and labels uint8 (N,).
    """
    path = Path(path)
    if path.is_dir():
        images_path, labels_path = _find(path, "images"), _find(path, "labels")
    elif path.is_file():
        images_path = path
        labels_path = path.with_name(path.name.replace("images", "labels").replace(
            "idx3", "idx1"))
    else:
        raise FileNotFoundError(f"load_mnist: no file or folder at {path}.")
    images, labels = _read_idx(images_path), _read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"load_mnist: images {images.shape} and labels {labels.shape} "
                         f"do not pair up.")
    return images, labels
