"""The two-layer network tutorial: XOR-like data, 4 sigmoid hidden units, no biases.

X = [[0,0,1], [0,1,1], [1,0,1], [1,1,1]] (the third column is a constant 1),
y = [0, 1, 1, 0]; loss = Σ (y − ŷ)² (the sum of squared errors); 1,500 iterations.

Part A is the tutorial's ``NeuralNetwork`` class in plain NumPy. Its ``backprop``
spells out the chain rule for the loss L = Σ (y − output)²:

    ∂L/∂output  = −2 (y − output)
    ∂output/∂z2 = sigmoid'(z2) = output (1 − output)
    ∂z2/∂W2     = layer1
        ⇒  d_weights2 = layer1ᵀ · [2 (y − output) · σ'(output)]
    ∂z2/∂layer1 = W2,  ∂layer1/∂z1 = σ'(layer1),  ∂z1/∂W1 = X
        ⇒  d_weights1 = Xᵀ · ([2 (y − output) · σ'(output)] · W2ᵀ · σ'(layer1))

``d_weights`` is −∂L/∂W, so ``weights += d_weights`` is gradient descent with step 1.

Part B is the same network in chainrule, from the same initial weights (float64):
once with tensors and ``backward()`` (whose gradients equal −d_weights), and once as
``Sequential([Dense(4, sigmoid, use_bias=False), Dense(1, sigmoid, use_bias=False)])``
compiled with ``loss="sse"`` and ``SGD(lr=1)``, trained with ``fit(batch_size=4,
epochs=1500, shuffle=False)``.

    python examples/two_layer_network.py [--out DIR]
"""

from __future__ import annotations

import os

import numpy as np

import chainrule as cr
from chainrule.layers import Dense
from chainrule.models import Sequential
from chainrule.optim import SGD
from chainrule.utils.plotting import plot_curves

from .expected import at_most, near, printed
from .progress import bar, say_if

ITERATIONS = 1500

KEY_NUMBERS = {"predictions": "predictions", "grad_diff@step0": "step0_gradient_difference",
               "Sequential_vs_A": "sequential_difference"}
EXPECTED = (
    printed("predictions", "[0.01, 0.971, 0.974, 0.032]", decimals=3),
    near("predictions", [0, 1, 1, 0], 0.05),              # the tutorial's targets
    printed("initial_loss", "1.328"), printed("final_loss", "0.00261"),
    at_most("step0_gradient_difference", 1e-12, quote="1e-12"),
    at_most("tensors_difference", 1e-10), at_most("sequential_difference", 1e-10),
    at_most("loss_curve_difference", 1e-10, quote="1e-10"),
)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_derivative(s: np.ndarray) -> np.ndarray:
    """σ'(z) written in terms of s = σ(z)."""
    return s * (1.0 - s)


class NeuralNetwork:
    """Part A: the tutorial's class, with its initial weights passed in (seeded)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, weights1: np.ndarray,
                 weights2: np.ndarray):
        self.input = x
        self.weights1 = weights1.copy()   # (3, 4)
        self.weights2 = weights2.copy()   # (4, 1)
        self.y = y
        self.output = np.zeros(y.shape)

    def feedforward(self) -> None:
        self.layer1 = sigmoid(self.input @ self.weights1)
        self.output = sigmoid(self.layer1 @ self.weights2)

    def gradients(self) -> tuple[np.ndarray, np.ndarray]:
        """The chain rule by hand: (d_weights1, d_weights2), each −∂L/∂W."""
        delta2 = 2 * (self.y - self.output) * sigmoid_derivative(self.output)
        d_weights2 = self.layer1.T @ delta2
        d_weights1 = self.input.T @ (delta2 @ self.weights2.T
                                     * sigmoid_derivative(self.layer1))
        return d_weights1, d_weights2

    def backprop(self) -> None:
        d_weights1, d_weights2 = self.gradients()
        self.weights1 += d_weights1
        self.weights2 += d_weights2

    def loss(self) -> float:
        return float(np.sum((self.y - self.output) ** 2))


def train_by_hand(X, y, weights1, weights2) -> tuple[NeuralNetwork, list[float]]:
    nn = NeuralNetwork(X, y, weights1, weights2)
    losses = []
    for _ in range(ITERATIONS):
        nn.feedforward()
        losses.append(nn.loss())
        nn.backprop()
    nn.feedforward()
    return nn, losses


def sse_with_tensors(X, y, w1: cr.Tensor, w2: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
    """(loss, output) of the same network on chainrule tensors."""
    output = ((cr.tensor(X) @ w1).sigmoid() @ w2).sigmoid()
    return ((cr.tensor(y) - output) ** 2).sum(), output


def train_with_tensors(X, y, weights1, weights2) -> tuple[np.ndarray, list[float]]:
    """Part B, tensors: ``backward()`` gives ∂L/∂W; step 1 downhill, as the tutorial."""
    w1 = cr.tensor(weights1.copy(), requires_grad=True)
    w2 = cr.tensor(weights2.copy(), requires_grad=True)
    losses = []
    for _ in range(ITERATIONS):
        loss, _ = sse_with_tensors(X, y, w1, w2)
        losses.append(loss.item())
        w1.grad = w2.grad = None
        loss.backward()
        w1.data -= w1.grad.data
        w2.data -= w2.grad.data
    with cr.no_grad():
        _, output = sse_with_tensors(X, y, w1, w2)
    return output.numpy(), losses


def train_with_sequential(X, y, weights1, weights2) -> tuple[np.ndarray, list[float]]:
    """Part B, Keras style: Sequential + compile(loss="sse", SGD(lr=1)) + fit."""
    model = Sequential([Dense(4, activation="sigmoid", use_bias=False, input_dim=3),
                        Dense(1, activation="sigmoid", use_bias=False)])
    model.build((None, 3))              # create the second layer's kernel, then overwrite
    model.set_weights([weights1, weights2])
    model.compile(optimizer=SGD(lr=1.0), loss="sse")
    history = model.fit(X, y, batch_size=4, epochs=ITERATIONS, shuffle=False, verbose=0)
    return model.predict(X), list(history.history["loss"])


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False, seed: int = 1) -> dict:
    """Train parts A and B from the same seeded weights; compare gradients and results."""
    say = say_if(verbose)
    X, y = cr.datasets.xor()
    rng = np.random.default_rng(seed)
    weights1, weights2 = rng.random((3, 4)), rng.random((4, 1))  # the tutorial's rand
    previous = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    try:
        nn = NeuralNetwork(X, y, weights1, weights2)
        nn.feedforward()
        hand = nn.gradients()
        w1 = cr.tensor(weights1.copy(), requires_grad=True)
        w2 = cr.tensor(weights2.copy(), requires_grad=True)
        sse_with_tensors(X, y, w1, w2)[0].backward()
        step0 = max(float(np.abs(hand[0] + w1.grad.data).max()),
                    float(np.abs(hand[1] + w2.grad.data).max()))
        with bar(3, "two_layer_network: A, B tensors, B fit", verbose, unit="run") as runs:
            nn, losses_a = train_by_hand(X, y, weights1, weights2)
            runs.update()
            out_b, losses_b = train_with_tensors(X, y, weights1, weights2)
            runs.update()
            out_c, losses_c = train_with_sequential(X, y, weights1, weights2)
            runs.update()
    finally:
        cr.set_default_dtype(previous)
    result = {
        "predictions": nn.output.ravel().tolist(),
        "predictions_tensors": out_b.ravel().tolist(),
        "predictions_sequential": np.asarray(out_c).ravel().tolist(),
        "initial_loss": losses_a[0], "final_loss": nn.loss(),
        "step0_gradient_difference": step0,
        "tensors_difference": float(np.abs(out_b - nn.output).max()),
        "sequential_difference": float(np.abs(np.asarray(out_c) - nn.output).max()),
        "loss_curve_difference": float(max(np.abs(np.subtract(losses_a, losses_b)).max(),
                                           np.abs(np.subtract(losses_a, losses_c)).max())),
        "plots": {},
    }
    say(f"A. plain NumPy, {ITERATIONS} iterations: predictions "
        f"{np.round(result['predictions'], 3).tolist()} (targets [0, 1, 1, 0]); "
        f"SSE {result['initial_loss']:.3f} -> {result['final_loss']:.5f}")
    say(f"   step 0: |hand-derived d_weights + autograd ∂L/∂W| <= "
        f"{result['step0_gradient_difference']:.1e}")
    say(f"B. chainrule tensors + backward(): predictions "
        f"{np.round(result['predictions_tensors'], 3).tolist()} (differ from A by "
        f"{result['tensors_difference']:.1e})")
    say(f"   Sequential + fit: predictions "
        f"{np.round(result['predictions_sequential'], 3).tolist()} (differ from A by "
        f"{result['sequential_difference']:.1e})")
    if out_dir is not None:
        path = plot_curves({"A: NumPy by hand": losses_a, "B: tensors + backward()": losses_b,
                            "B: Sequential.fit": losses_c},
                           os.path.join(out_dir, "two_layer_network_loss.png"),
                           title="Sum of squared errors per iteration", xlabel="iteration",
                           ylabel="SSE", logy=True)
        if path is not None:
            result["plots"]["loss per iteration"] = path
    return result
