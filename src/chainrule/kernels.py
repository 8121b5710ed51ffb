"""Compiled, threaded kernels for convolution and max pooling (numba): an opt-in.

Imported only by :func:`chainrule.backend.use_compiled_kernels` (or the
``CHAINRULE_COMPILED_KERNELS=1`` environment variable): ``import chainrule`` never imports
numba, and without this module the ops run their NumPy code, unchanged. Each kernel
does in one pass, over both cores, what the NumPy path does in several single-threaded
ones (channels-last arrays with 6-16 channels leave NumPy short inner loops); the
textbook versions they equal sit beside the NumPy kernels (``ops/conv.py``,
``ops/pool.py``) and ``tests/test_kernels.py`` checks them against each other.

Every kernel is written as the plain loop it computes, ``prange`` marking the loop whose
iterations write disjoint outputs (rows of an output, or whole images): numba shares
that loop out over its threads, as many as chainrule's BLAS limit
(``backend.batch_workers``; set per call by :func:`set_threads`).

Compilation: the kernels compile on first use for each dtype (about a second each) and
numba caches the machine code on disk, so later processes load it: in ``$NUMBA_CACHE_DIR``
when the user set it, else in ``$XDG_CACHE_HOME/chainrule/numba`` (default
``~/.cache/chainrule/numba``), never beside the installed package.

Shapes: xp (N, Hp, Wp, C) a padded input; a geometry is (kh, kw, sh, sw, dh, dw, oh, ow):
window, strides, dilation and output size, as in ``ops/conv.py``.
"""

import functools
import os
from pathlib import Path

import numba
import numpy as np
from numba import prange


def cache_dir() -> Path:
    """Where numba keeps the compiled kernels: ``$NUMBA_CACHE_DIR`` when set, else
    ``$XDG_CACHE_HOME/chainrule/numba`` (``~/.cache/chainrule/numba``)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "chainrule" / "numba"


def _compile(fn):
    """``fn`` as a parallel numba function cached in :func:`cache_dir`.

    numba fixes a function's cache location when it wraps it, from its global
    ``config.CACHE_DIR``; that setting is ours only for the moment of wrapping.
    """
    before = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(cache_dir())
    try:
        return numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")(fn)
    finally:
        numba.config.CACHE_DIR = before


def set_threads(n: int) -> None:
    """Run the calling thread's kernels on ``n`` threads (at most numba's pool size)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


# ---------------------------------------------------------------- convolution
# Each factory returns a kernel compiled for one window and channel count: numba sees
# them as constants and unrolls the short inner loops (kw*C = 5..80 values), which,
# left as runtime bounds, ran 2-5x slower than NumPy's strided copies.


@functools.cache
def im2col_kernel(kh: int, kw: int, c: int, dw: int):
    """im2col(xp, cols, sh, sw, dh, oh, ow): cols[(n, y, x), (i, j, c)] =
    xp[n, y*sh + i*dh, x*sw + j*dw, c], then a column of ones when ``cols`` has one more
    column than kh*kw*C (the bias row's partner). xp and cols C-contiguous."""
    run, taps = (kw * c, 1) if dw == 1 else (c, kw)
    size = kh * kw * c

    def im2col(xp, cols, sh, sw, dh, oh, ow):
        n, hp, wp, _ = xp.shape
        width = cols.shape[1]
        src, dst = xp.reshape(-1), cols.reshape(-1)
        for row in prange(n * oh):
            b = row // oh
            y = row - b * oh
            for x in range(ow):
                out = (row * ow + x) * width
                for i in range(kh):
                    start = ((b * hp + y * sh + i * dh) * wp + x * sw) * c
                    for j in range(taps):
                        for t in range(run):
                            dst[out + t] = src[start + j * dw * c + t]
                        out += run
                if width > size:
                    dst[out] = 1

    return _compile(im2col)


@functools.cache
def col2im_kernel(kh: int, kw: int, c: int):
    """col2im(blocks, dxp, sh, sw, dh, dw, oh, ow): the adjoint of im2col, as a gather:
    dxp[n, p, q, c] = the sum of the column gradients blocks (kh*kw*C, N*OH*OW) of every
    (tap, output) that read xp[n, p, q, c]. One input row per iteration (no two write the
    same element), summed channels-first in a row buffer, so the inner loop runs along
    the output positions; dxp C-contiguous."""

    def col2im(blocks, dxp, sh, sw, dh, dw, oh, ow):
        n, hp, wp, _ = dxp.shape
        for row in prange(n * hp):
            b = row // hp
            p = row - b * hp
            acc = np.zeros((c, wp), blocks.dtype)
            for i in range(kh):
                y = p - i * dh
                if y < 0 or y % sh != 0 or y // sh >= oh:
                    continue
                start = (b * oh + y // sh) * ow
                for j in range(kw):
                    for ch in range(c):
                        k = (i * kw + j) * c + ch
                        for x in range(ow):
                            acc[ch, x * sw + j * dw] += blocks[k, start + x]
            for q in range(wp):
                for ch in range(c):
                    dxp[b, p, q, ch] = acc[ch, q]

    return _compile(col2im)


def _relu_grad(grad, out, dst):
    """dst = grad where out > 0, else 0 (the fused ReLU's backward); all (rows, C)."""
    for r in prange(grad.shape[0]):
        for k in range(grad.shape[1]):
            dst[r, k] = grad[r, k] if out[r, k] > 0 else 0


# ---------------------------------------------------------------- max pooling


@functools.cache
def max_pool_kernel(ph: int, pw: int, c: int):
    """max_pool(xp, out, where, sh, sw): out[n, y, x, c] = the max of window (y, x) of xp,
    where[...] = the offset i*pw + j of its first maximum in row-major window order
    (the first NaN, when there is one, as NumPy's maximum propagates it)."""

    def max_pool(xp, out, where, sh, sw):
        n, oh, ow, _ = out.shape
        for row in prange(n * oh):
            b = row // oh
            y = row - b * oh
            for x in range(ow):
                for ch in range(c):
                    best = xp[b, y * sh, x * sw, ch]
                    first = 0
                    if best == best:
                        for i in range(ph):
                            for j in range(pw):
                                v = xp[b, y * sh + i, x * sw + j, ch]
                                if not v <= best:  # larger, or NaN
                                    best, first = v, i * pw + j
                                    if v != v:
                                        break
                            if best != best:
                                break
                    out[b, y, x, ch] = best
                    where[b, y, x, ch] = first

    return _compile(max_pool)


def _max_pool_backward(grad, where, dxp, pw, sh, sw):
    """dxp = every window's gradient added at its first maximum (``where``); dxp
    (N, Hp, Wp, C) is zeroed first. One image per iteration (windows may overlap)."""
    n, oh, ow, c = grad.shape
    for b in prange(n):
        dxp[b] = 0
        for y in range(oh):
            for x in range(ow):
                for ch in range(c):
                    k = where[b, y, x, ch]
                    dxp[b, y * sh + k // pw, x * sw + k % pw, ch] += grad[b, y, x, ch]


relu_grad = _compile(_relu_grad)
max_pool_backward = _compile(_max_pool_backward)
