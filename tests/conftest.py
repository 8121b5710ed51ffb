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
