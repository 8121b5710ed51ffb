"""Stochastic gradient descent, with PyTorch's momentum, dampening and Nesterov rule."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * d, PyTorch's rule:

    g = grad + weight_decay p;  b = momentum b + (1 - dampening) g  (b = g at the first
    step);  d = g + momentum b with ``nesterov``, else b (g when momentum is 0).
    """

    def __init__(self, params=None, lr: float = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 learning_rate: float | None = None):
        super().__init__(params, lr, learning_rate, momentum=momentum, dampening=dampening,
                         nesterov=bool(nesterov), weight_decay=weight_decay)
        self._check(momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0; "
                             f"received momentum={momentum}, dampening={dampening}.")

    def _buffers(self) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if self.momentum else {}

    def _direction(self, g: np.ndarray, state: dict, step: int,
                   out: np.ndarray) -> np.ndarray:
        if self.momentum:
            buf = state["momentum_buffer"]
            if step == 1:
                buf[...] = g
            else:
                buf *= self.momentum
                if self.dampening:
                    g_part = np.multiply(g, 1 - self.dampening, out=out)
                    buf += g_part
                else:
                    buf += g
            if self.nesterov:
                np.multiply(buf, self.momentum, out=out)
                out += g
                g = out
            else:
                g = buf
        return np.multiply(g, self.lr, out=out)
