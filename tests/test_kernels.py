"""The compiled kernels (chainrule.kernels, numba; an opt-in): equal to the textbook versions.

Skipped where numba is not installed, except the opt-in checks, which hold either way.
"""

import numpy as np
import pytest
from process_probe import run_probe

import chainrule as cr
from chainrule.ops.conv import (
    Conv2d,
    col2im_compiled,
    col2im_reference,
    im2col_compiled,
    im2col_reference,
    output_size,
)
from chainrule.ops.pool import MaxPool2d, max_pool2d_backward_reference

# (input N, H, W, C; window; strides; dilation)
GEOMETRIES = [((2, 7, 6, 1), (3, 3), (1, 1), (1, 1)),
              ((3, 9, 8, 4), (2, 3), (2, 1), (1, 2)),
              ((1, 10, 11, 3), (3, 2), (1, 3), (2, 1))]


def test_importing_chainrule_does_not_import_numba():
    probe = run_probe("import sys\nimport chainrule\nresult = 'numba' in sys.modules")
    assert probe["result"] is False


@pytest.fixture
def kernels():
    pytest.importorskip("numba")
    cr.backend.use_compiled_kernels(True)
    yield cr.backend.compiled_kernels()
    cr.backend.use_compiled_kernels(False)


def _out_hw(shape, window, strides, dilation):
    return tuple(output_size(s, k, st, d)
                 for s, k, st, d in zip(shape[1:3], window, strides, dilation))


@pytest.mark.parametrize("shape, window, strides, dilation", GEOMETRIES)
def test_im2col_and_col2im_equal_the_textbook(kernels, shape, window, strides, dilation):
    rng = np.random.default_rng(0)
    xp = rng.standard_normal(shape)
    out_hw = _out_hw(shape, window, strides, dilation)
    cols = im2col_compiled(kernels, xp, window, out_hw, strides, dilation, ones_column=True)
    np.testing.assert_array_equal(cols[:, :-1], im2col_reference(xp, window, out_hw, strides,
                                                                 dilation))
    np.testing.assert_array_equal(cols[:, -1], 1)
    grad2d = rng.standard_normal((cols.shape[0], 5))
    kernel2d = rng.standard_normal((cols.shape[1] - 1, 5))
    dxp = np.empty(shape)
    col2im_compiled(kernels, grad2d, kernel2d, dxp, window, out_hw, strides, dilation)
    expected = col2im_reference(grad2d @ kernel2d.T, shape, window, out_hw, strides, dilation)
    np.testing.assert_allclose(dxp, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pool, strides", [((2, 2), (2, 2)), ((3, 2), (1, 2)), ((2, 3), (3, 3))])
def test_max_pool_equals_the_textbook_ties_included(kernels, pool, strides):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (3, 9, 10, 4)).astype(np.float64)  # many ties
    xt = cr.tensor(x, requires_grad=True)
    out = MaxPool2d.apply(xt, pool_size=pool, strides=strides)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    h, w = (out.shape[1] - 1) * strides[0] + pool[0], (out.shape[2] - 1) * strides[1] + pool[1]
    np.testing.assert_array_equal(out.numpy(), np.stack(
        [x[:, i:i + h:strides[0], j:j + w:strides[1]][:, :out.shape[1], :out.shape[2]]
         for i in range(pool[0]) for j in range(pool[1])]).max(axis=0))
    np.testing.assert_allclose(xt.grad.numpy(),
                               max_pool2d_backward_reference(x, grad, pool, strides))


@pytest.mark.parametrize("options", [{}, {"activation": "relu"},
                                     {"strides": 2, "padding": "same", "dilation": 1},
                                     {"dilation": 2, "activation": "relu"}])
def test_conv2d_equals_the_numpy_path(options):
    pytest.importorskip("numba")
    rng = np.random.default_rng(2)
    x, kernel, bias = (rng.standard_normal(s) for s in ((4, 11, 10, 3), (3, 3, 3, 5), (5,)))
    grad = None
    results = []
    for compiled in (False, True):
        cr.backend.use_compiled_kernels(compiled)
        try:
            inputs = [cr.tensor(a, requires_grad=True) for a in (x, kernel, bias)]
            out = Conv2d.apply(*inputs, **options)
            grad = rng.standard_normal(out.shape) if grad is None else grad
            out.backward(grad)
        finally:
            cr.backend.use_compiled_kernels(False)
        results.append([out.numpy()] + [t.grad.numpy() for t in inputs])
    for ours, numpy_path in zip(*results):
        np.testing.assert_allclose(ours, numpy_path, rtol=1e-10, atol=1e-10)
