"""Adam and AdamW: steps from bias-corrected moving averages of the gradient and its square."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adam(Optimizer):
    """PyTorch's rule (Kingma & Ba), per parameter p with gradient g at step t:

    g = g + weight_decay p (L2; with ``decoupled_weight_decay``, as AdamW, instead
    p = p - lr weight_decay p);
    m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g**2  (with ``amsgrad`` the running
    maximum of v stands for v below);  m_hat = m / (1 - b1**t);  v_hat = v / (1 - b2**t);
    p = p - lr m_hat / (sqrt(v_hat) + eps).
    """

    decoupled_weight_decay = False  # True in AdamW; torch's Adam argument of that name

    def __init__(self, params=None, lr: float = 0.001, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 learning_rate: float | None = None, *, decoupled_weight_decay: bool = False):
        rule = {"decoupled_weight_decay": True} if decoupled_weight_decay else {}
        self._setup(params, lr, betas, eps, weight_decay, amsgrad, learning_rate, rule)

    def _setup(self, params, lr, betas, eps, weight_decay, amsgrad, learning_rate,
               rule: dict) -> None:
        betas = tuple(float(b) for b in betas)
        super().__init__(params, lr, learning_rate, betas=betas, eps=eps,
                         weight_decay=weight_decay, amsgrad=bool(amsgrad), **rule)
        self._check(eps=eps, weight_decay=weight_decay)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Invalid value for argument `betas` of `{type(self).__name__}`: "
                             f"expected two floats in [0, 1); received betas={betas}.")

    def _buffers(self) -> dict[str, float]:
        names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")[:3 if self.amsgrad else 2]
        return dict.fromkeys(names, 0.0)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        beta1, beta2 = self.betas
        t = state["step"]
        if self.weight_decay and self.decoupled_weight_decay:
            p *= 1 - self.lr * self.weight_decay
        elif self.weight_decay:
            g = g + self.weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * np.square(g)
        if self.amsgrad:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        v_hat = v / (1 - beta2**t)
        # p = p - lr m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - beta1**t) folded
        # into the scalar step size (one pass fewer over the arrays)
        p -= self.lr / (1 - beta1**t) * m / (np.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch's rule): first
    p = p - lr weight_decay p, then the Adam step on the gradient as it is."""

    decoupled_weight_decay = True

    def __init__(self, params=None, lr: float = 0.001, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, amsgrad: bool = False,
                 learning_rate: float | None = None):
        self._setup(params, lr, betas, eps, weight_decay, amsgrad, learning_rate, {})
