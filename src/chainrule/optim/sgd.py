"""Stochastic gradient descent, with PyTorch's momentum, dampening and Nesterov rule."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class SGD(Optimizer):
    """PyTorch's rule, per parameter p with gradient g at step t:

    g = g + weight_decay p;  b = g at t = 1, else b = momentum b + (1 - dampening) g;
    g = g + momentum b with ``nesterov``, else b (when momentum > 0);  p = p - lr g.
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

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            b = state["momentum_buffer"]
            if state["step"] == 1:
                b[...] = g
            else:
                b *= self.momentum
                b += (1 - self.dampening) * g if self.dampening else g
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g
