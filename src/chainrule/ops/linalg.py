"""Matrix multiplication (batched and broadcasting, as ``np.matmul``) and the dense
layer's fused ``x @ kernel + bias``."""

import functools

import numpy as np

from ..autograd import Function, unbroadcast
from ..backend import batch_workers, parallel_map
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

    x is one (rows, in) matrix: one GEMM (np.matmul on a stack of matrices against
    one kernel ran 7x slower, (32, 64, 128) @ (128, 512) float32). With several batch
    workers, at least SPLIT_ROWS rows for each, a kernel of at most SPLIT_KERNEL
    entries and at least SPLIT_WORK multiply-adds, the rows are cut into one block per
    worker, each a single-threaded GEMM (bias and ReLU on its block while in cache) on
    ``backend.parallel_map``; dW and db add the blocks' shares. On 2 cores that beat
    OpenBLAS' own threads in the Transformer block (docs/performance.md).
    """

    @classmethod
    def apply(cls, x, kernel, bias=None, activation=None):
        check_fused_activation(activation, cls.__name__)
        return super().apply(x, kernel, bias, activation=activation)

    def forward(self, x, kernel, bias=None, activation=None):
        rows = x.reshape(-1, x.shape[-1])
        y = np.empty((len(rows), kernel.shape[-1]), dtype=np.result_type(rows, kernel))

        def multiply(part):
            block = np.matmul(rows[part], kernel, out=y[part])
            if bias is not None:
                block += bias
            if activation == "relu":
                np.maximum(block, 0, out=block)

        self.parts = row_blocks(len(rows), kernel.size)
        parallel_map(multiply, self.parts)
        self.save_for_backward(x, kernel, y if activation == "relu" else None)
        return y.reshape(*x.shape[:-1], kernel.shape[-1])

    def backward(self, grad):
        x, kernel, out = self.saved
        rows, grads = x.reshape(-1, x.shape[-1]), grad.reshape(-1, grad.shape[-1])
        needs_x, needs_kernel = self.needs_input_grad[:2]
        needs_bias = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        gx = np.empty(rows.shape, dtype=np.result_type(grads, kernel)) if needs_x else None

        def backpropagate(part):
            g = grads[part] if out is None else relu_backward(grads[part], out[part])
            if needs_x:
                np.matmul(g, kernel.T, out=gx[part])
            # db as a GEMV against ones: faster than sum(axis=0)
            return (rows[part].T @ g if needs_kernel else None,
                    np.ones(len(g), dtype=g.dtype) @ g if needs_bias else None)

        shares = parallel_map(backpropagate, self.parts)
        gw, gb = (functools.reduce(np.add, s) if s[0] is not None else None
                  for s in zip(*shares))
        return None if gx is None else gx.reshape(x.shape), gw, gb


SPLIT_ROWS = 256  # rows per batch worker from which Linear splits its GEMMs over the workers
SPLIT_KERNEL = 2**16  # ... when its kernel has at most this many entries (in * out)
SPLIT_WORK = 2**24  # ... and the GEMM at least this many multiply-adds (rows * in * out)


def row_blocks(rows: int, kernel_size: int = 0) -> list:
    """One slice of the rows per batch worker when each gets SPLIT_ROWS or more and the
    kernel has at most SPLIT_KERNEL entries but the GEMM SPLIT_WORK multiply-adds; else
    the whole as one block (run inline by parallel_map). Larger kernels keep OpenBLAS'
    own threads: on the MLP 784-512-256-10 (kernels of 401k and 131k entries) they were
    8-15% faster than the split at 2 threads; smaller GEMMs (its 256 x 10 head) do not
    pay for the hand-off."""
    if rows < 2 * SPLIT_ROWS or kernel_size > SPLIT_KERNEL or rows * kernel_size < SPLIT_WORK:
        return [slice(None)]
    workers = batch_workers()
    if workers <= 1 or rows < workers * SPLIT_ROWS:
        return [slice(None)]
    step = -(-rows // workers)
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]
