"""RMSprop: steps scaled by a moving average of the squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """PyTorch's rule: g = grad + weight_decay p;  v = alpha v + (1 - alpha) g**2;
    with ``centered`` m = alpha m + (1 - alpha) g and v' = v - m**2, else v' = v;
    d = g / (sqrt(v') + eps);  b = momentum b + d and p -= lr b with momentum,
    else p -= lr d."""

    def __init__(self, params=None, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 learning_rate: float | None = None):
        super().__init__(params, lr, learning_rate, alpha=alpha, eps=eps,
                         weight_decay=weight_decay, momentum=momentum, centered=bool(centered))
        self._check(alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)

    def _init_state(self, p: np.ndarray) -> dict:
        state = {"square_avg": np.zeros_like(p)}
        if self.momentum > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        if self.centered:
            state["grad_avg"] = np.zeros_like(p)
        return state

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        state["step"] += 1
        g = self._decayed(p, g)
        rate = 1 - self.alpha
        v = state["square_avg"]
        tmp = np.multiply(g, g)
        tmp *= rate
        v *= self.alpha
        v += tmp
        if self.centered:
            m = state["grad_avg"]
            np.subtract(g, m, out=tmp)  # m.lerp_(g, 1 - alpha), as torch
            tmp *= rate
            m += tmp
            np.multiply(m, m, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += tmp
            np.multiply(buf, self.lr, out=tmp)
        else:
            tmp *= self.lr
        p -= tmp
