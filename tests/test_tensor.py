"""The Tensor object: constructors, attributes, conversions, comparisons, functions."""

import numpy as np
import pytest

import chainrule as cr


def test_attributes():
    t = cr.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.dtype == np.float32 and t.requires_grad and t.grad is None
    assert isinstance(t.data, np.ndarray)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.data, t.data.T)
    assert t.is_leaf and not (t * 2).is_leaf


def test_numpy_item_and_conversions():
    t = cr.tensor([[2.5]])
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5 and int(cr.tensor(3)) == 3
    assert t.numpy() is t.data
    np.testing.assert_array_equal(np.asarray(cr.tensor([1.0, 2.0])), [1.0, 2.0])
    assert np.asarray(cr.tensor([1.0]), dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        cr.tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError):
        len(cr.tensor(1.0))


def test_numpy_arrays_keep_their_dtype():
    assert cr.tensor(np.zeros(2)).dtype == np.float64  # as torch.tensor(ndarray)
    assert cr.tensor(np.zeros(2, dtype=np.float16)).dtype == np.float16


def test_tensor_from_tensor_and_explicit_dtype():
    a = cr.tensor([1.0, 2.0])
    b = cr.tensor(a, dtype=np.float64)
    assert b.dtype == np.float64 and not np.shares_memory(a.data, b.data)
    assert cr.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert cr.as_tensor(a) is a
    assert isinstance(cr.as_tensor([1.0]), cr.Tensor)


def test_constructors():
    assert cr.zeros(2, 3).shape == (2, 3) and not cr.zeros(2, 3).data.any()
    assert cr.zeros((2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(cr.ones(2).data, [1.0, 1.0])
    np.testing.assert_array_equal(cr.full((2,), 7.0).data, [7.0, 7.0])
    assert cr.full(3, 1.0).shape == (3,)
    assert cr.zeros_like(np.ones((2, 2))).shape == (2, 2)
    np.testing.assert_array_equal(cr.ones_like(cr.zeros(3)).data, [1, 1, 1])
    assert cr.arange(5).dtype.kind == "i"
    np.testing.assert_array_equal(cr.arange(1, 7, 2).data, [1, 3, 5])
    assert cr.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert cr.arange(3, dtype=np.float64).dtype == np.float64
    assert cr.randn(4, 5, requires_grad=True).requires_grad
    assert cr.rand((2, 2), dtype=np.float64).dtype == np.float64
    p = cr.ones(2, requires_grad=True)
    assert p.requires_grad and p.is_leaf


def test_comparisons_are_elementwise_and_carry_no_grad():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    cases = {
        "<": (x < 2, [True, False, False]), "<=": (x <= 2, [True, True, False]),
        ">": (x > 2, [False, False, True]), ">=": (x >= 2, [False, True, True]),
        "==": (x == cr.tensor([1.0, 0.0, 3.0]), [True, False, True]),
        "!=": (x != 2, [True, False, True]),
    }
    for name, (result, expected) in cases.items():
        assert isinstance(result, cr.Tensor), name
        assert result.dtype == bool and not result.requires_grad, name
        np.testing.assert_array_equal(result.data, expected, err_msg=name)


def test_pos_and_square_and_argmax():
    x = cr.tensor([[1.0, -3.0], [2.0, 0.5]])
    assert +x is x
    np.testing.assert_array_equal(x.square().data, x.data**2)
    np.testing.assert_array_equal(x.argmax(axis=1).data, [0, 0])
    np.testing.assert_array_equal(x.argmin(axis=0).data, [0, 0])
    np.testing.assert_array_equal(x.argmin(axis=1).data, [1, 1])
    assert cr.argmax(x).item() == 2


def test_repr_shows_values_grad_and_non_default_dtype():
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(cr.tensor([1.0], requires_grad=True))
    assert "dtype=float64" in repr(cr.tensor([1.0], dtype=np.float64))


@pytest.mark.parametrize("name", [
    "sum", "mean", "max", "min", "var", "std", "exp", "log", "sqrt", "abs", "tanh", "sigmoid",
    "relu", "leaky_relu", "elu", "gelu", "clip", "softmax", "log_softmax", "logsumexp",
    "reshape", "transpose", "permute", "flatten", "squeeze", "unsqueeze", "expand",
    "broadcast_to", "pad", "square"])
def test_every_method_is_also_a_function(name):
    assert callable(getattr(cr, name)), name
    x = np.array([[0.5, 1.5, 2.0]])
    args = {"clip": (0.6, 1.0), "reshape": (3, 1), "permute": (1, 0), "unsqueeze": (0,),
            "expand": (2, 3), "broadcast_to": ((2, 3),), "pad": (1,)}.get(name, ())
    function_result = getattr(cr, name)(x, *args)
    method_result = getattr(cr.tensor(x), name)(*args)
    np.testing.assert_allclose(function_result.data, method_result.data)


def test_split_matches_numpy():
    x = np.arange(12.0).reshape(3, 4)
    for sections, axis in [(2, 1), ([1, 3], 1), (3, 0), ([2], 0)]:
        parts = cr.split(cr.tensor(x), sections, axis=axis)
        expected = np.split(x, sections, axis=axis)
        assert len(parts) == len(expected)
        for p, e in zip(parts, expected):
            np.testing.assert_array_equal(p.data, e)
    with pytest.raises(ValueError, match="equal sections"):
        cr.split(cr.tensor(x), 3, axis=1)


def test_transpose_follows_numpy_and_squeeze_checks_length():
    x = cr.tensor(np.zeros((2, 3, 4)))
    assert x.transpose().shape == (4, 3, 2)
    assert x.permute(1, 2, 0).shape == (3, 4, 2)
    with pytest.raises(ValueError, match="length 3"):
        x.squeeze(1)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.unsqueeze(-4).shape == (1, 2, 3, 4)
    assert x.flatten().shape == (24,)
