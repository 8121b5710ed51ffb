"""Matrix multiplication (batched and broadcasting, as ``np.matmul``) and the dense
layer's fused ``x @ kernel + bias``."""

import numpy as np

from ..autograd import Function, unbroadcast
from .activation import check_fused_activation, relu_backward


class MatMul(Function):
    """Z = X @ Y;  dX = G @ Y^T,  dY = X^T @ G  (1-D operands promoted as in NumPy)."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return np.matmul(x, y)

    def backward(self, grad):
        x, y = self.saved
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        # the gradient with the axes that 1-D promotion removed put back (vector @ vector: 1x1)
        grad = np.reshape(grad, np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2])
                          + (x2.shape[-2], y2.shape[-1]))
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = unbroadcast(np.matmul(grad, np.swapaxes(y2, -1, -2)), x2.shape).reshape(x.shape)
        if self.needs_input_grad[1]:
            if y2.ndim == 2 and x2.ndim > 2:  # shared weight: one GEMM over all batch rows
                gy = x2.reshape(-1, x2.shape[-1]).T @ grad.reshape(-1, grad.shape[-1])
            else:
                gy = unbroadcast(np.matmul(np.swapaxes(x2, -1, -2), grad), y2.shape)
            gy = gy.reshape(y.shape)
        return gx, gy


class Linear(Function):
    """y = x @ W + b over the last axis;  dx = g W^T,  dW = x^T g,  db = sum of g.

    Fused for ``Dense``: one graph node and one output array instead of two (the
    matmul's result would otherwise be kept alive until backward), which matters
    for small layers where each node's bookkeeping costs more than the arithmetic.
    x (..., in), W (in, out), b (out,) or None -> (..., out). ``activation="relu"``
    applies max(y, 0) in place (a ``Dense(activation="relu")`` runs this way): no
    second output array and no second node.
    """

    @classmethod
    def apply(cls, x, kernel, bias=None, activation=None):
        check_fused_activation(activation, cls.__name__)
        return super().apply(x, kernel, bias, activation=activation)

    def forward(self, x, kernel, bias=None, activation=None):
        # (..., in) as one (rows, in) matrix: one GEMM. np.matmul on a stack of
        # matrices against one kernel ran 7x slower ((32, 64, 128) @ (128, 512), float32).
        y = np.matmul(x.reshape(-1, x.shape[-1]), kernel) if x.ndim > 2 else np.matmul(x, kernel)
        if bias is not None:
            y += bias
        if activation == "relu":
            np.maximum(y, 0, out=y)
        self.save_for_backward(x, kernel, y if activation == "relu" else None)
        return y.reshape(*x.shape[:-1], kernel.shape[-1]) if x.ndim > 2 else y

    def backward(self, grad):
        x, kernel, out = self.saved
        if out is not None:  # the fused ReLU: no gradient where its output is 0
            grad = relu_backward(grad.reshape(out.shape), out)
        rows = grad.reshape(-1, grad.shape[-1])
        gx = None
        if self.needs_input_grad[0]:
            gx = (rows @ kernel.T).reshape(x.shape) if x.ndim > 2 else np.matmul(grad, kernel.T)
        gw = x.reshape(-1, x.shape[-1]).T @ rows if self.needs_input_grad[1] else None
        gb = None
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = np.ones(len(rows), dtype=rows.dtype) @ rows  # a GEMV beats sum(axis=0)
        return gx, gw, gb
