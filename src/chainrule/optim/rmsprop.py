"""RMSprop: steps scaled by a moving average of the squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """PyTorch's rule, per parameter p with gradient g:

    g = g + weight_decay p;  v = alpha v + (1 - alpha) g**2;  v~ = v, or with ``centered``
    m = alpha m + (1 - alpha) g and v~ = v - m**2;  d = g / (sqrt(v~) + eps);
    with momentum b = momentum b + d and p = p - lr b, else p = p - lr d.
    """

    def __init__(self, params=None, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 learning_rate: float | None = None):
        super().__init__(params, lr, learning_rate, alpha=alpha, eps=eps,
                         weight_decay=weight_decay, momentum=momentum, centered=bool(centered))
        self._check(alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)

    def _buffers(self) -> dict[str, float]:
        names = ["square_avg"]
        if self.momentum > 0:
            names.append("momentum_buffer")
        if self.centered:
            names.append("grad_avg")
        return dict.fromkeys(names, 0.0)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        alpha = self.alpha
        if self.weight_decay:
            g = g + self.weight_decay * p
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * np.square(g)
        if self.centered:
            m = state["grad_avg"]
            m *= alpha
            m += (1 - alpha) * g
            v = v - m * m
        d = g / (np.sqrt(v) + self.eps)
        if self.momentum > 0:
            b = state["momentum_buffer"]
            b *= self.momentum
            b += d
            d = b
        p -= self.lr * d
