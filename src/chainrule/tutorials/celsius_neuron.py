"""One neuron learns Celsius → Fahrenheit: F = 1.8 · C + 32.

100 samples, C = −50 … 49, and their Fahrenheit values. The model is a single
neuron with no activation, ŷ = weight · C + bias, trained on the mean squared error
by gradient descent. The hand-written version follows the tutorial:

    forward:            y_pred = x · weight + bias
    backward:           grad_output = 2 (y_pred − y) / n        (∂MSE/∂y_pred)
                        grad_weight = Σ grad_output · x         (∂MSE/∂weight)
                        grad_bias   = Σ grad_output             (∂MSE/∂bias)
    update_parameters:  weight −= lr · grad_weight;  bias −= lr · grad_bias

The chainrule version is a ``Dense(1)`` layer, the ``MeanSquaredError`` loss and the
``SGD`` optimizer, from the same starting weight and bias.

The inputs are *not* scaled (as in the tutorial), which makes the problem badly
conditioned: the curvature along the weight is 2·mean(C²) ≈ 1667 and along the bias
only 2, so a step above 2/1667 ≈ 0.0012 diverges, while the bias needs thousands of
steps at that size. We take lr = 0.001 and 4,000 iterations: both versions reach
weight 1.8 (±0.01) and bias 32 (±0.1) in a fraction of a second.

    python examples/celsius_neuron.py [--out DIR]
"""

from __future__ import annotations

import os

import numpy as np

import chainrule as cr
from chainrule.layers import Dense
from chainrule.losses import MeanSquaredError
from chainrule.optim import SGD
from chainrule.utils.plotting import plot_curves

from .expected import at_most, near, printed
from .progress import bar, say_if

LEARNING_RATE = 0.001
ITERATIONS = 4000

KEY_NUMBERS = {"weight": "weight", "bias": "bias", "chainrule_vs_hand": "chainrule_difference"}
EXPECTED = (
    near("weight", 1.8, 0.01), near("bias", 32, 0.1),     # F = 1.8·C + 32
    near("chainrule_weight", 1.8, 0.01), near("chainrule_bias", 32, 0.1),
    printed("initial_weight", "0.126"), printed("initial_bias", "-0.132"),
    printed("initial_loss", "3315.1"), printed("weight", "1.8000"),
    printed("bias", "31.9893"), printed("final_loss", "1.15e-04"),
    at_most("step0_gradient_difference", 1e-10, quote="1e-10"),
    at_most("chainrule_difference", 1e-8, quote="1e-8"),
)


def forward(x: np.ndarray, weight: float, bias: float) -> np.ndarray:
    return x * weight + bias


def mse(y_pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((y_pred - y) ** 2))


def backward(x: np.ndarray, y: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(grad_weight, grad_bias) of the MSE, by the chain rule through y_pred."""
    grad_output = 2 * (y_pred - y) / len(x)
    grad_weight = float(np.sum(grad_output * x))
    grad_bias = float(np.sum(grad_output))
    return grad_weight, grad_bias


def update_parameters(weight: float, bias: float, grad_weight: float, grad_bias: float,
                      lr: float) -> tuple[float, float]:
    return weight - lr * grad_weight, bias - lr * grad_bias


def train_by_hand(x, y, weight: float, bias: float) -> tuple[float, float, list[float]]:
    losses = []
    for _ in range(ITERATIONS):
        y_pred = forward(x, weight, bias)
        losses.append(mse(y_pred, y))
        grad_weight, grad_bias = backward(x, y, y_pred)
        weight, bias = update_parameters(weight, bias, grad_weight, grad_bias, LEARNING_RATE)
    return weight, bias, losses


def make_neuron(weight: float, bias: float):
    """A Dense(1) layer holding ``weight`` and ``bias``."""
    neuron = Dense(1, input_dim=1)
    neuron.kernel.data = np.array([[weight]], dtype=neuron.kernel.dtype)
    neuron.bias.data = np.array([bias], dtype=neuron.bias.dtype)
    return neuron


def train_with_chainrule(x, y, weight: float, bias: float) -> tuple[float, float, list[float]]:
    """PyTorch-style loop: loss = MSE(neuron(x)); backward(); optimizer.step()."""
    neuron = make_neuron(weight, bias)
    loss_fn, optimizer = MeanSquaredError(), SGD(neuron.parameters(), lr=LEARNING_RATE)
    xt, yt = cr.tensor(x), cr.tensor(y)
    losses = []
    for _ in range(ITERATIONS):
        loss = loss_fn(yt, neuron(xt))
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return neuron.kernel.item(), neuron.bias.item(), losses


def step0_gradients(x, y, weight: float, bias: float) -> tuple[tuple, tuple]:
    """(grad_weight, grad_bias) by hand and by autograd, at the starting point."""
    neuron = make_neuron(weight, bias)
    MeanSquaredError()(cr.tensor(y), neuron(cr.tensor(x))).backward()
    return backward(x, y, forward(x, weight, bias)), (neuron.kernel.grad.item(),
                                                      neuron.bias.grad.item())


def line(weight: float, bias: float) -> str:
    return f"{weight:.3f}·C {'+' if bias >= 0 else '−'} {abs(bias):.2f}"


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False, seed: int = 0) -> dict:
    """Train the neuron by hand and with chainrule (float64); return the learned numbers."""
    say = say_if(verbose)
    celsius, fahrenheit = cr.datasets.celsius()
    rng = np.random.default_rng(seed)
    weight0, bias0 = (float(v) for v in rng.standard_normal(2))
    previous = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    try:
        hand_grads, auto_grads = step0_gradients(celsius, fahrenheit, weight0, bias0)
        with bar(2, "celsius_neuron: by hand, with chainrule", verbose, unit="run") as runs:
            w_hand, b_hand, losses_hand = train_by_hand(celsius, fahrenheit, weight0, bias0)
            runs.update()
            w_cr, b_cr, losses_cr = train_with_chainrule(celsius, fahrenheit, weight0, bias0)
            runs.update()
    finally:
        cr.set_default_dtype(previous)
    result = {
        "initial_weight": weight0, "initial_bias": bias0,
        "weight": w_hand, "bias": b_hand, "chainrule_weight": w_cr, "chainrule_bias": b_cr,
        "initial_loss": losses_hand[0], "final_loss": mse(forward(celsius, w_hand, b_hand),
                                                          fahrenheit),
        "step0_gradient_difference": float(np.abs(np.subtract(hand_grads, auto_grads)).max()),
        "chainrule_difference": max(abs(w_cr - w_hand), abs(b_cr - b_hand)),
        "learning_rate": LEARNING_RATE, "iterations": ITERATIONS, "plots": {},
    }
    say(f"start: weight {weight0:.3f}, bias {bias0:.3f}, MSE {result['initial_loss']:.1f}")
    say(f"by hand, {ITERATIONS} steps of lr {LEARNING_RATE}: weight {w_hand:.4f} (1.8), "
        f"bias {b_hand:.4f} (32), MSE {result['final_loss']:.2e}")
    say(f"chainrule Dense(1) + MeanSquaredError + SGD: weight {w_cr:.4f}, bias {b_cr:.4f} "
        f"(differ from the hand version by {result['chainrule_difference']:.1e}; step-0 "
        f"gradients by {result['step0_gradient_difference']:.1e})")
    if out_dir is not None:
        c = celsius.ravel()
        path = plot_curves(
            {f"untrained: {line(weight0, bias0)}": (c, forward(c, weight0, bias0)),
             f"trained: {line(w_hand, b_hand)}": (c, forward(c, w_hand, b_hand))},
            os.path.join(out_dir, "celsius_neuron_fit.png"),
            points={"true: F = 1.8·C + 32": (c, fahrenheit.ravel())},
            title="One neuron learns Celsius → Fahrenheit", xlabel="°C", ylabel="°F")
        if path is not None:
            result["plots"]["true, untrained and trained lines"] = path
    return result

