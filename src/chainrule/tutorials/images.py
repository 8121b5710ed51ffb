"""The digit images the vision and unsupervised walkthroughs share."""

from __future__ import annotations

import numpy as np

from ..data import datasets
from .extras import require

MNIST_TRAIN = 8000   # of the shipped 10,000-image MNIST test release; the last 2,000 test
DIGITS_TRAIN = 1437  # of scikit-learn's 1,797 8x8 digits (--quick); the last 360 test


def load_images(quick: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """(images float32 (N, side, side) in [0, 1], labels int64 (N,), n_train).

    MNIST (side 28, the first 8,000 images to train), or with ``quick``
    scikit-learn's 8x8 digits (side 8, the first 1,437 to train).
    """
    if quick:
        digits = require("sklearn.datasets", "its 8x8 digits for --quick").load_digits()
        return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64), \
            DIGITS_TRAIN
    images, labels = datasets.load_mnist()
    return (images / 255.0).astype(np.float32), labels.astype(np.int64), MNIST_TRAIN
