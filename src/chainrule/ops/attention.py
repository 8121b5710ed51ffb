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
"""

import numpy as np

from ..autograd import Function, ShapeError, unbroadcast


def _check(q, k, v) -> None:
    if min(np.ndim(q), np.ndim(k), np.ndim(v)) < 2:
        raise ShapeError(f"Attention expects q (..., L, E), k (..., S, E) and v (..., S, Ev); "
                         f"received q {np.shape(q)}, k {np.shape(k)}, v {np.shape(v)}.")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"Attention: q {q.shape} and k {k.shape} must share their last axis "
                         f"(E), and k and v {v.shape} their second-to-last (S).")


def masked_softmax(scores: np.ndarray, mask) -> np.ndarray:
    """softmax over the last axis with the entries where ``mask`` is False exactly 0; a
    row with nothing allowed is all zeros. ``scores`` is overwritten."""
    if mask is not None:
        mask = np.broadcast_to(mask, scores.shape)
        np.copyto(scores, -np.inf, where=~mask)
    top = scores.max(axis=-1, keepdims=True)
    np.copyto(top, 0, where=~np.isfinite(top))  # a fully masked row: every entry is -inf
    scores -= top
    p = np.exp(scores, out=scores)  # exp(-inf) = 0 exactly
    total = p.sum(axis=-1, keepdims=True)
    np.copyto(total, 1, where=total == 0)
    p /= total
    return p


class Attention(Function):
    """out = (masked_softmax(q k^T scale + float_mask) * keep) v; see the module docstring.

    forward(q, k, v, float_mask=None, mask=None, scale=1.0, keep=None, weights=None):
    ``weights``, a list, receives the softmax weights p (before dropout), as an array.
    """

    def forward(self, q, k, v, float_mask=None, mask=None, scale=1.0, keep=None,
                weights=None):
        _check(q, k, v)
        scores = np.matmul(q, np.swapaxes(k, -1, -2))
        scores *= scale
        if float_mask is not None:
            scores = scores + float_mask
        p = masked_softmax(scores, mask)
        if weights is not None:
            weights.append(p)
        dropped = p if keep is None else p * keep
        self.scale, self.float_mask_shape = scale, np.shape(float_mask)
        self.save_for_backward(q, k, v, p, keep)
        return np.matmul(dropped, v)

    def backward(self, grad):
        q, k, v, p, keep = self.saved
        needs_q, needs_k, needs_v, needs_mask = self.needs_input_grad[:4]
        dq = dk = dv = dmask = None
        if needs_v:
            dropped = p if keep is None else p * keep
            dv = unbroadcast(np.matmul(np.swapaxes(dropped, -1, -2), grad), v.shape)
        if needs_q or needs_k or needs_mask:
            dp = np.matmul(grad, np.swapaxes(v, -1, -2))
            if keep is not None:
                dp *= keep
            ds = dp
            ds -= (dp * p).sum(axis=-1, keepdims=True)
            ds *= p
            if needs_mask:
                dmask = unbroadcast(ds, self.float_mask_shape)
            ds *= self.scale
            if needs_q:
                dq = unbroadcast(np.matmul(ds, k), q.shape)
            if needs_k:
                dk = unbroadcast(np.matmul(np.swapaxes(ds, -1, -2), q), k.shape)
        return dq, dk, dv, dmask


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
