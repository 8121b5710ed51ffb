"""Core, convolution and pooling layers against torch (see layer_helpers.check_layer)."""

import numpy as np
import pytest
from helpers import HAS_TORCH, torch
from layer_helpers import check_layer

import chainrule as cr
import chainrule.ops.linalg as linalg_ops
from chainrule.layers import (
    Activation,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    MaxPooling1D,
    MaxPooling2D,
    Reshape,
)
from chainrule.ops.linalg import Linear

if HAS_TORCH:
    import torch.nn.functional as TF


def nhwc(fn):
    """Run a torch NCHW function on an NHWC tensor."""
    return lambda x, *a, **k: fn(x.permute(0, 3, 1, 2), *a, **k).permute(0, 2, 3, 1)


def nlc(fn):
    return lambda x, *a, **k: fn(x.permute(0, 2, 1), *a, **k).permute(0, 2, 1)


def test_dense():
    check_layer(lambda: Dense(6, activation="tanh", bias_initializer="normal"), (5, 11),
                output_shape=(5, 6), param_count=72,
                torch_fn=lambda x, p: torch.tanh(x @ p["kernel"] + p["bias"]))


def test_dense_without_bias_on_3d_input():
    check_layer(lambda: Dense(3, use_bias=False), (2, 4, 5), output_shape=(2, 4, 3),
                param_count=15, torch_fn=lambda x, p: x @ p["kernel"])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu",
                                  "softmax", "linear"])
def test_activation_by_name(name):
    ref = {"sigmoid": lambda x: torch.sigmoid(x), "tanh": lambda x: torch.tanh(x),
           "relu": lambda x: torch.relu(x), "leaky_relu": lambda x: TF.leaky_relu(x, 0.01),
           "elu": lambda x: TF.elu(x), "gelu": lambda x: TF.gelu(x, approximate="tanh"),
           "softmax": lambda x: torch.softmax(x, -1), "linear": lambda x: x}
    check_layer(lambda: Activation(name), (4, 7), output_shape=(4, 7), param_count=0,
                torch_fn=(lambda x, p: ref[name](x)) if HAS_TORCH else None)


@pytest.mark.parametrize("strides,padding,dilation", [
    (1, "valid", 1), (2, "valid", 1), (1, "same", 1), (1, "valid", 2), ((2, 1), "valid", 1)])
def test_conv2d(strides, padding, dilation):
    layer = Conv2D(4, (3, 2), strides=strides, padding=padding, dilation_rate=dilation)
    s = (strides, strides) if isinstance(strides, int) else strides
    d = dilation
    h, w = 9, 8
    if padding == "same":
        oh, ow = -(-h // s[0]), -(-w // s[1])
    else:
        oh, ow = (h - d * 2 - 1) // s[0] + 1, (w - d * 1 - 1) // s[1] + 1

    def ref(x, p):
        k = p["kernel"].permute(3, 2, 0, 1)
        return nhwc(TF.conv2d)(x, k, p["bias"], stride=s, padding=padding, dilation=d)

    check_layer(lambda: Conv2D(4, (3, 2), strides=strides, padding=padding,
                               dilation_rate=dilation, bias_initializer="normal"),
                (2, h, w, 3), output_shape=(2, oh, ow, 4), param_count=3 * 2 * 3 * 4 + 4,
                torch_fn=ref, gradcheck_shape=(1, 6, 5, 3))
    assert layer.get_config()["kernel_size"] == [3, 2]


def test_conv1d():
    def ref(x, p):
        return nlc(TF.conv1d)(x, p["kernel"].permute(2, 1, 0), p["bias"], stride=2)

    check_layer(lambda: Conv1D(5, 3, strides=2, activation="relu", bias_initializer="normal"),
                (3, 11, 2), output_shape=(3, 5, 5), param_count=3 * 2 * 5 + 5,
                torch_fn=lambda x, p: torch.relu(ref(x, p)), gradcheck_shape=(1, 7, 2))


def test_max_and_average_pooling():
    check_layer(lambda: MaxPooling2D((2, 2)), (2, 6, 4, 3), output_shape=(2, 3, 2, 3),
                param_count=0, torch_fn=lambda x, p: nhwc(TF.max_pool2d)(x, 2))
    check_layer(lambda: MaxPooling2D(3, strides=1), (2, 5, 5, 2), output_shape=(2, 3, 3, 2),
                param_count=0, torch_fn=lambda x, p: nhwc(TF.max_pool2d)(x, 3, 1))
    check_layer(lambda: AveragePooling2D(2), (2, 6, 4, 3), output_shape=(2, 3, 2, 3),
                param_count=0, torch_fn=lambda x, p: nhwc(TF.avg_pool2d)(x, 2))
    check_layer(lambda: MaxPooling1D(2), (2, 6, 3), output_shape=(2, 3, 3),
                param_count=0, torch_fn=lambda x, p: nlc(TF.max_pool1d)(x, 2))
    check_layer(lambda: GlobalAveragePooling2D(), (2, 3, 4, 5), output_shape=(2, 5),
                param_count=0, torch_fn=lambda x, p: x.mean(dim=(1, 2)))


def test_flatten_and_reshape():
    check_layer(lambda: Flatten(), (2, 3, 4, 5), output_shape=(2, 60), param_count=0,
                torch_fn=lambda x, p: x.reshape(2, -1))
    check_layer(lambda: Reshape((4, -1)), (2, 3, 4), output_shape=(2, 4, 3), param_count=0,
                torch_fn=lambda x, p: x.reshape(2, 4, 3))


def test_dropout_preserves_mean_in_training_and_is_identity_in_eval():
    cr.manual_seed(0)
    layer = Dropout(0.3)
    x = cr.ones(200_000)
    y = layer(x).numpy()
    assert abs(y.mean() - 1.0) < 0.01
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert np.allclose(y[y != 0], 1 / 0.7)
    layer.eval()
    assert np.array_equal(layer(x).numpy(), x.numpy())


def test_dropout_is_seeded_and_backpropagates_through_the_mask():
    cr.manual_seed(1)
    x = cr.ones(1000, requires_grad=True)
    y = Dropout(0.5)(x)
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), y.numpy())
    cr.manual_seed(1)
    assert np.array_equal(Dropout(0.5)(cr.ones(1000)).numpy(), y.numpy())


@pytest.mark.parametrize("make,message", [
    (lambda: Dropout(1.5), "rate=1.5"),
    (lambda: Dense(0), "units=0"),
    (lambda: Conv2D(3, 3, padding="full"), "padding='full'"),
    (lambda: Dense(3, activation="swishy"), "swishy"),
    (lambda: Dense(3, kernel_initializer="nope"), "nope"),
    (lambda: Dense(3, unit=4), "unit"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message.replace("(", r"\(")):
        make()


def test_dense_feature_mismatch_names_both_shapes():
    layer = Dense(6, input_dim=11)
    with pytest.raises(ValueError, match=r"11 features.*\(11, 6\).*\(32, 12\)"):
        layer(np.ones((32, 12)))


def test_layers_build_at_once_with_input_shape_and_lazily_otherwise():
    assert Dense(4, input_dim=3).built
    lazy = Dense(4)
    assert not lazy.built and lazy.count_params() == 0
    lazy(np.ones((2, 5)))
    assert lazy.built and lazy.kernel.shape == (5, 4)
    conv = Conv2D(2, 3, input_shape=(8, 8, 1))
    assert conv.kernel.shape == (3, 3, 1, 2)


def test_layer_names_are_unique_and_numpy_inputs_take_the_default_dtype():
    a, b = Dense(2), Dense(2)
    assert a.name != b.name and a.name.startswith("dense")
    out = a(np.ones((1, 3), dtype=np.float64))
    assert out.dtype == np.float32


@pytest.mark.parametrize("shapes", [[(5, 4), (4, 3), (3,)], [(2, 5, 4), (4, 3), (3,)],
                                    [(4,), (4, 3), (3,)], [(5, 4), (4, 3)]])
def test_fused_linear_matches_matmul_plus_bias(shapes):
    from helpers import check_op

    def ref(x, k, b=None):
        y = x @ k
        return y if b is None else y + b

    check_op(shapes, lambda *a: cr.functional.linear(*a), ref)


@pytest.mark.parametrize("shape,activation", [((7, 4), "relu"), ((3, 5, 4), None),
                                              ((2, 4), "relu")])
def test_linear_split_over_two_batch_workers_equals_one(monkeypatch, shape, activation):
    """Rows in one block per worker (two BLAS threads, SPLIT_ROWS lowered): the values
    and gradients of the single GEMM."""
    monkeypatch.setattr(linalg_ops, "SPLIT_ROWS", 1)
    monkeypatch.setattr(linalg_ops, "SPLIT_WORK", 1)
    rng = np.random.default_rng(len(shape))
    arrays = [rng.standard_normal(shape), rng.standard_normal((4, 3)), rng.standard_normal(3)]
    grad = rng.standard_normal((*shape[:-1], 3))
    results = []
    for threads in (1, 2):
        leaves = [cr.tensor(a, requires_grad=True) for a in arrays]
        with cr.backend.limit_blas_threads(threads):
            assert len(linalg_ops.row_blocks(int(np.prod(shape[:-1])), 12)) == threads
            y = cr.functional.linear(*leaves, activation=activation)
            y.backward(grad)
        results.append([y.data] + [t.grad.data for t in leaves])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shapes", [[(6, 4), (4, 3), (3,)], [(2, 5, 4), (4, 3), None]])
def test_linear_with_fused_relu_equals_linear_then_relu(shapes):
    """Values and every gradient as linear followed by cr.relu; a Dense with
    activation="relu" runs as one Linear node, a custom ReLU does not."""
    rng = np.random.default_rng(0)
    arrays = [None if s is None else rng.standard_normal(s) for s in shapes]
    grad = rng.standard_normal((*shapes[0][:-1], 3))
    results = []
    for fused in (False, True):
        leaves = [None if a is None else cr.tensor(a, requires_grad=True) for a in arrays]
        y = cr.functional.linear(*leaves, activation="relu" if fused else None)
        y = y if fused else cr.relu(y)
        y.backward(grad)
        results.append([y.data] + [t.grad.data for t in leaves if t is not None])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    x = cr.tensor(arrays[0])
    assert type(Dense(3, activation="relu")(x)._ctx) is Linear
    assert type(Dense(3, activation=lambda t: t.relu())(x)._ctx) is not Linear
    with pytest.raises(ValueError, match="`activation` of `Linear`.*'tanh'"):
        cr.functional.linear(x, np.ones((4, 3)), activation="tanh")
