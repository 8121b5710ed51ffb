"""AveragePooling1D, GlobalMaxPooling1D/2D and GlobalAveragePooling1D (with a mask)
against torch, with the standard layer checks (the older pooling layers are in
test_layers.py, their ops in test_conv_ops.py)."""

import numpy as np
import pytest
from helpers import HAS_TORCH, check_op
from layer_helpers import check_layer

import chainrule as cr
from chainrule.layers import (
    AveragePooling1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
)
from chainrule.ops.conv import padding_amounts
from chainrule.ops.pool import AvgPool1d, avg_pool2d_backward_reference

if HAS_TORCH:
    import torch.nn.functional as TF


def nlc(fn):
    return lambda x, *a, **k: fn(x.permute(0, 2, 1), *a, **k).permute(0, 2, 1)


def _avg_pool1d_reference(x, pool, stride, padding):
    """Each output the mean of its window's elements inside x (the padding uncounted)."""
    before, _ = padding_amounts(x.shape[1], pool, stride, 1, padding)
    out_len = -(-x.shape[1] // stride) if padding == "same" else \
        (x.shape[1] - pool) // stride + 1
    starts = np.arange(out_len) * stride - before
    return np.stack([x[:, max(s, 0):s + pool].mean(axis=1) for s in starts], axis=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pool,stride,padding", [(2, 2, "valid"), (3, 1, "valid"),
                                                 (3, 2, "same"), (2, 3, "valid")])
def test_avg_pool1d_op(pool, stride, padding, dtype):
    before, after = padding_amounts(7, pool, stride, 1, padding)
    assert before == after  # torch pads symmetrically

    def torch_fn(x):
        return nlc(TF.avg_pool1d)(x, pool, stride, padding=before, count_include_pad=False)

    check_op([(2, 7, 3)], lambda x: AvgPool1d.apply(x, pool, stride, padding), torch_fn,
             dtype=dtype, reference=lambda x: _avg_pool1d_reference(x, pool, stride, padding))


def test_avg_pool1d_backward_equals_the_2d_textbook_loop():
    rng = np.random.default_rng(4)
    x = cr.tensor(rng.standard_normal((2, 7, 3)), requires_grad=True)
    y = AvgPool1d.apply(x, 3, 2, "same")
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    pads = ((0, 0), padding_amounts(7, 3, 2, 1, "same"))
    expected = avg_pool2d_backward_reference(grad[:, None], (2, 1, 7, 3), pads, (1, 3), (1, 2))
    np.testing.assert_allclose(x.grad.data, expected[:, 0], rtol=1e-12, atol=1e-12)


def test_average_pooling1d():
    check_layer(lambda: AveragePooling1D(3, strides=2), (2, 9, 4), output_shape=(2, 4, 4),
                param_count=0, torch_fn=lambda x, p: nlc(TF.avg_pool1d)(x, 3, 2), rtol=1e-10,
                float32=True, save_load=True)
    check_layer(lambda: AveragePooling1D(2, padding="same"), (2, 5, 3), output_shape=(2, 3, 3),
                param_count=0, rtol=1e-10, save_load=True)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling(keepdims):
    def shape(*spatial_ones, c):
        return (2, *spatial_ones, c) if keepdims else (2, c)

    check_layer(lambda: GlobalMaxPooling1D(keepdims=keepdims), (2, 5, 3),
                output_shape=shape(1, c=3), param_count=0, rtol=1e-10, float32=True,
                save_load=True, torch_fn=lambda x, p: x.amax(dim=1, keepdim=keepdims))
    check_layer(lambda: GlobalMaxPooling2D(keepdims=keepdims), (2, 4, 3, 5),
                output_shape=shape(1, 1, c=5), param_count=0, rtol=1e-10, float32=True,
                save_load=True, torch_fn=lambda x, p: x.amax(dim=(1, 2), keepdim=keepdims))
    check_layer(lambda: GlobalAveragePooling1D(keepdims=keepdims), (2, 5, 3),
                output_shape=shape(1, c=3), param_count=0, rtol=1e-10, float32=True,
                save_load=True, torch_fn=lambda x, p: x.mean(dim=1, keepdim=keepdims))


def test_global_average_pooling1d_mask_averages_the_unmasked_steps():
    """Keras: the mean over the steps the mask keeps; a masked step never matters."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5, 2))
    mask = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], bool)
    layer = GlobalAveragePooling1D()
    out = layer(cr.tensor(x), mask=mask).numpy()
    np.testing.assert_allclose(out[0], x[0, [0, 1, 3]].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(out[1], x[1].mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(out[2], 0)  # nothing kept: zeros, not 0 / 0
    perturbed = x.copy()
    perturbed[~mask] += 100
    np.testing.assert_array_equal(layer(cr.tensor(perturbed), mask=mask).numpy(), out)
    assert layer.compute_mask(x, mask) is None
    with pytest.raises(ValueError, match=r"mask of shape \(3, 5\).*received \(3, 4\)"):
        layer(cr.tensor(x), mask=mask[:, :4])


def test_global_pooling_rank_errors():
    with pytest.raises(ValueError, match=r"`GlobalMaxPooling2D` expects inputs of rank 4"):
        GlobalMaxPooling2D()(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"`GlobalAveragePooling1D` expects inputs of rank 3"):
        GlobalAveragePooling1D().compute_output_shape((None, 2, 3, 4))


def test_masked_mean_gradient(torch):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 2))
    mask = rng.random((3, 4)) > 0.3
    mask[:, 0] = True
    xt = cr.tensor(x, requires_grad=True)
    GlobalAveragePooling1D()(xt, mask=mask).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    m = torch.tensor(mask, dtype=torch.float64)[..., None]
    ((tx * m).sum(1) / m.sum(1)).sum().backward()
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
