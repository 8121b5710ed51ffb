"""Adagrad: per-coordinate steps shrinking with the accumulated squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's rule: g = grad + weight_decay p;  s += g**2;
    p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)."""

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

    def _direction(self, g: np.ndarray, state: dict, step: int,
                   out: np.ndarray) -> np.ndarray:
        clr = self.lr / (1 + (step - 1) * self.lr_decay)
        np.multiply(g, g, out=out)
        state["sum"] += out
        np.sqrt(state["sum"], out=out)
        out += self.eps
        np.divide(g, out, out=out)
        out *= clr
        return out
