"""Backpropagation from scratch, the article's recipe, in plain Python loops.

A network is a list of layers, a layer a list of neurons, a neuron a dict whose
``weights`` end with its bias. For one training row:

1. activation = Σ weight·input + bias; output = transfer(activation)
2. an output neuron's error is (expected − output) × transfer_derivative(output)
3. a hidden neuron's error is the weighted sum of the errors of the neurons it
   feeds, × its own transfer_derivative(output)
4. every weight moves by lrate × error × its input (the bias by lrate × error)

Sign convention: the article's error ("delta") is −∂L/∂activation for the loss
L = ½ Σ (expected − output)², which is why step 4 *adds* it: adding lrate·delta·input
is gradient descent, w ← w − lrate·∂L/∂w. So chainrule's autograd gradients must
satisfy  ∂L/∂w = −delta · input  and  ∂L/∂bias = −delta.

Part A reproduces the article (sigmoid, seed(1)): the forward pass on [1, 0], the
worked deltas, and 20 epochs on its 10-row data set (error 6.350 → 1.132).
Part B runs a 2-3-2 network for sigmoid, tanh and ReLU: the hand-written deltas
against chainrule's gradients, then 50 epochs trained both ways, weight for weight.

    python examples/backprop_by_hand.py
"""

from __future__ import annotations

import math
import os
import random

import numpy as np

import chainrule as cr
from chainrule.utils.plotting import plot_curves

from .expected import at_most, equal, near, printed
from .progress import bar, say_if

# The article's data set: two features and a class label (0 or 1).
DATASET = [[2.7810836, 2.550537003, 0], [1.465489372, 2.362125076, 0],
           [3.396561688, 4.400293529, 0], [1.38807019, 1.850220317, 0],
           [3.06407232, 3.005305973, 0], [7.627531214, 2.759262235, 1],
           [5.332441248, 2.088626775, 1], [6.922596716, 1.77106367, 1],
           [8.675418651, -0.242068655, 1], [7.673756466, 3.508563011, 1]]

# transfer(activation) and transfer_derivative(output): the derivative is written in
# terms of the neuron's output, as the article does.
TRANSFERS = {
    "sigmoid": (lambda a: 1.0 / (1.0 + math.exp(-a)), lambda o: o * (1.0 - o)),
    "tanh": (math.tanh, lambda o: 1.0 - o * o),
    "relu": (lambda a: max(a, 0.0), lambda o: 1.0 if o > 0 else 0.0),
}
LEARNING_RATES = {"sigmoid": 0.5, "tanh": 0.1, "relu": 0.01}
EPOCHS = 50  # part B; the article trains its 2-2-2 network for 20

KEY_NUMBERS = {"error@0": "article.epoch_errors.0", "error@19": "article.epoch_errors.19",
               "grad_diff": "gradient_difference"}
# Part A: the article's own numbers (Python's random.seed(1)); part B: 2-3-2 nets.
EXPECTED = (
    equal("article.initial_weights",
          [0.13436424411240122, 0.8474337369372327, 0.763774618976614],
          quote="[0.13436424411240122, 0.8474337369372327, 0.763774618976614]"),
    near("article.forward_output", [0.6629970129852887, 0.7253160725279748], 1e-15,
         quote="[0.6629970129852887, 0.7253160725279748]"),
    near("article.deltas.0", [-0.0005348048046610517], 1e-15,
         quote="[-0.0005348048046610517]"),
    near("article.deltas.1", [-0.14619064683582808, 0.0771723774346327], 1e-15,
         quote="[-0.14619064683582808, 0.0771723774346327]"),
    printed("article.epoch_errors.0", "6.350"), printed("article.epoch_errors.1", "5.531"),
    printed("article.epoch_errors.19", "1.132"),
    near("article.trained_weights.0", [
        [-1.4688375095432327, 1.850887325439514, 1.0858178629550297],
        [0.37711098142462157, -0.0625909894552989, 0.2765123702642716]], 1e-12),
    near("article.trained_weights.1", [
        [2.515394649397849, -0.3391927502445985, -0.9671565426390275],
        [-2.5584149848484263, 1.0036422106209202, 0.42383086467582715]], 1e-12),
    equal("article.accuracy", 1.0), at_most("article.chainrule_weights_difference", 1e-12),
    *(e for transfer, first, final in (("sigmoid", "6.880", "0.212"), ("tanh", "8.424", "0.196"),
                                       ("relu", "45.971", "0.600"))
      for e in (at_most(f"transfers.{transfer}.gradient_difference", 1e-12),
                at_most(f"transfers.{transfer}.weights_difference", 1e-12),
                equal(f"transfers.{transfer}.accuracy", 1.0),
                printed(f"transfers.{transfer}.first_error", first),
                printed(f"transfers.{transfer}.final_error", final))),
)


# ---------------------------------------------------------------- by hand


def initialize_network(n_inputs: int, n_hidden: int, n_outputs: int) -> list:
    """Weights (bias last) drawn from Python's random(), as the article does."""
    return [[{"weights": [random.random() for _ in range(n_inputs + 1)]}
             for _ in range(n_hidden)],
            [{"weights": [random.random() for _ in range(n_hidden + 1)]}
             for _ in range(n_outputs)]]


def activate(weights: list[float], inputs: list[float]) -> float:
    """activation = Σ weight·input + bias (the bias is the last weight)."""
    activation = weights[-1]
    for i in range(len(weights) - 1):
        activation += weights[i] * inputs[i]
    return activation


def forward_propagate(network: list, row: list[float], transfer=TRANSFERS["sigmoid"][0]):
    inputs = row
    for layer in network:
        new_inputs = []
        for neuron in layer:
            neuron["output"] = transfer(activate(neuron["weights"], inputs))
            new_inputs.append(neuron["output"])
        inputs = new_inputs
    return inputs


def backward_propagate_error(network: list, expected: list[float],
                             derivative=TRANSFERS["sigmoid"][1]) -> None:
    for i in reversed(range(len(network))):
        layer = network[i]
        errors = []
        if i == len(network) - 1:
            errors = [expected[j] - neuron["output"] for j, neuron in enumerate(layer)]
        else:
            for j in range(len(layer)):
                errors.append(sum(n["weights"][j] * n["delta"] for n in network[i + 1]))
        for j, neuron in enumerate(layer):
            neuron["delta"] = errors[j] * derivative(neuron["output"])


def update_weights(network: list, row: list[float], l_rate: float) -> None:
    for i, layer in enumerate(network):
        inputs = row[:-1] if i == 0 else [n["output"] for n in network[i - 1]]
        for neuron in layer:
            for j in range(len(inputs)):
                neuron["weights"][j] += l_rate * neuron["delta"] * inputs[j]
            neuron["weights"][-1] += l_rate * neuron["delta"]


def one_hot(label: int, n_outputs: int) -> list[float]:
    expected = [0.0] * n_outputs
    expected[int(label)] = 1.0
    return expected


def train_network(network: list, train: list, l_rate: float, n_epoch: int, n_outputs: int,
                  transfer: str = "sigmoid") -> list[float]:
    """Online gradient descent; returns the summed squared error of each epoch."""
    fn, derivative = TRANSFERS[transfer]
    errors = []
    for _ in range(n_epoch):
        sum_error = 0.0
        for row in train:
            outputs = forward_propagate(network, row, fn)
            expected = one_hot(row[-1], n_outputs)
            sum_error += sum((expected[i] - outputs[i]) ** 2 for i in range(len(expected)))
            backward_propagate_error(network, expected, derivative)
            update_weights(network, row, l_rate)
        errors.append(sum_error)
    return errors


def predict(network: list, row: list[float], transfer: str = "sigmoid") -> int:
    outputs = forward_propagate(network, row, TRANSFERS[transfer][0])
    return outputs.index(max(outputs))


# ---------------------------------------------------------------- with chainrule


def to_parameters(network: list) -> list[cr.Tensor]:
    """[kernel_1 (in, hidden), bias_1, kernel_2 (hidden, out), bias_2] as float64 leaves."""
    params = []
    for layer in network:
        w = np.array([neuron["weights"] for neuron in layer], dtype=np.float64)
        params += [cr.tensor(w[:, :-1].T.copy(), dtype=np.float64, requires_grad=True),
                   cr.tensor(w[:, -1].copy(), dtype=np.float64, requires_grad=True)]
    return params


def half_sse(params: list[cr.Tensor], row: list[float], expected: list[float],
             transfer: str) -> cr.Tensor:
    """L = ½ Σ (expected − output)² for one row; its autograd gradients are −delta·input."""
    act = getattr(cr.Tensor, transfer)
    x = cr.tensor([row[:-1]], dtype=np.float64)
    hidden = act(x @ params[0] + params[1])
    output = act(hidden @ params[2] + params[3])
    return 0.5 * ((cr.tensor([expected], dtype=np.float64) - output) ** 2).sum()


def train_with_chainrule(params: list[cr.Tensor], train: list, l_rate: float, n_epoch: int,
                         n_outputs: int, transfer: str) -> None:
    """The same online gradient descent, with gradients from ``backward()``."""
    for _ in range(n_epoch):
        for row in train:
            loss = half_sse(params, row, one_hot(row[-1], n_outputs), transfer)
            for p in params:
                p.grad = None
            loss.backward()
            for p in params:
                p.data -= l_rate * p.grad.data


def hand_gradients(network: list, row: list[float]) -> list[np.ndarray]:
    """∂L/∂weights from the deltas (after backward_propagate_error): −delta · input."""
    grads = []
    for i, layer in enumerate(network):
        inputs = np.array(row[:-1] if i == 0 else [n["output"] for n in network[i - 1]])
        deltas = np.array([neuron["delta"] for neuron in layer])
        grads += [-np.outer(inputs, deltas), -deltas]
    return grads


def compare_one_row(transfer: str, seed: int, row: list[float]) -> float:
    """Largest |hand − autograd| over every weight of a fresh 2-3-2 network, for one row."""
    random.seed(seed)
    network = initialize_network(2, 3, 2)
    params = to_parameters(network)
    fn, derivative = TRANSFERS[transfer]
    expected = one_hot(row[-1], 2)
    forward_propagate(network, row, fn)
    backward_propagate_error(network, expected, derivative)
    half_sse(params, row, expected, transfer).backward()
    return max(float(np.abs(h - p.grad.data).max())
               for h, p in zip(hand_gradients(network, row), params))


def weights_difference(network: list, params: list[cr.Tensor]) -> float:
    return max(float(np.abs(a.data - b.data).max())
               for a, b in zip(to_parameters(network), params))


# ---------------------------------------------------------------- the walkthrough


def article_example() -> dict:
    """Part A: the article's own numbers, sigmoid, seed(1)."""
    random.seed(1)
    small = initialize_network(2, 1, 2)
    forward = forward_propagate(small, [1, 0, None])
    worked = [[{"output": 0.7105668883115941,
                "weights": [0.13436424411240122, 0.8474337369372327, 0.763774618976614]}],
              [{"output": 0.6213859615555266, "weights": [0.2550690257394217,
                                                          0.49543508709194095]},
               {"output": 0.6573693455986976, "weights": [0.4494910647887381,
                                                          0.651592972722763]}]]
    backward_propagate_error(worked, [0, 1])
    random.seed(1)
    network = initialize_network(2, 2, 2)
    params = to_parameters(network)
    errors = train_network(network, DATASET, 0.5, 20, 2)
    train_with_chainrule(params, DATASET, 0.5, 20, 2, "sigmoid")
    return {"initial_weights": small[0][0]["weights"], "forward_output": forward,
            "deltas": [[n["delta"] for n in layer] for layer in worked],
            "epoch_errors": errors,
            "trained_weights": [[n["weights"] for n in layer] for layer in network],
            "accuracy": np.mean([predict(network, r) == r[-1] for r in DATASET]),
            "chainrule_weights_difference": weights_difference(network, params)}


def transfer_comparison(transfer: str, seed: int, epochs: int) -> dict:
    """Part B for one transfer: gradients on every row, then training both ways."""
    gradient_difference = max(compare_one_row(transfer, seed, row) for row in DATASET)
    random.seed(seed)
    network = initialize_network(2, 3, 2)
    params = to_parameters(network)
    errors = train_network(network, DATASET, LEARNING_RATES[transfer], epochs, 2, transfer)
    train_with_chainrule(params, DATASET, LEARNING_RATES[transfer], epochs, 2, transfer)
    accuracy = np.mean([predict(network, r, transfer) == r[-1] for r in DATASET])
    return {"gradient_difference": gradient_difference, "first_error": errors[0],
            "final_error": errors[-1], "accuracy": float(accuracy),
            "weights_difference": weights_difference(network, params), "errors": errors}


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False, seed: int = 1) -> dict:
    """Part A (the article's numbers) and part B (2-3-2, three transfers, vs autograd)."""
    say = say_if(verbose)
    progress = bar(1 + len(TRANSFERS), "backprop_by_hand: the article, 3 transfers", verbose,
                   unit="part")
    article = article_example()
    progress.update()
    say(f"A. seed(1), initialize_network(2, 1, 2): hidden weights {article['initial_weights']}")
    say(f"   forward_propagate([1, 0]) = {article['forward_output']}")
    say(f"   worked deltas: hidden {article['deltas'][0]}, output {article['deltas'][1]}")
    for epoch in (0, 1, 19):
        say(f"   >epoch={epoch}, lrate=0.500, error={article['epoch_errors'][epoch]:.3f}")
    say(f"   training accuracy {article['accuracy']:.0%}; chainrule's weights after the same "
        f"20 epochs differ by at most {article['chainrule_weights_difference']:.1e}")
    result = {"article": article, "transfers": {}, "plots": {}}
    for transfer in TRANSFERS:
        r = transfer_comparison(transfer, seed, EPOCHS)
        progress.update()
        result["transfers"][transfer] = r
        say(f"B. 2-3-2 {transfer:7s} lrate={LEARNING_RATES[transfer]}: hand vs autograd "
            f"gradients {r['gradient_difference']:.1e}; error {r['first_error']:.3f} -> "
            f"{r['final_error']:.3f}, accuracy {r['accuracy']:.0%}, trained weights differ "
            f"by {r['weights_difference']:.1e}")
    progress.close()
    result["gradient_difference"] = max(r["gradient_difference"]
                                        for r in result["transfers"].values())
    result["weights_difference"] = max([r["weights_difference"]
                                        for r in result["transfers"].values()]
                                       + [article["chainrule_weights_difference"]])
    if out_dir is not None:
        curves = {"article 2-2-2 sigmoid": article["epoch_errors"]}
        curves.update({f"2-3-2 {t}": r["errors"] for t, r in result["transfers"].items()})
        path = plot_curves(curves, os.path.join(out_dir, "backprop_by_hand_error.png"),
                           title="Summed squared error per epoch", xlabel="epoch", logy=True,
                           ylabel="error")
        if path is not None:
            result["plots"]["error per epoch"] = path
    return result

