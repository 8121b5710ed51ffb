"""Convolution and pooling ops (chainrule.ops.conv, chainrule.ops.pool).

Each case runs the op in chainrule and, where torch is installed, in torch
(NHWC <-> NCHW, kernel HWIO <-> OIHW), and compares the forward value and the
gradient of every input in float64; ``cr.gradcheck`` checks against finite
differences without torch.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autograd import ShapeError
from chainrule.ops import conv as conv_ops
from chainrule.ops.conv import (
    Conv1d,
    Conv2d,
    col2im,
    col2im_reference,
    im2col,
    im2col_reference,
    output_size,
    pad_spatial,
    padding_amounts,
)
from chainrule.ops.pool import (
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    avg_pool2d_backward_reference,
    max_pool2d_backward_reference,
)

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - torch is optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
TOL = 1e-10


# ---------------------------------------------------------------- helpers


def assert_close(ours, theirs, what):
    """Equal within TOL, or fail naming the array, the worst element and both values."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    if ours.size == 0:
        return
    err = np.abs(ours - theirs)
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err[worst] <= TOL, (f"{what}: worst element {worst}: chainrule {ours[worst]!r}, "
                               f"torch {theirs[worst]!r}")


def run_ours(op, arrays, options, seed=1):
    """Apply ``op`` to float64 tensors; backprop fixed random weights. -> (out, grads)."""
    tensors = [None if a is None else cr.tensor(a, requires_grad=True) for a in arrays]
    out = op.apply(*tensors, **options)
    grad = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(grad)
    return out.data, grad, [None if t is None else t.grad.data for t in tensors]


def tf_same_pads(size, window, stride, dilation=1):
    """TensorFlow's "same" padding, written out independently of chainrule."""
    total = max((math.ceil(size / stride) - 1) * stride + (window - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def nchw(a):
    """NHWC (or NLC) numpy -> channels-first torch tensor requiring grad."""
    axes = (0, a.ndim - 1, *range(1, a.ndim - 1))
    return torch.tensor(a.transpose(axes).copy(), requires_grad=True)


def nhwc(t):
    """Channels-first torch tensor -> NHWC (or NLC) numpy."""
    a = t.detach().numpy()
    return a.transpose((0, *range(2, a.ndim), 1))


def torch_pad(xt, x_shape, window, strides, dilation, padding, value=0.0):
    """Pad a channels-first torch tensor as chainrule's ``padding`` would (maybe asymmetric)."""
    if padding == "valid":
        return xt
    spatial = x_shape[1:-1]
    pads = [tf_same_pads(n, k, s, d) for n, k, s, d in zip(spatial, window, strides, dilation)]
    flat = [p for before_after in reversed(pads) for p in before_after]  # last axis first
    return F.pad(xt, flat, value=value)


# ---------------------------------------------------------------- convolution

CONV2D_CASES = [
    # x shape, kernel shape, strides, padding, dilation
    ((2, 7, 9, 3), (3, 3, 3, 4), (1, 1), "valid", (1, 1)),  # odd kernel, non-square input
    ((2, 8, 6, 2), (2, 4, 2, 3), (1, 1), "valid", (1, 1)),  # even, non-square kernel
    ((2, 9, 8, 3), (3, 3, 3, 2), (2, 2), "valid", (1, 1)),  # stride 2 leaves a row unused
    ((1, 7, 10, 2), (3, 2, 2, 3), (2, 3), "valid", (1, 1)),  # unequal strides
    ((2, 7, 9, 3), (3, 3, 3, 4), (1, 1), "same", (1, 1)),
    ((2, 6, 7, 2), (2, 4, 2, 3), (1, 1), "same", (1, 1)),  # even kernel: asymmetric pads
    ((2, 9, 8, 3), (3, 3, 3, 2), (2, 2), "same", (1, 1)),  # stride 2: asymmetric pads
    ((1, 8, 7, 2), (4, 4, 2, 3), (2, 2), "same", (1, 1)),
    ((2, 9, 10, 2), (3, 3, 2, 3), (1, 1), "valid", (2, 2)),  # dilation 2
    ((2, 9, 10, 2), (2, 3, 2, 3), (1, 1), "same", (2, 2)),
    ((1, 11, 9, 2), (3, 2, 2, 2), (2, 1), "same", (2, 3)),
    ((3, 6, 6, 1), (5, 5, 1, 4), (1, 1), "valid", (1, 1)),  # one input channel (LeNet conv1)
]


def conv2d_case(x_shape, k_shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape), rng.standard_normal(k_shape),
            rng.standard_normal(k_shape[-1]))


@needs_torch
@pytest.mark.parametrize("x_shape,k_shape,strides,padding,dilation", CONV2D_CASES)
@pytest.mark.parametrize("use_bias", [True, False])
def test_conv2d_matches_torch(x_shape, k_shape, strides, padding, dilation, use_bias):
    x, kernel, bias = conv2d_case(x_shape, k_shape)
    bias = bias if use_bias else None
    out, grad, (dx, dk, db) = run_ours(Conv2d, [x, kernel, bias], dict(
        strides=strides, padding=padding, dilation=dilation))

    xt = nchw(x)
    kt = torch.tensor(kernel.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True) if use_bias else None
    padded = torch_pad(xt, x.shape, k_shape[:2], strides, dilation, padding)
    ot = F.conv2d(padded, kt, bt, stride=strides, dilation=dilation)
    ot.backward(nchw(grad))

    assert_close(out, nhwc(ot), "output")
    assert_close(dx, nhwc(xt.grad), "d x")
    assert_close(dk, kt.grad.numpy().transpose(2, 3, 1, 0), "d kernel")
    if use_bias:
        assert_close(db, bt.grad.numpy(), "d bias")


@needs_torch
@settings(max_examples=25, deadline=None)
@given(st.data())
def test_conv2d_matches_torch_on_random_geometry(data):
    draw = data.draw
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    reach = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    x_shape = (draw(st.integers(1, 2)), draw(st.integers(reach[0], reach[0] + 5)),
               draw(st.integers(reach[1], reach[1] + 5)), draw(st.integers(1, 3)))
    k_shape = (*kernel, x_shape[-1], draw(st.integers(1, 3)))
    test_conv2d_matches_torch(x_shape, k_shape, strides, draw(st.sampled_from(["valid", "same"])),
                              dilation, use_bias=True)


CONV1D_CASES = [
    # x shape, kernel shape, stride, padding, dilation
    ((2, 11, 3), (3, 3, 4), 1, "valid", 1),
    ((2, 10, 2), (4, 2, 3), 1, "valid", 1),
    ((2, 11, 3), (3, 3, 2), 2, "valid", 1),
    ((2, 11, 3), (3, 3, 4), 1, "same", 1),
    ((2, 10, 2), (4, 2, 3), 1, "same", 1),
    ((2, 11, 2), (4, 2, 3), 2, "same", 1),
    ((2, 13, 2), (3, 2, 3), 1, "valid", 2),
    ((2, 13, 2), (2, 2, 3), 2, "same", 2),
]


@needs_torch
@pytest.mark.parametrize("x_shape,k_shape,stride,padding,dilation", CONV1D_CASES)
def test_conv1d_matches_torch(x_shape, k_shape, stride, padding, dilation):
    x, kernel, bias = conv2d_case(x_shape, k_shape)
    out, grad, (dx, dk, db) = run_ours(Conv1d, [x, kernel, bias], dict(
        strides=stride, padding=padding, dilation=dilation))

    xt = nchw(x)
    kt = torch.tensor(kernel.transpose(2, 1, 0).copy(), requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True)
    padded = torch_pad(xt, x.shape, (k_shape[0],), (stride,), (dilation,), padding)
    ot = F.conv1d(padded, kt, bt, stride=stride, dilation=dilation)
    ot.backward(nchw(grad))

    assert_close(out, nhwc(ot), "output")
    assert_close(dx, nhwc(xt.grad), "d x")
    assert_close(dk, kt.grad.numpy().transpose(2, 1, 0), "d kernel")
    assert_close(db, bt.grad.numpy(), "d bias")


@pytest.mark.parametrize("strides,padding,dilation", [
    ((1, 1), "valid", (1, 1)), ((2, 2), "same", (1, 1)), ((1, 2), "same", (2, 1))])
def test_conv2d_gradcheck(strides, padding, dilation):
    x, kernel, bias = conv2d_case((2, 5, 6, 2), (3, 2, 2, 3), seed=3)
    cr.gradcheck(lambda a, k, b: Conv2d.apply(a, k, b, strides=strides, padding=padding,
                                              dilation=dilation),
                 cr.tensor(x, requires_grad=True), cr.tensor(kernel, requires_grad=True),
                 cr.tensor(bias, requires_grad=True))


def test_conv1d_gradcheck_without_bias():
    x, kernel, _ = conv2d_case((2, 7, 2), (3, 2, 3), seed=4)
    cr.gradcheck(lambda a, k: Conv1d.apply(a, k, None, strides=2, padding="same"),
                 cr.tensor(x, requires_grad=True), cr.tensor(kernel, requires_grad=True))


def test_conv1d_is_conv2d_with_height_one():
    x, kernel, bias = conv2d_case((2, 9, 3), (3, 3, 2), seed=5)
    options = dict(padding="same", strides=2, dilation=2)
    out1 = Conv1d.apply(cr.tensor(x), cr.tensor(kernel), cr.tensor(bias), **options)
    out2 = Conv2d.apply(cr.tensor(x[:, None]), cr.tensor(kernel[None]), cr.tensor(bias),
                        strides=(1, 2), padding="same", dilation=(1, 2))
    np.testing.assert_array_equal(out1.data, out2.data[:, 0])


def test_conv2d_by_hand():
    # A 3x3 input, a 2x2 kernel of ones: each output is the sum of a 2x2 block, plus 10.
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    xt = cr.tensor(x, requires_grad=True)
    out = Conv2d.apply(xt, cr.tensor(np.ones((2, 2, 1, 1))), cr.tensor([10.0]))
    np.testing.assert_array_equal(out.data[0, :, :, 0], [[18.0, 22.0], [30.0, 34.0]])
    out.sum().backward()
    # Each input pixel is counted once per window covering it.
    np.testing.assert_array_equal(xt.grad.data[0, :, :, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@pytest.mark.parametrize("channels", [1, 3])  # both im2col layouts
def test_conv2d_keeps_float32(channels):
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((2, 8, 8, channels), dtype=np.float32), requires_grad=True)
    k = cr.tensor(rng.standard_normal((3, 3, channels, 4), dtype=np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(4, np.float32), requires_grad=True)
    out = Conv2d.apply(x, k, b, padding="same", strides=2)
    out.backward(np.ones(out.shape, np.float32))
    assert out.dtype == x.grad.dtype == k.grad.dtype == b.grad.dtype == np.float32


@pytest.mark.parametrize("channels", [1, 3])  # both im2col layouts (ones row / column)
@pytest.mark.parametrize("wanted", [(False, True, False), (False, False, True),
                                    (True, False, True)])
def test_conv2d_bias_rides_in_the_gemm(channels, wanted):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 7, channels))
    kernel, bias = rng.standard_normal((3, 2, channels, 4)), rng.standard_normal(4)
    options = dict(strides=(1, 2), padding="same")
    out, grad, full = run_ours(Conv2d, [x, kernel, bias], options)
    plain = Conv2d.apply(cr.tensor(x), cr.tensor(kernel), None, **options).data
    np.testing.assert_allclose(out, plain + bias, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(full[2], grad.sum((0, 1, 2)), rtol=1e-12, atol=1e-12)
    # any subset of the inputs needing gradients gets the same ones
    tensors = [cr.tensor(a, requires_grad=w) for a, w in zip((x, kernel, bias), wanted)]
    Conv2d.apply(*tensors, **options).backward(grad)
    for t, w, ref in zip(tensors, wanted, full):
        if w:
            np.testing.assert_allclose(t.grad.data, ref, rtol=1e-12, atol=1e-12)
        else:
            assert t.grad is None


def test_conv2d_without_grad_records_nothing():
    x, kernel, bias = conv2d_case((1, 5, 5, 2), (3, 3, 2, 2))
    with cr.no_grad():
        out = Conv2d.apply(cr.tensor(x), cr.tensor(kernel, requires_grad=True), cr.tensor(bias))
    assert not out.requires_grad


@pytest.mark.parametrize("op,x_shape,k_shape,message", [
    (Conv2d, (5, 5, 2), (3, 3, 2, 4), "Conv2d expects x of shape (N, H, W, Cin)"),
    (Conv2d, (1, 5, 5, 3), (3, 3, 2, 4), "3 input channels"),
    (Conv2d, (1, 2, 5, 2), (3, 3, 2, 4), "smaller than the kernel"),
    (Conv1d, (1, 5, 5, 2), (3, 2, 4), "Conv1d expects x of shape (N, L, Cin)"),
    (Conv1d, (1, 5, 3), (3, 2, 4), "kernel (3, 2, 4) expects Cin = 2"),
])
def test_conv_shape_errors_name_op_and_shapes(op, x_shape, k_shape, message):
    with pytest.raises(ShapeError) as info:
        op.apply(cr.tensor(np.zeros(x_shape)), cr.tensor(np.zeros(k_shape)), None)
    assert message in str(info.value)
    assert str(x_shape) in str(info.value)


def test_conv_bias_shape_error():
    with pytest.raises(ShapeError, match=r"bias must have shape \(4,\)"):
        Conv2d.apply(cr.tensor(np.zeros((1, 5, 5, 2))), cr.tensor(np.zeros((3, 3, 2, 4))),
                     cr.tensor(np.zeros(3)))


@pytest.mark.parametrize("options,name", [
    (dict(padding="full"), "padding"), (dict(strides=0), "strides"),
    (dict(dilation=(1, 2, 3)), "dilation")])
def test_conv_option_errors_name_the_argument(options, name):
    with pytest.raises(ValueError, match=f"argument `{name}` of `Conv2d`"):
        Conv2d.apply(cr.tensor(np.zeros((1, 5, 5, 2))), cr.tensor(np.zeros((3, 3, 2, 4))),
                     None, **options)


# ---------------------------------------------------------------- pooling

POOL2D_CASES = [
    # x shape, pool, strides, padding
    ((2, 6, 8, 3), (2, 2), (2, 2), "valid"),  # the common, tiling case
    ((2, 7, 9, 2), (2, 2), (2, 2), "valid"),  # a row and a column left over
    ((2, 7, 8, 2), (3, 3), (2, 2), "valid"),  # overlapping windows
    ((2, 7, 8, 2), (3, 2), (1, 1), "valid"),
    ((2, 9, 10, 2), (2, 2), (3, 3), "valid"),  # gaps between windows
    ((2, 7, 9, 2), (2, 2), (2, 2), "same"),
    ((2, 7, 8, 2), (3, 3), (2, 2), "same"),
    ((2, 6, 7, 2), (3, 2), (1, 1), "same"),
    ((1, 5, 9, 2), (2, 3), (3, 2), "same"),
]


def pool_reference(kind, xt, x_shape, pool, strides, padding):
    """Torch pooling with chainrule's padding; "same" averages exclude the padding."""
    if kind == "max":
        padded = torch_pad(xt, x_shape, pool, strides, (1, 1), padding, value=-math.inf)
        return F.max_pool2d(padded, pool, strides)
    ones = torch.ones_like(xt)
    total, count = (F.avg_pool2d(torch_pad(t, x_shape, pool, strides, (1, 1), padding),
                                 pool, strides, divisor_override=1) for t in (xt, ones))
    return total / count


@needs_torch
@pytest.mark.parametrize("x_shape,pool,strides,padding", POOL2D_CASES)
@pytest.mark.parametrize("op,kind", [(MaxPool2d, "max"), (AvgPool2d, "avg")])
def test_pool2d_matches_torch(op, kind, x_shape, pool, strides, padding):
    x = np.random.default_rng(0).standard_normal(x_shape)
    out, grad, (dx,) = run_ours(op, [x], dict(pool_size=pool, strides=strides, padding=padding))
    xt = nchw(x)
    ot = pool_reference(kind, xt, x_shape, pool, strides, padding)
    ot.backward(nchw(grad))
    assert_close(out, nhwc(ot), "output")
    assert_close(dx, nhwc(xt.grad), "d x")


@needs_torch
@settings(max_examples=25, deadline=None)
@given(st.data())
def test_pool2d_matches_torch_on_random_geometry(data):
    draw = data.draw
    pool = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    strides = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    x_shape = (draw(st.integers(1, 2)), draw(st.integers(pool[0], pool[0] + 5)),
               draw(st.integers(pool[1], pool[1] + 5)), draw(st.integers(1, 3)))
    op, kind = draw(st.sampled_from([(MaxPool2d, "max"), (AvgPool2d, "avg")]))
    test_pool2d_matches_torch(op, kind, x_shape, pool, strides,
                              draw(st.sampled_from(["valid", "same"])))


@needs_torch
@pytest.mark.parametrize("x_shape,pool,stride,padding", [
    ((2, 10, 3), 2, 2, "valid"), ((2, 11, 3), 2, 2, "valid"), ((2, 11, 2), 3, 1, "valid"),
    ((2, 11, 2), 3, 2, "same"), ((2, 12, 2), 2, 3, "valid"), ((2, 10, 2), 4, 3, "same")])
def test_maxpool1d_matches_torch(x_shape, pool, stride, padding):
    x = np.random.default_rng(0).standard_normal(x_shape)
    out, grad, (dx,) = run_ours(MaxPool1d, [x], dict(pool_size=pool, strides=stride,
                                                     padding=padding))
    xt = nchw(x)
    padded = torch_pad(xt, x_shape, (pool,), (stride,), (1,), padding, value=-math.inf)
    ot = F.max_pool1d(padded, pool, stride)
    ot.backward(nchw(grad))
    assert_close(out, nhwc(ot), "output")
    assert_close(dx, nhwc(xt.grad), "d x")


@pytest.mark.parametrize("op", [MaxPool2d, AvgPool2d])
@pytest.mark.parametrize("pool,strides,padding", [
    ((2, 2), (2, 2), "valid"), ((3, 3), (2, 2), "same"), ((2, 3), (3, 1), "same")])
def test_pool2d_gradcheck(op, pool, strides, padding):
    x = cr.tensor(np.random.default_rng(6).standard_normal((2, 5, 6, 2)), requires_grad=True)
    cr.gradcheck(lambda a: op.apply(a, pool_size=pool, strides=strides, padding=padding), x)


def test_maxpool1d_gradcheck():
    x = cr.tensor(np.random.default_rng(7).standard_normal((2, 9, 2)), requires_grad=True)
    cr.gradcheck(lambda a: MaxPool1d.apply(a, pool_size=3, strides=2, padding="same"), x)


def test_maxpool_tie_goes_to_first_element_of_each_window():
    x = cr.tensor(np.ones((1, 4, 4, 1)), requires_grad=True)
    MaxPool2d.apply(x, pool_size=2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0
    np.testing.assert_array_equal(x.grad.data[0, :, :, 0], expected)


def first_max_gradient(x, pool, strides, grad):
    """Reference max-pool gradient by loops ("valid"): each window's first maximum."""
    dx = np.zeros_like(x)
    for n, y, xx, c in np.ndindex(grad.shape):
        window = x[n, y * strides[0]:y * strides[0] + pool[0],
                   xx * strides[1]:xx * strides[1] + pool[1], c]
        i, j = np.unravel_index(np.argmax(window), window.shape)  # argmax: first maximum
        dx[n, y * strides[0] + i, xx * strides[1] + j, c] += grad[n, y, xx, c]
    return dx


@pytest.mark.parametrize("x_shape,pool,strides", [
    ((2, 6, 6, 3), (2, 2), (2, 2)),  # tiles: every element written
    ((2, 5, 7, 2), (2, 3), (2, 3)),  # tiles with a row and a column left over
    ((1, 7, 7, 2), (2, 2), (3, 3)),  # gaps between windows
    ((1, 6, 5, 2), (3, 2), (1, 2)),  # overlapping rows
])
def test_maxpool_gradient_goes_to_the_first_maximum(x_shape, pool, strides):
    x = np.random.default_rng(8).integers(0, 3, x_shape).astype(np.float64)  # many ties
    xt = cr.tensor(x, requires_grad=True)
    out = MaxPool2d.apply(xt, pool_size=pool, strides=strides)
    grad = np.random.default_rng(9).standard_normal(out.shape)
    out.backward(grad)
    np.testing.assert_array_equal(xt.grad.data, first_max_gradient(x, pool, strides, grad))


def test_maxpool_overlapping_windows_accumulate():
    # 1-D, pool 3, stride 1: the maximum 9 is in all three windows; ties go first.
    x = cr.tensor(np.array([1.0, 9.0, 2.0, 0.0, 5.0, 5.0]).reshape(1, 6, 1), requires_grad=True)
    out = MaxPool1d.apply(x, pool_size=3, strides=1)
    np.testing.assert_array_equal(out.data.ravel(), [9.0, 9.0, 5.0, 5.0])
    out.backward(np.array([1.0, 10.0, 100.0, 1000.0]).reshape(1, 4, 1))
    np.testing.assert_array_equal(x.grad.data.ravel(), [0, 11, 0, 0, 1100, 0])


def test_avgpool_same_excludes_padding_from_the_count():
    x = cr.tensor(np.arange(1.0, 10.0).reshape(1, 3, 3, 1))
    out = AvgPool2d.apply(x, pool_size=2, strides=2, padding="same")
    # TF pads one row and one column after: windows hold 4, 2, 2 and 1 real values.
    np.testing.assert_array_equal(out.data[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]])


@pytest.mark.parametrize("op", [MaxPool2d, AvgPool2d])
def test_pool_keeps_float32(op):
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 7, 7, 3)).astype(np.float32),
                  requires_grad=True)
    out = op.apply(x, pool_size=3, strides=2, padding="same")
    out.backward(np.ones(out.shape, np.float32))
    assert out.dtype == x.grad.dtype == np.float32


def test_pool_defaults_strides_to_pool_size():
    x = cr.tensor(np.random.default_rng(0).standard_normal((1, 6, 6, 1)))
    assert MaxPool2d.apply(x, pool_size=3).shape == (1, 2, 2, 1)
    assert MaxPool1d.apply(cr.tensor(np.zeros((1, 7, 2))), pool_size=2).shape == (1, 3, 2)


@pytest.mark.parametrize("op,x_shape,message", [
    (MaxPool2d, (6, 6, 1), "MaxPool2d expects x of shape (N, H, W, C); received (6, 6, 1)"),
    (AvgPool2d, (1, 1, 6, 1), "smaller than the pool window (2, 2)"),
    (MaxPool1d, (1, 6, 6, 1), "MaxPool1d expects x of shape (N, L, C); received (1, 6, 6, 1)"),
])
def test_pool_shape_errors(op, x_shape, message):
    with pytest.raises(ShapeError) as info:
        op.apply(cr.tensor(np.zeros(x_shape)), pool_size=2)
    assert message in str(info.value)


def test_pool_option_errors_name_the_argument():
    with pytest.raises(ValueError, match="argument `pool_size` of `MaxPool2d`"):
        MaxPool2d.apply(cr.tensor(np.zeros((1, 4, 4, 1))), pool_size=(2, 0))
    with pytest.raises(ValueError, match="argument `padding` of `AvgPool2d`"):
        AvgPool2d.apply(cr.tensor(np.zeros((1, 4, 4, 1))), padding="causal")


# ---------------------------------------------------------------- the textbook references
# im2col/col2im and the pooling backwards against the loop versions beside them in
# ops/, on random geometry; no torch needed.


@st.composite
def window_geometry(draw, dilated: bool = True):
    """(x shape, window, strides, dilation, padding) with at least one output position."""
    window = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    reach = [(k - 1) * d + 1 for k, d in zip(window, dilation)]
    x_shape = (draw(st.integers(1, 2)), draw(st.integers(reach[0], reach[0] + 4)),
               draw(st.integers(reach[1], reach[1] + 4)), draw(st.integers(1, 3)))
    return x_shape, window, strides, dilation, draw(st.sampled_from(["valid", "same"]))


def padded_geometry(x_shape, window, strides, dilation, padding):
    pads = tuple(padding_amounts(n, k, s, d, padding)
                 for n, k, s, d in zip(x_shape[1:3], window, strides, dilation))
    out_hw = tuple(output_size(n + sum(p), k, s, d)
                   for n, p, k, s, d in zip(x_shape[1:3], pads, window, strides, dilation))
    return pads, out_hw


REFERENCE_SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


@REFERENCE_SETTINGS
@given(window_geometry(), st.integers(1, 3), st.booleans())
def test_im2col_and_col2im_equal_their_references(geometry, cout, ones_column):
    x_shape, window, strides, dilation, padding = geometry
    rng = np.random.default_rng(0)
    pads, out_hw = padded_geometry(x_shape, window, strides, dilation, padding)
    xp = pad_spatial(rng.standard_normal(x_shape), pads)
    cols = im2col(xp, window, out_hw, strides, dilation, ones_column=ones_column)
    reference = im2col_reference(xp, window, out_hw, strides, dilation)
    np.testing.assert_array_equal(cols[:, :reference.shape[1]], reference)
    if ones_column:
        np.testing.assert_array_equal(cols[:, -1], 1.0)
    kernel2d = rng.standard_normal((reference.shape[1], cout))
    grad2d = rng.standard_normal((reference.shape[0], cout))
    np.testing.assert_allclose(
        col2im(grad2d, kernel2d, xp.shape, window, out_hw, strides, dilation),
        col2im_reference(grad2d @ kernel2d.T, xp.shape, window, out_hw, strides, dilation),
        rtol=1e-12, atol=1e-12)


def conv2d_by_hand(xp, kernel, bias, strides, dilation, out_hw):
    """out[n, y, x, o] = bias[o] + sum_{i,j,c} xp[n, y sh + i dh, x sw + j dw, c] k[i, j, c, o]."""
    (sh, sw), (dh, dw) = strides, dilation
    kh, kw = kernel.shape[:2]
    out = np.empty((xp.shape[0], *out_hw, kernel.shape[-1]))
    for y in range(out_hw[0]):
        for x in range(out_hw[1]):
            rows = slice(y * sh, y * sh + (kh - 1) * dh + 1, dh)
            window = xp[:, rows, slice(x * sw, x * sw + (kw - 1) * dw + 1, dw)]
            out[:, y, x] = np.einsum("nijc,ijco->no", window, kernel) + bias
    return out


@REFERENCE_SETTINGS
@given(window_geometry(), st.integers(1, 3))
def test_conv2d_equals_the_textbook_convolution(geometry, cout):
    """out = the sum over each window (by hand);  dkernel = cols^T G,  dx = col2im(G kernel^T)."""
    x_shape, window, strides, dilation, padding = geometry
    x, kernel, bias = conv2d_case(x_shape, (*window, x_shape[-1], cout))
    out, grad, (dx, dk, db) = run_ours(Conv2d, [x, kernel, bias], dict(
        strides=strides, padding=padding, dilation=dilation))
    pads, out_hw = padded_geometry(x_shape, window, strides, dilation, padding)
    xp = pad_spatial(x, pads)
    cols = im2col_reference(xp, window, out_hw, strides, dilation)
    k2d, g2d = kernel.reshape(-1, cout), grad.reshape(-1, cout)
    (top, _), (left, _) = pads
    dx_reference = col2im_reference(g2d @ k2d.T, xp.shape, window, out_hw, strides, dilation)
    assert_close(out, conv2d_by_hand(xp, kernel, bias, strides, dilation, out_hw), "output")
    assert_close(dk, (cols.T @ g2d).reshape(kernel.shape), "d kernel")
    assert_close(db, g2d.sum(axis=0), "d bias")
    assert_close(dx, dx_reference[:, top:top + x_shape[1], left:left + x_shape[2]], "d x")


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("op,x_shape,k_shape,options", [
    (Conv2d, (5, 9, 8, 3), (3, 2, 3, 4), dict(strides=1, padding="same")),
    (Conv2d, (4, 10, 9, 1), (5, 5, 1, 6), dict(strides=(2, 1), dilation=1)),
    (Conv1d, (6, 12, 2), (3, 2, 5), dict(strides=1, padding="valid", dilation=2)),
])
def test_chunked_conv_with_fused_relu_equals_conv_then_relu(monkeypatch, op, x_shape, k_shape,
                                                            options, use_bias):
    """Batch chunks of one image each, ReLU fused: values and every gradient as the
    unchunked op followed by cr.relu (ties at 0 get no gradient in both)."""
    x, kernel, bias = conv2d_case(x_shape, k_shape)
    arrays = [x, kernel, bias if use_bias else None]
    whole = [None if a is None else cr.tensor(a, requires_grad=True) for a in arrays]
    out = cr.relu(op.apply(*whole, **options))
    grad = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(grad)
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 1)
    fused, _, grads = run_ours(op, arrays, dict(options, activation="relu"))
    assert len(conv_ops.batch_chunks(x_shape[0], 100)) == x_shape[0]
    assert_close(fused, out.data, "output")
    for t, g, name in zip(whole, grads, ("d x", "d kernel", "d bias")):
        if t is not None:
            assert_close(g, t.grad.data, name)


@pytest.mark.parametrize("op,args,options", [
    (Conv2d, conv2d_case((9, 8, 7, 3), (3, 3, 3, 4)), dict(padding="same", activation="relu")),
    (Conv2d, conv2d_case((9, 10, 9, 1), (5, 5, 1, 6)), dict(strides=2)),
    (MaxPool2d, [np.random.default_rng(2).standard_normal((9, 8, 8, 3)).round(1)],
     dict(pool_size=2)),
    (MaxPool2d, [np.random.default_rng(3).standard_normal((9, 7, 9, 2))],
     dict(pool_size=3, strides=2, padding="same")),
])
def test_ops_split_over_two_batch_workers_equal_one(monkeypatch, op, args, options):
    """With two BLAS threads the batch chunks run on two workers: same values and
    gradients as on one thread (ties included: the pooling input is rounded)."""
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 1)
    with cr.backend.limit_blas_threads(1):
        one = run_ours(op, args, options)
    with cr.backend.limit_blas_threads(2):
        two = run_ours(op, args, options)
    assert_close(two[0], one[0], "output")
    for ours, theirs in zip(two[2], one[2]):
        assert_close(ours, theirs, "gradient")


def test_conv_activation_option_is_checked():
    x, kernel, bias = (cr.tensor(a) for a in conv2d_case((1, 4, 4, 1), (2, 2, 1, 1)))
    with pytest.raises(ValueError, match="`activation` of `Conv2d`.*'tanh'"):
        Conv2d.apply(x, kernel, bias, activation="tanh")


def test_conv_layer_fuses_only_chainrules_relu():
    layer = cr.layers.Conv2D(2, 3, activation="relu")
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 6, 6, 1)))
    y = layer(x)
    assert type(y._ctx) is Conv2d and y.data.min() == 0.0
    np.testing.assert_array_equal(layer(x, logits=True).data.clip(0), y.data)
    custom = cr.layers.Conv2D(2, 3, activation=lambda t: t.relu())
    assert type(custom(x)._ctx) is not Conv2d


def pool_forward_by_hand(kind, x, pads, pool, strides, out_hw):
    """Each output the max (or mean over the in-x elements) of its window, one at a time."""
    (top, _), (left, _) = pads
    out = np.empty((x.shape[0], *out_hw, x.shape[3]))
    for y in range(out_hw[0]):
        for z in range(out_hw[1]):
            r0, c0 = y * strides[0] - top, z * strides[1] - left
            window = x[:, max(r0, 0):r0 + pool[0], max(c0, 0):c0 + pool[1]]
            out[:, y, z] = window.max(axis=(1, 2)) if kind == "max" else window.mean(axis=(1, 2))
    return out


@REFERENCE_SETTINGS
@given(window_geometry(dilated=False), st.sampled_from(["max", "avg"]))
def test_pooling_equals_its_textbook_reference(geometry, kind):
    x_shape, pool, strides, _, padding = geometry
    x = np.random.default_rng(1).standard_normal(x_shape)
    op = MaxPool2d if kind == "max" else AvgPool2d
    out, grad, (dx,) = run_ours(op, [x], dict(pool_size=pool, strides=strides, padding=padding))
    pads, out_hw = padded_geometry(x_shape, pool, strides, (1, 1), padding)
    assert_close(out, pool_forward_by_hand(kind, x, pads, pool, strides, out_hw), "output")
    if kind == "max":
        (top, _), (left, _) = pads
        dxp = max_pool2d_backward_reference(pad_spatial(x, pads, -np.inf), grad, pool, strides)
        expected = dxp[:, top:top + x_shape[1], left:left + x_shape[2]]
    else:
        expected = avg_pool2d_backward_reference(grad, x_shape, pads, pool, strides)
    assert_close(dx, expected, "d x")


@REFERENCE_SETTINGS
@given(window_geometry(), st.integers(1, 3))
def test_conv1d_equals_the_textbook_convolution(geometry, cout):
    (n, _, length, cin), (_, k), (_, stride), (_, dilation), padding = geometry
    x, kernel, bias = conv2d_case((n, length, cin), (k, cin, cout))
    out = Conv1d.apply(cr.tensor(x), cr.tensor(kernel), cr.tensor(bias), strides=stride,
                       padding=padding, dilation=dilation).data
    pads, out_hw = padded_geometry((n, 1, length, cin), (1, k), (1, stride), (1, dilation),
                                   padding)
    expected = conv2d_by_hand(pad_spatial(x[:, None], pads), kernel[None], bias, (1, stride),
                              (1, dilation), out_hw)
    assert_close(out, expected[:, 0], "output")


@REFERENCE_SETTINGS
@given(window_geometry(dilated=False))
def test_max_pool1d_equals_its_textbook_reference(geometry):
    (n, _, length, c), (_, pool), (_, stride), _, padding = geometry
    x = np.random.default_rng(2).standard_normal((n, length, c))
    out, grad, (dx,) = run_ours(MaxPool1d, [x], dict(pool_size=pool, strides=stride,
                                                     padding=padding))
    pads, out_hw = padded_geometry((n, 1, length, c), (1, pool), (1, stride), (1, 1), padding)
    expected = pool_forward_by_hand("max", x[:, None], pads, (1, pool), (1, stride), out_hw)
    assert_close(out, expected[:, 0], "output")
    dxp = max_pool2d_backward_reference(pad_spatial(x[:, None], pads, -np.inf), grad[:, None],
                                        (1, pool), (1, stride))
    (_, _), (left, _) = pads
    assert_close(dx, dxp[:, 0, left:left + length], "d x")


def test_max_pool_reference_sends_ties_to_the_first_maximum():
    xp = np.array([[1.0, 3.0], [3.0, 3.0]]).reshape(1, 2, 2, 1)
    dxp = max_pool2d_backward_reference(xp, np.full((1, 1, 1, 1), 5.0), (2, 2), (2, 2))
    np.testing.assert_array_equal(dxp[0, :, :, 0], [[0, 5], [0, 0]])
