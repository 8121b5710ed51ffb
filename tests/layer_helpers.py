"""``check_layer``: build a layer, compare it with a torch reference, gradcheck it.

Keras' ``run_layer_test`` in spirit: output shape, parameter count, forward values
and the gradients of the input and of every parameter against a torch function
given the same weights (float64, 1e-8), then finite differences on the input and
every parameter, and a ``get_config`` round trip.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import numpy as np
from helpers import HAS_TORCH, assert_close, torch

import chainrule as cr
from chainrule.models import Sequential, load_model


def randomize(layer, seed: int, input_shape: tuple | None = None, scale: float = 0.6):
    """Build ``layer`` for ``input_shape`` (when given) and fill every parameter with
    seeded U(-scale, scale) values (biases too, so every gradient path carries signal)."""
    if input_shape is not None:
        layer.build(input_shape)
        layer.built = True
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data[...] = rng.uniform(-scale, scale, p.shape)
    return layer


def layer_gradcheck(layer, *xs: np.ndarray, call: Callable | None = None) -> None:
    """Finite differences on the inputs ``xs`` and every parameter of a float64 layer
    (nested ones too, by their dotted names); ``call(layer, *inputs)`` runs it (default
    ``layer(*inputs)``)."""
    names = [name for name, _ in layer.named_parameters()]
    modules = dict(layer.named_modules())
    call = call or (lambda module, *inputs: module(*inputs))

    def run(*args):
        inputs, params = args[:len(xs)], args[len(xs):]
        swapped = []
        for name, p in zip(names, params):
            owner, _, attr = name.rpartition(".")
            module = modules[owner]
            swapped.append((module, attr, getattr(module, attr)))
            object.__setattr__(module, attr, p)
        try:
            return call(layer, *inputs)
        finally:
            for module, attr, p in swapped:
                object.__setattr__(module, attr, p)

    params = [cr.tensor(p.data.copy(), requires_grad=True) for _, p in layer.named_parameters()]
    cr.gradcheck(run, *(cr.tensor(x, requires_grad=True) for x in xs), *params)


def check_layer(make: Callable, input_shape: tuple, *, output_shape: tuple,
                param_count: int, torch_fn: Callable | None = None, seed: int = 0,
                gradcheck_shape: tuple | None = None, rtol: float = 1e-8,
                float32: bool = False, save_load: bool = False) -> None:
    """Run the standard layer checks.

    ``make()`` returns a fresh layer; ``torch_fn(x, params)`` computes the same output
    in torch from the input and the layer's parameters (a dict name -> torch tensor).
    ``float32`` repeats the torch comparison in float32 (to 1e-5); ``save_load`` saves a
    Sequential holding the layer and compares the loaded model's predictions. A layer
    with ``compute_output_shape`` must predict the output's shape.
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
    if hasattr(layer, "compute_output_shape"):
        assert tuple(layer.compute_output_shape(input_shape)) == output_shape
        assert tuple(layer.compute_output_shape((None, *input_shape[1:]))) == (
            None, *output_shape[1:])
    weights = np.random.default_rng(seed + 1).standard_normal(out.shape)
    (out * weights).sum().backward()

    if torch_fn is not None and HAS_TORCH:
        torch_parity(layer, xt, out, weights, torch_fn, rtol)
        if float32:
            cr.set_default_dtype(np.float32)
            single = make()
            x32 = cr.tensor(x.astype(np.float32), requires_grad=True)
            single(x32)  # build
            single.load_state_dict(layer.state_dict())
            out32 = single(x32)
            assert out32.dtype == np.float32, f"float32 layer gave {out32.dtype}"
            (out32 * weights.astype(np.float32)).sum().backward()
            torch_parity(single, x32, out32, weights, torch_fn, 1e-5)
            cr.set_default_dtype(np.float64)

    small = make()
    gx = np.random.default_rng(seed + 2).standard_normal(gradcheck_shape or input_shape)
    small(gx)  # build
    layer_gradcheck(small, gx)

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    if save_load:
        assert_save_load(layer, x)


def torch_parity(layer, xt, out, weights: np.ndarray, torch_fn: Callable,
                 tol: float) -> None:
    """Forward and input/parameter gradients of ``layer`` (already backpropagated with
    ``weights``) against ``torch_fn`` run on the same input and parameters, in the
    layer's dtype."""
    x = xt.data
    tx = torch.tensor(x, requires_grad=True)
    tparams = {n: torch.tensor(p.data.copy(), requires_grad=True)
               for n, p in layer.named_parameters()}
    tout = torch_fn(tx, tparams)
    assert_close(out.data, tout.detach().numpy(), rtol=tol, atol=tol, what="forward")
    (tout * torch.from_numpy(weights.astype(x.dtype))).sum().backward()
    assert_close(xt.grad.data, tx.grad.numpy(), rtol=tol, atol=tol, what="input grad")
    for n, p in layer.named_parameters():
        assert_close(p.grad.data, tparams[n].grad.numpy(), rtol=tol, atol=tol,
                     what=f"grad of {n}")


def assert_save_load(layer, x: np.ndarray) -> None:
    """Save a Sequential holding ``layer`` (after one prediction, so it is built) and
    load it back: same architecture, bit-identical predictions."""
    model = Sequential([layer])
    expected = model.predict(x)
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/layer.keras"
        model.save(path)
        loaded = load_model(path)
    assert loaded.get_config()["layers"] == model.get_config()["layers"]
    np.testing.assert_array_equal(loaded.predict(x), expected)
