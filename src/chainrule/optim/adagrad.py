"""Adagrad: per-coordinate steps shrinking with the accumulated squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's rule, per parameter p with gradient g at step t:

    g = g + weight_decay p;  lr_t = lr / (1 + (t - 1) lr_decay);  s = s + g**2;
    p = p - lr_t g / (sqrt(s) + eps).
    """

    def __init__(self, params=None, lr: float = 0.01, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, learning_rate: float | None = None):
        super().__init__(params, lr, learning_rate, lr_decay=lr_decay,
                         weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)
        self._check(lr_decay=lr_decay, weight_decay=weight_decay,
                    initial_accumulator_value=initial_accumulator_value, eps=eps)

    def _buffers(self) -> dict[str, float]:
        return {"sum": self.initial_accumulator_value}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        lr_t = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        s = state["sum"]
        s += np.square(g)
        p -= lr_t * g / (np.sqrt(s) + self.eps)
