"""``MultiHeadAttention`` with Keras' arguments, call signature and weight layout.

query (B, T, dq), value (B, S, dv), key (B, S, dk; the value when omitted):

    q = query @ Wq + bq   (B, T, H, key_dim)      Wq: query.kernel (dq, H, key_dim)
    k = key @ Wk + bk     (B, S, H, key_dim)      Wk: key.kernel (dk, H, key_dim)
    v = value @ Wv + bv   (B, S, H, value_dim)    Wv: value.kernel (dv, H, value_dim)
    a = softmax(q k^T / sqrt(key_dim), masked) v for each head   (B, H, T, value_dim)
    out = a @ Wo + bo     (B, T, dout)            Wo: attention_output.kernel
                                                      (H, value_dim, dout)

dout is ``output_shape``, or dq. The attention itself is one fused op
(``cr.functional.scaled_dot_product_attention``). torch's ``nn.MultiheadAttention``
is the case key_dim = value_dim = dq / H = dout / H; the mapping of the weights is
in docs/layers.md.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import initializers
from ..tensor import Tensor
from .base import Layer, to_tensor


class _Projection(Layer):
    """One of the attention's dense maps, Keras' ``EinsumDense`` layout: the last
    ``in_axes`` axes of x (..., *in) times kernel (*in, *units) plus bias (*units,)
    -> (..., *units)."""

    def __init__(self, units: tuple, in_axes: int, use_bias: bool, kernel_initializer,
                 bias_initializer, name: str):
        self.units, self.in_axes, self.use_bias = tuple(units), in_axes, use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel = self.bias = None
        super().__init__(name=name)

    def build(self, input_shape: tuple) -> None:
        self.add_weight("kernel", (*input_shape[-self.in_axes:], *self.units),
                        self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", self.units, self.bias_initializer)

    def forward(self, x: Tensor) -> Tensor:
        lead = x.shape[:-self.in_axes]
        fan_in = math.prod(self.kernel.shape[:self.in_axes])
        width = math.prod(self.units)
        if math.prod(x.shape[-self.in_axes:]) != fan_in:
            raise ValueError(f"`MultiHeadAttention` projection '{self.name}' expected inputs "
                             f"ending in {self.kernel.shape[:self.in_axes]} (its kernel is "
                             f"{self.kernel.shape}); received shape {x.shape}.")
        bias = None if self.bias is None else self.bias.reshape(width)
        y = F.linear(x.reshape(*lead, fan_in), self.kernel.reshape(fan_in, width), bias)
        return y.reshape(*lead, *self.units)


def _mask_array(mask, name: str, shape: tuple) -> np.ndarray | None:
    """A mask as a boolean array of ``shape`` (None stays None), or an error naming it."""
    if mask is None:
        return None
    mask = np.asarray(getattr(mask, "data", mask)).astype(bool)
    if mask.shape != shape:
        raise ValueError(f"`MultiHeadAttention`: {name} must have shape {shape}; received "
                         f"{mask.shape}.")
    return mask


class MultiHeadAttention(Layer):
    """Keras' multi-head attention; see the module docstring for the math and weights.

    Call ``layer(query, value, key=None, attention_mask=None,
    return_attention_scores=False, training=None, use_causal_mask=False)``; query
    (B, T, dq), value (B, S, dv) -> (B, T, dout), and with ``return_attention_scores``
    also the weights (B, H, T, S) (before dropout; they carry no gradient).
    ``attention_mask`` (B, T, S) is True (1) where query t may attend to key s. Masks
    of the inputs combine with it as Keras does: ``query_mask`` (B, T), ``value_mask``
    and ``key_mask`` (B, S); ``mask`` (what a model hands a layer: its first input's
    mask) stands for ``query_mask``, and for ``value_mask`` too when the value is the
    query (self-attention). A masked key gets exactly zero weight; a query that may
    attend to nothing outputs the output bias alone (its weights are all zero; Keras
    spreads them evenly, torch gives NaN). ``dropout`` drops attention weights in
    training.
    """

    supports_masking = True  # the output's mask is the query's

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim),
                           ("value_dim", key_dim if value_dim is None else value_dim)):
            if isinstance(value, bool) or int(value) != value or value <= 0:
                raise ValueError(f"Invalid value for argument `{arg}` of `MultiHeadAttention`: "
                                 f"expected a positive integer; received {arg}={value!r}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"Invalid value for argument `dropout` of `MultiHeadAttention`: "
                             f"expected a float in [0, 1); received dropout={dropout}.")
        if attention_axes is not None:
            raise ValueError(f"`MultiHeadAttention` attends over the sequence axis only "
                             f"(inputs (B, T, d)); attention_axes={attention_axes!r} is not "
                             f"supported.")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = self.key_dim if value_dim is None else int(value_dim)
        self.dropout, self.use_bias = float(dropout), bool(use_bias)
        self.output_dim = _output_dim(output_shape)
        self.kernel_initializer = initializers.check(kernel_initializer)
        self.bias_initializer = initializers.check(bias_initializer)
        super().__init__(**kwargs)

    # ------------------------------------------------------------ weights

    def build(self, query_shape: tuple, value_shape: tuple | None = None,
              key_shape: tuple | None = None) -> None:
        """Create the four projections, and build each whose input size is known (the
        query's; the value's and key's when given, else at the first call)."""
        _check_rank("query", query_shape)
        heads = self.num_heads
        dout = self.output_dim or query_shape[-1]
        for name, units, in_axes in (("query", (heads, self.key_dim), 1),
                                     ("key", (heads, self.key_dim), 1),
                                     ("value", (heads, self.value_dim), 1),
                                     ("attention_output", (dout,), 2)):
            projection = _Projection(units, in_axes, self.use_bias, self.kernel_initializer,
                                     self.bias_initializer, name)
            if not self._trainable:
                projection.trainable = False
            setattr(self, name, projection)
        self._build_projections(query_shape, value_shape, key_shape)

    def _build_projections(self, query_shape, value_shape, key_shape) -> None:
        """Build each projection whose input size is known and that is not built yet."""
        for projection, shape in ((self.query, query_shape),
                                  (self.key, key_shape or value_shape),
                                  (self.value, value_shape),
                                  (self.attention_output, (self.num_heads, self.value_dim))):
            if shape is not None and not projection.built:
                projection.build(tuple(shape))
                projection.built = True

    def __call__(self, query, value, key=None, **kwargs):
        """Build every projection from the shapes of query, value and key first (of
        symbolic inputs too, so that a functional model holds all its weights before
        any data runs), then call the layer as any other."""
        shapes = [None if t is None else tuple(t.shape if hasattr(t, "shape") else np.shape(t))
                  for t in (query, value, key)]
        if not self.built:
            self.build(*shapes)
            self.built = True
        else:
            self._build_projections(*shapes)
        return super().__call__(query, value, key, **kwargs)

    def compute_output_shape(self, query_shape: tuple, value_shape: tuple | None = None,
                             key_shape: tuple | None = None) -> tuple:
        _check_rank("query", query_shape)
        return (*query_shape[:-1], self.output_dim or query_shape[-1])

    # ------------------------------------------------------------ forward

    def forward(self, query: Tensor, value, key=None, query_mask=None, value_mask=None,
                key_mask=None, attention_mask=None, return_attention_scores: bool = False,
                training: bool | None = None, use_causal_mask: bool = False, mask=None):
        self_attention = value is query
        value = to_tensor(value)
        key = value if key is None else to_tensor(key)
        for name, t in (("query", query), ("value", value), ("key", key)):
            _check_rank(name, t.shape)
        if key.shape[1] != value.shape[1] or key.shape[0] != value.shape[0] \
                or query.shape[0] != value.shape[0]:
            raise ValueError(f"`MultiHeadAttention`: query {query.shape}, value {value.shape} "
                             f"and key {key.shape} must share the batch size, and key and "
                             f"value the sequence length.")
        query_mask = mask if query_mask is None else query_mask
        if value_mask is None and self_attention:
            value_mask = query_mask
        allowed = self._attention_mask(query.shape, value.shape, query_mask, value_mask,
                                       key_mask, attention_mask, use_causal_mask)
        heads = [self._heads(p, t) for p, t in ((self.query, query), (self.key, key),
                                                 (self.value, value))]
        training = self.training if training is None else training
        attended = F.scaled_dot_product_attention(
            *heads, attn_mask=None if allowed is None else allowed[:, None],
            dropout_p=self.dropout if training else 0.0, scale=1 / math.sqrt(self.key_dim),
            need_weights=return_attention_scores)
        if return_attention_scores:
            attended, scores = attended
        out = self.attention_output(attended.transpose(0, 2, 1, 3))  # (B, T, H, vd) -> dout
        return (out, scores) if return_attention_scores else out

    @staticmethod
    def _heads(projection: _Projection, x: Tensor) -> Tensor:
        """(B, L, d) -> (B, H, L, dim): the projection, heads moved before the sequence."""
        return projection(x).transpose(0, 2, 1, 3)

    @staticmethod
    def _attention_mask(query_shape, value_shape, query_mask, value_mask, key_mask,
                        attention_mask, causal: bool) -> np.ndarray | None:
        """Keras' combined mask (B, T, S): attention_mask & query_mask[:, :, None] &
        value_mask[:, None] & key_mask[:, None] & causal; None when there is none."""
        (b, t), s = query_shape[:2], value_shape[1]
        parts = [_mask_array(attention_mask, "attention_mask", (b, t, s))]
        query_mask = _mask_array(query_mask, "query_mask", (b, t))
        parts.append(None if query_mask is None else query_mask[:, :, None])
        for name, m in (("value_mask", value_mask), ("key_mask", key_mask)):
            m = _mask_array(m, name, (b, s))
            parts.append(None if m is None else m[:, None, :])
        if causal:
            parts.append(F.causal_mask(t, s)[None])
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        allowed = np.broadcast_to(parts[0], (b, t, s))
        for p in parts[1:]:
            allowed = allowed & p
        return allowed

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout,
                "use_bias": self.use_bias, "output_shape": self.output_dim,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


def _check_rank(name: str, shape) -> None:
    if shape is None or len(shape) != 3:
        raise ValueError(f"`MultiHeadAttention` expects the {name} as (batch, sequence, "
                         f"features); received shape {None if shape is None else tuple(shape)}.")


def _output_dim(output_shape) -> int | None:
    """Keras' ``output_shape``: None (the query's last axis), an int, or a 1-tuple."""
    if output_shape is None:
        return None
    value = output_shape[0] if isinstance(output_shape, tuple | list) \
        and len(output_shape) == 1 else output_shape
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"Invalid value for argument `output_shape` of `MultiHeadAttention`: "
                         f"expected a positive int (the output's last axis); received "
                         f"output_shape={output_shape!r}.")
    return int(value)
