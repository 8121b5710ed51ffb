"""Matrix multiplication (batched and broadcasting, as ``np.matmul``)."""

import numpy as np

from ..autograd import Function, unbroadcast


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
