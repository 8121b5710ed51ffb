"""Gradient clipping by global norm (``torch.nn.utils.clip_grad_norm_``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor


def clip_grad_norm(params: Iterable[Tensor] | Tensor, max_norm: float,
                   norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so their global norm is at most ``max_norm``.

    total = norm of the per-parameter gradient norms (``norm_type``-norms, inf for the
    max); each grad is multiplied by min(1, max_norm / (total + 1e-6)), as torch.
    New arrays are assigned (gradients may share memory, so none is scaled in place).
    Returns the total norm before clipping.
    """
    params = [params] if isinstance(params, Tensor) else list(params)
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return 0.0
    norm_type = float(norm_type)
    norms = [np.linalg.norm(p.grad.data.reshape(-1), ord=norm_type) for p in with_grad]
    total = float(np.linalg.norm(np.asarray(norms, dtype=np.float64), ord=norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm: the total {norm_type}-norm of the gradients is "
                           f"{total}; set error_if_nonfinite=False to clip anyway.")
    coef = min(max_norm / (total + 1e-6), 1.0)
    for p in with_grad:
        g = p.grad.data
        p.grad = Tensor(g * g.dtype.type(coef), dtype=g.dtype)
    return total
