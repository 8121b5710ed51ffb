"""Transposed convolution: the op (chainrule.ops.conv_transpose) against its textbook
loop and torch's ``conv_transpose2d``, and the ``Conv2DTranspose`` layer.

torch's ``ConvTranspose2d(padding=p, output_padding=q)`` crops p rows at the top and
p - q at the bottom of the full transposed output; Keras/TensorFlow crop the "before"
padding of a convolution of the output size at the top. Where the two coincide the
torch module is used with those arguments; the general case runs torch unpadded and
takes the same block of its full output.
"""

import itertools

import numpy as np
import pytest
from helpers import HAS_TORCH, assert_close, check_op, torch
from layer_helpers import check_layer

import chainrule as cr
from chainrule.autograd import ShapeError
from chainrule.layers import Conv2DTranspose
from chainrule.ops.conv_transpose import (
    ConvTranspose2d,
    conv_transpose2d_reference,
    transposed_geometry,
)

if HAS_TORCH:
    import torch.nn.functional as TF


def torch_conv_transpose(x, kernel, bias, strides, padding, output_padding=None,
                         dilation=(1, 1)):
    """Keras' Conv2DTranspose in torch, NHWC in and out: torch's unpadded transposed
    convolution, zero-extended to the full buffer, then the output block (and bias)."""
    kh, kw = kernel.shape[:2]
    out_hw, (top, left), full_hw = transposed_geometry(
        tuple(x.shape[1:3]), (kh, kw), strides, dilation, padding, output_padding)
    full = TF.conv_transpose2d(x.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1),
                               stride=strides, dilation=dilation)
    full = TF.pad(full, (0, full_hw[1] - full.shape[3], 0, full_hw[0] - full.shape[2]))
    out = full[:, :, top:top + out_hw[0], left:left + out_hw[1]].permute(0, 2, 3, 1)
    return out if bias is None else out + bias


CASES = [  # kernel (kh, kw), strides, padding, output_padding, dilation
    ((3, 3), (1, 1), "valid", None, (1, 1)),
    ((3, 3), (2, 2), "valid", None, (1, 1)),
    ((3, 2), (2, 3), "valid", None, (1, 1)),  # kw < stride: zeros between windows
    ((3, 3), (2, 2), "same", None, (1, 1)),  # odd total padding: TF and torch differ
    ((4, 4), (2, 2), "same", None, (1, 1)),
    ((3, 3), (2, 2), "same", (1, 1), (1, 1)),
    ((3, 3), (2, 2), "valid", (1, 0), (1, 1)),
    ((5, 3), (3, 2), "same", (2, 1), (1, 1)),
    ((3, 2), (1, 1), "same", None, (2, 2)),
    ((2, 3), (2, 1), "valid", (1, 0), (2, 1)),
]
IDS = [f"k{k}-s{s}-{p}-op{o}-d{d}" for k, s, p, o, d in CASES]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("window,strides,padding,output_padding,dilation", CASES, ids=IDS)
def test_op_matches_torch_and_its_textbook_loop(window, strides, padding, output_padding,
                                                dilation, dtype):
    shapes = [(2, 4, 5, 3), (*window, 4, 3), (4,)]

    def ours(x, k, b):
        return ConvTranspose2d.apply(x, k, b, strides=strides, padding=padding,
                                     output_padding=output_padding, dilation=dilation)

    def theirs(x, k, b):
        return torch_conv_transpose(x, k, b, strides, padding, output_padding, dilation)

    check_op(shapes, ours, theirs, dtype=dtype,
             reference=lambda x, k, b: conv_transpose2d_reference(
                 x, k, b, strides, padding, output_padding, dilation))


@pytest.mark.parametrize("window,strides,padding,torch_padding,torch_output_padding", [
    ((3, 3), (1, 1), "valid", 0, 0),
    ((3, 3), (1, 1), "same", 1, 0),
    ((4, 4), (2, 2), "same", 1, 0),
    ((3, 3), (2, 2), "valid", 0, 0),
    ((2, 2), (3, 3), "valid", 0, 1),  # kernel < stride: Keras' size H*s, torch's H*s - 1
])
def test_layer_equals_torch_conv_transpose2d_module(torch, window, strides, padding,
                                                    torch_padding, torch_output_padding):
    """Where torch's (padding, output_padding) express the same crop, the layer and
    ``nn.ConvTranspose2d`` with weight = kernel.permute(3, 2, 0, 1) agree."""
    cr.set_default_dtype(np.float64)
    cr.manual_seed(0)
    layer = Conv2DTranspose(4, window, strides=strides, padding=padding,
                            bias_initializer="normal")
    x = np.random.default_rng(1).standard_normal((2, 5, 6, 3))
    out = layer(x)
    module = torch.nn.ConvTranspose2d(3, 4, window, stride=strides, padding=torch_padding,
                                      output_padding=torch_output_padding).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(layer.kernel.data).permute(3, 2, 0, 1))
        module.bias.copy_(torch.from_numpy(layer.bias.data))
        expected = module(torch.from_numpy(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    assert_close(out.data, expected.numpy(), rtol=1e-10, atol=1e-10, what="forward")


def test_output_sizes_follow_keras_deconv_output_length():
    """Keras' ``deconv_output_length`` for H = 5, written out case by case."""
    def keras_length(size, k, s, padding, output_padding, d=1):
        k = k + (k - 1) * (d - 1)
        if output_padding is None:
            return size * s + max(k - s, 0) if padding == "valid" else size * s
        pad = 0 if padding == "valid" else k // 2
        return (size - 1) * s + k - 2 * pad + output_padding

    for k, s, padding, op in itertools.product((1, 2, 3, 4), (1, 2, 3), ("valid", "same"),
                                               (None, 0, 1)):
        if op is not None and op >= s:
            continue
        layer = Conv2DTranspose(2, k, strides=s, padding=padding, output_padding=op)
        out = layer(np.zeros((1, 5, 5, 1)))
        assert out.shape[1] == keras_length(5, k, s, padding, op), (k, s, padding, op)
        assert layer.compute_output_shape((None, 5, 5, 1)) == (None, *out.shape[1:])


@pytest.mark.parametrize("kwargs,output_shape", [
    (dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 8, 10, 4)),
    (dict(filters=2, kernel_size=(2, 3), strides=(2, 1), activation="relu"), (2, 8, 7, 2)),
    (dict(filters=3, kernel_size=3, strides=2, padding="valid", output_padding=1),
     (2, 10, 12, 3)),
], ids=["same", "valid-relu", "output_padding"])
def test_conv2d_transpose_layer(kwargs, output_shape):
    def make():
        return Conv2DTranspose(bias_initializer="normal", **kwargs)

    def ref(x, p):
        layer = make()
        y = torch_conv_transpose(x, p["kernel"], p["bias"], layer.strides, layer.padding,
                                 layer.output_padding)
        return torch.relu(y) if kwargs.get("activation") == "relu" else y

    kh, kw = make().kernel_size
    check_layer(make, (2, 4, 5, 3), output_shape=output_shape,
                param_count=kh * kw * kwargs["filters"] * 3 + kwargs["filters"],
                torch_fn=ref, rtol=1e-10, float32=True, save_load=True,
                gradcheck_shape=(1, 3, 2, 3))


def test_layer_weights_keras_layout_and_builds_at_once():
    layer = Conv2DTranspose(6, (3, 2), input_shape=(7, 7, 4))
    assert layer.built and layer.kernel.shape == (3, 2, 6, 4) and layer.bias.shape == (6,)
    assert layer.count_params() == 3 * 2 * 6 * 4 + 6
    assert layer.output_activation == "linear"
    assert Conv2DTranspose(6, 3, activation="sigmoid").output_activation == "sigmoid"


def test_errors_name_the_argument_and_the_shapes():
    with pytest.raises(ValueError, match=r"`output_padding` of `Conv2DTranspose`.*=2"):
        Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"`padding` of `Conv2DTranspose`"):
        Conv2DTranspose(2, 3, padding="full")
    with pytest.raises(ValueError, match=r"rank 4.*\(2, 5, 3\)"):
        Conv2DTranspose(2, 3)(np.ones((2, 5, 3)))
    x, kernel = cr.ones(1, 4, 4, 3), cr.ones(3, 3, 2, 5)
    with pytest.raises(ShapeError, match=r"3 input channels.*Cin = 5"):
        ConvTranspose2d.apply(x, kernel)
    with pytest.raises(ShapeError, match=r"bias must have shape \(2,\)"):
        ConvTranspose2d.apply(x, cr.ones(3, 3, 2, 3), cr.ones(3))


def test_stride_two_upsamples_a_single_pixel_into_the_kernel():
    """One input pixel of value 1 writes the kernel itself (the op's defining sum)."""
    kernel = np.arange(9.0).reshape(3, 3, 1, 1)
    x = np.zeros((1, 2, 2, 1))
    x[0, 1, 1, 0] = 1
    out = ConvTranspose2d.apply(cr.tensor(x), kernel, strides=2).numpy()
    assert out.shape == (1, 5, 5, 1)
    np.testing.assert_array_equal(out[0, 2:5, 2:5, 0], kernel[..., 0, 0])
    assert out[0, :2].sum() == 0 and out[0, :, :2].sum() == 0
