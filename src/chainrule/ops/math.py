"""Elementwise math: exp, log, sqrt, abs."""

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
