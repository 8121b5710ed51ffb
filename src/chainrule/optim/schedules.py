"""Learning-rate schedules: each ``step()`` sets ``optimizer.lr`` for the next epoch.

The rates are PyTorch's; they are computed in closed form from the initial rate
(``base_lr``), which equals torch's chained updates when nothing else changes the
rate (each ``step`` overrides any other change, e.g. by ``ReduceLROnPlateau``).
Call ``scheduler.step()`` once per epoch, after ``optimizer.step()``.
"""

from __future__ import annotations

import math

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses give ``lr_at(epoch)``; construction applies epoch 0."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} expects an Optimizer; received "
                            f"{type(optimizer).__name__}.")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = -1
        self.step()

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define lr_at")

    def step(self) -> None:
        """Advance one epoch and set the optimizer's learning rate."""
        self.last_epoch += 1
        self._set_lr()

    def _set_lr(self) -> None:
        self.optimizer.lr = self.lr_at(self.last_epoch)
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self) -> list[float]:
        """The learning rate set by the last ``step`` (a list, as torch: one per group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {"base_lr": self.base_lr, "last_epoch": self.last_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.base_lr = float(state["base_lr"])
        self.last_epoch = int(state["last_epoch"])
        self._set_lr()


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if int(step_size) <= 0:
            raise ValueError(f"Invalid value for argument `step_size` of `StepLR`: expected "
                             f"a positive integer; received step_size={step_size}.")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2 (periodic
    beyond T_max, as torch)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        if int(T_max) <= 0:
            raise ValueError(f"Invalid value for argument `T_max` of `CosineAnnealingLR`: "
                             f"expected a positive integer; received T_max={T_max}.")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine
