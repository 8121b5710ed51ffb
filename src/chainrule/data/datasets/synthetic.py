"""The tutorials' smallest data sets, built in code."""

from __future__ import annotations

import numpy as np


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The two-layer tutorial's data: X (4, 3) (third column a constant 1), y (4, 1)."""
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    return X, y


def celsius() -> tuple[np.ndarray, np.ndarray]:
    """-50..49 degrees Celsius and their Fahrenheit values, each (100, 1)."""
    c = np.arange(-50, 50, dtype=np.float64).reshape(-1, 1)
    return c, c * 1.8 + 32
