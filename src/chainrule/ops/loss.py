"""Fused losses: softmax + cross-entropy, sigmoid + binary cross-entropy, and binary
cross-entropy on probabilities with PyTorch's clamped logs.

Fusing the activation into the loss is stabler and faster than composing the two:
the log of a saturated softmax or sigmoid is computed from the logits (never
``log(0)``), so logits of +-1e4 give finite losses and gradients, and the backward
is one expression, ``softmax - target``, instead of a softmax Jacobian product
followed by a division by the probabilities.
"""

import numpy as np

from ..autograd import Function, ShapeError

# PyTorch's limits for binary cross-entropy on probabilities.
LOG_CLAMP = -100.0
BCE_GRAD_EPS = float(np.float32(1e-12))  # torch's EPSILON, a float32 1e-12


def bce_grad_floor(dtype) -> float:
    """The floor of p (1 - p) in the gradient: torch's 1e-12, or the smallest normal
    number of ``dtype`` where 1e-12 would underflow to 0 (float16: 6.1e-5), so that p of
    exactly 0 or 1 gives a finite gradient."""
    return max(BCE_GRAD_EPS, float(np.finfo(dtype).tiny))


def _check_same_shape(op: str, x: np.ndarray, target: np.ndarray) -> None:
    if x.shape != target.shape:
        raise ShapeError(f"{op}: target of shape {target.shape} does not match the input of "
                         f"shape {x.shape}; they must be equal.")


def _check_class_indices(target: np.ndarray, shape: tuple, axis: int) -> None:
    """Integer targets have the logits' shape without the class axis, values in [0, C)."""
    expected = shape[:axis] + shape[axis + 1:]
    if target.shape != expected:
        raise ShapeError(f"SoftmaxCrossEntropy: integer targets for logits of shape {shape} "
                         f"(classes on axis {axis}) must have shape {expected}; received "
                         f"{target.shape}.")
    n_classes = shape[axis]
    if target.size and (target.min() < 0 or target.max() >= n_classes):
        bad = target[(target < 0) | (target >= n_classes)].flat[0]
        raise IndexError(f"SoftmaxCrossEntropy: target {bad} is out of bounds for "
                         f"{n_classes} classes (expected 0 <= target < {n_classes}).")


class SoftmaxCrossEntropy(Function):
    """Per-sample cross-entropy of softmax(x) along ``axis``.

    Integer targets y:      loss = logsumexp(x) - x[y];  dx = (softmax(x) - onehot(y)) g.
    Probability targets p:  loss = -sum(p log_softmax(x));
                            dx = (softmax(x) sum(p) - p) g,  dp = -log_softmax(x) g.
    Fused for stability (max subtracted, no log of a probability) and speed (one
    backward expression instead of softmax's Jacobian product).
    """

    def forward(self, logits, target, axis=-1):
        if logits.ndim == 0:
            raise ShapeError("SoftmaxCrossEntropy: logits must have a class axis; received a "
                             "0-d array.")
        axis = self.axis = axis % logits.ndim
        shifted = logits - logits.max(axis=axis, keepdims=True)
        probs = np.exp(shifted)
        total = probs.sum(axis=axis, keepdims=True)
        lse = np.log(total)
        probs /= total
        if target.dtype.kind in "iu":
            _check_class_indices(target, logits.shape, axis)
            index = np.expand_dims(target, axis)
            self.save_for_backward(probs, index)
            return np.squeeze(lse - np.take_along_axis(shifted, index, axis), axis)
        if target.dtype.kind != "f":
            raise TypeError(f"SoftmaxCrossEntropy: targets must be integer class indices or "
                            f"floating probabilities; received dtype {target.dtype}.")
        _check_same_shape("SoftmaxCrossEntropy", logits, target)
        log_probs = shifted
        log_probs -= lse
        self.save_for_backward(probs, log_probs, target)
        return -(target * log_probs).sum(axis=axis)

    def backward(self, grad):
        g = np.expand_dims(grad, self.axis)
        if len(self.saved) == 2:
            probs, index = self.saved
            dx = probs * g
            picked = np.take_along_axis(dx, index, self.axis)
            np.put_along_axis(dx, index, picked - g, self.axis)
            return dx, None
        probs, log_probs, target = self.saved
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = probs * target.sum(axis=self.axis, keepdims=True)
            dx -= target
            dx *= g
        if self.needs_input_grad[1]:
            dt = -log_probs * g
        return dx, dt


class SigmoidBinaryCrossEntropy(Function):
    """Elementwise binary cross-entropy of sigmoid(x) against t.

    loss = max(x, 0) - x t + log(1 + e**-|x|);  dx = (sigmoid(x) - t) g,  dt = -x g.
    Fused so that saturated logits (|x| = 1e4) never take the log of 0.
    """

    def forward(self, logits, target):
        _check_same_shape("SigmoidBinaryCrossEntropy", logits, target)
        e = np.exp(-np.abs(logits))
        self.save_for_backward(logits, target, e)
        loss = np.maximum(logits, 0)
        loss -= logits * target
        loss += np.log1p(e)
        return loss

    def backward(self, grad):
        x, t, e = self.saved
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = np.where(x >= 0, 1, e)  # sigmoid(x) = dx / (1 + e), without overflow
            dx /= 1 + e
            dx -= t
            dx *= grad
        if self.needs_input_grad[1]:
            dt = -x * grad
        return dx, dt


class BinaryCrossEntropy(Function):
    """Elementwise binary cross-entropy of probabilities p against t, as PyTorch.

    loss = -(t log p + (1 - t) log(1 - p)), each log clamped at -100;
    dp = (p - t) / max(p (1 - p), floor) g,  dt = (log(1 - p) - log p) g (clamped logs),
    floor = 1e-12 (float16: its smallest normal number, see ``bce_grad_floor``).
    Fused so that probabilities of exactly 0 or 1 give finite values and gradients
    (composed ops would multiply an infinite derivative by zero).
    """

    def forward(self, p, target):
        _check_same_shape("BinaryCrossEntropy", p, target)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), LOG_CLAMP)
            log_q = np.maximum(np.log1p(-p), LOG_CLAMP)
        self.save_for_backward(p, target, log_p, log_q)
        loss = (target - 1) * log_q
        loss -= target * log_p
        return loss

    def backward(self, grad):
        p, t, log_p, log_q = self.saved
        dp = dt = None
        if self.needs_input_grad[0]:
            dp = p - t
            dp /= np.maximum(p * (1 - p), p.dtype.type(bce_grad_floor(p.dtype)))
            dp *= grad
        if self.needs_input_grad[1]:
            dt = log_q - log_p
            dt *= grad
        return dp, dt
