"""Adam and AdamW: steps from bias-corrected moving averages of the gradient and its square."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """PyTorch's rule: g = grad + weight_decay p (L2);  m = b1 m + (1 - b1) g;
    v = b2 v + (1 - b2) g**2 (v = max of all v so far with ``amsgrad``);
    p -= lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)."""

    flat_max_size = 131_072  # more ufuncs per array than SGD: flat wins up to ~200k

    def __init__(self, params=None, lr: float = 0.001, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 learning_rate: float | None = None):
        betas = tuple(float(b) for b in betas)
        super().__init__(params, lr, learning_rate, betas=betas, eps=eps,
                         weight_decay=weight_decay, amsgrad=bool(amsgrad))
        self._check(eps=eps, weight_decay=weight_decay)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Invalid value for argument `betas` of `{type(self).__name__}`: "
                             f"expected two floats in [0, 1); received betas={betas}.")

    def _buffers(self) -> dict[str, float]:
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")[:3 if self.amsgrad else 2]
        return dict.fromkeys(names, 0.0)

    def _direction(self, g: np.ndarray, state: dict, step: int,
                   out: np.ndarray) -> np.ndarray:
        beta1, beta2 = self.betas
        m, v = state["exp_avg"], state["exp_avg_sq"]
        np.subtract(g, m, out=out)  # m.lerp_(g, 1 - beta1), as torch
        out *= 1 - beta1
        m += out
        np.multiply(g, g, out=out)
        out *= 1 - beta2
        v *= beta2
        v += out
        if self.amsgrad:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        np.sqrt(v, out=out)
        out /= math.sqrt(1 - beta2**step)
        out += self.eps
        np.divide(m, out, out=out)
        out *= self.lr / (1 - beta1**step)
        return out


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's rule): p *= 1 - lr weight_decay, then
    the Adam step on the raw gradient."""

    decoupled_weight_decay = True

    def __init__(self, params=None, lr: float = 0.001, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False,
                 learning_rate: float | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, learning_rate)
