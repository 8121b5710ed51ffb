"""UpSampling1D/2D (and the bilinear resize op), ZeroPadding1D/2D, Cropping1D/2D against
torch (``nn.Upsample``, ``F.pad``, slicing) with the standard layer checks."""

import numpy as np
import pytest
from helpers import HAS_TORCH, check_op, torch
from layer_helpers import check_layer

import chainrule as cr
import chainrule.functional as F
from chainrule.autograd import ShapeError
from chainrule.layers import (
    Cropping1D,
    Cropping2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from chainrule.ops.resize import (
    UpsampleBilinear2d,
    upsample_bilinear2d_backward_reference,
    upsample_bilinear2d_reference,
)

if HAS_TORCH:
    import torch.nn.functional as TF


def nhwc(fn):
    return lambda x, *a, **k: fn(x.permute(0, 3, 1, 2), *a, **k).permute(0, 2, 3, 1)


def nlc(fn):
    return lambda x, *a, **k: fn(x.permute(0, 2, 1), *a, **k).permute(0, 2, 1)


# ---------------------------------------------------------------- the bilinear op


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("in_hw,out_hw", [((3, 4), (6, 8)), ((5, 5), (15, 10)),
                                          ((1, 2), (3, 4)), ((6, 7), (3, 2)),
                                          ((7, 5), (11, 13))], ids=str)
def test_bilinear_op_matches_torch_and_its_textbook_loop(in_hw, out_hw, dtype):
    """Up and down, whole and fractional factors: torch's ``interpolate(mode="bilinear",
    align_corners=False)`` to a size, and the four-neighbour loop."""
    def theirs(x):
        return nhwc(TF.interpolate)(x, size=out_hw, mode="bilinear", align_corners=False)

    check_op([(2, *in_hw, 3)], lambda x: UpsampleBilinear2d.apply(x, out_hw), theirs,
             dtype=dtype, reference=lambda x: upsample_bilinear2d_reference(x, out_hw))


def test_bilinear_backward_equals_its_textbook_loop():
    rng = np.random.default_rng(3)
    x = cr.tensor(rng.standard_normal((2, 5, 4, 3)), requires_grad=True)
    y = UpsampleBilinear2d.apply(x, (9, 12))
    grad = rng.standard_normal(y.shape)
    y.backward(grad)
    expected = upsample_bilinear2d_backward_reference(grad, x.shape)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-12)


def test_bilinear_keeps_constants_and_interpolates_between_pixels():
    y = UpsampleBilinear2d.apply(cr.full((1, 3, 3, 2), 7.0), (6, 6)).numpy()
    np.testing.assert_allclose(y, 7.0)
    ramp = np.arange(4.0).reshape(1, 1, 4, 1)  # x = 0, 1, 2, 3 along the width
    row = UpsampleBilinear2d.apply(cr.tensor(ramp), (1, 8)).numpy()[0, 0, :, 0]
    # half-pixel centres: sources -0.25 (clamped to 0), 0.25, 0.75, ..., 3.25 (-> 3)
    np.testing.assert_allclose(row, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])


def test_upsample_function_errors():
    with pytest.raises(ValueError, match=r"`interpolation` of `upsample`.*'bicubic'"):
        F.upsample(np.ones((1, 2, 2, 1)), 2, "bicubic")
    with pytest.raises(ValueError, match=r"`interpolation` of `upsample`.*\(1, 2, 1\)"):
        F.upsample(np.ones((1, 2, 1)), 2, "bilinear")
    with pytest.raises(ValueError, match=r"`size` of `upsample`"):
        F.upsample(np.ones((1, 2, 2, 1)), 0)
    with pytest.raises(ShapeError, match=r"\(N, H, W, C\)"):
        UpsampleBilinear2d.apply(cr.ones(2, 3, 4), (4, 4))


# ---------------------------------------------------------------- upsampling layers


@pytest.mark.parametrize("size,interpolation", [(2, "nearest"), ((3, 2), "nearest"),
                                                (2, "bilinear"), ((2, 3), "bilinear")])
def test_upsampling2d(size, interpolation):
    sh, sw = (size, size) if isinstance(size, int) else size

    def ref(x, p):
        up = torch.nn.Upsample(scale_factor=(sh, sw), mode=interpolation,
                               **({"align_corners": False} if interpolation == "bilinear"
                                  else {}))
        return nhwc(up)(x)

    check_layer(lambda: UpSampling2D(size, interpolation=interpolation), (2, 3, 4, 5),
                output_shape=(2, 3 * sh, 4 * sw, 5), param_count=0, torch_fn=ref,
                rtol=1e-10, float32=True, save_load=True)


def test_upsampling1d():
    check_layer(lambda: UpSampling1D(3), (2, 4, 5), output_shape=(2, 12, 5), param_count=0,
                torch_fn=lambda x, p: nlc(torch.nn.Upsample(scale_factor=3))(x),
                rtol=1e-10, float32=True, save_load=True)


def test_nearest_upsampling_repeats_and_its_gradient_sums():
    x = cr.tensor(np.arange(4.0).reshape(1, 2, 2, 1), requires_grad=True)
    y = UpSampling2D((2, 3))(x)
    np.testing.assert_array_equal(y.numpy()[0, :, :, 0], [[0, 0, 0, 1, 1, 1]] * 2
                                  + [[2, 2, 2, 3, 3, 3]] * 2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 2, 2, 1), 6.0))


# ---------------------------------------------------------------- padding and cropping


@pytest.mark.parametrize("padding,expected", [
    (1, ((1, 1), (1, 1))), ((2, 0), ((2, 2), (0, 0))), (((1, 2), (3, 0)), ((1, 2), (3, 0)))])
def test_zero_padding2d(padding, expected):
    (top, bottom), (left, right) = expected
    check_layer(lambda: ZeroPadding2D(padding), (2, 3, 4, 2),
                output_shape=(2, 3 + top + bottom, 4 + left + right, 2), param_count=0,
                torch_fn=lambda x, p: nhwc(TF.pad)(x, (left, right, top, bottom)),
                rtol=1e-10, float32=True, save_load=True)


@pytest.mark.parametrize("padding,expected", [(2, (2, 2)), ((0, 3), (0, 3))])
def test_zero_padding1d(padding, expected):
    check_layer(lambda: ZeroPadding1D(padding), (2, 4, 3), output_shape=(2, 4 + sum(expected), 3),
                param_count=0, torch_fn=lambda x, p: nlc(TF.pad)(x, expected),
                rtol=1e-10, float32=True, save_load=True)


@pytest.mark.parametrize("cropping,expected", [
    (1, ((1, 1), (1, 1))), ((2, 0), ((2, 2), (0, 0))), (((0, 1), (2, 1)), ((0, 1), (2, 1)))])
def test_cropping2d(cropping, expected):
    (top, bottom), (left, right) = expected
    check_layer(lambda: Cropping2D(cropping), (2, 6, 5, 2),
                output_shape=(2, 6 - top - bottom, 5 - left - right, 2), param_count=0,
                torch_fn=lambda x, p: x[:, top:6 - bottom, left:5 - right],
                rtol=1e-10, float32=True, save_load=True)


@pytest.mark.parametrize("cropping,expected", [(1, (1, 1)), ((0, 2), (0, 2))])
def test_cropping1d(cropping, expected):
    check_layer(lambda: Cropping1D(cropping), (2, 6, 3), output_shape=(2, 6 - sum(expected), 3),
                param_count=0, torch_fn=lambda x, p: x[:, expected[0]:6 - expected[1]],
                rtol=1e-10, float32=True, save_load=True)


def test_keras_defaults():
    assert UpSampling2D().size == (2, 2) and UpSampling1D().size == (2,)
    assert ZeroPadding2D().get_config()["padding"] == [[1, 1], [1, 1]]
    assert ZeroPadding1D().get_config()["padding"] == [1, 1]
    assert Cropping1D().get_config()["cropping"] == [1, 1]
    assert Cropping2D()(np.ones((1, 3, 3, 1))).shape == (1, 3, 3, 1)


@pytest.mark.parametrize("make,message", [
    (lambda: UpSampling2D(interpolation="bicubic"), "interpolation='bicubic'"),
    (lambda: UpSampling1D(0), "size=0"),
    (lambda: ZeroPadding2D(-1), "padding=-1"),
    (lambda: ZeroPadding2D((1, 2, 3)), r"padding=\(1, 2, 3\)"),
    (lambda: Cropping1D((1, 2, 3)), r"cropping=\(1, 2, 3\)"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_name_the_layer_and_shape():
    with pytest.raises(ValueError, match=r"`UpSampling2D` expects inputs of rank 4.*\(2, 3\)"):
        UpSampling2D()(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"`Cropping1D` cannot crop \[\(2, 2\)\].*\(1, 3, 1\)"):
        Cropping1D(2)(np.ones((1, 3, 1)))
    with pytest.raises(ValueError, match=r"`ZeroPadding1D` expects inputs of rank 3"):
        ZeroPadding1D()(np.ones((1, 3, 3, 1)))
