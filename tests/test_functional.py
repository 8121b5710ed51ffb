"""``chainrule.functional``: every function against its formula written out in NumPy.

No torch here (the parity tests with torch live beside each op family): each row's
forward value is compared with a NumPy reference derived by hand, and its gradients
with central finite differences (``cr.gradcheck``, float64). Inputs are seeded.
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.functional as F
from chainrule.backend import rng as chainrule_rng

TOL = dict(rtol=1e-12, atol=1e-12)


def rand(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def log_softmax(x, axis):
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def softplus(x):
    return np.log1p(np.exp(x))


def case(name, fn, reference, inputs, grad=True):
    return pytest.param(fn, reference, inputs, grad, id=name)


# ---------------------------------------------------------------- NumPy formulas


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def conv2d_by_hand(x, kernel, bias, stride):
    """Valid cross-correlation with stride s:
    out[n, y, z, o] = b[o] + sum_{i,j,c} x[n, y s + i, z s + j, c] k[i, j, c, o]."""
    kh, kw = kernel.shape[:2]
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, kernel.shape[-1]))
    for y in range(oh):
        for z in range(ow):
            window = x[:, y * stride:y * stride + kh, z * stride:z * stride + kw]
            out[:, y, z] = np.einsum("nijc,ijco->no", window, kernel) + bias
    return out


def pool_by_hand(x, size, reduce):
    """Non-overlapping size x size windows (the default strides), "valid"."""
    n, h, w, c = x.shape
    oh, ow = h // size, w // size
    windows = x[:, :oh * size, :ow * size].reshape(n, oh, size, ow, size, c)
    return reduce(windows, axis=(2, 4))


def batch_norm_by_hand(x, gamma, beta, eps=1e-3):
    rows = x.reshape(-1, x.shape[-1])
    mean = rows.mean(axis=0)
    var = ((rows - mean) ** 2).mean(axis=0)  # biased: divide by n, not n - 1
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def cross_entropy_by_hand(logits, target, weight=None):
    """mean over samples of -w[t] log softmax(x)[t], divided by the sum of w[t] (torch)."""
    w = np.ones(logits.shape[1]) if weight is None else weight
    picked = log_softmax(logits, 1)[np.arange(len(target)), target]
    return -(w[target] * picked).sum() / w[target].sum()


def bce_by_hand(p, t):
    return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))


def huber_by_hand(d, delta):
    a = np.abs(d)
    return np.where(a <= delta, 0.5 * d * d, delta * (a - delta / 2))


W3 = np.array([0.5, 2.0, 1.5])
LABELS = np.array([0, 2, 1, 1, 2, 0])
X = rand(6, 3)
T = rand(6, 3, seed=1, low=0.05, high=0.95)

FUNCTIONS = [
    case("relu", F.relu, lambda x: np.where(x > 0, x, 0.0), [rand(3, 4) + 0.05]),
    case("sigmoid", F.sigmoid, sigmoid, [rand(3, 4)]),
    case("tanh", F.tanh, np.tanh, [rand(3, 4)]),
    case("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
         [rand(3, 4) + 0.05]),
    case("elu", lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
         [rand(3, 4) + 0.05]),
    case("gelu", F.gelu, gelu, [rand(3, 4, low=-4, high=4)]),
    case("softmax", lambda x: F.softmax(x, axis=0),
         lambda x: np.exp(x) / np.exp(x).sum(axis=0), [rand(3, 4)]),
    case("log_softmax", F.log_softmax, lambda x: log_softmax(x, -1), [rand(3, 4)]),
    case("linear", F.linear, lambda x, w, b: np.einsum("nk,ko->no", x, w) + b,
         [rand(5, 4), rand(4, 3, seed=1), rand(3, seed=2)]),
    case("linear_3d_no_bias", F.linear, lambda x, w: np.einsum("abk,ko->abo", x, w),
         [rand(2, 5, 4), rand(4, 3, seed=1)]),
    case("conv2d", lambda x, k, b: F.conv2d(x, k, b, strides=2),
         lambda x, k, b: conv2d_by_hand(x, k, b, 2),
         [rand(2, 7, 6, 3), rand(3, 2, 3, 4, seed=1), rand(4, seed=2)]),
    case("conv1d", F.conv1d, lambda x, k, b: conv2d_by_hand(x[:, None], k[None], b, 1)[:, 0],
         [rand(2, 7, 3), rand(3, 3, 2, seed=1), rand(2, seed=2)]),
    case("max_pool2d", F.max_pool2d, lambda x: pool_by_hand(x, 2, np.max), [rand(2, 5, 6, 3)]),
    case("avg_pool2d", F.avg_pool2d, lambda x: pool_by_hand(x, 2, np.mean), [rand(2, 5, 6, 3)]),
    case("max_pool1d", lambda x: F.max_pool1d(x, 3),
         lambda x: pool_by_hand(x[:, None].repeat(3, axis=1), 3, np.max)[:, 0], [rand(2, 7, 2)]),
    case("batch_norm_training",
         lambda x, g, b: F.batch_norm(x, gamma=g, beta=b, training=True), batch_norm_by_hand,
         [rand(4, 5, 3), rand(3, seed=1), rand(3, seed=2)]),
    case("batch_norm_inference",
         lambda x, g, b: F.batch_norm(x, np.array([0.5, -1.0, 0.0]), np.array([2.0, 0.5, 1.0]),
                                      g, b, training=False),
         lambda x, g, b: (x - [0.5, -1.0, 0.0]) / np.sqrt(np.array([2.0, 0.5, 1.0]) + 1e-3)
         * g + b, [rand(4, 3), rand(3, seed=1), rand(3, seed=2)]),
    case("layer_norm", lambda x, g, b: F.layer_norm(x, g, b, epsilon=1e-5),
         lambda x, g, b: (x - x.mean(-1, keepdims=True))
         / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b,
         [rand(2, 3, 4), rand(4, seed=1), rand(4, seed=2)]),
    case("embedding", lambda w: F.embedding(np.array([[2, 0], [2, 2]]), w),
         lambda w: np.stack([np.stack([w[2], w[0]]), np.stack([w[2], w[2]])]), [rand(3, 4)]),
    case("cross_entropy", lambda x: F.cross_entropy(x, LABELS),
         lambda x: cross_entropy_by_hand(x, LABELS), [X]),
    case("cross_entropy_weight", lambda x: F.cross_entropy(x, LABELS, weight=W3),
         lambda x: cross_entropy_by_hand(x, LABELS, W3), [X]),
    case("cross_entropy_ignore_index",
         lambda x: F.cross_entropy(x, np.array([0, 2, -100, 1, -100, 0]), reduction="sum"),
         lambda x: -log_softmax(x, 1)[[0, 1, 3, 5], [0, 2, 1, 0]].sum(), [X]),
    case("cross_entropy_probs", lambda x, p: F.cross_entropy(x, p, reduction="none"),
         lambda x, p: -(p * log_softmax(x, 1)).sum(axis=1), [X, T / T.sum(1, keepdims=True)]),
    case("cross_entropy_one_sample", lambda x: F.cross_entropy(x, np.array(2)),
         lambda x: -log_softmax(x, 0)[2], [rand(4)]),
    case("nll_loss", lambda x: F.nll_loss(x, LABELS, reduction="sum"),
         lambda x: -x[np.arange(6), LABELS].sum(), [X]),
    case("binary_cross_entropy", F.binary_cross_entropy,
         lambda p, t: bce_by_hand(p, t).mean(), [T[::-1].copy(), T]),
    case("binary_cross_entropy_weight",
         lambda p, t: F.binary_cross_entropy(p, t, W3, reduction="sum"),
         lambda p, t: (W3 * bce_by_hand(p, t)).sum(), [T[::-1].copy(), T]),
    case("bce_with_logits", F.binary_cross_entropy_with_logits,
         lambda x, t: bce_by_hand(sigmoid(x), t).mean(), [X, T]),
    case("bce_with_logits_pos_weight",
         lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=W3, reduction="none"),
         lambda x, t: -(W3 * t * np.log(sigmoid(x)) + (1 - t) * np.log(1 - sigmoid(x))), [X, T]),
    case("mse_loss", F.mse_loss, lambda x, t: ((x - t) ** 2).mean(), [X, T]),
    case("mse_loss_sum", lambda x, t: F.mse_loss(x, t, reduction="sum"),
         lambda x, t: ((x - t) ** 2).sum(), [X, T]),
    case("l1_loss", lambda x, t: F.l1_loss(x, t, reduction="none"), lambda x, t: np.abs(x - t),
         [X, T]),
    case("huber_loss", lambda x, t: F.huber_loss(x, t, delta=0.5),
         lambda x, t: huber_by_hand(x - t, 0.5).mean(), [X, T]),
    case("scalar_huber", lambda x, t: F.huber_loss(x, t), lambda x, t: huber_by_hand(x - t, 1.0),
         [np.array(2.5), np.array(0.25)]),
    case("scalar_bce_with_logits", F.binary_cross_entropy_with_logits,
         lambda x, t: -(t * np.log(sigmoid(x)) + (1 - t) * np.log(1 - sigmoid(x))),
         [np.array(-0.7), np.array(0.3)]),
]


@pytest.mark.parametrize("fn,reference,inputs,grad", FUNCTIONS)
def test_function_equals_its_numpy_formula(fn, reference, inputs, grad):
    tensors = [cr.tensor(a, dtype=np.float64, requires_grad=grad) for a in inputs]
    out = fn(*tensors)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, reference(*[a.copy() for a in inputs]), **TOL)
    if grad:
        cr.gradcheck(fn, *tensors)


def test_softplus_form_of_bce_with_logits_holds_for_large_logits():
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(cr.tensor(x), cr.tensor(t), reduction="none")
    expected = np.maximum(x, 0) - x * t + softplus(-np.abs(x))  # stable for any x
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)


def test_dropout_keeps_survivors_scaled_and_is_seeded():
    x = cr.tensor(rand(50, 40), dtype=np.float64)
    cr.manual_seed(4)
    y = F.dropout(x, rate=0.25)
    cr.manual_seed(4)
    keep = chainrule_rng().random(x.shape, dtype=np.float64) >= 0.25  # the same draws
    np.testing.assert_allclose(y.data, np.where(keep, x.data / 0.75, 0.0), **TOL)
    assert F.dropout(x, rate=0.25, training=False) is x
    assert F.dropout(x, rate=0.0) is x


def test_batch_norm_updates_moving_statistics_by_the_keras_rule():
    x = rand(8, 3)
    mean, var = np.zeros(3), np.ones(3)
    F.batch_norm(cr.tensor(x), mean, var, training=True, momentum=0.9)
    np.testing.assert_allclose(mean, 0.1 * x.mean(axis=0), **TOL)
    np.testing.assert_allclose(var, 0.9 + 0.1 * ((x - x.mean(0)) ** 2).mean(0), **TOL)


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.mse_loss(cr.tensor(X), T, reduction="avg"), ValueError,
     r"argument `reduction` of `mse_loss`.*'avg'"),
    (lambda: F.huber_loss(cr.tensor(X), T, delta=0.0), ValueError,
     r"argument `delta` of `huber_loss`.*delta=0.0"),
    (lambda: F.binary_cross_entropy(cr.tensor(X), T), ValueError,
     r"binary_cross_entropy: every input must be a probability in \[0, 1\]"),
    (lambda: F.nll_loss(cr.tensor(X), LABELS.astype(float)), TypeError,
     "class-index targets must be integers"),
    (lambda: F.linear(cr.tensor(X), rand(4, 2)), cr.ShapeError,
     r"linear: x of shape \(6, 3\) does not match a kernel with 4 input features"),
    (lambda: F.batch_norm(cr.tensor(X)), ValueError, "needs moving_mean and moving_var"),
    (lambda: F.batch_norm(cr.tensor(X), np.zeros(2), np.ones(3)), ValueError,
     r"batch_norm: expected moving_mean of shape \(3,\)"),
])
def test_bad_arguments_name_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_mismatched_regression_target_warns_as_torch():
    with pytest.warns(UserWarning, match=r"l1_loss: target size \(6, 1\) differs"):
        F.l1_loss(cr.tensor(X), T[:, :1])
