"""Scaled dot-product attention, one graph node: ``Attention``.

q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev):

    scores = q k^T * scale (+ an additive float mask)
    p      = softmax(scores) over S, where ``mask`` is False: exactly 0
    out    = (p * keep) v

``mask`` is boolean, broadcastable to (..., L, S), True where a query may attend
to a key (torch's ``scaled_dot_product_attention`` convention). The softmax is
the stable one (the row maximum of the allowed scores is subtracted first), and
a masked score is never exponentiated: its weight is set to exactly zero, so a
masked key's value cannot reach the output whatever it holds. A query that may
attend to no key gets all-zero weights and a zero output (torch gives NaN there).
``keep`` is the dropout multiplier on the weights (0 or 1 / (1 - rate)), or None.

Backward, with g the output gradient and P = p * keep:

    dv = P^T g,   dP = g v^T,   dp = dP * keep
    ds = p * (dp - sum_S(dp * p))            (softmax's Jacobian, row by row)
    dq = ds k * scale,   dk = ds^T q * scale,   d(float mask) = ds

Fused because the composed ops would keep every intermediate (L x S scores,
exponentials, sums, weights) alive for backward, and run the softmax Jacobian as
several broadcasts; here only p (and keep) is kept. ``attention_reference`` and
``attention_backward_reference`` at the end write the same math one query row at
a time with the explicit Jacobian diag(p) - p p^T; tests check the op against them.

How the fast op runs (each step measured on (32, 4, 64, 32) float32, one thread;
docs/performance.md):

- The scores are held transposed, s^T = k (q scale)^T of shape (..., S, L), so the
  softmax's reductions over S run along the second-to-last axis: NumPy reduces
  there as whole-row ufuncs, where the last axis (64 entries a row) pays per row
  (the row maximum took 0.31 ms against 1.05 ms). The products read s^T through
  transposed views; BLAS takes them without a copy.
- The scale multiplies q (L x E) rather than the scores (L x S), and the scaled q
  is what backward needs for dk.
- sum(dp * p) over S is one ``einsum`` pass (no product array).
- Outputs and gradients are written with ``out=`` into arrays laid out as the
  inputs are: q, k, v that are (B, L, H, E) arrays seen as (B, H, L, E), as
  ``MultiHeadAttention`` passes them, get an output and gradients stored
  (B, L, H, E), so the layer's head merge and the projections' reshapes copy nothing.
- The leading (batch) axis is cut into chunks whose scores fit in cache, spread
  over ``backend.parallel_map``'s threads when BLAS has more than one.
"""

import numpy as np

from ..autograd import Function, ShapeError, unbroadcast
from ..backend import parallel_map
from .conv import batch_chunks

SCORES_BYTES = 2**19  # scores (and their gradient) per chunk: stay in L2


def _check(q, k, v) -> None:
    if min(np.ndim(q), np.ndim(k), np.ndim(v)) < 2:
        raise ShapeError(f"Attention expects q (..., L, E), k (..., S, E) and v (..., S, Ev); "
                         f"received q {np.shape(q)}, k {np.shape(k)}, v {np.shape(v)}.")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"Attention: q {q.shape} and k {k.shape} must share their last axis "
                         f"(E), and k and v {v.shape} their second-to-last (S).")


def _t(a):
    """The last two axes swapped (a view), None stays None."""
    return None if a is None else np.swapaxes(a, -1, -2)


def _like(a: np.ndarray, shape: tuple, dtype) -> np.ndarray:
    """An empty array of ``shape`` laid out in memory as ``a`` is (when a has that shape
    but perhaps the last axis)."""
    if a.shape[:-1] == shape[:-1] and a.ndim == len(shape):
        return np.empty_like(a, dtype=dtype, shape=shape)
    return np.empty(shape, dtype=dtype)


def _part(a, part: slice, ndim: int):
    """The chunk ``part`` of the leading axis of ``a`` seen as having ``ndim`` axes
    (a broadcast axis, or a missing one, is shared by every chunk)."""
    if a is None or np.ndim(a) < ndim or a.shape[0] == 1:
        return a
    return a[part]


def masked_softmax_t(scores_t: np.ndarray, blocked) -> np.ndarray:
    """softmax over axis -2 of the transposed scores (..., S, L), in place; entries where
    ``blocked`` (broadcastable, True = masked) is True exactly 0, and a column with
    nothing allowed all zeros."""
    if blocked is not None:
        np.copyto(scores_t, -np.inf, where=blocked)
    top = scores_t.max(axis=-2, keepdims=True)
    np.copyto(top, 0, where=~np.isfinite(top))  # a fully masked query: every entry is -inf
    scores_t -= top
    p = np.exp(scores_t, out=scores_t)  # exp(-inf) = 0 exactly
    total = p.sum(axis=-2, keepdims=True)
    np.copyto(total, 1, where=total == 0)
    p *= np.reciprocal(total, out=total)
    return p


class Attention(Function):
    """out = (masked_softmax(q k^T scale + float_mask) * keep) v; see the module docstring.

    forward(q, k, v, float_mask=None, mask=None, scale=1.0, keep=None, weights=None):
    ``weights``, a list, receives the softmax weights p (before dropout), as an array.
    """

    def forward(self, q, k, v, float_mask=None, mask=None, scale=1.0, keep=None,
                weights=None):
        _check(q, k, v)
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        length, source = q.shape[-2], k.shape[-2]
        dtype = np.result_type(q, k, v)
        out = _like(q, (*lead, length, v.shape[-1]), dtype)
        p_t = np.empty((*lead, source, length), dtype=dtype)
        qs = _like(q, (*lead, *q.shape[-2:]), dtype)
        blocked = None if mask is None else ~np.asarray(mask)
        chunks = self._chunks(q, k, v, lead, p_t)
        ndim = p_t.ndim

        def attend(part):
            np.multiply(q[part], dtype.type(scale), out=qs[part])
            s_t = np.matmul(k[part], _t(qs[part]), out=p_t[part])
            if float_mask is not None:
                s_t += _t(_part(np.asarray(float_mask), part, ndim))
            p = masked_softmax_t(s_t, _t(_part(blocked, part, ndim)))
            kept = _part(keep, part, ndim)
            np.matmul(_t(p if kept is None else p * _t(kept)), v[part], out=out[part])

        parallel_map(attend, chunks)
        if weights is not None:
            weights.append(np.ascontiguousarray(_t(p_t)))
        self.scale, self.chunks, self.q_shape = scale, chunks, q.shape
        self.float_mask_shape = np.shape(float_mask)
        self.save_for_backward(qs, k, v, p_t, keep)
        return out

    @staticmethod
    def _chunks(q, k, v, lead, scores) -> list:
        """Chunks of the leading axis (one, the whole, when q, k, v broadcast over it)."""
        if not lead or not q.shape[:-2] == k.shape[:-2] == v.shape[:-2] == lead:
            return [slice(None)]
        return batch_chunks(lead[0], scores[:1].nbytes, SCORES_BYTES)

    def backward(self, grad):
        qs, k, v, p_t, keep = self.saved
        needs_q, needs_k, needs_v, needs_mask = self.needs_input_grad[:4]
        lead, dtype, ndim = p_t.shape[:-2], p_t.dtype, p_t.ndim
        dq = _like(qs, qs.shape, dtype) if needs_q else None
        dk = _like(k, (*lead, *k.shape[-2:]), dtype) if needs_k else None
        dv = _like(v, (*lead, *v.shape[-2:]), dtype) if needs_v else None
        ds_t = np.empty_like(p_t) if needs_mask else None
        scale = dtype.type(self.scale)

        def backpropagate(part):
            g, p, kept = grad[part], p_t[part], _t(_part(keep, part, ndim))
            if needs_v:
                np.matmul(p if kept is None else p * kept, g, out=dv[part])
            if not (needs_q or needs_k or needs_mask):
                return
            d = np.matmul(v[part], _t(g))  # dp^T (..., S, L)
            if kept is not None:
                d *= kept
            d -= np.einsum("...sl,...sl->...l", d, p)[..., None, :]
            d *= p  # ds^T: the gradient of the scaled scores
            if needs_mask:
                ds_t[part] = d
            if needs_q:
                np.multiply(np.matmul(_t(d), k[part], out=dq[part]), scale, out=dq[part])
            if needs_k:
                np.matmul(d, qs[part], out=dk[part])

        parallel_map(backpropagate, self.chunks)
        return (None if dq is None else unbroadcast(dq, self.q_shape),
                None if dk is None else unbroadcast(dk, k.shape),
                None if dv is None else unbroadcast(dv, v.shape),
                None if ds_t is None else unbroadcast(_t(ds_t), self.float_mask_shape))


# ---------------------------------------------------------------- textbook reference
# One query row at a time, the softmax written out and its Jacobian as a matrix.
# Slow; tests check the op against it (tests/test_attention.py).


def _row_weights(s: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """softmax of the allowed scores of one row; 0 elsewhere (and everywhere if none)."""
    p = np.zeros_like(s)
    if allowed.any():
        e = np.exp(s[allowed] - s[allowed].max())
        p[allowed] = e / e.sum()
    return p


def _rows(q, k, v, mask):
    """Each (batch index, query row) with its scores' allowed entries, batch dims flat."""
    lead = q.shape[:-2]
    mask = np.ones(lead + (q.shape[-2], k.shape[-2]), bool) if mask is None else \
        np.broadcast_to(mask, lead + (q.shape[-2], k.shape[-2]))
    for b in np.ndindex(*lead):
        for i in range(q.shape[-2]):
            yield b, i, mask[b + (i,)]


def attention_reference(q, k, v, mask=None, scale=1.0, keep=None):
    """-> (out, p): for each row i, s_j = q_i . k_j * scale, p = softmax over the allowed
    j, out_i = sum_j p_j keep_ij v_j. q, k, v share their batch dims."""
    out = np.zeros(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype)
    p_all = np.zeros(q.shape[:-1] + (k.shape[-2],), dtype=q.dtype)
    for b, i, allowed in _rows(q, k, v, mask):
        s = np.array([q[b + (i,)] @ k[b + (j,)] * scale for j in range(k.shape[-2])])
        p = _row_weights(s, allowed)
        p_all[b + (i,)] = p
        kept = p if keep is None else p * np.broadcast_to(keep, p_all.shape)[b + (i,)]
        out[b + (i,)] = kept @ v[b]
    return out, p_all


def attention_backward_reference(q, k, v, p, grad, mask=None, scale=1.0, keep=None):
    """-> (dq, dk, dv) of ``attention_reference`` given its weights p and dL/dout, each
    row through the softmax Jacobian J = diag(p) - p p^T."""
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for b, i, _ in _rows(q, k, v, mask):
        row_keep = 1.0 if keep is None else np.broadcast_to(keep, p.shape)[b + (i,)]
        pi = p[b + (i,)]
        dv[b] += np.outer(pi * row_keep, grad[b + (i,)])
        dp = (v[b] @ grad[b + (i,)]) * row_keep
        ds = (np.diag(pi) - np.outer(pi, pi)) @ dp
        dq[b + (i,)] += ds @ k[b] * scale
        dk[b] += np.outer(ds, q[b + (i,)]) * scale
    return dq, dk, dv
