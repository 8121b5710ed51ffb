"""The array module, the default dtype and the random generator.

Everything numeric in chainrule goes through ``xp`` (NumPy today; CuPy could take
its place later) and draws randomness from :func:`rng`, so one call to
:func:`manual_seed` makes initialisation, dropout, shuffling and augmentation
reproducible. Importing this module changes nothing outside chainrule: process-wide
tuning (:func:`tune_allocator`, :func:`limit_blas_threads`) is the caller's choice.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

xp = np


def tune_allocator() -> bool:
    """Opt in: ask glibc to recycle freed large arrays instead of returning them to the OS.

    Training frees and reallocates the same few-MB arrays every step; by default
    glibc serves each from fresh mmap'd pages, and the page faults can cost more
    than the arithmetic (see docs/performance.md for the measured effect; PyTorch's
    caching allocator avoids the same cost). This raises glibc's mmap and trim
    thresholds (32 MiB / 128 MiB) so such arrays stay on the heap. It changes the
    whole process's allocator, so chainrule never calls it on its own: call it once
    at the start of a training script (the benchmarks do). Returns True when glibc
    accepted both settings; False (and nothing changes) where glibc is absent.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 32 * 2**20)
                    and libc.mallopt(m_trim_threshold, 128 * 2**20))
    except (OSError, AttributeError):
        return False


_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def get_default_dtype() -> np.dtype:
    """The floating dtype new tensors get when none is given (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the floating dtype of new tensors: ``np.float32`` or ``np.float64``."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype expects a floating dtype; received {dtype}.")
    _default_dtype = dtype


def manual_seed(seed: int) -> None:
    """Reseed chainrule's global random generator."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    """chainrule's global random generator (reseeded by :func:`manual_seed`)."""
    return _rng


# bit generators whose state is plain ints (JSON-able): manual_seed's PCG64 and its kin
_BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM}


def get_rng_state() -> dict:
    """The global generator's state as a JSON-able dict (``model.save`` stores it, so a
    run resumed in a new process draws the same shuffles and dropout masks)."""
    state = _rng.bit_generator.state
    if state.get("bit_generator") not in _BIT_GENERATORS:
        raise TypeError(f"chainrule's generator uses {state.get('bit_generator')}, whose "
                        f"state cannot be saved; reseed it with cr.manual_seed.")
    return state


def set_rng_state(state: dict) -> None:
    """Make the global generator continue from ``state`` (from :func:`get_rng_state`);
    ValueError naming what is wrong when it is not such a state."""
    global _rng
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"set_rng_state expects a state from get_rng_state() (bit_generator "
                         f"one of {sorted(_BIT_GENERATORS)}); received {state!r:.200}.")
    bit_generator = _BIT_GENERATORS[name](0)
    try:
        bit_generator.state = state
    except Exception as err:  # TypeError, KeyError, OverflowError... from numpy
        raise ValueError(f"set_rng_state: invalid {name} state {state!r:.200} "
                         f"({type(err).__name__}: {err}).") from None
    _rng = np.random.Generator(bit_generator)


def is_floating(dtype) -> bool:
    """True for floating dtypes, the only ones that can carry gradients."""
    return np.dtype(dtype).kind == "f"


def limit_blas_threads(limit: int | None = 1):
    """A context manager limiting NumPy's BLAS to ``limit`` threads (None: no limit).

    A GEMM of a mini-batch (tens of rows) is too small to split across BLAS
    threads: the hand-off costs more than it saves, and on cores shared with other
    processes it can be 10-30x slower (measured on 2 shared cores: a 64-row dense
    GAN epoch took 137 s with OpenBLAS' default threads, 8 s with one).
    """
    if limit is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(limit), user_api="blas")


# ---------------------------------------------------------------- batch workers
# Memory-bound kernels (im2col, col2im, pooling) run single-threaded in NumPy, while
# NumPy releases the GIL inside its copies, ufuncs and GEMMs: splitting the batch over a
# few Python threads uses every core the caller gave BLAS. Nothing starts at import:
# the pool is made on first use, sized by NumPy's BLAS thread limit, so
# ``limit_blas_threads(1)`` runs everything inline on the calling thread.

_blas_libs = None  # threadpoolctl's controllers of the loaded BLAS libraries, once found
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _blas_controllers() -> list:
    global _blas_libs
    if _blas_libs is None:
        from threadpoolctl import ThreadpoolController

        _blas_libs = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libs


def batch_workers() -> int:
    """How many threads the batch-split kernels use: NumPy's BLAS thread limit (at least 1),
    as the caller set it even while :func:`single_threaded_blas` holds BLAS on one thread;
    1 on a worker itself."""
    if threading.current_thread().name.startswith("chainrule-batch"):
        return 1
    if _held_workers is not None:
        return _held_workers
    return max([lib.num_threads for lib in _blas_controllers()] + [1])


_held_workers: int | None = None  # batch_workers() while single_threaded_blas holds BLAS


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS on one thread for the block, the caller's limits put back after; re-entrant.

    chainrule's batch workers keep the caller's thread count meanwhile: the two thread
    pools never run at once. OpenBLAS' threads spin for a while after each threaded GEMM
    and, on a machine of few or shared cores, take them from the workers
    (docs/performance.md, "Two threads"). Switching costs about 2 us (threadpoolctl).
    """
    global _held_workers
    if _held_workers is not None:
        yield
        return
    libs = _blas_controllers()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    _held_workers = max(before + [1])
    try:
        yield
    finally:
        _held_workers = None
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


def parallel_map(fn: Callable, items: Sequence) -> list:
    """``[fn(item) for item in items]``, the items shared out over :func:`batch_workers`
    threads (item k to worker k mod workers) with BLAS on one thread meanwhile; inline
    when one worker. ``fn`` must write disjoint outputs; results keep the items' order."""
    workers = min(batch_workers(), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="chainrule-batch")
        pool = _pool
        with single_threaded_blas():
            shares = pool.map(lambda w: [fn(item) for item in items[w::workers]],
                              range(workers))
            shares = list(shares)
    results = [None] * len(items)
    for w, share in enumerate(shares):
        results[w::workers] = share
    return results
