"""Losses: the fused ops, ``cr.functional``'s PyTorch-style losses and ``cr.losses``'
Keras-style objects, against torch (float64, 1e-10) and finite differences.

Each row of a table runs through ``check_op``: forward values and the gradients of
every floating input (targets included) are compared with torch, and
``cr.gradcheck`` checks them against central differences.
"""

import numpy as np
import pytest
from helpers import HAS_TORCH, assert_close, check_op, torch

import chainrule as cr
from chainrule import functional as F
from chainrule import losses
from chainrule.layers import Dense
from chainrule.models import Sequential

if HAS_TORCH:
    import torch.nn.functional as TF

EPS = 1e-7  # Keras' probability clip


def case(name, fn, fn_torch, inputs, **options):
    return pytest.param(fn, fn_torch, inputs, options, id=name)


def ref(name):
    """torch.nn.functional.<name> (None without torch)."""
    return getattr(TF, name) if HAS_TORCH else None


def rng(seed=0):
    return np.random.default_rng(seed)


def logits(*shape, seed=0):
    return rng(seed).normal(0, 2, shape)


def probs(*shape, axis=-1, seed=1):
    """Rows of probabilities along ``axis`` (no zeros)."""
    p = rng(seed).uniform(0.1, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


def labels(n_classes, *shape, seed=2):
    return rng(seed).integers(0, n_classes, shape)


def unit(*shape, seed=3, low=0.05, high=0.95):
    """Values in (low, high): probabilities away from 0 and 1."""
    return rng(seed).uniform(low, high, shape)


W3 = np.array([0.5, 2.0, 1.5])
IGNORED = np.array([0, 2, -100, 1, 2, -100])  # two targets ignored (torch's -100)

# ---------------------------------------------------------------- cr.functional vs torch

FUNCTIONAL = [
    case("ce_index", lambda x, t: F.cross_entropy(x, t), ref("cross_entropy"),
         [logits(6, 3), labels(3, 6)]),
    case("ce_index_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"),
         lambda x, t: TF.cross_entropy(x, t, reduction="sum"), [logits(6, 3), labels(3, 6)]),
    case("ce_index_none", lambda x, t: F.cross_entropy(x, t, reduction="none"),
         lambda x, t: TF.cross_entropy(x, t, reduction="none"), [logits(6, 3), labels(3, 6)]),
    case("ce_index_spatial", lambda x, t: F.cross_entropy(x, t), ref("cross_entropy"),
         [logits(2, 4, 3, 5), labels(4, 2, 3, 5)]),
    case("ce_single_sample", lambda x, t: F.cross_entropy(x, t), ref("cross_entropy"),
         [logits(5), np.array(3)]),
    case("ce_weight", lambda x, t: F.cross_entropy(x, t, weight=W3),
         lambda x, t: TF.cross_entropy(x, t, weight=torch.tensor(W3)),
         [logits(6, 3), labels(3, 6)]),
    case("ce_ignore_index", lambda x, t: F.cross_entropy(x, t), ref("cross_entropy"),
         [logits(6, 3), IGNORED]),
    case("ce_weight_ignore_sum", lambda x, t: F.cross_entropy(x, t, W3, reduction="sum"),
         lambda x, t: TF.cross_entropy(x, t, torch.tensor(W3), reduction="sum"),
         [logits(6, 3), IGNORED]),
    case("ce_probs", lambda x, t: F.cross_entropy(x, t), ref("cross_entropy"),
         [logits(6, 4), probs(6, 4)]),
    case("ce_probs_spatial_none", lambda x, t: F.cross_entropy(x, t, reduction="none"),
         lambda x, t: TF.cross_entropy(x, t, reduction="none"),
         [logits(2, 3, 4), probs(2, 3, 4, axis=1)]),
    case("ce_probs_weight", lambda x, t: F.cross_entropy(x, t, weight=W3),
         lambda x, t: TF.cross_entropy(x, t, weight=torch.tensor(W3)),
         [logits(6, 3), probs(6, 3)]),
    case("nll", lambda x, t: F.nll_loss(x.log_softmax(axis=1), t),
         lambda x, t: TF.nll_loss(TF.log_softmax(x, 1), t), [logits(6, 3), labels(3, 6)]),
    case("nll_spatial_weight_ignore", lambda x, t: F.nll_loss(x, t, W3, ignore_index=1),
         lambda x, t: TF.nll_loss(x, t, torch.tensor(W3), ignore_index=1),
         [logits(2, 3, 4), labels(3, 2, 4)]),
    case("nll_none", lambda x, t: F.nll_loss(x, t, reduction="none"),
         lambda x, t: TF.nll_loss(x, t, reduction="none"), [logits(6, 3), labels(3, 6)]),
    case("bce", lambda p, t: F.binary_cross_entropy(p, t), ref("binary_cross_entropy"),
         [unit(4, 3), unit(4, 3, seed=4)]),
    case("bce_weight_sum", lambda p, t: F.binary_cross_entropy(p, t, W3, reduction="sum"),
         lambda p, t: TF.binary_cross_entropy(p, t, torch.tensor(W3), reduction="sum"),
         [unit(4, 3), unit(4, 3, seed=4)]),
    case("bce_logits", lambda x, t: F.binary_cross_entropy_with_logits(x, t),
         ref("binary_cross_entropy_with_logits"),
         [logits(4, 3), unit(4, 3)]),
    case("bce_logits_weight_none",
         lambda x, t: F.binary_cross_entropy_with_logits(x, t, W3, reduction="none"),
         lambda x, t: TF.binary_cross_entropy_with_logits(x, t, torch.tensor(W3),
                                                          reduction="none"),
         [logits(4, 3), unit(4, 3)]),
    case("bce_logits_pos_weight",
         lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=W3),
         lambda x, t: TF.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(W3)),
         [logits(4, 3), unit(4, 3)]),
    case("mse", lambda x, t: F.mse_loss(x, t), ref("mse_loss"),
         [logits(4, 3), logits(4, 3, seed=5)]),
    case("mse_sum", lambda x, t: F.mse_loss(x, t, reduction="sum"),
         lambda x, t: TF.mse_loss(x, t, reduction="sum"), [logits(4, 3), logits(4, 3, seed=5)]),
    case("l1", lambda x, t: F.l1_loss(x, t), ref("l1_loss"), [logits(4, 3), logits(4, 3, seed=5)]),
    case("l1_none", lambda x, t: F.l1_loss(x, t, reduction="none"),
         lambda x, t: TF.l1_loss(x, t, reduction="none"), [logits(4, 3), logits(4, 3, seed=5)]),
    case("huber", lambda x, t: F.huber_loss(x, t), ref("huber_loss"),
         [logits(5, 4), logits(5, 4, seed=5)]),
    case("huber_delta_sum", lambda x, t: F.huber_loss(x, t, reduction="sum", delta=0.5),
         lambda x, t: TF.huber_loss(x, t, reduction="sum", delta=0.5),
         [logits(5, 4), logits(5, 4, seed=5)]),
]


@pytest.mark.parametrize("fn,fn_torch,inputs,options", FUNCTIONAL)
def test_functional_losses(fn, fn_torch, inputs, options):
    check_op(None, fn, fn_torch if HAS_TORCH else None, inputs=inputs, **options)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_losses_keep_the_dtype(dtype):
    x = cr.tensor(logits(4, 3).astype(dtype), requires_grad=True)
    for loss in (F.cross_entropy(x, labels(3, 4)), F.cross_entropy(x, probs(4, 3)),
                 F.binary_cross_entropy_with_logits(x, unit(4, 3)), F.mse_loss(x, unit(4, 3)),
                 F.huber_loss(x, unit(4, 3)), F.binary_cross_entropy(x.sigmoid(), unit(4, 3))):
        assert loss.dtype == dtype
        loss.backward()
        assert x.grad.dtype == dtype


def test_reduction_and_target_errors():
    x = cr.tensor(logits(4, 3))
    with pytest.raises(ValueError, match="reduction.*cross_entropy.*'avg'"):
        F.cross_entropy(x, labels(3, 4), reduction="avg")
    with pytest.raises(cr.ShapeError, match=r"SoftmaxCrossEntropy.*\(4, 3\).*\(4,\).*\(5,\)"):
        F.cross_entropy(x, labels(3, 5))
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):
        F.cross_entropy(x, np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*\[0, 1\]"):
        F.binary_cross_entropy(x, unit(4, 3))
    with pytest.raises(cr.ShapeError, match=r"SigmoidBinaryCrossEntropy.*\(4,\).*\(4, 3\)"):
        F.binary_cross_entropy_with_logits(x, unit(4))
    with pytest.warns(UserWarning, match="mse_loss: target size"):
        F.mse_loss(x, unit(4, 1))


# ---------------------------------------------------------------- extremes

BIG = 1e4
EXTREME = np.array([[BIG, -BIG, 0.0], [-BIG, -BIG, BIG], [BIG, BIG, -BIG], [0.0, 1.0, -BIG]])


def _finite_and_torch(fn_cr, fn_torch, arrays):
    """The loss and input gradients are finite and equal torch's where torch's are finite."""
    xs = [cr.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    loss = fn_cr(*xs)
    loss.backward()
    assert np.isfinite(loss.item())
    for x in xs:
        if x.requires_grad:
            assert np.all(np.isfinite(x.grad.data))
    if HAS_TORCH:
        ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        expected = fn_torch(*ts)
        expected.backward()
        assert_close(loss.data, expected.detach().numpy(), rtol=1e-10, atol=1e-10, what="loss")
        for x, t in zip(xs, ts):
            if x.requires_grad:
                finite = np.isfinite(t.grad.numpy())
                assert_close(x.grad.data[finite], t.grad.numpy()[finite], rtol=1e-10,
                             atol=1e-10, what="grad")
    return loss


def test_cross_entropy_extreme_logits():
    ce = ref("cross_entropy")
    _finite_and_torch(F.cross_entropy, ce, [EXTREME, np.array([1, 0, 2, 2])])
    loss = _finite_and_torch(F.cross_entropy, ce, [EXTREME, probs(4, 3)])
    assert loss.item() > 1e3  # the wrong classes really cost ~1e4


def test_bce_with_logits_extreme():
    targets = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.5, 1.0]])
    _finite_and_torch(F.binary_cross_entropy_with_logits,
                      ref("binary_cross_entropy_with_logits"), [EXTREME, targets])
    _finite_and_torch(lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=W3),
                      lambda x, t: TF.binary_cross_entropy_with_logits(
                          x, t, pos_weight=torch.tensor(W3)), [EXTREME, targets])


def test_bce_on_probabilities_zero_and_one():
    """torch clamps the logs at -100 and the gradient's denominator at 1e-12."""
    p = np.array([[0.0, 1.0, 0.0], [1.0, 0.5, 0.0], [1.0, 0.0, 0.3]])
    t = np.array([[0.0, 1.0, 1.0], [0.0, 0.5, 0.25], [1.0, 0.5, 0.0]])
    loss = _finite_and_torch(F.binary_cross_entropy, ref("binary_cross_entropy"), [p, t])
    assert loss.item() > 30  # confidently wrong entries cost 100 each
    # torch's target gradient, log(1 - p) - log(p), is infinite there; ours uses the
    # clamped logs of the forward pass: -100 - 0 at p = 0.
    pt, tt = cr.tensor(p), cr.tensor(t, requires_grad=True)
    F.binary_cross_entropy(pt, tt, reduction="sum").backward()
    assert tt.grad.data[0, 0] == 100.0 and tt.grad.data[0, 1] == -100.0


# ---------------------------------------------------------------- cr.losses vs torch


def keras_mean(fn):
    """Keras' reduction: mean over the last axis, then over the batch."""
    return lambda *a: fn(*a).mean(-1).mean()


def t_clip_bce(t, p):
    return TF.binary_cross_entropy(p.clamp(EPS, 1 - EPS), t, reduction="none")


KERAS = [
    case("mse", losses.MeanSquaredError(), lambda t, p: ((p - t) ** 2).mean(),
         [logits(5, 3, seed=5), logits(5, 3)]),
    case("sse", losses.SumSquaredError(), lambda t, p: ((p - t) ** 2).sum(),
         [logits(5, 3, seed=5), logits(5, 3)]),
    case("sse_3d", losses.get("sse"), lambda t, p: ((p - t) ** 2).sum(),
         [logits(2, 3, 4, seed=5), logits(2, 3, 4)]),
    case("mae", losses.MeanAbsoluteError(), lambda t, p: (p - t).abs().mean(),
         [logits(5, 3, seed=5), logits(5, 3)]),
    case("huber", losses.Huber(delta=0.7),
         keras_mean(lambda t, p: TF.huber_loss(p, t, reduction="none", delta=0.7)),
         [logits(5, 3, seed=5), logits(5, 3)]),
    case("bce_probs", losses.BinaryCrossentropy(), keras_mean(t_clip_bce),
         [unit(5, 2, seed=4), unit(5, 2)]),
    case("bce_from_logits", losses.BinaryCrossentropy(from_logits=True),
         lambda t, x: TF.binary_cross_entropy_with_logits(x, t), [unit(5, 2), logits(5, 2)]),
    # probabilities from an activation: the clipped formula equals the logits one
    case("bce_of_sigmoid", lambda t, x: losses.BinaryCrossentropy()(t, x.sigmoid()),
         lambda t, x: TF.binary_cross_entropy_with_logits(x, t), [unit(5, 2), logits(5, 2)]),
    case("cce_probs", losses.CategoricalCrossentropy(),
         lambda t, p: -(t * torch.log((p / p.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)))
         .sum(-1).mean(), [probs(5, 4), probs(5, 4, seed=6)]),
    case("cce_from_logits", losses.CategoricalCrossentropy(from_logits=True),
         lambda t, x: TF.cross_entropy(x, t), [probs(5, 4), logits(5, 4)]),
    case("cce_of_softmax", lambda t, x: losses.CategoricalCrossentropy()(t, x.softmax(-1)),
         lambda t, x: TF.cross_entropy(x, t), [probs(5, 4), logits(5, 4)]),
    case("cce_sequence", losses.CategoricalCrossentropy(from_logits=True),
         lambda t, x: TF.cross_entropy(x.permute(0, 2, 1), t.permute(0, 2, 1)),
         [probs(2, 3, 4), logits(2, 3, 4)]),
    case("sparse_probs", losses.SparseCategoricalCrossentropy(),
         lambda t, p: TF.nll_loss(torch.log((p / p.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)),
                                  t), [labels(4, 5), probs(5, 4, seed=6)]),
    case("sparse_from_logits", losses.SparseCategoricalCrossentropy(from_logits=True),
         lambda t, x: TF.cross_entropy(x, t), [labels(4, 5), logits(5, 4)]),
    case("sparse_of_softmax",
         lambda t, x: losses.SparseCategoricalCrossentropy()(t, x.softmax(axis=1)),
         lambda t, x: TF.cross_entropy(x, t), [labels(4, 5), logits(5, 4)]),
    case("sparse_sequence", losses.SparseCategoricalCrossentropy(from_logits=True),
         lambda t, x: TF.cross_entropy(x.permute(0, 2, 1), t), [labels(4, 2, 3), logits(2, 3, 4)]),
]


@pytest.mark.parametrize("fn,fn_torch,inputs,options", KERAS)
def test_keras_losses(fn, fn_torch, inputs, options):
    check_op(None, fn, fn_torch if HAS_TORCH else None, inputs=inputs, **options)


def test_probabilities_always_take_keras_clipped_formula():
    """Probabilities are clipped to [1e-7, 1 - 1e-7] however they were made: traced,
    detached, a view, under no_grad; only from_logits (or on_logits) takes logits."""
    x = cr.tensor(EXTREME[:, :2], requires_grad=True)  # logits 1e4, -1e4, 1e4, 0 in col 0
    y = np.array([1.0, 1.0, 0.0, 1.0])  # the middle two are wrong by 1e4
    bce = losses.BinaryCrossentropy()
    clipped = (2 * -np.log(EPS) + np.log(2) + EPS) / 4  # probabilities clipped at 1e-7
    p = x.sigmoid()
    with cr.no_grad():
        no_grad_value = bce(y, x.sigmoid()[:, :1]).item()
    for value in (bce(y, p[:, :1]).item(), bce(y, p[:, :1].detach()).item(), no_grad_value,
                  bce(y, p.data[:, :1]).item()):
        assert value == pytest.approx(clipped, rel=1e-6)
    fused = (2 * BIG + np.log(2)) / 4
    assert bce.on_logits(y, x[:, :1]).item() == pytest.approx(fused, rel=1e-12)
    assert losses.BinaryCrossentropy(from_logits=True)(y, x[:, :1]).item() == \
        pytest.approx(fused, rel=1e-12)
    softmax_axis0 = cr.tensor(logits(3, 3), requires_grad=True).softmax(axis=0)
    cce = losses.CategoricalCrossentropy()
    expected = -(probs(3, 3) * np.log(softmax_axis0.data / softmax_axis0.data.sum(-1,
                 keepdims=True))).sum(-1).mean()
    assert cce(probs(3, 3), softmax_axis0).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("activation,loss,target", [
    ("sigmoid", "binary_crossentropy", np.array([0.0, 0.0])),
    ("softmax", "categorical_crossentropy", np.array([[0.0, 1.0], [0.0, 1.0]])),
    ("softmax", "sparse_categorical_crossentropy", np.array([1, 1])),
])
def test_saturated_output_gives_finite_loss_and_gradient_through_a_model(activation, loss,
                                                                         target):
    """A model ending in the loss's activation hands it the logits (compute_loss)."""
    units = 1 if activation == "sigmoid" else 2  # float32, the default
    layer = Dense(units, activation=activation, input_dim=2)
    kernel = np.full((2, units), 0.5e4) * np.array([1.0, -1.0])[:units]
    layer.kernel.data = kernel.astype(np.float32)
    model = Sequential([layer])
    model.compile(optimizer="sgd", loss=loss)
    x = np.array([[1.0, 1.0], [2.0, 2.0]])  # logits 1e4, 2e4: confidently wrong
    value = model.compute_loss(x, target)
    value.backward()
    assert np.isfinite(value.item()) and value.item() > 1e3
    for p in (layer.kernel, layer.bias):
        assert np.all(np.isfinite(p.grad.data)) and np.abs(p.grad.data).max() > 0.1
    assert losses.get(loss)(target, layer(x)).item() < 17  # probabilities: clipped


# ---------------------------------------------------------------- alignment and weights


def test_target_of_shape_n_is_aligned_with_predictions_n_by_1():
    y_pred = cr.tensor(unit(6, 1))
    y = np.array([0, 1, 1, 0, 1, 0])  # integers, cast to the prediction's dtype
    for name in ("mse", "sse", "mae", "huber", "binary_crossentropy"):
        loss = losses.get(name)
        assert loss(y, y_pred).item() == loss(y[:, None], y_pred).item()
    bce = losses.BinaryCrossentropy()(y, y_pred).item()
    expected = -np.mean(y * np.log(y_pred.data[:, 0]) + (1 - y) * np.log(1 - y_pred.data[:, 0]))
    assert bce == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["mse", "sse", "mae", "huber", "binary_crossentropy",
                                  "categorical_crossentropy"])
@pytest.mark.parametrize("y_shape,pred_shape", [((6,), (6, 2)), ((6, 1), (6,)),
                                                ((6, 1), (6, 2)), ((5, 1), (6, 1))])
def test_shape_mismatch_is_an_error_never_a_broadcast(name, y_shape, pred_shape):
    loss = losses.get(name)
    with pytest.raises(ValueError, match=rf"{type(loss).__name__}: y_true has shape "
                                         rf"{re_shape(y_shape)} but y_pred has shape "
                                         rf"{re_shape(pred_shape)}"):
        loss(np.zeros(y_shape), cr.tensor(unit(*pred_shape)))


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_sparse_targets_stay_integer_and_are_checked():
    loss = losses.SparseCategoricalCrossentropy()
    p = cr.tensor(probs(4, 3))
    y = np.array([2, 0, 1, 1])
    value = loss(y, p).item()
    assert loss(y[:, None], p).item() == value  # (N, 1) targets are squeezed
    assert loss(y.astype(np.float32), p).item() == value  # float labels are truncated
    assert loss(cr.tensor(y), p).item() == value
    assert value == pytest.approx(-np.log(p.data[np.arange(4), y]).mean(), rel=1e-12)
    with pytest.raises(ValueError, match=r"SparseCategoricalCrossentropy.*\(3,\).*\(4, 3\)"):
        loss(y[:3], p)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss(np.array([0, 1, 3, 1]), p)
    for ignored_by_torch in (-1, -100):
        with pytest.raises(ValueError, match=r"\[0, 3\)"):
            losses.SparseCategoricalCrossentropy(from_logits=True)(
                np.array([0, 1, ignored_by_torch, 1]), p)


def test_y_true_may_be_a_tensor_list_or_other_dtype():
    y_pred = cr.tensor(unit(3, 2).astype(np.float32))
    y = unit(3, 2, seed=9)
    reference = losses.MeanSquaredError()(y.astype(np.float32), y_pred)
    for y_true in (y, y.tolist(), cr.tensor(y, dtype=np.float64)):
        value = losses.MeanSquaredError()(y_true, y_pred)
        assert value.dtype == np.float32
        assert value.item() == reference.item()


@pytest.mark.parametrize("name", ["mse", "sse", "binary_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_sample_weight_is_keras_weighted_mean(name):
    loss = losses.get(name)
    y_pred = cr.tensor(probs(5, 3))
    y = labels(3, 5) if name.startswith("sparse") else unit(5, 3)
    w = np.array([1.0, 0.0, 2.0, 0.5, 1.5])
    per_sample = np.array([loss(y[i:i + 1], y_pred[i:i + 1]).item() for i in range(5)])
    expected = (w * per_sample).sum() / (1 if name == "sse" else 5)
    assert loss(y, y_pred, sample_weight=w).item() == pytest.approx(expected, rel=1e-12)
    assert loss(y, y_pred, sample_weight=w[:, None]).item() == pytest.approx(expected,
                                                                             rel=1e-12)
    with pytest.raises(ValueError, match="sample_weight of shape"):
        loss(y, y_pred, sample_weight=w[:4])


# ---------------------------------------------------------------- lookup and config


def test_get_by_name_class_instance_dict_and_function():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("mean_squared_error"), losses.MeanSquaredError)
    assert isinstance(losses.get("MAE"), losses.MeanAbsoluteError)
    assert isinstance(losses.get("sparse_categorical_crossentropy"),
                      losses.SparseCategoricalCrossentropy)
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(bce) is bce
    rebuilt = losses.get(losses.serialize(bce))
    assert isinstance(rebuilt, losses.BinaryCrossentropy) and rebuilt.from_logits
    assert losses.get({"class_name": "Huber", "config": {"delta": 2.0}}).delta == 2.0
    with pytest.raises(ValueError, match=r"Unknown loss 'msq'.*'mse'"):
        losses.get("msq")

    def cube(y_true, y_pred):
        return ((y_pred - y_true) ** 3).mean(axis=-1)

    wrapped = losses.get(cube)
    assert wrapped.name == "cube"
    assert wrapped(np.zeros(4), cr.tensor(np.full((4, 1), 2.0))).item() == 8.0


def test_get_config_is_json_and_rebuilds():
    import json

    for loss in (losses.MeanSquaredError(), losses.SumSquaredError(), losses.Huber(0.3),
                 losses.BinaryCrossentropy(True), losses.CategoricalCrossentropy(),
                 losses.SparseCategoricalCrossentropy(from_logits=True, name="scce")):
        config = json.loads(json.dumps(loss.get_config()))
        assert type(loss).from_config(config).get_config() == loss.get_config()
    assert losses.MeanSquaredError().name == "mean_squared_error"
    with pytest.raises(ValueError, match="delta.*Huber"):
        losses.Huber(delta=0)


# ---------------------------------------------------------------- label smoothing
# cr.functional.cross_entropy follows torch's CrossEntropyLoss(label_smoothing=); the
# Keras objects smooth their targets as Keras does (binary: t (1 - e) + e / 2,
# categorical: t (1 - e) + e / C), checked against that formula written out.

SMOOTH_CASES = {  # logits shape, target kind, weight, ignore_index, reduction
    "index": ((6, 5), "index", False, -100, "mean"),
    "index_weighted": ((6, 5), "index", True, -100, "mean"),
    "index_ignored": ((6, 5), "index", True, 2, "mean"),
    "index_sum": ((6, 5), "index", True, 2, "sum"),
    "index_none": ((6, 5), "index", False, -100, "none"),
    "spatial": ((3, 5, 4), "index", True, 1, "mean"),
    "probabilities": ((6, 5), "probs", True, -100, "mean"),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", SMOOTH_CASES)
def test_cross_entropy_label_smoothing_matches_torch(name, dtype):
    shape, kind, weighted, ignore, reduction = SMOOTH_CASES[name]
    r = rng(40)
    target_shape = (shape[0], *shape[2:])
    target = r.integers(0, shape[1], target_shape) if kind == "index" else \
        r.dirichlet(np.ones(shape[1]), shape[0])
    weight = r.uniform(0.5, 2.0, shape[1]) if weighted else None
    options = dict(ignore_index=ignore, reduction=reduction, label_smoothing=0.15)

    def ours(x, t):
        return F.cross_entropy(x, t, weight=weight, **options)

    def theirs(x, t):
        w = None if weight is None else torch.tensor(weight, dtype=x.dtype)
        return TF.cross_entropy(x, t, weight=w, **options)

    check_op([], ours, theirs, inputs=[logits(*shape, seed=41), target], dtype=dtype)


def test_cross_entropy_label_smoothing_is_a_mix_with_the_uniform_target():
    """Unweighted: (1 - e) CE(onehot) + e CE(uniform) = CE((1 - e) onehot + e / C)."""
    x = logits(4, 3, seed=42)
    y = np.array([0, 2, 1, 2])
    onehot = np.eye(3)[y]
    smoothed = F.cross_entropy(x, y, label_smoothing=0.3).item()
    mixed = 0.7 * F.cross_entropy(x, onehot).item() + 0.3 * F.cross_entropy(
        x, np.full((4, 3), 1 / 3)).item()
    assert smoothed == pytest.approx(mixed, rel=1e-12)
    assert F.cross_entropy(x, y, label_smoothing=0.0).item() == F.cross_entropy(x, y).item()
    with pytest.raises(ValueError, match=r"`label_smoothing` of `cross_entropy`.*1.5"):
        F.cross_entropy(x, y, label_smoothing=1.5)


@pytest.mark.parametrize("from_logits", [False, True])
def test_keras_binary_crossentropy_label_smoothing(from_logits):
    r = rng(43)
    y = r.integers(0, 2, (5, 3)).astype(float)
    z = r.normal(0, 2, (5, 3))
    p = 1 / (1 + np.exp(-z))
    smooth = y * 0.8 + 0.1  # e = 0.2: t (1 - e) + e / 2
    clipped = np.clip(p, EPS, 1 - EPS)
    expected = -(smooth * np.log(clipped) + (1 - smooth) * np.log(1 - clipped)).mean()
    if from_logits:  # the stable form of the same loss, unclipped
        expected = (np.maximum(z, 0) - z * smooth + np.log1p(np.exp(-np.abs(z)))).mean()
    loss = losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=0.2)
    assert loss(y, z if from_logits else p).item() == pytest.approx(expected, rel=1e-6)
    assert loss.on_logits(y, z).item() == pytest.approx(
        (np.maximum(z, 0) - z * smooth + np.log1p(np.exp(-np.abs(z)))).mean(), rel=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
def test_keras_categorical_crossentropy_label_smoothing(from_logits):
    r = rng(44)
    y = np.eye(4)[r.integers(0, 4, 6)]
    z = r.normal(0, 2, (6, 4))
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    smooth = y * 0.9 + 0.1 / 4  # e = 0.1, C = 4
    log_p = log_p if from_logits else np.log(np.clip(np.exp(log_p), EPS, 1 - EPS))
    expected = -(smooth * log_p).sum(-1).mean()
    loss = losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=0.1)
    pred = z if from_logits else np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    assert loss(y, pred).item() == pytest.approx(expected, rel=1e-6)


def test_label_smoothing_config_round_trip_and_errors():
    loss = losses.CategoricalCrossentropy(label_smoothing=0.25)
    config = loss.get_config()
    assert config["label_smoothing"] == 0.25
    assert losses.get({"class_name": "CategoricalCrossentropy", "config": config}
                      ).label_smoothing == 0.25
    assert losses.BinaryCrossentropy().get_config()["label_smoothing"] == 0.0
    with pytest.raises(ValueError, match=r"`label_smoothing` of `BinaryCrossentropy`.*-0.1"):
        losses.BinaryCrossentropy(label_smoothing=-0.1)
    with pytest.raises(TypeError):  # Keras' sparse loss has no label smoothing either
        losses.SparseCategoricalCrossentropy(label_smoothing=0.1)
