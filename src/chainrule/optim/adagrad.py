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

    def _init_state(self, p: np.ndarray) -> dict:
        return {"sum": np.full_like(p, self.initial_accumulator_value)}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        state["step"] += 1
        g = self._decayed(p, g)
        clr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        tmp = np.multiply(g, g)
        state["sum"] += tmp
        np.sqrt(state["sum"], out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        p -= tmp
