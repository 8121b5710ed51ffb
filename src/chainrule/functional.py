"""Stateless functions in PyTorch style: ``cr.functional.relu(x)``,
``cr.functional.cross_entropy(logits, target)``.

Each one wraps an op (or a few); layers and losses call these, so each idea has
one home.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import process_group
from .autograd import ShapeError
from .backend import rng
from .ops.attention import Attention
from .ops.conv import Conv1d, Conv2d, normalize_tuple
from .ops.conv_transpose import ConvTranspose2d
from .ops.embedding import Embedding
from .ops.linalg import Linear
from .ops.loss import BinaryCrossEntropy, SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy
from .ops.normalization import BatchNorm, LayerNorm, SyncBatchNorm
from .ops.pool import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .ops.resize import UpsampleBilinear2d
from .tensor import Tensor, as_tensor

# ---------------------------------------------------------------- activations


def relu(x) -> Tensor:
    return as_tensor(x).relu()


def sigmoid(x) -> Tensor:
    return as_tensor(x).sigmoid()


def tanh(x) -> Tensor:
    return as_tensor(x).tanh()


def leaky_relu(x, alpha: float = 0.01) -> Tensor:
    return as_tensor(x).leaky_relu(alpha)


def elu(x, alpha: float = 1.0) -> Tensor:
    return as_tensor(x).elu(alpha)


def gelu(x) -> Tensor:
    """GELU, tanh approximation (torch ``approximate="tanh"``)."""
    return as_tensor(x).gelu()


def softmax(x, axis: int = -1) -> Tensor:
    return as_tensor(x).softmax(axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    return as_tensor(x).log_softmax(axis)


# ---------------------------------------------------------------- linear and dropout


def linear(x, kernel, bias=None, activation: str | None = None) -> Tensor:
    """x @ kernel + bias in one op, with a Keras-layout kernel: (..., in) -> (..., out);
    ``activation="relu"`` fuses max(y, 0) into the op (same values and gradients)."""
    x = as_tensor(x)
    k_in = np.shape(getattr(kernel, "data", kernel))[0]
    if x.ndim == 0 or x.shape[-1] != k_in:
        raise ShapeError(f"linear: x of shape {x.shape} does not match a kernel with {k_in} "
                         f"input features.")
    return Linear.apply(x, kernel, bias, activation=activation)


def dropout(x, rate: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero with probability ``rate``, scale survivors by 1/(1-rate)."""
    x = as_tensor(x)
    if not training or rate == 0:
        return x
    uniform = process_group.draw_for_batch(lambda shape: rng().random(shape, dtype=x.dtype),
                                           x.shape)
    keep = uniform >= rate
    return x * (keep * x.dtype.type(1 / (1 - rate)))


# ---------------------------------------------------------------- convolution and pooling


def conv2d(x, kernel, bias=None, strides=1, padding: str = "valid", dilation=1,
           activation: str | None = None) -> Tensor:
    """Channels-last 2-D convolution: x (N, H, W, Cin), kernel (kh, kw, Cin, Cout),
    bias (Cout,) or None -> (N, OH, OW, Cout). ``padding`` is "valid" or "same";
    ``activation="relu"`` fuses max(out, 0) into the op (same values and gradients)."""
    return Conv2d.apply(as_tensor(x), kernel, bias, strides=strides, padding=padding,
                        dilation=dilation, activation=activation)


def conv1d(x, kernel, bias=None, strides=1, padding: str = "valid", dilation=1,
           activation: str | None = None) -> Tensor:
    """Channels-last 1-D convolution: x (N, L, Cin), kernel (k, Cin, Cout) -> (N, OL, Cout);
    ``activation`` as in :func:`conv2d`."""
    return Conv1d.apply(as_tensor(x), kernel, bias, strides=strides, padding=padding,
                        dilation=dilation, activation=activation)


def max_pool2d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Max over windows: (N, H, W, C) -> (N, OH, OW, C); strides default to the pool size."""
    return MaxPool2d.apply(as_tensor(x), pool_size=pool_size, strides=strides, padding=padding)


def avg_pool2d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Mean over windows (same-padding cells not counted): (N, H, W, C) -> (N, OH, OW, C)."""
    return AvgPool2d.apply(as_tensor(x), pool_size=pool_size, strides=strides, padding=padding)


def max_pool1d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Max over windows: (N, L, C) -> (N, OL, C)."""
    return MaxPool1d.apply(as_tensor(x), pool_size=pool_size, strides=strides, padding=padding)


def avg_pool1d(x, pool_size=2, strides=None, padding: str = "valid") -> Tensor:
    """Mean over windows (same-padding cells not counted): (N, L, C) -> (N, OL, C)."""
    return AvgPool1d.apply(as_tensor(x), pool_size=pool_size, strides=strides, padding=padding)


def conv_transpose2d(x, kernel, bias=None, strides=1, padding: str = "valid",
                     output_padding=None, dilation=1) -> Tensor:
    """Channels-last transposed convolution (Keras' ``Conv2DTranspose``): x (N, H, W, Cin),
    kernel (kh, kw, Cout, Cin), bias (Cout,) or None -> (N, OH, OW, Cout), with OH = H *
    stride ("same") or H * stride + max(kh - stride, 0) ("valid") unless
    ``output_padding`` is given (see ``ops/conv_transpose.py``)."""
    return ConvTranspose2d.apply(as_tensor(x), kernel, bias, strides=strides, padding=padding,
                                 output_padding=output_padding, dilation=dilation)


def upsample(x, size=2, interpolation: str = "nearest") -> Tensor:
    """Channels-last upsampling by whole factors: (N, *spatial, C) -> (N, *spatial *
    size, C), ``size`` an int or one int per spatial axis.

    "nearest" repeats each position (1-D or 2-D; torch's ``Upsample(mode="nearest")``);
    "bilinear" (2-D only) interpolates with half-pixel centres, torch's
    ``Upsample(mode="bilinear", align_corners=False)`` and TensorFlow's resize.
    """
    x = as_tensor(x)
    spatial = x.shape[1:-1]
    factors = normalize_tuple(size, len(spatial), "size", "upsample")
    if interpolation == "bilinear" and len(spatial) == 2:
        return UpsampleBilinear2d.apply(x, tuple(n * f for n, f in zip(spatial, factors)))
    if interpolation != "nearest":
        raise ValueError(f"Invalid value for argument `interpolation` of `upsample`: expected "
                         f"\"nearest\" or, for 2-D inputs, \"bilinear\"; received "
                         f"interpolation={interpolation!r} for inputs of shape {x.shape}.")
    inserted = [x.shape[0]]  # (N, s1, 1, s2, 1, ..., C) broadcast to (N, s1, f1, ...)
    for n in spatial:
        inserted += [n, 1]
    repeated = [x.shape[0]]
    for n, f in zip(spatial, factors):
        repeated += [n, f]
    out = x.reshape(*inserted, x.shape[-1]).broadcast_to((*repeated, x.shape[-1]))
    return out.reshape(x.shape[0], *(n * f for n, f in zip(spatial, factors)), x.shape[-1])


# ---------------------------------------------------------------- attention


def causal_mask(length: int, source_length: int | None = None) -> np.ndarray:
    """(L, S) boolean, True where query i may attend to key j: j <= i (top-left aligned,
    as torch's ``is_causal`` and Keras' ``use_causal_mask``)."""
    source_length = length if source_length is None else source_length
    return np.tril(np.ones((length, source_length), dtype=bool))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None, *,
                                 need_weights: bool = False):
    """softmax(q k^T * scale + mask) v, as ``torch.nn.functional.scaled_dot_product_attention``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). ``attn_mask``
    broadcastable to (..., L, S): boolean, True where a query may attend (masked
    positions get exactly zero weight), or floating, added to the scores. ``is_causal``
    masks the keys after each query (combined with ``attn_mask`` when both are given).
    ``scale`` defaults to 1 / sqrt(E); ``dropout_p`` drops weights (always, as torch).
    One fused op (``ops/attention.py``): a query that may attend to nothing outputs
    zeros where torch gives NaN. ``need_weights=True`` returns ``(output, weights)``,
    the weights (..., L, S) before dropout, as a tensor without gradient.
    """
    q, k, v = (as_tensor(t) for t in (query, key, value))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ShapeError(f"scaled_dot_product_attention expects query (..., L, E), key "
                         f"(..., S, E) and value (..., S, Ev); received shapes {q.shape}, "
                         f"{k.shape} and {v.shape}.")
    if not 0 <= dropout_p < 1:
        raise ValueError(f"Invalid value for argument `dropout_p` of "
                         f"`scaled_dot_product_attention`: expected a float in [0, 1); "
                         f"received dropout_p={dropout_p}.")
    scores_shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    mask, float_mask = None, None
    if attn_mask is not None:
        m = attn_mask if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if m.dtype == bool:
            mask = m.data if isinstance(m, Tensor) else m
        else:
            float_mask = m if isinstance(m, Tensor) else m.astype(q.dtype)
    if is_causal:
        causal = causal_mask(q.shape[-2], k.shape[-2])
        mask = causal if mask is None else mask & causal
    if mask is not None:
        try:
            np.broadcast_shapes(np.shape(mask), scores_shape)
        except ValueError:
            raise ShapeError(f"scaled_dot_product_attention: attn_mask of shape "
                             f"{np.shape(mask)} does not broadcast to the scores' shape "
                             f"{scores_shape} (..., L, S).") from None
    keep = None
    if dropout_p > 0:
        keep = (rng().random(scores_shape, dtype=q.dtype) >= dropout_p) \
            * q.dtype.type(1 / (1 - dropout_p))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    weights = [] if need_weights else None
    out = Attention.apply(q, k, v, float_mask, mask=mask, scale=scale, keep=keep,
                          weights=weights)
    return (out, Tensor(weights[0])) if need_weights else out


# ---------------------------------------------------------------- normalization and embedding


def _check_channels(op: str, x: Tensor, axis: int = -1, **stats) -> None:
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for inputs of shape {x.shape}.")
    for name, s in stats.items():
        if s is not None and tuple(s.shape) != (x.shape[axis],):
            raise ValueError(f"{op}: expected {name} of shape ({x.shape[axis]},) for inputs of "
                             f"shape {x.shape} (channel axis {axis}); received shape "
                             f"{tuple(s.shape)}.")


def _update_moving(moving, batch, momentum: float) -> None:
    """moving = moving * momentum + batch * (1 - momentum), in place (Keras' rule)."""
    arr = moving.data if isinstance(moving, Tensor) else moving
    arr[...] = arr * momentum + batch * (1 - momentum)


def _along(p, axis: int, ndim: int):
    """A per-channel (C,) array or tensor shaped to broadcast along ``axis`` of ndim axes."""
    axis %= ndim
    if axis == ndim - 1 or p is None:
        return p
    shape = (-1,) + (1,) * (ndim - 1 - axis)
    return p.reshape(*shape) if isinstance(p, Tensor) else np.reshape(p, shape)


def batch_norm(x, moving_mean=None, moving_var=None, gamma=None, beta=None,
               training: bool = False, momentum: float = 0.99,
               epsilon: float = 1e-3, axis: int = -1,
               synchronized: bool = False) -> Tensor:
    """Batch normalization over every axis but the channel ``axis``, Keras' conventions.

    x (..., C, ...) with C on ``axis`` (the last by default; 1 for channels-first);
    moving_mean, moving_var, gamma, beta (C,) or None -> y, x's shape.
    ``training``: y = gamma * (x - mean) / sqrt(var + epsilon) + beta with the batch
    mean and biased variance (one fused op), and the moving statistics, when given,
    are updated in place: moving = moving * momentum + batch * (1 - momentum).
    ``momentum`` is Keras' (torch's is 1 - momentum), and the moving variance takes
    the biased batch variance as Keras does (torch takes the unbiased one).
    Otherwise the moving statistics stand in for the batch's. ``synchronized``: in
    training, the statistics are the global batch's when the batch is spread over
    several processes (``cr.distributed``; the op ``SyncBatchNorm``).
    """
    x = as_tensor(x)
    _check_channels("batch_norm", x, axis, moving_mean=moving_mean, moving_var=moving_var,
                    gamma=gamma, beta=beta)
    if training:
        stats = {}
        op = SyncBatchNorm if synchronized and process_group.current().size > 1 else BatchNorm
        y = op.apply(x, gamma, beta, epsilon=epsilon, stats=stats, axis=axis)
        for moving, batch in ((moving_mean, stats["mean"]), (moving_var, stats["var"])):
            if moving is not None:
                _update_moving(moving, batch, momentum)
        return y
    if moving_mean is None or moving_var is None:
        raise ValueError("batch_norm: inference (training=False) needs moving_mean and "
                         "moving_var; received None.")
    mean, var = (s.data if isinstance(s, Tensor) else np.asarray(s)
                 for s in (moving_mean, moving_var))
    scale = 1.0 / np.sqrt(var + x.dtype.type(epsilon))
    if gamma is not None:
        scale = as_tensor(gamma) * scale
    y = (x - _along(mean.astype(x.dtype), axis, x.ndim)) * _along(scale, axis, x.ndim)
    return y if beta is None else y + _along(beta, axis, x.ndim)


def layer_norm(x, gamma=None, beta=None, epsilon: float = 1e-3) -> Tensor:
    """Layer normalization over the last axis (one fused op), Keras' default epsilon.

    x (..., C), gamma/beta (C,) or None -> y = gamma * (x - mean) / sqrt(var + epsilon)
    + beta, mean and biased var over C at each position.
    """
    return LayerNorm.apply(as_tensor(x), gamma, beta, epsilon=epsilon)


def embedding(ids, weight) -> Tensor:
    """Rows of ``weight`` (V, D) picked by integer ``ids`` (...) -> (..., D).

    Ids outside [0, V) raise IndexError; repeated ids accumulate gradient.
    """
    return Embedding.apply(as_tensor(weight), ids)


# ---------------------------------------------------------------- losses
# PyTorch order and semantics: loss(input, target). Integer class targets take the
# class axis 1 (axis 0 for a single sample of shape (C,)), as torch does.

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, fn: str) -> Tensor:
    """Apply torch's ``reduction``: "mean", "sum" or "none"."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"Invalid value for argument `reduction` of `{fn}`: expected one of "
                     f"{_REDUCTIONS}; received reduction={reduction!r}.")


def _float_target(target, like: Tensor):
    """A floating target in ``like``'s dtype: a Tensor stays one (its gradient flows)."""
    if isinstance(target, Tensor):
        if target.dtype == like.dtype:
            return target
        if target.dtype.kind == "f":
            return target.astype(like.dtype)
        return Tensor(target.data.astype(like.dtype))
    return np.asarray(target, dtype=like.dtype)


def _index_target(target) -> np.ndarray:
    """Class-index targets as an integer array."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    if target.dtype.kind not in "iu":
        raise TypeError(f"class-index targets must be integers; received dtype {target.dtype} "
                        f"(pass probabilities with the shape of the input instead).")
    return target


def _is_index_target(target) -> bool:
    dtype = target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    return dtype.kind in "iu"


def _class_axis(x: Tensor) -> int:
    return 0 if x.ndim == 1 else 1


def _weighted_class_loss(loss: Tensor, target: np.ndarray, weight, ignore_index: int,
                         reduction: str, fn: str) -> Tensor:
    """torch's reduction of per-sample losses for class-index targets: each scaled by
    ``weight[target]``, ``ignore_index`` entries by 0, and "mean" divided by the sum
    of those scales."""
    ignored = target == ignore_index
    if weight is None and not ignored.any():
        return _reduce(loss, reduction, fn)
    scale = np.ones(target.shape, loss.dtype) if weight is None else \
        np.asarray(weight.data if isinstance(weight, Tensor) else weight,
                   dtype=loss.dtype)[np.where(ignored, 0, target)]
    scale[ignored] = 0
    loss = loss * scale
    if reduction == "mean":
        return loss.sum() / scale.sum()
    return _reduce(loss, reduction, fn)


def _without_ignored(target: np.ndarray, ignore_index: int) -> np.ndarray:
    """Targets with ``ignore_index`` entries replaced by class 0 (their loss is zeroed)."""
    ignored = target == ignore_index
    return np.where(ignored, 0, target) if ignored.any() else target


def _pick_class(x: Tensor, index: np.ndarray, axis: int) -> Tensor:
    """x (..., C, ...) -> x[..., index, ...] with ``axis`` removed; ``index`` has x's shape
    without ``axis``. Differentiable (the gradient is scattered back)."""
    axis = axis % x.ndim
    grids = [np.arange(n).reshape((-1,) + (1,) * (index.ndim - k - 1))
             for k, n in enumerate(index.shape)]
    return x[(*grids[:axis], index, *grids[axis:])]


def cross_entropy(logits, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy, as ``torch.nn.functional.cross_entropy``.

    logits (N, C) or (N, C, d1, ...) or (C,); target: class indices (N,) / (N, d1, ...)
    / () or probabilities of the logits' shape. ``weight`` (C,) rescales classes; with
    index targets "mean" divides by the summed weights of the non-ignored targets.
    ``label_smoothing`` = e mixes the target with the uniform distribution over the C
    classes, (1 - e) target + e / C, torch's definition (with index targets and
    ``weight``, each class's share is weighted too, and "mean" still divides by the
    summed weights of the targets).
    """
    logits = as_tensor(logits)
    axis = _class_axis(logits)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"Invalid value for argument `label_smoothing` of `cross_entropy`: "
                         f"expected a float in [0, 1]; received label_smoothing="
                         f"{label_smoothing}.")
    if _is_index_target(target):
        target = _index_target(target)
        if label_smoothing:
            return _smoothed_cross_entropy(logits, target, weight, ignore_index, reduction,
                                           label_smoothing, axis)
        loss = SoftmaxCrossEntropy.apply(logits, _without_ignored(target, ignore_index),
                                         axis=axis)
        return _weighted_class_loss(loss, target, weight, ignore_index, reduction,
                                    "cross_entropy")
    target = _float_target(target, logits)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / logits.shape[axis]
    if weight is not None:
        target = target * _class_weights(weight, logits, axis)
    return _reduce(SoftmaxCrossEntropy.apply(logits, target, axis=axis), reduction,
                   "cross_entropy")


def _class_weights(weight, logits: Tensor, axis: int) -> np.ndarray:
    """``weight`` (C,) shaped to broadcast along the class axis of ``logits``."""
    shape = [1] * logits.ndim
    shape[axis] = -1
    return np.asarray(weight.data if isinstance(weight, Tensor) else weight,
                      logits.dtype).reshape(shape)


def _smoothed_cross_entropy(logits: Tensor, target: np.ndarray, weight, ignore_index: int,
                            reduction: str, smoothing: float, axis: int) -> Tensor:
    """Index targets with label smoothing, as torch: one fused cross-entropy against the
    distribution t = (1 - e) onehot(y) w[y] + (e / C) w (zero for ignored targets), so
    the loss is (1 - e) w[y] (-log p_y) + (e / C) sum_c w_c (-log p_c); "mean" divides
    by the summed w[y] of the non-ignored targets (their count without ``weight``)."""
    n_classes = logits.shape[axis]
    ignored = target == ignore_index
    clean = np.expand_dims(_without_ignored(target, ignore_index), axis)
    w = np.ones([n_classes if a == axis else 1 for a in range(logits.ndim)], logits.dtype) \
        if weight is None else _class_weights(weight, logits, axis)
    picked = np.take_along_axis(np.broadcast_to(w, logits.shape), clean, axis)  # w[y]
    classes = np.arange(n_classes).reshape(w.shape)
    soft = (classes == clean) * (picked * (1 - smoothing)) + w * (smoothing / n_classes)
    soft *= ~np.expand_dims(ignored, axis)
    loss = SoftmaxCrossEntropy.apply(logits, soft.astype(logits.dtype), axis=axis)
    if reduction == "mean":
        return loss.sum() / np.where(ignored, 0, np.squeeze(picked, axis)).sum()
    return _reduce(loss, reduction, "cross_entropy")


def nll_loss(log_probs, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices, as ``torch.nn.functional.nll_loss``.

    log_probs (N, C) or (N, C, d1, ...) or (C,); target (N,) / (N, d1, ...) / () integers;
    loss = -log_probs[target] (scaled by ``weight[target]``).
    """
    log_probs = as_tensor(log_probs)
    target = _index_target(target)
    picked = _pick_class(log_probs, _without_ignored(target, ignore_index),
                             _class_axis(log_probs))
    return _weighted_class_loss(-picked, target, weight, ignore_index, reduction, "nll_loss")


def _weighted(loss: Tensor, weight) -> Tensor:
    return loss if weight is None else loss * _float_target(weight, loss)


def binary_cross_entropy(probs, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) on probabilities, as torch (logs clamped at -100,
    so p of exactly 0 or 1 is finite). probs and target have the same shape."""
    probs = as_tensor(probs)
    if probs.size and (probs.data.min() < 0 or probs.data.max() > 1):
        raise ValueError(f"binary_cross_entropy: every input must be a probability in [0, 1]; "
                         f"received values in [{probs.data.min()}, {probs.data.max()}] (for "
                         f"logits use binary_cross_entropy_with_logits).")
    loss = BinaryCrossEntropy.apply(probs, _float_target(target, probs))
    return _reduce(_weighted(loss, weight), reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of sigmoid(logits), fused and stable for any finite logit.

    loss = max(x, 0) - x t + log(1 + e**-|x|); with ``pos_weight`` (torch's formula)
    loss = (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x).
    """
    logits = as_tensor(logits)
    target = _float_target(target, logits)
    if pos_weight is None:
        loss = SigmoidBinaryCrossEntropy.apply(logits, target)
    else:
        softplus_neg = SigmoidBinaryCrossEntropy.apply(logits, np.ones(logits.shape,
                                                                       logits.dtype))
        log_weight = (_float_target(pos_weight, logits) - 1) * target + 1
        loss = (1 - target) * logits + log_weight * softplus_neg
    return _reduce(_weighted(loss, weight), reduction, "binary_cross_entropy_with_logits")


def _difference(input, target, fn: str) -> Tensor:
    """input - target; differing shapes broadcast with torch's warning."""
    input = as_tensor(input)
    target = _float_target(target, input)
    shape = target.shape
    if shape != input.shape:
        warnings.warn(f"{fn}: target size {shape} differs from input size "
                      f"{input.shape}; they will be broadcast, which is probably not what "
                      f"you want (as in torch).", UserWarning, stacklevel=3)
    return input - target


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """(input - target)**2, reduced."""
    return _reduce(_difference(input, target, "mse_loss").square(), reduction, "mse_loss")


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced."""
    return _reduce(_difference(input, target, "l1_loss").abs(), reduction, "l1_loss")


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d**2 where |d| <= delta, else delta (|d| - delta / 2), with d = input - target.

    Written as 0.5 q**2 + delta (|d| - q) with q = min(|d|, delta): one expression,
    the gradient d inside and delta sign(d) outside.
    """
    if delta <= 0:
        raise ValueError(f"Invalid value for argument `delta` of `huber_loss`: expected a "
                         f"positive float; received delta={delta}.")
    a = _difference(input, target, "huber_loss").abs()
    q = a.minimum(delta)
    return _reduce(0.5 * q.square() + delta * (a - q), reduction, "huber_loss")
