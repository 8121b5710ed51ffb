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

    def _buffers(self) -> dict[str, float]:
        names = ["square_avg"]
        if self.momentum > 0:
            names.append("momentum_buffer")
        if self.centered:
            names.append("grad_avg")
        return dict.fromkeys(names, 0.0)

    def _direction(self, g: np.ndarray, state: dict, step: int,
                   out: np.ndarray) -> np.ndarray:
        rate = 1 - self.alpha
        v = state["square_avg"]
        np.multiply(g, g, out=out)
        out *= rate
        v *= self.alpha
        v += out
        if self.centered:
            m = state["grad_avg"]
            np.subtract(g, m, out=out)  # m.lerp_(g, 1 - alpha), as torch
            out *= rate
            m += out
            np.multiply(m, m, out=out)
            np.subtract(v, out, out=out)
            np.sqrt(out, out=out)
        else:
            np.sqrt(v, out=out)
        out += self.eps
        np.divide(g, out, out=out)
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += out
            np.multiply(buf, self.lr, out=out)
        else:
            out *= self.lr
        return out
