"""``check_op``: run one op in chainrule and in a reference, compare values and gradients.

In the spirit of tinygrad's ``helper_test_op``: seeded random inputs go through the
same function on chainrule tensors and on torch tensors (when torch is installed),
forward values and every input gradient are compared, and a mismatch reports the
worst element. Central finite differences in float64 (``cr.gradcheck``) always run,
so the gradients are checked even where torch is absent; a NumPy ``reference``, the
op's formula written out in the test, pins the forward value without torch (finite
differences cannot: a wrong constant in an op's forward and backward alike passes them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import chainrule as cr

try:
    import torch

    HAS_TORCH = True
    torch.set_num_threads(1)
except ImportError:  # parity checks are skipped, gradcheck still runs
    torch = None
    HAS_TORCH = False

# Relative (and absolute) agreement asked of forward values and gradients.
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def random_inputs(shapes: Sequence[tuple], *, low: float = -2.0, high: float = 2.0,
                  positive: bool = False, min_abs: float = 0.0, dtype=np.float64,
                  seed: int = 0) -> list[np.ndarray]:
    """Seeded uniform arrays in [low, high); ``positive`` moves the range to [0.5, high).

    ``min_abs`` keeps every value at least that far from zero (away from the kink of
    abs/relu/clip), flipping the sign of nothing: values inside (-min_abs, min_abs)
    are pushed out to the nearer edge.
    """
    rng = np.random.default_rng(seed)
    if positive:
        low, high = 0.5, max(high, 1.0)
    arrays = []
    for shape in shapes:
        a = rng.uniform(low, high, size=shape)
        if min_abs:
            a = np.where(np.abs(a) < min_abs, np.where(a < 0, -min_abs, min_abs), a)
        arrays.append(np.asarray(a, dtype=dtype))
    return arrays


def assert_close(actual, expected, *, rtol: float, atol: float, what: str) -> None:
    """``|actual - expected| <= atol + rtol |expected|`` everywhere, else name the worst element."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {expected.shape}")
    if actual.size == 0:
        return
    both_nan = np.isnan(actual) & np.isnan(expected)
    excess = np.abs(actual - expected) - (atol + rtol * np.abs(expected))
    excess = np.where(both_nan, -1.0, np.nan_to_num(excess, nan=np.inf))
    if excess.max() > 0:
        worst = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), actual.shape))
        a, e = float(actual[worst]), float(expected[worst])
        raise AssertionError(
            f"{what}: mismatch at index {worst}: chainrule {a!r}, reference {e!r} "
            f"(|diff| {abs(a - e):.3g}, "
            f"rtol={rtol}, atol={atol}); {int((excess > 0).sum())} of {actual.size} "
            f"elements differ")


def _outputs(out) -> list:
    return list(out) if isinstance(out, list | tuple) else [out]


def check_op(shapes: Sequence[tuple], fn_cr: Callable, fn_torch: Callable | None = None, *,
             low: float = -2.0, high: float = 2.0, dtype=np.float64, rtol: float | None = None,
             atol: float | None = None, positive: bool = False, min_abs: float = 0.0,
             inputs: Sequence[np.ndarray] | None = None, grad: bool = True,
             gradcheck: bool = True, seed: int = 0, reference: Callable | None = None) -> None:
    """Compare ``fn_cr`` on chainrule tensors with ``fn_torch`` (default ``fn_cr``) on torch.

    ``shapes`` gives one random input per shape (or pass ``inputs`` directly); every
    floating input requires grad. Forward values and all input gradients are compared
    to ``rtol``/``atol`` (1e-10 in float64, 1e-5 in float32 unless given), and
    ``cr.gradcheck`` always checks the gradients against finite differences in float64.
    ``reference``, when given, takes the input arrays and returns the expected forward
    output(s) computed in NumPy; it is compared whether or not torch is installed.
    The outputs (one tensor or a list) are weighted by fixed random arrays before
    backward, so every output element's gradient path counts.
    """
    dtype = np.dtype(dtype)
    tol = TOLERANCE[dtype]
    rtol = tol if rtol is None else rtol
    atol = tol if atol is None else atol
    if inputs is None:
        arrays = random_inputs(shapes, low=low, high=high, positive=positive, min_abs=min_abs,
                               dtype=dtype, seed=seed)
    else:
        arrays = [np.array(a, dtype=dtype if np.asarray(a).dtype.kind == "f" else None)
                  for a in inputs]
    differentiable = [grad and a.dtype.kind == "f" for a in arrays]

    xs = [cr.tensor(a.copy(), requires_grad=d) for a, d in zip(arrays, differentiable)]
    outs = _outputs(fn_cr(*xs))
    for o in outs:
        assert isinstance(o, cr.Tensor), f"fn_cr returned {type(o).__name__}, not a Tensor"
        if dtype.kind == "f" and o.dtype.kind == "f":
            assert o.dtype == dtype, f"output dtype {o.dtype} != input dtype {dtype}"
    if reference is not None:
        expected = _outputs(reference(*[a.copy() for a in arrays]))
        assert len(expected) == len(outs), f"{len(outs)} outputs vs the reference's {len(expected)}"
        for k, (o, e) in enumerate(zip(outs, expected)):
            assert_close(o.data, np.asarray(e, dtype=o.dtype), rtol=rtol, atol=atol,
                         what=f"forward output {k} against the NumPy reference")
    w_rng = np.random.default_rng(seed + 1)
    weights = [w_rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
    if any(differentiable):
        if len(outs) == 1:
            outs[0].backward(weights[0])  # exercises backward(grad=...) on non-scalars
        else:
            loss = sum((o * w).sum() for o, w in zip(outs, weights))
            loss.backward()
        for i, (x, d) in enumerate(zip(xs, differentiable)):
            if d:
                assert x.grad is not None, f"input {i} received no gradient"
                assert x.grad.shape == x.shape, (
                    f"input {i}: gradient shape {x.grad.shape} != input shape {x.shape}")
                assert x.grad.dtype == x.dtype, (
                    f"input {i}: gradient dtype {x.grad.dtype} != input dtype {x.dtype}")
                assert np.all(np.isfinite(x.grad.data)), f"input {i}: non-finite gradient"

    if HAS_TORCH:
        fn_torch = fn_cr if fn_torch is None else fn_torch
        ts = [torch.tensor(a.copy(), requires_grad=d) for a, d in zip(arrays, differentiable)]
        touts = _outputs(fn_torch(*ts))
        assert len(touts) == len(outs), f"{len(outs)} outputs vs torch's {len(touts)}"
        for k, (o, t) in enumerate(zip(outs, touts)):
            assert_close(o.data, t.detach().numpy(), rtol=rtol, atol=atol,
                         what=f"forward output {k}")
        if any(differentiable):
            loss = sum((t * torch.from_numpy(w)).sum() for t, w in zip(touts, weights))
            loss.backward()
            for i, (x, t, d) in enumerate(zip(xs, ts, differentiable)):
                if d:
                    expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)
                    assert_close(x.grad.data, expected, rtol=rtol, atol=atol,
                                 what=f"gradient of input {i}")

    if gradcheck and any(differentiable):
        gxs = [cr.tensor(a.astype(np.float64) if a.dtype.kind == "f" else a, requires_grad=d)
               for a, d in zip(arrays, differentiable)]

        def reduced(*args):
            o = _outputs(fn_cr(*args))
            return o[0] if len(o) == 1 else cr.concat([t.reshape(-1) for t in o])

        cr.gradcheck(reduced, *gxs)
