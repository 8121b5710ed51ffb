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

Part C differentiates part A's class as written: its ``feedforward`` and its
hand-written chain rule stay NumPy (``np.dot``, a sigmoid through ``np.exp``); only
``weights1``/``weights2`` become tensors. NumPy hands each call on a tensor to
chainrule (``Tensor.__array_ufunc__``/``__array_function__``), so
``np.sum((y - output) ** 2)`` is a tensor with a graph, and ``loss.backward()``
gives −d_weights to round-off. Trained that way for 1,500 iterations, the class
ends where part A does.

    python examples/two_layer_network.py [--out DIR]
"""

from __future__ import annotations

import os
from collections.abc import Callable

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
               "Sequential_vs_A": "sequential_difference",
               "as_written_grad_diff": "as_written_gradient_difference"}
EXPECTED = (
    printed("predictions", "[0.01, 0.971, 0.974, 0.032]", decimals=3),
    near("predictions", [0, 1, 1, 0], 0.05),              # the tutorial's targets
    printed("initial_loss", "1.328"), printed("final_loss", "0.00261"),
    at_most("step0_gradient_difference", 1e-12, quote="1e-12"),
    at_most("tensors_difference", 1e-10), at_most("sequential_difference", 1e-10),
    at_most("loss_curve_difference", 1e-10, quote="1e-10"),
    at_most("as_written_gradient_difference", 1e-12), at_most("as_written_difference", 1e-10),
)


def sigmoid(x):
    return 1.0 / (1 + np.exp(-x))


def sigmoid_derivative(x):
    """σ'(z) written in terms of x = σ(z)."""
    return x * (1.0 - x)


class NeuralNetwork:
    """Part A: the tutorial's class as written, its initial weights passed in (seeded)
    rather than drawn with ``np.random.rand`` inside, and its chain rule (``gradients``)
    split from the update so that part C can compare it."""

    def __init__(self, x, y, weights1, weights2):
        self.input = x
        self.weights1 = weights1          # (3, 4)
        self.weights2 = weights2          # (4, 1)
        self.y = y
        self.output = np.zeros(y.shape)

    def feedforward(self) -> None:
        self.layer1 = sigmoid(np.dot(self.input, self.weights1))
        self.output = sigmoid(np.dot(self.layer1, self.weights2))

    def gradients(self):
        """The chain rule by hand: (d_weights1, d_weights2), each −∂L/∂W."""
        d_weights2 = np.dot(self.layer1.T, (2 * (self.y - self.output)
                                            * sigmoid_derivative(self.output)))
        d_weights1 = np.dot(self.input.T, (np.dot(2 * (self.y - self.output)
                                                  * sigmoid_derivative(self.output),
                                                  self.weights2.T)
                                           * sigmoid_derivative(self.layer1)))
        return d_weights1, d_weights2

    def backprop(self) -> None:
        d_weights1, d_weights2 = self.gradients()
        self.weights1 += d_weights1
        self.weights2 += d_weights2

    def loss(self) -> float:
        return float(np.sum((self.y - self.output) ** 2))


def train_by_hand(X, y, weights1, weights2) -> tuple[NeuralNetwork, list[float]]:
    nn = NeuralNetwork(X, y, weights1.copy(), weights2.copy())
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


def gradient_descent(w1: cr.Tensor, w2: cr.Tensor, sse: Callable[[], cr.Tensor]) -> list[float]:
    """``ITERATIONS`` steps of 1 downhill, as the tutorial; ``sse()`` runs a forward pass
    and returns the loss, whose ``backward()`` gives ∂L/∂W. Returns the loss per step."""
    losses = []
    for _ in range(ITERATIONS):
        loss = sse()
        losses.append(loss.item())
        w1.grad = w2.grad = None
        loss.backward()
        w1.data -= w1.grad.data
        w2.data -= w2.grad.data
    return losses


def train_with_tensors(X, y, weights1, weights2) -> tuple[np.ndarray, list[float]]:
    """Part B, tensors: the same network written with chainrule's methods."""
    w1 = cr.tensor(weights1.copy(), requires_grad=True)
    w2 = cr.tensor(weights2.copy(), requires_grad=True)
    losses = gradient_descent(w1, w2, lambda: sse_with_tensors(X, y, w1, w2)[0])
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


def as_written(X, y, weights1, weights2) -> tuple[NeuralNetwork, cr.Tensor, cr.Tensor]:
    """Part C: the class unchanged, only its weights made tensors; one forward pass and
    ``loss.backward()``. Returns the network (its ``gradients()`` still callable) and
    the two weight tensors, their ``.grad`` filled."""
    W1 = cr.tensor(weights1.copy(), requires_grad=True)
    W2 = cr.tensor(weights2.copy(), requires_grad=True)
    nn = NeuralNetwork(X, y, W1, W2)
    sse_as_written(nn).backward()
    return nn, W1, W2


def sse_as_written(nn: NeuralNetwork):
    """The class's forward pass and the tutorial's loss, in NumPy as written."""
    nn.feedforward()                          # np.dot, np.exp on tensors: chainrule ops
    return np.sum((nn.y - nn.output) ** 2)    # a Tensor, not a numpy.float64


def train_as_written(X, y, weights1, weights2) -> tuple[np.ndarray, list[float]]:
    """Part C, trained: the class's feedforward, ``loss.backward()`` in place of its
    hand-written backprop, and the same step of 1 downhill."""
    W1 = cr.tensor(weights1.copy(), requires_grad=True)
    W2 = cr.tensor(weights2.copy(), requires_grad=True)
    nn = NeuralNetwork(X, y, W1, W2)
    losses = gradient_descent(W1, W2, lambda: sse_as_written(nn))
    with cr.no_grad():
        nn.feedforward()
    return nn.output.numpy(), losses


def side_by_side(autograd: np.ndarray, by_hand: np.ndarray, name: str) -> list[str]:
    """Rows of ∂L/∂W from backward() beside −d_weights from the hand-written chain rule."""
    width = max(9 * autograd.shape[1], 26)
    lines = [f"   {'∂L/∂' + name + ' (loss.backward())':<{width}}   "
             f"−d_weights{name[-1]} (hand-written backprop)"]
    for a, b in zip(autograd, by_hand):
        lines.append(f"   {''.join(f'{v:9.5f}' for v in a):<{width}}   "
                     + "".join(f"{v:9.5f}" for v in b))
    return lines


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
        nn_c, W1, W2 = as_written(X, y, weights1, weights2)
        hand_c = [np.asarray(d) for d in nn_c.gradients()]   # tensors too: made by np.dot
        grads_c = [W1.grad.numpy(), W2.grad.numpy()]
        with bar(4, "two_layer_network: A, B tensors, B fit, C", verbose, unit="run") as runs:
            nn, losses_a = train_by_hand(X, y, weights1, weights2)
            runs.update()
            out_b, losses_b = train_with_tensors(X, y, weights1, weights2)
            runs.update()
            out_c, losses_c = train_with_sequential(X, y, weights1, weights2)
            runs.update()
            out_d, losses_d = train_as_written(X, y, weights1, weights2)
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
        "loss_curve_difference": float(max(np.abs(np.subtract(losses_a, other)).max()
                                           for other in (losses_b, losses_c, losses_d))),
        "as_written_gradients": {"autograd": [g.tolist() for g in grads_c],
                                 "by_hand": [(-d).tolist() for d in hand_c]},
        "as_written_gradient_difference": max(float(np.abs(d + g).max())
                                              for d, g in zip(hand_c, grads_c)),
        "predictions_as_written": out_d.ravel().tolist(),
        "as_written_difference": float(np.abs(out_d - nn.output).max()),
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
    say("C. part A's class as written, only W1/W2 tensors: np.sum((y - output) ** 2) is a "
        "Tensor, and at step 0")
    for g, d, name in zip(grads_c, hand_c, ("W1", "W2")):
        for line in side_by_side(g, -d, name):
            say(line)
    say(f"   largest difference {result['as_written_gradient_difference']:.1e}; trained with "
        f"loss.backward() in place of backprop(): predictions "
        f"{np.round(result['predictions_as_written'], 3).tolist()} (differ from A by "
        f"{result['as_written_difference']:.1e})")
    if out_dir is not None:
        path = plot_curves({"A: NumPy by hand": losses_a, "B: tensors + backward()": losses_b,
                            "B: Sequential.fit": losses_c,
                            "C: A's class, tensors + backward()": losses_d},
                           os.path.join(out_dir, "two_layer_network_loss.png"),
                           title="Sum of squared errors per iteration", xlabel="iteration",
                           ylabel="SSE", logy=True)
        if path is not None:
            result["plots"]["loss per iteration"] = path
    return result
