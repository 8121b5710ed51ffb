"""Activations and the softmax family, each numerically stable for large inputs.

sigmoid(x) = exp(-log(1 + e**-x)) never overflows; softmax, log_softmax and
logsumexp subtract the maximum first, so inputs of +-1e4 give finite values and
gradients.
"""

import math

import numpy as np

from ..autograd import Function


class Sigmoid(Function):
    """s = 1 / (1 + e**-x);  ds/dx = s (1 - s)."""

    def forward(self, x):
        s = np.exp(-np.logaddexp(0, -x))
        self.save_for_backward(s)
        return s

    def backward(self, grad):
        (s,) = self.saved
        return grad * s * (1 - s)


class Tanh(Function):
    """t = tanh(x);  dt/dx = 1 - t**2."""

    def forward(self, x):
        t = np.tanh(x)
        self.save_for_backward(t)
        return t

    def backward(self, grad):
        (t,) = self.saved
        return grad * (1 - t * t)


class Relu(Function):
    """r = max(x, 0);  dr/dx = 1 where x > 0, else 0 (0 at x = 0)."""

    def forward(self, x):
        r = np.maximum(x, 0)
        self.save_for_backward(r)
        return r

    def backward(self, grad):
        (r,) = self.saved
        return relu_backward(grad, r)


def relu_backward(grad: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The gradient through r = max(x, 0) given its output r: grad where r > 0, else 0."""
    return grad * (r > 0)


def check_fused_activation(activation, op: str) -> None:
    """An op that can apply an activation to its own output takes None or "relu"."""
    if activation not in (None, "relu"):
        raise ValueError(f"Invalid value for argument `activation` of `{op}`: expected "
                         f"None or \"relu\"; received activation={activation!r}.")


class LeakyRelu(Function):
    """y = x if x > 0 else alpha x;  dy/dx = 1 or alpha."""

    def forward(self, x, alpha=0.01):
        self.alpha = alpha
        self.positive = x > 0
        return np.where(self.positive, x, alpha * x)

    def backward(self, grad):
        return np.where(self.positive, grad, self.alpha * grad)


class Elu(Function):
    """y = x if x > 0 else alpha (e**x - 1);  dy/dx = 1 or y + alpha."""

    def forward(self, x, alpha=1.0):
        self.alpha = alpha
        self.positive = x > 0
        y = np.where(self.positive, x, alpha * np.expm1(np.minimum(x, 0)))
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return np.where(self.positive, grad, grad * (y + self.alpha))


class Gelu(Function):
    """Gaussian error linear unit, tanh form (torch ``approximate="tanh"``).

    y = x/2 (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x**3);
    dy/dx = (1 + t)/2 + x/2 (1 - t**2) sqrt(2/pi) (1 + 3 * 0.044715 x**2).
    """

    C = math.sqrt(2 / math.pi)

    def forward(self, x):
        t = np.tanh(self.C * (x + 0.044715 * x**3))
        self.save_for_backward(x, t)
        return 0.5 * x * (1 + t)

    def backward(self, grad):
        x, t = self.saved
        du = self.C * (1 + 3 * 0.044715 * x * x)
        return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)


class Softmax(Function):
    """s = e**x / sum(e**x) along ``axis``;  dx = s * (g - sum(g * s))."""

    def forward(self, x, axis=-1):
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        s = e / e.sum(axis=axis, keepdims=True)
        self.save_for_backward(s)
        return s

    def backward(self, grad):
        (s,) = self.saved
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``;  dx = g - softmax(x) * sum(g)."""

    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return grad - np.exp(y) * grad.sum(axis=self.axis, keepdims=True)


class LogSumExp(Function):
    """y = log(sum(e**x)) along ``axis``;  dy/dx = softmax(x)."""

    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        m = x.max(axis=axis, keepdims=True)
        y = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
        self.save_for_backward(x, y)
        return y if keepdims else np.squeeze(y, axis=axis)

    def backward(self, grad):
        x, y = self.saved
        if not self.keepdims:
            grad = np.reshape(grad, y.shape)
        return grad * np.exp(x - y)
