"""Elementwise math: exp, log, sqrt, abs, and a change of floating dtype."""

import numpy as np

from ..autograd import Function


class Exp(Function):
    """z = e**x;  dz/dx = z."""

    def forward(self, x):
        z = np.exp(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return grad * z


class Log(Function):
    """z = ln x;  dz/dx = 1 / x."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad / x


class Sqrt(Function):
    """z = sqrt(x);  dz/dx = 1 / (2 z)."""

    def forward(self, x):
        z = np.sqrt(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return grad / (2 * z)


class Abs(Function):
    """z = |x|;  dz/dx = sign(x) (0 at x = 0, as torch)."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, grad):
        (x,) = self.saved
        return grad * np.sign(x)


class Cast(Function):
    """z = x in another floating dtype;  dz/dx = 1 (the gradient cast back)."""

    def forward(self, x, dtype):
        self.input_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.input_dtype)
