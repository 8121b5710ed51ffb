"""Image grids for filters, reconstructions and generated samples.

``tile_images`` is pure NumPy; ``save_image_grid`` writes a PNG through
matplotlib when it is installed (no pyplot, no window) and returns None otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def tile_images(images, ncols: int = 10, pad: int = 1, normalize: bool = False) -> np.ndarray:
    """Lay out ``images`` (n, h, w) — or (n, h*w) with square images — as one
    2-D array of ceil(n / ncols) rows, ``pad`` pixels of background between cells.

    ``normalize`` rescales each image to [0, 1] (for filters, whose scale is arbitrary).
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"tile_images expects (n, h, w) images or (n, side²) rows; "
                             f"received shape {images.shape}.")
        images = images.reshape(-1, side, side)
    if images.ndim != 3:
        raise ValueError(f"tile_images expects (n, h, w) images; received shape {images.shape}.")
    if normalize:
        low = images.min(axis=(1, 2), keepdims=True)
        span = images.max(axis=(1, 2), keepdims=True) - low
        images = (images - low) / np.where(span > 0, span, 1.0)
    n, h, w = images.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    grid = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad))
    cells = np.zeros((nrows * ncols, h, w))
    cells[:n] = images
    # (rows, cols, h, w) -> one (rows*(h+pad), cols*(w+pad)) block
    padded = np.pad(cells.reshape(nrows, ncols, h, w), ((0, 0), (0, 0), (0, pad), (0, pad)),
                    constant_values=1.0)
    grid[pad:, pad:] = padded.transpose(0, 2, 1, 3).reshape(nrows * (h + pad), ncols * (w + pad))
    return grid


def save_image_grid(images, path: str | os.PathLike, ncols: int = 10,
                    normalize: bool = False, scale: int = 3) -> Path | None:
    """Save ``tile_images(images, ncols)`` as a grey PNG at ``path`` (each pixel
    ``scale`` × ``scale``); returns the path, or None without matplotlib."""
    try:
        from matplotlib.image import imsave
    except ImportError:
        return None
    grid = tile_images(images, ncols=ncols, normalize=normalize)
    grid = np.kron(np.clip(grid, 0.0, 1.0), np.ones((scale, scale)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imsave(path, grid, cmap="gray", vmin=0.0, vmax=1.0, format="png")
    return path
