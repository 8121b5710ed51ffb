"""Shared fixtures: an optional ``torch`` and a clean global state around every test."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # `from helpers import check_op` in any layout

import chainrule as cr  # noqa: E402


@pytest.fixture
def torch():
    """PyTorch, or a skip when it is not installed (only parity tests need it)."""
    return pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Run the suite on one BLAS thread: results are reproducible run to run (two
    threads may sum in another order), and the many small matrix products of
    training run faster than when threads hand work to each other."""
    with cr.backend.limit_blas_threads(1):
        yield


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Tests may change the default dtype or grad mode; put them back afterwards."""
    dtype = cr.get_default_dtype()
    grad_enabled = cr.is_grad_enabled()
    yield
    cr.set_default_dtype(dtype)
    leaked = cr.is_grad_enabled() != grad_enabled
    cr.autograd._grad_enabled = grad_enabled
    assert not leaked, "a test left grad mode changed"
