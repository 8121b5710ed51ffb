"""Arithmetic: + - * / ** unary minus, and the elementwise choosers max/min/where/clip.

Binary ops broadcast like NumPy; ``unbroadcast`` sums each gradient back to its
input's shape. At a tie, ``Maximum``/``Minimum`` send the gradient to the first
input, and ``Clip`` lets it through at the bounds (as ``torch.clamp``).
"""

import numpy as np

from ..autograd import Function, unbroadcast


class Add(Function):
    """z = x + y;  dz/dx = 1,  dz/dy = 1."""

    def forward(self, x, y):
        self.shapes = np.shape(x), np.shape(y)
        return x + y

    def backward(self, grad):
        sx, sy = self.shapes
        return unbroadcast(grad, sx), unbroadcast(grad, sy)


class Sub(Function):
    """z = x - y;  dz/dx = 1,  dz/dy = -1."""

    def forward(self, x, y):
        self.shapes = np.shape(x), np.shape(y)
        return x - y

    def backward(self, grad):
        sx, sy = self.shapes
        gy = unbroadcast(-grad, sy) if self.needs_input_grad[1] else None
        return unbroadcast(grad, sx), gy


class Mul(Function):
    """z = x * y;  dz/dx = y,  dz/dy = x."""

    def forward(self, x, y):
        needs_x, needs_y = self.needs_input_grad or (True, True)
        self.shapes = np.shape(x), np.shape(y)
        self.save_for_backward(y if needs_x else None, x if needs_y else None)
        return x * y

    def backward(self, grad):
        y, x = self.saved
        sx, sy = self.shapes
        gx = unbroadcast(grad * y, sx) if self.needs_input_grad[0] else None
        gy = unbroadcast(grad * x, sy) if self.needs_input_grad[1] else None
        return gx, gy


class Div(Function):
    """z = x / y;  dz/dx = 1 / y,  dz/dy = -x / y**2 = -z / y."""

    def forward(self, x, y):
        z = x / y
        self.shapes = np.shape(x), np.shape(y)
        self.save_for_backward(y, z if len(self.needs_input_grad) < 2
                               or self.needs_input_grad[1] else None)
        return z

    def backward(self, grad):
        y, z = self.saved
        sx, sy = self.shapes
        gx = unbroadcast(grad / y, sx) if self.needs_input_grad[0] else None
        gy = unbroadcast(-grad * z / y, sy) if self.needs_input_grad[1] else None
        return gx, gy


class Neg(Function):
    """z = -x;  dz/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Pow(Function):
    """z = x ** y;  dz/dx = y * x**(y-1),  dz/dy = z * log(x)."""

    def forward(self, x, y):
        z = x**y
        self.save_for_backward(x, y, z)
        return z

    def backward(self, grad):
        x, y, z = self.saved
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = unbroadcast(grad * y * x ** (y - 1), np.shape(x))
        if self.needs_input_grad[1]:
            gy = unbroadcast(grad * z * np.log(x), np.shape(y))
        return gx, gy


class Maximum(Function):
    """z = max(x, y) elementwise;  the gradient goes to x where x >= y, else to y."""

    def forward(self, x, y):
        self.x_wins = x >= y
        self.shapes = np.shape(x), np.shape(y)
        return np.maximum(x, y)

    def backward(self, grad):
        sx, sy = self.shapes
        return (unbroadcast(np.where(self.x_wins, grad, 0), sx),
                unbroadcast(np.where(self.x_wins, 0, grad), sy))


class Minimum(Function):
    """z = min(x, y) elementwise;  the gradient goes to x where x <= y, else to y."""

    def forward(self, x, y):
        self.x_wins = x <= y
        self.shapes = np.shape(x), np.shape(y)
        return np.minimum(x, y)

    def backward(self, grad):
        sx, sy = self.shapes
        return (unbroadcast(np.where(self.x_wins, grad, 0), sx),
                unbroadcast(np.where(self.x_wins, 0, grad), sy))


class Where(Function):
    """z = x where condition else y;  dz/dx = condition,  dz/dy = not condition."""

    def forward(self, condition, x, y):
        self.condition = condition
        self.shapes = np.shape(x), np.shape(y)
        return np.where(condition, x, y)

    def backward(self, grad):
        sx, sy = self.shapes
        return (None, unbroadcast(np.where(self.condition, grad, 0), sx),
                unbroadcast(np.where(self.condition, 0, grad), sy))


class Clip(Function):
    """z = min(max(x, low), high);  dz/dx = 1 where low <= x <= high, else 0."""

    def forward(self, x, low=None, high=None):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.inside = inside
        return np.clip(x, low, high)

    def backward(self, grad):
        return grad * self.inside
