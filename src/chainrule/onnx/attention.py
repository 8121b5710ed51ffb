"""Converter of ``MultiHeadAttention``: the four projections as MatMuls and the
attention as chainrule's fused op computes it, softmax(q k^T * scale) v per head.

A causal mask is a constant (T, S) boolean: masked scores become -inf before the
softmax and their weights exactly 0 after it, as in ``ops/attention.py``. Masks that
arrive with the data (``attention_mask``, ``query_mask``, ...) are not exported.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .core import FLOAT, linear, weight
from .graph import OnnxGraph, Value, converts, layer_error

_MASKS = ("query_mask", "value_mask", "key_mask", "attention_mask", "mask")


def _heads(g: OnnxGraph, projection, x, length: int) -> str:
    """(B, L, d) -> (B, H, L, dim): the projection, heads moved before the sequence."""
    kernel = weight(projection.kernel)
    d, heads, dim = kernel.shape
    bias = weight(projection.bias)
    y = linear(g, x, kernel.reshape(d, heads * dim),
               None if bias is None else bias.reshape(heads * dim))
    y = g.op("Reshape", [y, g.ints([0, length, heads, dim])])
    return g.op("Transpose", [y], perm=[0, 2, 1, 3])


@converts("MultiHeadAttention")
def multi_head_attention(g: OnnxGraph, layer, query: Value, value: Value, key=None,
                         return_attention_scores: bool = False, use_causal_mask: bool = False,
                         training=None, **masks):
    given = [name for name in _MASKS if masks.get(name) is not None]
    unknown = sorted(set(masks) - set(_MASKS))
    if given or unknown:
        raise layer_error(layer, f"it is called with {given or unknown}; only "
                                 f"use_causal_mask is exported, not masks that come with the "
                                 f"data.")
    key = value if key is None else key
    t, s = query.shape[1], value.shape[1]
    q = _heads(g, layer.query, query, t)
    k = _heads(g, layer.key, key, s)
    v = _heads(g, layer.value, value, s)
    scores = g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = g.op("Mul", [scores, g.const(np.asarray(1 / math.sqrt(layer.key_dim), FLOAT),
                                          "scale")])
    if use_causal_mask:
        allowed = g.const(F.causal_mask(t, s), "causal_mask")
        minus_inf = g.const(np.asarray(-np.inf, FLOAT), "minus_inf")
        p = g.op("Softmax", [g.op("Where", [allowed, scores, minus_inf])], axis=-1)
        p = g.op("Where", [allowed, p, g.const(np.zeros((), FLOAT), "zero")])
    else:
        p = g.op("Softmax", [scores], axis=-1)
    attended = g.op("Transpose", [g.op("MatMul", [p, v])], perm=[0, 2, 1, 3])  # (B, T, H, vd)
    kernel = weight(layer.attention_output.kernel)  # (H, vd, dout)
    heads, dim, dout = kernel.shape
    attended = g.op("Reshape", [attended, g.ints([0, t, heads * dim])])
    out = linear(g, attended, kernel.reshape(heads * dim, dout),
                 weight(layer.attention_output.bias))
    return [out, p] if return_attention_scores else out
