"""``cr.backend``: the default dtype, the seeded generator, BLAS threads, and the
allocator tuning that is the caller's choice (never made at import)."""

import sys
import threading

import numpy as np
import pytest
from process_probe import run_probe

import chainrule as cr

# ---------------------------------------------------------------- dtypes and seeding


def test_default_dtype_is_float32_and_can_change():
    assert cr.get_default_dtype() == np.float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.randn(2).dtype == np.float32 and cr.zeros(2).dtype == np.float32
    assert cr.tensor([1, 2]).dtype.kind == "i"
    previous = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    try:
        assert cr.tensor([1.0]).dtype == np.float64
        assert cr.rand(3).dtype == np.float64
        assert cr.ones(2).dtype == np.float64
    finally:
        cr.set_default_dtype(previous)
    assert cr.tensor([1.0]).dtype == np.float32
    with pytest.raises(TypeError):
        cr.set_default_dtype(np.int32)


def test_manual_seed_makes_random_tensors_reproducible():
    cr.manual_seed(123)
    a, b = cr.randn(3, 4), cr.rand(5)
    cr.manual_seed(123)
    c, d = cr.randn(3, 4), cr.rand(5)
    np.testing.assert_array_equal(a.data, c.data)
    np.testing.assert_array_equal(b.data, d.data)
    assert np.all((d.data >= 0) & (d.data < 1))
    cr.manual_seed(124)
    assert not np.array_equal(cr.randn(3, 4).data, a.data)


def test_rng_is_chainrule_own_generator():
    cr.manual_seed(5)
    first = cr.backend.rng().random(3)
    np.random.seed(0)  # NumPy's global generator does not touch chainrule's
    cr.manual_seed(5)
    np.testing.assert_array_equal(cr.backend.rng().random(3), first)


def test_is_floating():
    assert cr.backend.is_floating(np.float32) and cr.backend.is_floating("float64")
    assert not cr.backend.is_floating(np.int64) and not cr.backend.is_floating(bool)


# ---------------------------------------------------------------- process-wide settings


def test_limit_blas_threads_limits_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    before = blas_threads()
    with cr.backend.limit_blas_threads(1):
        assert set(blas_threads()) <= {1}
    assert blas_threads() == before
    with cr.backend.limit_blas_threads(None):  # no limit: nothing changes
        assert blas_threads() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tune_allocator_is_an_explicit_opt_in():
    """Importing makes no mallopt call (test_architecture checks every module);
    tune_allocator() makes exactly the two documented ones."""
    probe = run_probe("import chainrule as cr\nresult = cr.backend.tune_allocator()")
    mallopts = [c for c in probe["calls"] if c == ["ctypes function", "mallopt"]]
    assert probe["result"] is True and len(mallopts) >= 1
    assert ["ctypes.CDLL", "libc.so.6"] in probe["calls"]


def test_importing_chainrule_starts_no_threads():
    probe = run_probe("import threading\nimport chainrule\n"
                      "result = sorted(t.name for t in threading.enumerate())")
    assert probe["result"] == ["MainThread"]


def test_parallel_map_runs_inline_on_one_blas_thread():
    with cr.backend.limit_blas_threads(1):
        assert cr.backend.batch_workers() == 1
        names = cr.backend.parallel_map(lambda i: (i, threading.current_thread().name),
                                        list(range(5)))
    assert names == [(i, "MainThread") for i in range(5)]


def test_parallel_map_splits_over_the_blas_threads_and_restores_the_limit():
    """Two BLAS threads: two workers, each running BLAS on one thread meanwhile; results
    in the items' order; the caller's BLAS limit back afterwards."""
    with cr.backend.limit_blas_threads(2):
        if cr.backend.batch_workers() < 2:
            pytest.skip("NumPy's BLAS offers one thread here")
        seen = cr.backend.parallel_map(
            lambda i: (i, threading.current_thread().name, cr.backend.batch_workers()),
            list(range(7)))
        assert [s[0] for s in seen] == list(range(7))
        assert {s[1] for s in seen} <= {"chainrule-batch_0", "chainrule-batch_1"}
        assert {s[2] for s in seen} == {1}
        both = threading.Barrier(2, timeout=30)  # broken unless the two run at once
        assert cr.backend.parallel_map(lambda i: both.wait() >= 0, [0, 1]) == [True, True]
        assert cr.backend.batch_workers() == 2
        with pytest.raises(ZeroDivisionError):  # a worker's error reaches the caller
            cr.backend.parallel_map(lambda i: 1 / i, [1, 0])
        assert cr.backend.batch_workers() == 2


def _blas_threads() -> int:
    return max(lib.num_threads for lib in cr.backend._blas_controllers())


def test_single_threaded_blas_holds_one_thread_keeps_the_workers_and_restores():
    with cr.backend.limit_blas_threads(2):
        if _blas_threads() < 2:
            pytest.skip("NumPy's BLAS offers one thread here")
        with cr.backend.single_threaded_blas():
            assert _blas_threads() == 1
            assert cr.backend.batch_workers() == 2  # the caller's count, not BLAS' held one
            with cr.backend.single_threaded_blas():  # re-entrant: the inner exit keeps the hold
                pass
            assert _blas_threads() == 1
            assert cr.backend.parallel_map(lambda i: threading.current_thread().name,
                                           [0, 1]) != ["MainThread"] * 2
            assert _blas_threads() == 1  # parallel_map inside a hold leaves it held
        assert _blas_threads() == 2 and cr.backend.batch_workers() == 2
