"""Data-augmentation layers, active only in training (the identity in eval/predict).

``RandomTranslation`` and ``RandomFlip`` move whole pixels: each builds, for every
sample at once, the source row and column of every output pixel and gathers them
with one integer-array index, so gradients flow back through ``GetItem``.
``GaussianNoise`` adds noise. Randomness comes from chainrule's seeded generator
(``cr.manual_seed``), or from the layer's own when a ``seed`` is given (Keras).
Images are channels-last, (N, H, W, C).
"""

from __future__ import annotations

import numpy as np

from .. import backend, process_group
from ..tensor import Tensor, where
from .base import Layer, single_shape

FILL_MODES = ("constant", "reflect", "nearest", "wrap")
FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


class _RandomLayer:
    """Mixin (before ``Layer``, so it stays out of the registry): the ``seed`` argument."""

    def __init__(self, seed: int | None = None, **kwargs):
        self.seed = seed
        self._own_rng = None if seed is None else np.random.default_rng(seed)
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The input's shape: augmentation moves or perturbs values, never the shape."""
        return single_shape(self, input_shape)

    def _rng(self) -> np.random.Generator:
        # Looked up at call time: cr.manual_seed replaces the global generator.
        return self._own_rng if self._own_rng is not None else backend.rng()

    def _per_sample(self, draw, shape: tuple) -> np.ndarray:
        """``draw(generator, shape)`` for a batch of ``shape`` (samples first); when the
        batch is one process's share of a global batch, each sample gets the numbers one
        process holding the global batch would have drawn for it."""
        generator = self._rng()
        return process_group.draw_for_batch(lambda s: draw(generator, s), tuple(shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


def _check_images(layer: Layer, x: Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"`{type(layer).__name__}` expects channels-last images of shape "
                         f"(N, H, W, C); received shape {x.shape}.")


def _gather_pixels(x: Tensor, rows: np.ndarray, cols: np.ndarray) -> Tensor:
    """y[n, i, j] = x[n, rows[n, i], cols[n, j]];  x (N, H, W, C), rows (N, H'), cols (N, W')."""
    n, h, w, c = x.shape
    sample = np.arange(n)[:, None, None]
    flat = (sample * h + rows[:, :, None]) * w + cols[:, None, :]
    return x.reshape(n * h * w, c)[flat]


def _source_index(src: np.ndarray, n: int, fill_mode: str) -> np.ndarray:
    """Map positions that may fall outside [0, n) back inside, as ``fill_mode`` says.

    reflect (d c b a | a b c d | d c b a), nearest (a a | a b c d | d d),
    wrap (a b c d | a b c d); constant clips (the outside is masked afterwards).
    """
    if fill_mode == "wrap":
        return np.mod(src, n)
    if fill_mode == "reflect":
        s = np.mod(src, 2 * n)
        return np.where(s < n, s, 2 * n - 1 - s)
    return np.clip(src, 0, n - 1)


def _factor_range(arg: str, factor) -> tuple[float, float]:
    """Keras' factor: f -> (-f, f), (lo, hi) as given; both within [-1, 1]."""
    if isinstance(factor, int | float):
        lo, hi = -abs(float(factor)), abs(float(factor))
    else:
        try:
            lo, hi = (float(f) for f in factor)
        except (TypeError, ValueError):
            lo, hi = np.nan, np.nan
    if not -1 <= lo <= hi <= 1:
        raise ValueError(f"Invalid value for argument `{arg}` of `RandomTranslation`: expected "
                         f"a float in [-1, 1] or a pair (lower, upper) with -1 <= lower <= "
                         f"upper <= 1; received {arg}={factor!r}.")
    return lo, hi


class RandomTranslation(_RandomLayer, Layer):
    """Shift each image by a random whole number of pixels; (N, H, W, C) -> same shape.

    ``height_factor`` f shifts by round(u * H) rows, u ~ U(-f, f) per sample (a pair
    (lo, hi) gives U(lo, hi)); positive moves content down. ``width_factor`` does the
    same for columns (positive moves right). Uncovered pixels come from ``fill_mode``:
    "reflect" (Keras' default), "nearest", "wrap" or "constant" (``fill_value``).
    Only ``interpolation="nearest"`` is supported.
    """

    def __init__(self, height_factor, width_factor, fill_mode: str = "reflect",
                 interpolation: str = "nearest", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs):
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = _factor_range("height_factor", height_factor)
        self.width_range = _factor_range("width_factor", width_factor)
        if fill_mode not in FILL_MODES:
            raise ValueError(f"Invalid value for argument `fill_mode` of `RandomTranslation`: "
                             f"expected one of {FILL_MODES}; received fill_mode={fill_mode!r}.")
        if interpolation != "nearest":
            raise ValueError(f"Invalid value for argument `interpolation` of "
                             f"`RandomTranslation`: only 'nearest' (whole-pixel shifts) is "
                             f"supported; received interpolation={interpolation!r}.")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = float(fill_value)
        super().__init__(seed=seed, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        _check_images(self, x)
        n, h, w, _ = x.shape
        dy = self._shifts(self.height_range, n, h)
        dx = self._shifts(self.width_range, n, w)
        return self.translate(x, dy, dx)

    def _shifts(self, bounds: tuple, n: int, length: int) -> np.ndarray:
        """Whole-pixel shifts (n,), fractions of ``length`` drawn uniformly in ``bounds``."""
        fractions = self._per_sample(lambda g, s: g.uniform(*bounds, size=s), (n,))
        return np.rint(fractions * length).astype(np.int64)

    def translate(self, x: Tensor, dy: np.ndarray, dx: np.ndarray) -> Tensor:
        """Shift sample k down by dy[k] rows and right by dx[k] columns (ints, (N,))."""
        _, h, w, _ = x.shape
        src_rows = np.arange(h) - dy[:, None]
        src_cols = np.arange(w) - dx[:, None]
        y = _gather_pixels(x, _source_index(src_rows, h, self.fill_mode),
                           _source_index(src_cols, w, self.fill_mode))
        if self.fill_mode != "constant":
            return y
        inside = (((src_rows >= 0) & (src_rows < h))[:, :, None, None]
                  & ((src_cols >= 0) & (src_cols < w))[:, None, :, None])
        return where(inside, y, self.fill_value)

    def get_config(self) -> dict:
        factors = {k: list(v) if isinstance(v, tuple | list) else v
                   for k, v in (("height_factor", self.height_factor),
                                ("width_factor", self.width_factor))}
        return {**super().get_config(), **factors, "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomFlip(_RandomLayer, Layer):
    """Flip each image left-right and/or up-down with probability 1/2; (N, H, W, C).

    ``mode``: "horizontal" (mirror columns), "vertical" (mirror rows) or
    "horizontal_and_vertical" (each independently; Keras' default).
    """

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None,
                 **kwargs):
        if mode not in FLIP_MODES:
            raise ValueError(f"Invalid value for argument `mode` of `RandomFlip`: expected one "
                             f"of {FLIP_MODES}; received mode={mode!r}.")
        self.mode = mode
        super().__init__(seed=seed, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        _check_images(self, x)
        n, h, w, _ = x.shape
        flips = [self._per_sample(lambda g, s: g.random(s), (n,)) < 0.5 if active
                 else np.zeros(n, bool)
                 for active in (self.mode != "horizontal", self.mode != "vertical")]
        rows, cols = _maybe_reversed(h, flips[0]), _maybe_reversed(w, flips[1])
        return _gather_pixels(x, rows, cols)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


def _maybe_reversed(length: int, flip: np.ndarray) -> np.ndarray:
    """(N, length) indices: reversed for the samples where ``flip`` is True."""
    forward = np.arange(length)
    return np.where(flip[:, None], forward[::-1], forward)


class GaussianNoise(_RandomLayer, Layer):
    """Add N(0, stddev**2) noise in training, any shape; the identity in eval."""

    supports_masking = True

    def __init__(self, stddev: float, seed: int | None = None, **kwargs):
        if not stddev >= 0:
            raise ValueError(f"Invalid value for argument `stddev` of `GaussianNoise`: "
                             f"expected a float >= 0; received stddev={stddev}.")
        self.stddev = float(stddev)
        super().__init__(seed=seed, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.stddev == 0:
            return x
        if x.dtype.kind != "f":  # integer images (uint8) become floats, as in Keras
            x = Tensor(x.data.astype(backend.get_default_dtype()))
        noise = self._per_sample(lambda g, s: g.standard_normal(s, dtype=x.dtype), x.shape)
        noise = noise * x.dtype.type(self.stddev)
        return x + noise

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev}
