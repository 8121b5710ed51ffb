"""BatchNorm and LayerNorm: the fused ops (torch parity + gradcheck) and the Keras layers.

Layer parity runs in float64 against ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` (NHWC
permuted to NCHW; torch momentum = 1 - Keras momentum) and ``nn.LayerNorm``.
Moving statistics are checked against the Keras rule written in NumPy, since torch
feeds its running variance the unbiased batch variance where Keras uses the biased one.
"""

import json

import numpy as np
import pytest
from helpers import HAS_TORCH, assert_close, check_op, torch
from layer_helpers import check_layer

import chainrule as cr
import chainrule.functional as F
import chainrule.ops.normalization as norm_ops
from chainrule.layers import BatchNormalization, Layer, LayerNormalization

TF = torch.nn.functional if HAS_TORCH else None
EPS = 1e-3
TOL = 1e-8  # float64 layer parity with torch


def channels_first(t):
    return t.movedim(-1, 1)


def channels_last(t):
    return t.movedim(1, -1)


# ---------------------------------------------------------------- ops


def batch_norm_by_hand(x, gamma=1.0, beta=0.0):
    """Standardise each channel (last axis) over every other axis with the biased
    variance, sum((x - mean)^2) / n, then scale and shift."""
    rows = x.reshape(-1, x.shape[-1])
    n = len(rows)
    mean = rows.sum(axis=0) / n
    var = ((rows - mean) ** 2).sum(axis=0) / n
    return (x - mean) / np.sqrt(var + EPS) * gamma + beta


def layer_norm_by_hand(x, gamma=1.0, beta=0.0):
    """Standardise each position over its last axis (biased variance), scale and shift."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * gamma + beta


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(6, 3), (4, 5, 3), (3, 4, 5, 2)], ids=["NC", "NLC", "NHWC"])
def test_batch_norm_op_training(shape, dtype):
    c = shape[-1]
    check_op([shape, (c,), (c,)],
             lambda x, g, b: F.batch_norm(x, gamma=g, beta=b, training=True, epsilon=EPS),
             lambda x, g, b: channels_last(TF.batch_norm(channels_first(x), None, None, g, b,
                                                         training=True, eps=EPS)),
             dtype=dtype, rtol=1e-4 if dtype == np.float32 else None,
             reference=batch_norm_by_hand)


def test_batch_norm_op_without_affine():
    check_op([(5, 4)], lambda x: F.batch_norm(x, training=True, epsilon=EPS),
             lambda x: TF.batch_norm(x, None, None, training=True, eps=EPS),
             reference=batch_norm_by_hand)


def test_batch_norm_op_inference():
    rng = np.random.default_rng(3)
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    check_op([(4, 5, 3), (3,), (3,)],
             lambda x, g, b: F.batch_norm(x, mean, var, g, b, training=False, epsilon=EPS),
             lambda x, g, b: channels_last(TF.batch_norm(
                 channels_first(x), torch.tensor(mean), torch.tensor(var), g, b,
                 training=False, eps=EPS)),
             reference=lambda x, g, b: (x - mean) / np.sqrt(var + EPS) * g + b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4)])
def test_layer_norm_op(shape, dtype):
    c = shape[-1]
    check_op([shape, (c,), (c,)], lambda x, g, b: F.layer_norm(x, g, b, epsilon=EPS),
             lambda x, g, b: TF.layer_norm(x, (c,), g, b, eps=EPS), dtype=dtype,
             rtol=1e-4 if dtype == np.float32 else None, reference=layer_norm_by_hand)


def test_layer_norm_op_without_affine():
    check_op([(3, 4)], lambda x: F.layer_norm(x, epsilon=EPS),
             lambda x: TF.layer_norm(x, (4,), eps=EPS), reference=layer_norm_by_hand)


@pytest.mark.parametrize("shape,affine,chunk_bytes", [
    ((5, 7), True, None), ((3, 4, 16), True, 1), ((2, 33, 8), False, 100), ((1, 6), True, 1)])
@pytest.mark.parametrize("threads", [1, 2])
def test_layer_norm_kernel_equals_its_textbook_formulas(monkeypatch, shape, affine,
                                                       chunk_bytes, threads):
    """The fast LayerNorm (GEMV sums, rows in chunks, chunks on one or two workers)
    against layer_norm_reference / layer_norm_backward_reference, float64."""
    if chunk_bytes is not None:
        monkeypatch.setattr(norm_ops, "ROW_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(sum(shape))
    x, grad = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
    gamma, beta = (rng.standard_normal(shape[-1]) if affine else None for _ in range(2))
    leaves = [cr.tensor(a, requires_grad=True) if a is not None else None
              for a in (x, gamma, beta)]
    with cr.backend.limit_blas_threads(threads):
        y = norm_ops.LayerNorm.apply(*leaves, epsilon=EPS)
        y.backward(grad)
    assert_close(y.data, norm_ops.layer_norm_reference(x, gamma, beta, EPS), rtol=1e-12,
                 atol=1e-12, what="y")
    expected = norm_ops.layer_norm_backward_reference(grad, x, gamma, EPS)
    for leaf, e, name in zip(leaves, expected, ("dx", "dgamma", "dbeta")):
        if leaf is not None:
            assert_close(leaf.grad.data, e, rtol=1e-10, atol=1e-12, what=name)


def test_batch_norm_gives_batch_statistics():
    x = np.random.default_rng(0).normal(size=(4, 3, 2))
    stats = {}
    cr.ops.normalization.BatchNorm.apply(cr.tensor(x), None, None, stats=stats)
    np.testing.assert_allclose(stats["mean"], x.reshape(-1, 2).mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats["var"], x.reshape(-1, 2).var(0), rtol=1e-12)


def test_ops_reject_mismatched_affine_shapes():
    with pytest.raises(cr.ShapeError, match=r"BatchNorm: expected gamma of shape \(3,\)"):
        cr.ops.normalization.BatchNorm.apply(cr.ones(4, 3), np.ones(2), None)
    with pytest.raises(ValueError, match=r"batch_norm: expected moving_mean of shape \(3,\)"):
        F.batch_norm(cr.ones(4, 3), np.zeros(5), np.ones(3))
    with pytest.raises(ValueError, match="needs moving_mean and moving_var"):
        F.batch_norm(cr.ones(4, 3))


# ---------------------------------------------------------------- BatchNormalization


def _bn_pair(torch, x_shape, momentum=0.9, seed=0, **kwargs):
    """A built chainrule layer and a torch layer with the same (random) gamma and beta."""
    cr.set_default_dtype(np.float64)
    c = x_shape[-1]
    layer = BatchNormalization(momentum=momentum, epsilon=EPS, **kwargs)
    layer.build(x_shape)
    layer.built = True
    rng = np.random.default_rng(seed)
    layer.gamma.data = rng.uniform(0.5, 1.5, c)
    layer.beta.data = rng.normal(size=c)
    ref_cls = torch.nn.BatchNorm1d if len(x_shape) == 2 else torch.nn.BatchNorm2d
    ref = ref_cls(c, eps=EPS, momentum=1 - momentum, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.gamma.data))
        ref.bias.copy_(torch.from_numpy(layer.beta.data))
    return layer, ref


def _to_torch_layout(t):
    return t if t.ndim == 2 else t.permute(0, 3, 1, 2)


def _from_torch_layout(t):
    return t if t.ndim == 2 else t.permute(0, 2, 3, 1)


def _compare_with_torch(layer, ref, x, seed=1):
    """Forward and the gradients of x, gamma and beta, chainrule vs torch."""
    w = np.random.default_rng(seed).normal(size=x.shape)
    xc = cr.tensor(x, requires_grad=True)
    y = layer(xc)
    (y * w).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    yt = _from_torch_layout(ref(_to_torch_layout(xt)))
    (yt * torch.from_numpy(w)).sum().backward()
    assert_close(y.data, yt.detach().numpy(), rtol=TOL, atol=TOL, what="forward")
    assert_close(xc.grad.data, xt.grad.numpy(), rtol=TOL, atol=TOL, what="grad x")
    assert_close(layer.gamma.grad.data, ref.weight.grad.numpy(), rtol=TOL, atol=TOL,
                 what="grad gamma")
    assert_close(layer.beta.grad.data, ref.bias.grad.numpy(), rtol=TOL, atol=TOL,
                 what="grad beta")


@pytest.mark.parametrize("x_shape", [(8, 3), (4, 5, 6, 3)], ids=["BatchNorm1d", "BatchNorm2d"])
def test_batch_normalization_training_matches_torch(torch, x_shape):
    layer, ref = _bn_pair(torch, x_shape)
    x = np.random.default_rng(2).normal(2.0, 3.0, size=x_shape)
    _compare_with_torch(layer, ref, x)
    # The running mean follows the same rule in both frameworks.
    assert_close(layer.moving_mean.data, ref.running_mean.numpy(), rtol=1e-12, atol=1e-12,
                 what="moving mean vs torch running_mean")


@pytest.mark.parametrize("x_shape", [(8, 3), (4, 5, 6, 3)], ids=["BatchNorm1d", "BatchNorm2d"])
def test_batch_normalization_eval_matches_torch(torch, x_shape):
    layer, ref = _bn_pair(torch, x_shape)
    rng = np.random.default_rng(4)
    layer.moving_mean.data[...] = rng.normal(size=x_shape[-1])
    layer.moving_variance.data[...] = rng.uniform(0.5, 2.0, size=x_shape[-1])
    with torch.no_grad():
        ref.running_mean.copy_(torch.from_numpy(layer.moving_mean.data))
        ref.running_var.copy_(torch.from_numpy(layer.moving_variance.data))
    layer.eval()
    ref.eval()
    _compare_with_torch(layer, ref, rng.normal(size=x_shape))


def test_moving_statistics_follow_the_keras_rule():
    cr.set_default_dtype(np.float64)
    momentum = 0.8
    layer = BatchNormalization(momentum=momentum)
    rng = np.random.default_rng(5)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.normal(1.0, 2.0, size=(4, 6, 6, 3))
        layer(x)
        rows = x.reshape(-1, 3)
        mean = mean * momentum + rows.mean(0) * (1 - momentum)
        var = var * momentum + rows.var(0) * (1 - momentum)  # biased, as Keras
    np.testing.assert_allclose(layer.moving_mean.data, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.data, var, rtol=1e-12)
    assert set(layer.state_dict()) == {"gamma", "beta", "moving_mean", "moving_variance"}


def test_eval_uses_moving_statistics_and_does_not_update_them():
    cr.set_default_dtype(np.float64)
    layer = BatchNormalization(input_shape=(2,))
    layer.moving_mean.data[...] = [1.0, -1.0]
    layer.moving_variance.data[...] = [4.0, 0.25]
    layer.eval()
    x = np.array([[3.0, 0.0], [1.0, -2.0]])
    y = layer(x)
    np.testing.assert_allclose(y.data, (x - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + EPS))
    np.testing.assert_array_equal(layer.moving_mean.data, [1.0, -1.0])
    np.testing.assert_array_equal(layer.moving_variance.data, [4.0, 0.25])


def test_frozen_layer_uses_moving_statistics_and_never_updates_them():
    cr.set_default_dtype(np.float64)
    layer = BatchNormalization(input_shape=(3,))
    layer.moving_mean.data[...] = [0.5, 1.0, -1.0]
    layer.trainable = False
    assert layer.training  # still in training mode: only the freeze makes it infer
    x = np.random.default_rng(6).normal(size=(5, 3))
    y = layer(x)
    np.testing.assert_allclose(y.data, (x - [0.5, 1.0, -1.0]) / np.sqrt(1 + EPS))
    np.testing.assert_array_equal(layer.moving_mean.data, [0.5, 1.0, -1.0])
    np.testing.assert_array_equal(layer.moving_variance.data, np.ones(3))
    assert not layer.gamma.requires_grad and not layer.beta.requires_grad
    frozen_at_birth = BatchNormalization(trainable=False)
    frozen_at_birth(x)
    np.testing.assert_array_equal(frozen_at_birth.moving_mean.data, np.zeros(3))


def test_batch_normalization_without_center_and_scale(torch):
    cr.set_default_dtype(np.float64)
    layer = BatchNormalization(center=False, scale=False, epsilon=EPS)
    x = np.random.default_rng(7).normal(size=(6, 4))
    y = layer(x)
    assert layer.gamma is None and layer.beta is None and layer.count_params() == 0
    ref = TF.batch_norm(torch.tensor(x), None, None, training=True, eps=EPS)
    assert_close(y.data, ref.numpy(), rtol=TOL, atol=TOL, what="forward")


def test_batch_normalization_keeps_float32():
    layer = BatchNormalization()
    y = layer(np.random.default_rng(8).normal(size=(4, 3)).astype(np.float32))
    assert y.dtype == np.float32 and layer.moving_mean.dtype == np.float32
    assert layer.moving_variance.dtype == np.float32


def test_batch_normalization_errors():
    for axis in (0, -4, 4, 1.0):  # the batch axis, out of range, not an int
        with pytest.raises(ValueError, match=rf"`axis` of `BatchNormalization`.*received "
                                             rf"axis={axis}"):
            BatchNormalization(axis=axis)(np.ones((2, 3, 4, 5)))
    BatchNormalization(axis=3)(np.ones((2, 3, 4, 5)))  # the last axis, named positively
    BatchNormalization(axis=-3)(np.ones((2, 3, 4, 5)))  # a middle axis
    layer = BatchNormalization()
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"built for 3 channels.*\(2, 4\)"):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)


# ---------------------------------------------------------------- LayerNormalization


@pytest.mark.parametrize("x_shape", [(6, 5), (2, 3, 4)])
def test_layer_normalization_matches_torch(torch, x_shape):
    cr.set_default_dtype(np.float64)
    c = x_shape[-1]
    layer = LayerNormalization(epsilon=EPS)
    layer.build(x_shape)
    layer.built = True
    rng = np.random.default_rng(9)
    layer.gamma.data = rng.uniform(0.5, 1.5, c)
    layer.beta.data = rng.normal(size=c)
    ref = torch.nn.LayerNorm(c, eps=EPS, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.gamma.data))
        ref.bias.copy_(torch.from_numpy(layer.beta.data))
    x = rng.normal(1.0, 2.0, size=x_shape)
    w = rng.normal(size=x_shape)
    xc = cr.tensor(x, requires_grad=True)
    (layer(xc) * w).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    (yt * torch.from_numpy(w)).sum().backward()
    assert_close(layer(x).data, yt.detach().numpy(), rtol=TOL, atol=TOL, what="forward")
    assert_close(xc.grad.data, xt.grad.numpy(), rtol=TOL, atol=TOL, what="grad x")
    assert_close(layer.gamma.grad.data, ref.weight.grad.numpy(), rtol=TOL, atol=TOL,
                 what="grad gamma")
    assert_close(layer.beta.grad.data, ref.bias.grad.numpy(), rtol=TOL, atol=TOL,
                 what="grad beta")
    np.testing.assert_array_equal(layer.eval()(x).data, layer.train()(x).data)


def test_layer_normalization_errors():
    with pytest.raises(ValueError, match=r"`axis` of `LayerNormalization`"):
        LayerNormalization(axis=0)(np.ones((2, 3)))
    layer = LayerNormalization()
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match="built for 3 channels"):
        layer(np.ones((2, 5)))


# ---------------------------------------------------------------- config


@pytest.mark.parametrize("layer", [
    BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, gamma_initializer="normal"),
    BatchNormalization(input_shape=(4, 4, 3), moving_variance_initializer="zeros"),
    LayerNormalization(epsilon=1e-6, scale=False),
], ids=["bn", "bn_built", "ln"])
def test_get_config_round_trip(layer):
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    assert isinstance(clone, Layer) and clone.get_config() == config
    x = np.random.default_rng(10).normal(size=(2, 4, 4, 3)).astype(np.float32)
    layer.eval()(x)
    clone.eval()(x)  # builds the clone, then takes the original's weights
    clone.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(clone(x).data, layer(x).data)


# ---------------------------------------------------------------- any channel axis
# BatchNormalization(axis=1) is torch's channels-first BatchNorm1d/2d itself; a channel
# axis in the middle of (N, H, C, W) is compared with BatchNorm2d on x moved to NCHW.


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,axis", [((4, 3, 5), 1), ((3, 2, 4, 5), 1), ((3, 4, 2, 5), 2),
                                        ((3, 4, 2, 5), -2)], ids=["NCL", "NCHW", "NHCW", "-2"])
def test_batch_norm_op_on_any_axis(shape, axis, dtype):
    c = shape[axis]

    def theirs(x, g, b):
        return TF.batch_norm(x.movedim(axis, 1), None, None, g, b, training=True,
                             eps=EPS).movedim(1, axis)

    check_op([shape, (c,), (c,)],
             lambda x, g, b: F.batch_norm(x, gamma=g, beta=b, training=True, epsilon=EPS,
                                          axis=axis), theirs, dtype=dtype,
             reference=lambda x, g, b: np.moveaxis(
                 batch_norm_by_hand(np.moveaxis(x, axis, -1), g, b), -1, axis))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape,axis", [((6, 3, 5), 1), ((4, 3, 5, 6), 1), ((4, 5, 3, 6), 2)],
                         ids=["BatchNorm1d-NCL", "BatchNorm2d-NCHW", "middle-NHCW"])
def test_batch_normalization_on_a_channel_axis_matches_torch(torch, x_shape, axis, dtype):
    """Training then eval, forward and the gradients of x, gamma and beta (1e-10 in
    float64, 1e-5 in float32); the moving mean follows torch's running mean."""
    cr.set_default_dtype(dtype)
    c = x_shape[axis]
    layer = BatchNormalization(axis=axis, momentum=0.9, epsilon=EPS)
    rng = np.random.default_rng(30)
    layer(np.zeros(x_shape))  # build (training: the moving statistics move once)
    layer.moving_mean.data[...], layer.moving_variance.data[...] = 0, 1
    layer.gamma.data[...] = rng.uniform(0.5, 1.5, c)
    layer.beta.data[...] = rng.normal(size=c)
    ref = (torch.nn.BatchNorm1d if len(x_shape) == 3 else torch.nn.BatchNorm2d)(
        c, eps=EPS, momentum=0.1, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.gamma.data))
        ref.bias.copy_(torch.from_numpy(layer.beta.data))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for training in (True, False):
        layer.train(training)
        ref.train(training)
        x = rng.normal(2.0, 3.0, size=x_shape).astype(dtype)
        w = rng.normal(size=x_shape).astype(dtype)
        xc = cr.tensor(x, requires_grad=True)
        y = layer(xc)
        assert y.dtype == dtype
        (y * w).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        yt = ref(xt.movedim(axis, 1)).movedim(1, axis)
        (yt * torch.from_numpy(w)).sum().backward()
        assert_close(y.data, yt.detach().numpy(), rtol=tol, atol=tol, what="forward")
        assert_close(xc.grad.data, xt.grad.numpy(), rtol=tol, atol=tol, what="grad x")
        for mine, theirs in ((layer.gamma, ref.weight), (layer.beta, ref.bias)):
            assert_close(mine.grad.data, theirs.grad.numpy(), rtol=tol, atol=tol, what="grad")
            mine.grad, theirs.grad = None, None
        assert_close(layer.moving_mean.data, ref.running_mean.numpy(), rtol=tol, atol=tol,
                     what="moving mean vs torch running_mean")
        with torch.no_grad():  # torch's running variance is unbiased; hand it Keras' value
            ref.running_var.copy_(torch.from_numpy(layer.moving_variance.data))


def test_batch_normalization_axis1_passes_the_layer_checks():
    def ref(x, p):
        return TF.batch_norm(x, None, None, p["gamma"], p["beta"], training=True, eps=EPS)

    check_layer(lambda: BatchNormalization(axis=1, epsilon=EPS, beta_initializer="normal"),
                (4, 3, 5, 2), output_shape=(4, 3, 5, 2), param_count=6, torch_fn=ref,
                rtol=1e-10, float32=True, save_load=True)
    layer = BatchNormalization(axis=1)
    layer(np.ones((2, 3, 4)))
    assert layer.gamma.shape == layer.moving_mean.shape == (3,)
    with pytest.raises(ValueError, match=r"built for 3 channels on axis 1.*\(2, 4, 4\)"):
        layer(np.ones((2, 4, 4)))
