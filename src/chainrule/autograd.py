"""The autograd engine: ``Function``, the backward pass, grad mode and ``gradcheck``.

A :class:`Function` is one differentiable primitive. Its ``forward`` takes raw
arrays and returns a raw array; its ``backward`` takes the gradient of the loss
with respect to that output and returns one gradient per input (the chain rule:
upstream gradient times local derivative). ``Function.apply`` runs ``forward`` on
the arrays behind its tensor arguments and, when a gradient will be needed,
records itself as the node that made the result.

The graph is made of nodes, not tensors: each Function holds its parents (the
Function that made each input, or the input itself when it is a leaf) and only
the arrays its backward needs. Intermediate tensors are therefore freed as soon
as the user's code drops them, as in PyTorch.

``run_backward`` walks that graph once, from the output back to the leaves, in
reverse topological order and without recursion, so chains of any length work.
Once a node has passed its gradients on, its saved arrays are released.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator

import numpy as np

from . import backend

_grad_enabled = True


class TensorBase:
    """What the engine knows of a tensor: ``chainrule.tensor.Tensor``, the layer above,
    derives from it. The engine reads ``data``, ``requires_grad`` and ``_ctx``, calls
    ``_accumulate_grad``, and wraps an op's result with ``_from_op`` of the class of
    the op's first tensor argument, so it never needs to name that class."""

    __slots__ = ()


# ---------------------------------------------------------------- grad mode


def is_grad_enabled() -> bool:
    """Whether operations currently record a graph."""
    return _grad_enabled


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = enabled
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Context manager (and decorator) in which no graph is recorded."""
    return _grad_mode(False)


def enable_grad():
    """Context manager that turns graph recording back on inside ``no_grad``."""
    return _grad_mode(True)


# ---------------------------------------------------------------- errors


class ShapeError(ValueError):
    """An op received operands whose shapes it cannot combine."""


class GradcheckError(AssertionError):
    """Autograd and finite differences disagree."""


# ---------------------------------------------------------------- broadcasting


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``.

    (3, 5, 4) -> (5, 4) sums axis 0; (5, 4) -> (5, 1) sums axis 1 keeping it;
    (3,) -> () sums everything. Always returns an array, 0-d included (a NumPy sum
    down to 0-d gives a scalar).
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return np.asarray(grad).reshape(shape)


# ---------------------------------------------------------------- Function


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` on gradients.

    Subclasses implement ``forward(*arrays, **options) -> array`` and
    ``backward(grad) -> gradient or tuple of gradients`` (one per positional
    input, ``None`` where an input needs none). ``self.needs_input_grad`` tells
    ``backward`` which inputs want a gradient.
    """

    parents: tuple | None = None  # per input: its Function, a leaf Tensor, or None; None
    #                               once released
    saved: tuple = ()
    needs_input_grad: tuple = ()
    output_shape: tuple = ()
    output: weakref.ref | None = None  # the output tensor, while it lives (for viz)
    retained: weakref.ref | None = None  # the output tensor that asked for retain_grad()
    # An op whose forward and backward split the batch over backend.parallel_map (conv,
    # pooling) sets batch_split; a node made by one, or after one, gets single_blas: it runs
    # (forward, and the whole backward pass from it) with BLAS on one thread, so that
    # OpenBLAS' spinning threads never compete with the batch workers (docs/performance.md).
    batch_split: bool = False
    single_blas: bool = False

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays that ``backward`` will need (released after backward)."""
        self.saved = arrays

    def forward(self, *arrays, **options):  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define forward")

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define backward")

    @classmethod
    def apply(cls, *args, **options):
        """Run the op on tensors (and arrays/scalars; at least one tensor) and return a
        tensor of the first tensor argument's class."""
        arrays, needs, parents, tensor = [], [], [], None
        single_blas = cls.batch_split
        for a in args:  # one pass: arrays for forward, who wants a gradient, where it goes
            if isinstance(a, TensorBase):
                tensor = tensor or type(a)
                arrays.append(a.data)
                if a.requires_grad:
                    needs.append(True)
                    parents.append(a._ctx or a)  # the node that made it, or the leaf
                    single_blas = single_blas or (a._ctx is not None and a._ctx.single_blas)
                    continue
            else:
                arrays.append(a)
            needs.append(False)
            parents.append(None)
        if tensor is None:
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor argument; "
                            f"received {[type(a).__name__ for a in args]}.")
        fn = cls()
        track = _grad_enabled and True in needs
        # known before forward, so an op can save only what its backward will use
        fn.needs_input_grad = tuple(needs) if track else (False,) * len(needs)
        try:
            if single_blas and track:
                fn.single_blas = True
                with backend.single_threaded_blas():
                    out = fn.forward(*arrays, **options)
            else:
                out = fn.forward(*arrays, **options)
        except ShapeError:
            raise
        except ValueError as err:
            shapes = " and ".join(str(np.shape(a)) for a in arrays)
            raise ShapeError(f"{cls.__name__}: cannot combine operands of shapes {shapes}: "
                             f"{err}") from None
        if not track:
            return tensor._from_op(out, None)
        fn.parents = tuple(parents)
        t = tensor._from_op(out, fn)
        fn.output_shape = t.data.shape
        fn.output = weakref.ref(t)
        return t

    def release(self) -> None:
        """Drop the parents and every saved array (after backward has used them)."""
        vars(self).clear()


# ---------------------------------------------------------------- backward pass


def topological_order(root: Function) -> list[Function]:
    """The nodes of the graph behind ``root``, each after all of its parents."""
    order, seen = [], set()
    stack = [(root, False)]  # (node, its parents already pushed?)
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if fn.parents is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time: its saved arrays were "
                "released after the first backward. Call backward(retain_graph=True) the "
                "first time if you need to.")
        stack.append((fn, True))
        for parent in fn.parents:
            if isinstance(parent, Function) and id(parent) not in seen:
                stack.append((parent, False))
    return order


def run_backward(root, grad: np.ndarray, retain_graph: bool = False,
                 trace: list | None = None) -> None:
    """Backpropagate ``grad`` (d loss / d root) to every leaf that requires grad.

    Gradients reaching a node along several paths are summed. ``trace``, when
    given, receives ``(node, parent, upstream, contribution)`` for each edge, in
    the order the gradients were formed (used by ``viz.explain``).
    """
    if root._ctx is None:
        root._accumulate_grad(grad)
        return
    if root._ctx.single_blas:
        with backend.single_threaded_blas():
            _backpropagate(root, grad, retain_graph, trace)
    else:
        _backpropagate(root, grad, retain_graph, trace)


def _backpropagate(root, grad: np.ndarray, retain_graph: bool, trace: list | None) -> None:
    """The walk of :func:`run_backward` from a root made by an op."""
    pending = {id(root._ctx): grad}  # gradients waiting for their node's turn
    owned = set()  # nodes whose pending sum this loop allocated: safe to add into in place
    for fn in reversed(topological_order(root._ctx)):
        upstream = pending.pop(id(fn), None)
        if upstream is None:
            continue
        owned.discard(id(fn))
        if fn.retained is not None and (kept := fn.retained()) is not None:
            kept._accumulate_grad(upstream)
        grads = fn.backward(upstream)
        if type(grads) is not tuple:
            grads = (grads,)
        for parent, g, needs in zip(fn.parents, grads, fn.needs_input_grad):
            if not needs or g is None:
                continue
            if not isinstance(g, np.ndarray):  # NumPy arithmetic on 0-d arrays gives scalars
                g = np.asarray(g)
            node = isinstance(parent, Function)
            expected = parent.output_shape if node else parent.data.shape
            if g.shape != expected:
                raise RuntimeError(f"{type(fn).__name__}.backward returned a gradient of shape "
                                   f"{g.shape} for an input of shape {expected}")
            if trace is not None:
                trace.append((fn, parent, upstream, g))
            if not node:
                parent._accumulate_grad(g)
                continue
            key = id(parent)
            previous = pending.get(key)
            if previous is None:
                pending[key] = g  # may be shared (e.g. Add passes upstream on): never mutated
            elif key in owned:
                np.add(previous, g, out=previous)
            else:
                pending[key] = np.asarray(previous + g)  # an array even when 0-d
                owned.add(key)
        if not retain_graph:
            fn.release()


# ---------------------------------------------------------------- gradcheck


def gradcheck(fn: Callable, *inputs, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-4, seed: int = 0) -> bool:
    """Compare autograd with central finite differences, in float64.

    Every Tensor input with ``requires_grad=True`` is checked. A non-scalar output
    is reduced with fixed random weights, ``sum(fn(*inputs) * w)``. Raises
    :class:`GradcheckError` naming the input, the element and both values.
    """
    previous_dtype = backend.get_default_dtype()
    backend.set_default_dtype(np.float64)
    try:
        xs = [_as_float64(a) for a in inputs]
        checked = [i for i, a in enumerate(xs) if isinstance(a, TensorBase) and a.requires_grad]
        if not checked:
            raise ValueError("gradcheck: no input has requires_grad=True; nothing to check.")
        out = fn(*xs)
        weights = np.random.default_rng(seed).standard_normal(out.shape)
        (out * weights).sum().backward()

        def objective() -> float:
            with no_grad():
                return float(np.sum(fn(*xs).data * weights))

        for i in checked:
            _check_input(i, xs[i], objective, eps, atol, rtol)
    finally:
        backend.set_default_dtype(previous_dtype)
    return True


def _as_float64(a):
    """A floating tensor as a new float64 leaf of its class; anything else unchanged."""
    if isinstance(a, TensorBase) and backend.is_floating(a.dtype):
        return type(a)(np.array(a.data, dtype=np.float64), requires_grad=a.requires_grad)
    return a


def _check_input(i: int, x, objective: Callable, eps: float, atol: float, rtol: float) -> None:
    analytic = x.grad.data if x.grad is not None else np.zeros_like(x.data)
    numeric = np.zeros_like(x.data)
    flat = x.data.reshape(-1)  # a view: writing to it perturbs x
    for j in range(flat.size):
        original = flat[j]
        flat[j] = original + eps
        plus = objective()
        flat[j] = original - eps
        minus = objective()
        flat[j] = original
        numeric.flat[j] = (plus - minus) / (2 * eps)
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if excess.size and excess.max() > 0:
        worst = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), x.shape))
        raise GradcheckError(
            f"gradcheck failed for input {i} (shape {x.shape}) at index {worst}: "
            f"autograd gives {float(analytic[worst])!r}, finite differences give "
            f"{float(numeric[worst])!r} "
            f"(atol={atol}, rtol={rtol}).")
