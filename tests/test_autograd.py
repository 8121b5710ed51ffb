"""The engine: accumulation, iterative backward, grad mode, memory, errors, gradcheck."""

import gc
import re
import tracemalloc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, unbroadcast

# ---------------------------------------------------------------- accumulation


def test_gradient_accumulates_across_uses():
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 1)


def test_gradient_accumulates_across_uses_in_different_branches():
    x = cr.tensor([0.5, 1.5], dtype=np.float64, requires_grad=True)
    a = x.exp()
    b = a * x
    c = (b + a + x.tanh()).sum()
    c.backward()
    expected = np.exp(x.data) * x.data + 2 * np.exp(x.data) + 1 - np.tanh(x.data) ** 2
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_gradient_accumulates_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward()
    (x * w).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * w.data)
    np.testing.assert_allclose(w.grad.data, 2 * x.data)
    x.zero_grad()
    assert x.grad is None
    (x * w).sum().backward()
    np.testing.assert_allclose(x.grad.data, w.data)


@pytest.mark.parametrize("swap", [False, True])
def test_summing_gradients_never_mutates_a_shared_upstream(swap):
    # Add hands the same upstream array to both of its inputs; the engine sums several
    # contributions for h and must not do so inside that shared array (r still needs it).
    x = cr.tensor([0.5, -1.0], dtype=np.float64, requires_grad=True)
    r = x.exp()
    h = x * 2
    t = h * 3
    q = t + r if swap else r + t
    (h + q).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, (8 + np.exp(x.data)) * [1.0, 10.0])


def test_non_leaf_used_many_times():
    x = cr.tensor([0.5, 2.0], dtype=np.float64, requires_grad=True)
    h = x.tanh()
    (h + h * 2 + h * h + h.exp() + h).sum().backward()
    dh = 1 + 2 + 2 * np.tanh(x.data) + np.exp(np.tanh(x.data)) + 1
    np.testing.assert_allclose(x.grad.data, dh * (1 - np.tanh(x.data) ** 2))


def test_leaf_gradients_do_not_share_memory():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([3.0, 4.0], requires_grad=True)
    upstream = np.ones(2, dtype=np.float32)
    (x + y).backward(upstream)
    x.grad.data *= 10  # e.g. an optimizer clipping one gradient in place
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])
    (x + y).backward(upstream)  # accumulates in place into x.grad and y.grad only
    np.testing.assert_array_equal(x.grad.data, [11.0, 11.0])
    np.testing.assert_array_equal(y.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(upstream, [1.0, 1.0])


def test_backward_with_explicit_gradient():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * 2).backward(cr.tensor([1.0, 0.5, -1.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 1.0, -2.0])
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        (x * 2).backward(np.ones(2))


def test_retain_grad_keeps_intermediate_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    np.testing.assert_allclose(x.grad.data, 18 * x.data)


def test_only_inputs_that_require_grad_get_gradients():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    assert not c.requires_grad
    np.testing.assert_allclose(x.grad.data, c.data)


# ---------------------------------------------------------------- iterative backward


def test_long_chain_backward_is_iterative():
    x = cr.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.00001**100_000, rtol=1e-9)


def test_long_chain_can_be_freed_without_backward():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    tail = weakref.ref(y)
    del y  # deallocating a deep graph must not overflow the C stack
    gc.collect()
    assert tail() is None


# ---------------------------------------------------------------- grad mode


def test_no_grad_builds_no_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = (x * 2).exp().sum()
        with cr.enable_grad():
            assert cr.is_grad_enabled()
            z = x * 2
        w = x + 1
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None
    assert not w.requires_grad and w._ctx is None
    assert z.requires_grad and z._ctx is not None
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_no_grad_as_decorator_and_restored_after_error():
    @cr.no_grad()
    def predict(t):
        return t * 3

    x = cr.tensor([1.0], requires_grad=True)
    assert predict(x)._ctx is None
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        raise ZeroDivisionError
    assert cr.is_grad_enabled()
    assert (x * 3)._ctx is not None


def test_backward_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0, 2.0]).sum().backward()


# ---------------------------------------------------------------- memory


def _train_step(x):
    loss = ((x * 0.5 + 1.0).tanh() * x).mean()
    loss.backward()
    x.zero_grad()


def test_memory_stays_flat_over_many_steps():
    x = cr.randn(1_000_000, requires_grad=True)
    tracemalloc.start()
    try:
        for _ in range(10):  # warm-up
            _train_step(x)
        tracemalloc.reset_peak()
        for _ in range(10):
            _train_step(x)
        current_early, peak_early = tracemalloc.get_traced_memory()
        for _ in range(270):
            _train_step(x)
        tracemalloc.reset_peak()
        for _ in range(10):
            _train_step(x)
        current_late, peak_late = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    slack = 256 * 1024  # far less than one 4 MB array
    assert current_late <= current_early + slack, (current_early, current_late)
    assert peak_late <= peak_early + slack, (peak_early, peak_late)
    assert peak_early < 12 * x.data.nbytes, peak_early  # intermediates freed as backward runs


def test_graph_is_released_after_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


# ---------------------------------------------------------------- errors that say what happened


def test_backward_on_non_scalar_needs_grad():
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"non-scalar.*\(3,\).*grad"):
        x.sum(axis=0).backward()


def test_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add.*\(3, 4\).*\(5, 4\)"):
        cr.ones(3, 4) + cr.ones(5, 4)
    with pytest.raises(ValueError, match=r"Mul.*\(3, 4\).*\(5, 4\)"):
        cr.ones(3, 4, requires_grad=True) * np.ones((5, 4))
    with pytest.raises(ValueError, match=r"MatMul.*\(2, 3\).*\(4, 5\)"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(ValueError, match=r"MatMul.*\(2, 3\).*\(4, 5\)"):
        cr.matmul(np.ones((2, 3)), cr.ones(4, 5))
    with pytest.raises(ValueError, match=r"Reshape.*\(2, 3\).*\(4, -1\)"):
        cr.ones(2, 3).reshape(4, -1)
    with pytest.raises(ValueError, match=r"BroadcastTo.*\(2, 3\).*\(4, 3\)"):
        cr.ones(2, 3).broadcast_to((4, 3))


def test_index_out_of_range_names_the_axis():
    x = cr.ones(3, 4, requires_grad=True)
    with pytest.raises(IndexError, match="axis 0"):
        x[5]
    with pytest.raises(IndexError, match="axis 1"):
        x[:, 7]
    with pytest.raises(IndexError, match="axis 0"):
        x[[0, 3]]
    with pytest.raises(IndexError):
        x.unsqueeze(4)


@pytest.mark.parametrize("make", [
    lambda: cr.tensor([1, 2, 3], requires_grad=True),
    lambda: cr.tensor([True, False], requires_grad=True),
    lambda: cr.arange(4, requires_grad=True),
    lambda: cr.zeros(2, dtype=np.int32, requires_grad=True),
])
def test_int_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(TypeError, match="floating"):
        make()


def test_integer_results_never_require_grad():
    x = cr.tensor([1.5, -2.5], requires_grad=True)
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    assert (x > 0).dtype == bool


def test_detach_cuts_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y._ctx is None
    (y * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # not 4x: y counts as a constant
    z = x.detach()
    assert np.shares_memory(z.data, x.data)


def test_numpy_arrays_and_python_scalars_mix_in():
    t = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (t + 1.5, 2 * t, t / 3, 1.5 - t, t ** 2, 2.0 ** t, t * np.float64(2.0),
                   np.float64(2.0) * t, t + np.arange(3), np.ones(3) - t):
        assert isinstance(result, cr.Tensor)
        assert result.dtype == np.float32, result
        assert result.requires_grad
    y = np.ones(3) * t
    assert isinstance(y, cr.Tensor) and y.dtype == np.float32
    z = np.array([1.0, 2.0, 3.0]) @ t
    assert isinstance(z, cr.Tensor)
    (y.sum() + z).backward()
    np.testing.assert_allclose(t.grad.data, [2.0, 3.0, 4.0])


def test_astype_between_floats_keeps_the_graph():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    d = t.astype(np.float64)
    assert d.dtype == np.float64
    (d * d).sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad.data, [2.0, 4.0])


# ---------------------------------------------------------------- gradcheck


class WrongSquare(Function):
    """z = x**2 with a deliberately wrong backward (3x instead of 2x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved
        return grad * 3 * x


class RightSquare(WrongSquare):
    def backward(self, grad):
        (x,) = self.saved
        return grad * 2 * x


def test_gradcheck_passes_a_correct_function():
    a = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert cr.gradcheck(lambda x: RightSquare.apply(x), a)


def test_gradcheck_names_input_element_and_both_values():
    a = cr.tensor([0.5, 1.0], requires_grad=True)
    # Only element (0, 0) of b is wrong: column 1 is masked out and at b = 0 both 3x and 2x
    # vanish.
    b = cr.tensor([[1.0, 2.0], [0.0, 4.0]], requires_grad=True)
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda x, y: x.sum() + WrongSquare.apply(y) * np.array([1.0, 0.0]),
                     a, b, seed=0)
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "input 1" in message and "index (0, 0)" in message, message
    found = re.search(r"autograd gives (\S+), finite differences give (\S+) ", message)
    assert found, message
    w = np.random.default_rng(0).standard_normal((2, 2))[0, 0]  # gradcheck's output weights
    np.testing.assert_allclose(float(found[1]), 3 * w, rtol=1e-12)
    np.testing.assert_allclose(float(found[2]), 2 * w, rtol=1e-6)


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        cr.gradcheck(lambda x: x * 2, cr.tensor([1.0]))


def test_the_graph_holds_nodes_not_intermediate_tensors():
    x = cr.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    hidden = x * 2.0
    alive = weakref.ref(hidden)
    out = (hidden.tanh() + x).sum()
    del hidden
    gc.collect()
    assert alive() is None  # freed although backward has not run yet
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 - np.tanh(2 * x.numpy()) ** 2) + 1)


# ---------------------------------------------------------------- 0-d gradients (issue 17)


def test_unbroadcast_to_0d_gives_an_array():
    g = unbroadcast(np.ones((2, 3)), ())
    assert type(g) is np.ndarray and g.shape == () and g == 6.0
    g = unbroadcast(np.ones(1), ())
    assert type(g) is np.ndarray and g.shape == ()


class ScalarSquare(Function):
    """y = x**2, whose backward hands back a NumPy scalar (what 0-d arithmetic gives)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return np.float64(2 * self.x * grad)


def test_scalar_gradients_are_accumulated_as_0d_arrays():
    x = cr.tensor(3.0, dtype=np.float64, requires_grad=True)
    y = ScalarSquare.apply(x)
    (y * y + y + ScalarSquare.apply(y)).backward()  # y reaches the loss along three paths
    assert type(x.grad.data) is np.ndarray and x.grad.shape == ()
    assert x.grad.item() == (2 * 9 + 1 + 2 * 9) * 6  # d/dy (2 y^2 + y) = 4y + 1, dy/dx = 6


def test_reductions_of_a_0d_tensor_take_axis_0_or_minus_1_as_torch():
    x = cr.tensor(2.5, dtype=np.float64, requires_grad=True)
    y = x.sum(axis=0) + x.max(axis=-1) + x.mean(axis=(0,), keepdims=True) + x.min(axis=-1)
    y.backward()
    assert y.shape == () and y.item() == 10.0 and x.grad.item() == 4.0
    with pytest.raises(ValueError, match="axis 1 is out of bounds"):
        x.sum(axis=1)


# ---------------------------------------------------------------- BLAS threads in batch graphs


def test_ops_after_a_batch_split_op_run_forward_and_backward_on_one_blas_thread():
    """A node made by (or after) an op on the batch workers runs its forward, and the
    backward pass from it, with BLAS on one thread; an ordinary graph keeps the caller's."""
    seen = []

    def blas_threads():
        return max(lib.num_threads for lib in cr.backend._blas_controllers())

    class Probe(Function):
        def forward(self, x):
            seen.append(("forward", type(self).__name__, blas_threads()))
            return x * 2

        def backward(self, grad):
            seen.append(("backward", type(self).__name__, blas_threads()))
            return grad * 2

    class Split(Probe):
        batch_split = True

    with cr.backend.limit_blas_threads(2):
        if blas_threads() < 2:
            pytest.skip("NumPy's BLAS offers one thread here")
        x = cr.tensor(np.ones(3), requires_grad=True)
        Probe.apply(Split.apply(Probe.apply(x))).sum().backward()
        assert seen == [("forward", "Probe", 2), ("forward", "Split", 1), ("forward", "Probe", 1),
                        ("backward", "Probe", 1), ("backward", "Split", 1),
                        ("backward", "Probe", 1)]
        assert blas_threads() == 2
        np.testing.assert_array_equal(x.grad.data, np.full(3, 8.0))
        seen.clear()
        Probe.apply(x).sum().backward()
        assert seen == [("forward", "Probe", 2), ("backward", "Probe", 2)]
