"""BLAS threads by batch size: small products run on one thread (see
``chainrule.backend.limit_blas_threads`` for why)."""

from __future__ import annotations

from ..backend import limit_blas_threads

SMALL_BATCH = 64


def blas_threads_for_batch(batch_size: int):
    """One BLAS thread below ``SMALL_BATCH`` rows per product, no limit otherwise."""
    return limit_blas_threads(1 if batch_size < SMALL_BATCH else None)
