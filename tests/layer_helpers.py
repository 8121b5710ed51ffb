"""``check_layer``: build a layer, compare it with a torch reference, gradcheck it.

Keras' ``run_layer_test`` in spirit: output shape, parameter count, forward values
and the gradients of the input and of every parameter against a torch function
given the same weights (float64, 1e-8), then finite differences on the input and
every parameter, and a ``get_config`` round trip.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from helpers import HAS_TORCH, assert_close, torch

import chainrule as cr


def layer_gradcheck(layer, x: np.ndarray) -> None:
    """Finite differences on the input and every parameter of a float64 layer."""
    names = [name for name, _ in layer.named_parameters()]

    def run(x_t, *params):
        originals = [getattr(layer, n) for n in names]
        for n, p in zip(names, params):
            object.__setattr__(layer, n, p)
        try:
            return layer(x_t)
        finally:
            for n, p in zip(names, originals):
                object.__setattr__(layer, n, p)

    params = [cr.tensor(p.data.copy(), requires_grad=True) for _, p in layer.named_parameters()]
    cr.gradcheck(run, cr.tensor(x, requires_grad=True), *params)


def check_layer(make: Callable, input_shape: tuple, *, output_shape: tuple,
                param_count: int, torch_fn: Callable | None = None, seed: int = 0,
                gradcheck_shape: tuple | None = None, rtol: float = 1e-8) -> None:
    """Run the standard layer checks.

    ``make()`` returns a fresh layer; ``torch_fn(x, params)`` computes the same output
    in torch from the input and the layer's parameters (a dict name -> torch tensor).
    """
    cr.set_default_dtype(np.float64)
    cr.manual_seed(seed)
    layer = make()
    x = np.random.default_rng(seed).standard_normal(input_shape)
    xt = cr.tensor(x, requires_grad=True)
    out = layer(xt)
    assert out.shape == output_shape, f"output shape {out.shape} != {output_shape}"
    assert layer.count_params() == param_count, (
        f"{layer.count_params()} parameters, expected {param_count}")
    weights = np.random.default_rng(seed + 1).standard_normal(out.shape)
    (out * weights).sum().backward()

    if torch_fn is not None and HAS_TORCH:
        tx = torch.tensor(x, requires_grad=True)
        tparams = {n: torch.tensor(p.data.copy(), requires_grad=True)
                   for n, p in layer.named_parameters()}
        tout = torch_fn(tx, tparams)
        assert_close(out.data, tout.detach().numpy(), rtol=rtol, atol=rtol, what="forward")
        (tout * torch.from_numpy(weights)).sum().backward()
        assert_close(xt.grad.data, tx.grad.numpy(), rtol=rtol, atol=rtol, what="input grad")
        for n, p in layer.named_parameters():
            assert_close(p.grad.data, tparams[n].grad.numpy(), rtol=rtol, atol=rtol,
                         what=f"grad of {n}")

    small = make()
    gx = np.random.default_rng(seed + 2).standard_normal(gradcheck_shape or input_shape)
    small(gx)  # build
    layer_gradcheck(small, gx)

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
