"""NumPy's functions on tensors (NEP 13 ``__array_ufunc__``, NEP 18 ``__array_function__``).

One table row per supported NumPy function: the value matches NumPy's on the same
arrays, the gradient passes ``gradcheck``, and an ndarray operand works in either
place. Functions without an op raise a TypeError naming themselves on a tensor that
requires grad, and give NumPy's plain result otherwise.
"""

import numpy as np
import pytest
from helpers import random_inputs

import chainrule as cr
from chainrule.tensor import NO_GRADIENT, NUMPY_FUNCTIONS, NUMPY_UFUNCS

# (NumPy function, how the test calls it, input shapes, options for random_inputs)
SUPPORTED = [
    (np.add, lambda x, y: np.add(x, y), [(3, 4), (4,)], {}),
    (np.subtract, lambda x, y: np.subtract(x, y), [(3, 4), (3, 1)], {}),
    (np.multiply, lambda x, y: np.multiply(x, y), [(3, 4), (4,)], {}),
    (np.divide, lambda x, y: np.divide(x, y), [(3, 4), (4,)], {"positive": True}),
    (np.power, lambda x, y: np.power(x, y), [(3, 4), (4,)], {"positive": True}),
    (np.maximum, lambda x, y: np.maximum(x, y), [(3, 4), (4,)], {}),
    (np.minimum, lambda x, y: np.minimum(x, y), [(3, 4), (3, 4)], {}),
    (np.matmul, lambda x, y: np.matmul(x, y), [(3, 4), (4, 2)], {}),
    (np.negative, lambda x: np.negative(x), [(3, 4)], {}),
    (np.positive, lambda x: np.positive(x) * 1.0, [(3, 4)], {}),
    (np.exp, lambda x: np.exp(x), [(3, 4)], {}),
    (np.log, lambda x: np.log(x), [(3, 4)], {"positive": True}),
    (np.sqrt, lambda x: np.sqrt(x), [(3, 4)], {"positive": True}),
    (np.absolute, lambda x: np.abs(x), [(3, 4)], {"min_abs": 0.1}),
    (np.tanh, lambda x: np.tanh(x), [(3, 4)], {}),
    (np.square, lambda x: np.square(x), [(3, 4)], {}),
    (np.dot, lambda x, y: np.dot(x, y), [(3, 4), (4, 2)], {}),
    (np.sum, lambda x: np.sum(x, axis=1), [(3, 4)], {}),
    (np.mean, lambda x: np.mean(x, 0, keepdims=True), [(3, 4)], {}),
    (np.max, lambda x: np.max(x, axis=1), [(3, 4)], {}),
    (np.amax, lambda x: np.amax(x), [(3, 4)], {}),
    (np.min, lambda x: np.min(x, axis=(0, 1)), [(3, 4)], {}),
    (np.amin, lambda x: np.amin(x, axis=0), [(3, 4)], {}),
    (np.var, lambda x: np.var(x, axis=0, ddof=1), [(3, 4)], {}),
    (np.std, lambda x: np.std(x, 1, keepdims=True), [(3, 4)], {}),
    (np.reshape, lambda x: np.reshape(x, (4, 3)), [(3, 4)], {}),
    (np.ravel, lambda x: np.ravel(x), [(3, 4)], {}),
    (np.transpose, lambda x: np.transpose(x, (1, 2, 0)), [(2, 3, 4)], {}),
    (np.squeeze, lambda x: np.squeeze(x, axis=1), [(3, 1, 4)], {}),
    (np.expand_dims, lambda x: np.expand_dims(x, -1), [(3, 4)], {}),
    (np.broadcast_to, lambda x: np.broadcast_to(x, (3, 4)), [(4,)], {}),
    (np.pad, lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=0.5), [(3, 4)], {}),
    (np.stack, lambda x, y: np.stack([x, y], axis=1), [(3, 4), (3, 4)], {}),
    (np.concatenate, lambda x, y: np.concatenate((x, y), axis=0), [(3, 4), (2, 4)], {}),
    (np.split, lambda x: np.split(x, [1], axis=1)[1], [(3, 4)], {}),
    (np.where, lambda x, y: np.where(np.asarray(x) > 0, x, y), [(3, 4), (4,)], {}),
    (np.clip, lambda x: np.clip(x, -1.0, 1.0), [(3, 4)], {}),
]
IDS = [row[0].__name__ for row in SUPPORTED]


def test_the_table_covers_every_supported_function():
    assert {row[0] for row in SUPPORTED} == set(NUMPY_UFUNCS) | set(NUMPY_FUNCTIONS)


@pytest.mark.parametrize("func,call,shapes,options", SUPPORTED, ids=IDS)
def test_value_matches_numpy_and_gradient_passes_gradcheck(func, call, shapes, options):
    arrays = random_inputs(shapes, **options)
    tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = call(*tensors)
    assert isinstance(out, cr.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, call(*arrays), rtol=1e-12)
    assert cr.gradcheck(call, *tensors)


@pytest.mark.parametrize("func,call,shapes,options",
                         [row for row in SUPPORTED if len(row[2]) == 2],
                         ids=[i for i, row in zip(IDS, SUPPORTED) if len(row[2]) == 2])
@pytest.mark.parametrize("tracked", [0, 1])
def test_an_ndarray_operand_works_in_either_place(func, call, shapes, options, tracked):
    arrays = random_inputs(shapes, **options)
    args = [cr.tensor(a, requires_grad=True) if i == tracked else a
            for i, a in enumerate(arrays)]
    out = call(*args)
    assert isinstance(out, cr.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, call(*arrays), rtol=1e-12)
    assert cr.gradcheck(call, *args)


def test_the_operators_with_an_ndarray_on_the_left_stay_in_the_graph():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = cr.tensor([[0.5, -1.0], [2.0, 1.5]], requires_grad=True)
    (a + t - a * t / (a ** 2) + (a @ t) - np.float64(2) * t).sum().backward()
    expected = 1 - 1 / a + a.sum(axis=0)[:, None] - 2
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-6)


def test_the_tensors_dtype_wins_as_with_the_operators():
    t = cr.tensor([1.0, 2.0], requires_grad=True)   # float32
    a = np.array([0.5, 0.25])                       # float64
    for out in (np.add(a, t), np.maximum(a, t), np.dot(a, t), a - t):
        assert out.dtype == np.float32


def test_under_no_grad_numpy_functions_build_no_graph():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        out = np.exp(t)
    assert isinstance(out, cr.Tensor) and not out.requires_grad


def test_the_tutorials_smallest_edit_gets_a_loss_with_backward():
    """Issue 13: with W a tensor, np.sum(...) of the seed's forward used to be a
    numpy.float64 (AttributeError: no attribute 'backward')."""
    X, y = cr.datasets.xor()
    W = cr.tensor(np.full((3, 1), 0.1), dtype=np.float64, requires_grad=True)
    output = 1.0 / (1 + np.exp(-np.dot(X, W)))
    loss = np.sum((y - output) ** 2)
    loss.backward()
    s = 1 / (1 + np.exp(-X @ W.data))
    np.testing.assert_allclose(W.grad.data, X.T @ (-2 * (y - s) * s * (1 - s)), rtol=1e-12)


def test_asarray_is_the_explicit_way_out():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(t) is t.data and np.array(t).tolist() == [1.0, 2.0]


# ---------------------------------------------------------------- no gradient by nature


@pytest.mark.parametrize("call", [
    lambda x: np.less(x, 0.5), lambda x: np.greater_equal(0.5, x), lambda x: np.isnan(x),
    lambda x: np.isfinite(x), lambda x: np.sign(x), lambda x: np.floor(x),
    lambda x: np.argmax(x, axis=1), lambda x: np.argsort(x), lambda x: np.nonzero(x > 0)[0],
    lambda x: np.count_nonzero(x > 0), lambda x: np.any(x > 1), lambda x: np.all(x < 3),
    lambda x: np.allclose(x, x), lambda x: np.isclose(x, 0.0), lambda x: np.round(x, 1),
    lambda x: np.around(x), lambda x: np.shape(x), lambda x: np.zeros_like(x),
    lambda x: np.where(x > 0),
])
def test_results_without_a_gradient_are_numpys_own(call):
    a = random_inputs([(3, 4)])[0]
    out = call(cr.tensor(a, requires_grad=True))
    expected = call(a)
    assert not isinstance(out, cr.Tensor) and type(out) is type(expected)
    np.testing.assert_array_equal(out if not isinstance(out, tuple) else np.array(out),
                                  expected if not isinstance(expected, tuple)
                                  else np.array(expected))


def test_comparisons_with_an_ndarray_on_the_left_are_ndarrays():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([1.5, 1.5])
    assert type(a < t) is np.ndarray and (a < t).tolist() == [False, True]
    assert isinstance(t > a, cr.Tensor)  # the operator, as before: a tensor without grad


def test_no_gradient_set_holds_only_numpy_callables():
    assert all(callable(f) for f in NO_GRADIENT)
    assert not NO_GRADIENT & (set(NUMPY_UFUNCS) | set(NUMPY_FUNCTIONS))


# ---------------------------------------------------------------- refused


@pytest.mark.parametrize("call,name", [
    (lambda x: np.sin(x), "np.sin"), (lambda x: np.log1p(x), "np.log1p"),
    (lambda x: np.cumsum(x), "np.cumsum"), (lambda x: np.sort(x), "np.sort"),
    (lambda x: np.linalg.norm(x), "np.linalg.norm"), (lambda x: np.add.reduce(x), "np.add.reduce"),
    (lambda x: np.einsum("ij->i", x), "np.einsum"), (lambda x: np.copy(x), "np.copy"),
])
def test_a_function_without_an_op_raises_naming_itself(call, name):
    x = cr.tensor(random_inputs([(3, 4)], positive=True)[0], requires_grad=True)
    with pytest.raises(TypeError, match=rf"^{name} has no chainrule op") as info:
        call(x)
    assert "t.numpy()" in str(info.value) and "cr." in str(info.value)
    plain = call(cr.tensor(x.data))  # no tensor requires grad: nothing to lose
    np.testing.assert_allclose(plain, call(x.data))
    assert not isinstance(plain, cr.Tensor)


def test_out_is_refused_everywhere():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    a = np.zeros(2)
    for call in (lambda: np.exp(t, out=a), lambda: np.sum(t, out=np.zeros(())),
                 lambda: np.less(t, 1, out=np.zeros(2, bool)), lambda: np.sin(t, out=a)):
        with pytest.raises(TypeError, match=r"out=\.\.\.\) is not supported"):
            call()
    with pytest.raises(TypeError, match=r"write `a = a \+ t`"):
        a += t
    assert a.tolist() == [0.0, 0.0]


def test_unsupported_arguments_are_named():
    t = cr.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(TypeError, match=r"np.sum\(\.\.\., dtype=\.\.\.\)"):
        np.sum(t, dtype=np.float64)
    with pytest.raises(TypeError, match=r"np.add\(\.\.\., dtype=\.\.\.\)"):
        np.add(t, 1.0, dtype=np.float64)
    with pytest.raises(TypeError, match=r"np.pad\(\.\.\., mode=\.\.\.\)"):
        np.pad(t, 1, mode="reflect")
    with pytest.raises(TypeError, match=r"np.reshape\(\.\.\., order=\.\.\.\)"):
        np.reshape(t, (2, 1), order="F")
    with pytest.raises(TypeError, match="np.dot of operands of shapes"):
        np.dot(t, np.ones((2, 2, 2)))
    # NumPy's defaults, written out, are harmless
    assert np.sum(t, dtype=None, out=None).item() == 3.0
    assert np.pad(t, 1, mode="constant").shape == (3, 4)
    assert np.reshape(t, (2, 1), order="C").shape == (2, 1)


# ---------------------------------------------------------------- cr.tensor of tensors


def test_tensor_of_tensors_that_require_grad_says_use_stack():
    t0 = cr.tensor(1.0, requires_grad=True)
    t1 = cr.tensor(2.0, requires_grad=True)
    for data in ([t0, t1], (t0, 3.0), [[1.0, 2.0], [t1, 4.0]]):
        with pytest.raises(TypeError, match=r"cr\.stack"):
            cr.tensor(data)
    stacked = cr.stack([t0, t1])
    (stacked * cr.tensor([3.0, 5.0])).sum().backward()
    assert (t0.grad.item(), t1.grad.item()) == (3.0, 5.0)


def test_tensor_of_tensors_without_grad_copies_their_values():
    a, b = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0], requires_grad=True)
    assert cr.tensor([a, b.detach()]).data.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert np.stack([a, b]).requires_grad  # the NumPy spelling keeps the graph
