"""Vanishing and exploding gradients: ten layers deep, measured layer by layer.

Backpropagation multiplies the gradient by one factor per layer on its way back:
∂L/∂a_{l-1} = (∂L/∂a_l · f'(z_l)) W_lᵀ. Each factor is the activation's slope f'
times the weights' gain, about √fan_out · std(W) for random weights. Ten layers
multiply ten such factors; if each is below 1 the first layers learn nothing
(vanishing), above 1 they blow up (exploding).

Six networks of ten Dense layers (nine hidden layers of 64 units, then 10
logits), MNIST digits flattened to 784 pixels in [0, 1] (8,000 to train, 2,000 to
test; ``--quick``: scikit-learn's 8×8 digits):

* ``sigmoid``, ``tanh``: naive initialisation, Keras's ``"uniform"`` (±0.05, the
  seeds' churn classifier's choice): a weight gain of √64 · 0.05/√3 ≈ 0.23;
* ``relu_he``: ReLU with He initialisation (std √(2/fan_in));
* each again with ``BatchNormalization`` between every hidden Dense and its
  activation (``sigmoid_bn``, ``tanh_bn``, ``relu_he_bn``).

For each: the norm of ∂L/∂kernel of every layer on one batch of 256 training
images, at initialisation and after training (plain SGD, lr 0.1, batch 64), the
ratio first layer / last layer, and the training curves. The explanation printed
at the end is computed from these numbers.

    python examples/vanishing_gradients.py [--out DIR] [--quick]
"""

from __future__ import annotations

import os

import numpy as np

import chainrule as cr
from chainrule.layers import Activation, BatchNormalization, Dense
from chainrule.losses import SparseCategoricalCrossentropy
from chainrule.models import Sequential
from chainrule.optim import SGD
from chainrule.utils.plotting import plot_panels

from .expected import at_least, at_most, near, printed
from .images import load_images
from .progress import EpochBar, say_if

CONFIGS = {  # name: (activation, kernel initializer, BatchNormalization?)
    "sigmoid": ("sigmoid", "uniform", False),
    "tanh": ("tanh", "uniform", False),
    "relu_he": ("relu", "he_normal", False),
    "sigmoid_bn": ("sigmoid", "uniform", True),
    "tanh_bn": ("tanh", "uniform", True),
    "relu_he_bn": ("relu", "he_normal", True),
}
DEPTH, WIDTH, CLASSES = 10, 64, 10
GRADIENT_BATCH = 256
EPOCHS = {"full": 5, "quick": 2}
LEARNING_RATE, BATCH_SIZE = 0.1, 64
HEALTHY = ("tanh", "relu_he", "sigmoid_bn", "tanh_bn", "relu_he_bn")
LEARNS = ("relu_he", "sigmoid_bn", "tanh_bn", "relu_he_bn")

KEY_NUMBERS = {f"{c}_ratio": f"{c}.ratio_at_init" for c in CONFIGS}
# The bars were set from the argument above before anything was measured: a
# sigmoid's gradient loses 4 × 1/0.23 ≈ 17× per layer (issue 13 asks < 1e-3 over ten);
# tanh loses the gain 0.23 both ways, so its layers stay level with each other but
# all tiny; He initialisation and batch normalisation keep every factor near 1.
EXPECTED_INIT = (
    at_most("sigmoid.ratio_at_init", 1e-3, quote="1e-3"),
    *(at_least(f"{c}.ratio_at_init", 1e-2) for c in HEALTHY),
    *(at_most(f"{c}.ratio_at_init", 1e2) for c in HEALTHY),
    at_most("tanh_first_layer_vs_relu_he", 1e-3),
)
# What the walkthrough printed (seed 0), measured once the bars held.
PRINTED_RATIOS = {"sigmoid": "1.6e-11", "tanh": "8.0e-01", "relu_he": "3.5e+00",
                  "sigmoid_bn": "4.4e-01", "tanh_bn": "1.5e+00", "relu_he_bn": "8.7e+00"}
PRINTED_RATIOS_QUICK = {"sigmoid": "2.2e-11", "tanh": "7.4e-01", "relu_he": "1.4e+00",
                        "sigmoid_bn": "8.8e-01", "tanh_bn": "1.3e+00", "relu_he_bn": "2.8e+00"}
PRINTED_ACCURACY = {"sigmoid": "0.115", "tanh": "0.115", "relu_he": "0.947",
                    "sigmoid_bn": "0.893", "tanh_bn": "0.923", "relu_he_bn": "0.946"}
EXPECTED = (
    *EXPECTED_INIT,
    *(at_least(f"{c}.test_accuracy", 0.8) for c in LEARNS),
    *(at_most(f"{c}.test_accuracy", 0.3) for c in ("sigmoid", "tanh")),
    *(printed(f"{c}.ratio_at_init", text) for c, text in PRINTED_RATIOS.items()),
    *(near(f"{c}.test_accuracy", float(text), 0.02, quote=text)
      for c, text in PRINTED_ACCURACY.items()),
)
# two epochs on 8x8 digits: only the gradients are judged
EXPECTED_QUICK = (*EXPECTED_INIT, *(printed(f"{c}.ratio_at_init", text)
                                    for c, text in PRINTED_RATIOS_QUICK.items()))


def build(config: str, n_inputs: int, seed: int) -> Sequential:
    """Ten Dense layers: nine hidden (64 units, [BatchNormalization], activation), 10 logits."""
    activation, initializer, normalize = CONFIGS[config]
    cr.manual_seed(seed)
    layers = []
    for i in range(DEPTH - 1):
        layers.append(Dense(WIDTH, kernel_initializer=initializer,
                            input_dim=n_inputs if i == 0 else None))
        if normalize:
            layers.append(BatchNormalization())
        layers.append(Activation(activation))
    layers.append(Dense(CLASSES, kernel_initializer=initializer))
    model = Sequential(layers)
    model.compile(optimizer=SGD(lr=LEARNING_RATE),
                  loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def kernel_gradient_norms(model: Sequential, x: np.ndarray, y: np.ndarray) -> list[float]:
    """‖∂L/∂kernel‖ (Frobenius) of each Dense layer, first to last, on the batch (x, y)
    in training mode (batch statistics), L the mean cross-entropy."""
    model.train()
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    for p in model.parameters():
        p.grad = None
    cr.functional.cross_entropy(model(cr.tensor(x)), y).backward()
    return [float(np.linalg.norm(layer.kernel.grad.numpy())) for layer in dense]


def weight_gain(model: Sequential) -> float:
    """√fan_out · std(W) of the hidden 64×64 kernels at initialisation (their mean)."""
    kernels = [layer.kernel.numpy() for layer in model.layers
               if isinstance(layer, Dense) and layer.kernel.shape == (WIDTH, WIDTH)]
    return float(np.mean([np.sqrt(WIDTH) * k.std() for k in kernels]))


def run_config(config: str, data: tuple, epochs: int, seed: int, verbose: bool) -> dict:
    """Gradient norms at initialisation and after ``epochs`` of SGD, and the curves."""
    x_train, y_train, x_test, y_test = data
    xb, yb = x_train[:GRADIENT_BATCH], y_train[:GRADIENT_BATCH]
    model = build(config, x_train.shape[1], seed)
    at_init = kernel_gradient_norms(model, xb, yb)
    gain = weight_gain(model)
    history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=epochs, verbose=0,
                        validation_data=(x_test, y_test),
                        callbacks=[EpochBar(f"vanishing_gradients: {config}", verbose)])
    trained = kernel_gradient_norms(model, xb, yb)
    return {"norms_at_init": at_init, "norms_trained": trained,
            "ratio_at_init": at_init[0] / at_init[-1], "ratio_trained": trained[0] / trained[-1],
            "weight_gain": gain, "loss": history.history["loss"],
            "test_accuracies": history.history["val_accuracy"],
            "test_accuracy": history.history["val_accuracy"][-1]}


def load_data(quick: bool) -> tuple:
    """(x_train, y_train, x_test, y_test): images flattened to rows in [0, 1]."""
    images, labels, n_train = load_images(quick)
    x = images.reshape(len(images), -1)
    return x[:n_train], labels[:n_train], x[n_train:], labels[n_train:]


def init_ratios(seed: int, quick: bool = False) -> dict[str, float]:
    """First-to-last kernel gradient-norm ratio of each configuration at initialisation."""
    x, y, _, _ = load_data(quick)
    return {c: (lambda n: n[0] / n[-1])(kernel_gradient_norms(build(c, x.shape[1], seed),
                                                              x[:GRADIENT_BATCH],
                                                              y[:GRADIENT_BATCH]))
            for c in CONFIGS}


def table(result: dict, key: str) -> list[str]:
    """One line per configuration: the ten kernel gradient norms and the ratio."""
    lines = [f"   {'':<11}" + "".join(f"{'layer ' + str(i + 1):>9}" for i in range(DEPTH))
             + f"{'1st/last':>10}"]
    for c in CONFIGS:
        norms = result[c][key]
        lines.append(f"   {c:<11}" + "".join(f"{v:9.1e}" for v in norms)
                     + f"{norms[0] / norms[-1]:10.1e}")
    return lines


def explain(result: dict) -> list[str]:
    """What the numbers say, in the numbers' own terms."""
    s, t, r = result["sigmoid"], result["tanh"], result["relu_he"]
    per_layer = s["ratio_at_init"] ** (1 / (DEPTH - 1))
    return [
        f"sigmoid: the gradient shrinks ×{per_layer:.3f} per layer on its way back "
        f"(ratio {s['ratio_at_init']:.1e} over {DEPTH - 1} steps): the weight gain "
        f"{s['weight_gain']:.2f} times σ' <= 0.25 (σ'(0) = 0.25, where these small "
        f"weights keep z). The first layers get nothing to learn from: test accuracy "
        f"{s['test_accuracy']:.3f}.",
        f"tanh: tanh'(0) = 1, so only the gain {t['weight_gain']:.2f} shrinks the backward "
        f"signal, and it shrinks the forward signal alike: ∂L/∂W = inputᵀ · ∂L/∂z is "
        f"equally small in every layer (ratio {t['ratio_at_init']:.1e}), but the first "
        f"layer's gradient is {result['tanh_first_layer_vs_relu_he']:.1e} of ReLU+He's. "
        f"Test accuracy {t['test_accuracy']:.3f}. Glorot's std √(2/(fan_in+fan_out)) "
        f"would make the gain 1.",
        f"ReLU + He: std √(2/fan_in) gives a gain of {r['weight_gain']:.2f} ≈ √2, and ReLU "
        f"passes the gradient through about half the units, so each factor is near 1: "
        f"ratio {r['ratio_at_init']:.1e}, test accuracy {r['test_accuracy']:.3f}.",
        "BatchNormalization divides each pre-activation by its batch standard deviation, "
        "which the small weights made small, and the backward pass divides by it too: the "
        "weight scale cancels. Ratios " + ", ".join(
            f"{c} {result[c]['ratio_at_init']:.1e}" for c in ("sigmoid_bn", "tanh_bn",
                                                                "relu_he_bn"))
        + "; test accuracies " + ", ".join(
            f"{result[c]['test_accuracy']:.3f}" for c in ("sigmoid_bn", "tanh_bn",
                                                          "relu_he_bn")) + ".",
    ]


def plots(result: dict, out_dir) -> dict:
    layers = np.arange(1, DEPTH + 1)
    paths = {
        "kernel gradient norm per layer": plot_panels(
            {when: {c: (layers, result[c][key]) for c in CONFIGS}
             for when, key in (("at initialisation", "norms_at_init"),
                               ("after training", "norms_trained"))},
            os.path.join(out_dir, "vanishing_gradients_norms.png"), xlabel="layer",
            ylabels=("‖∂L/∂kernel‖", ""), logy=(True, True)),
        "training curves": plot_panels(
            {"training loss": {c: result[c]["loss"] for c in CONFIGS},
             "test accuracy": {c: result[c]["test_accuracies"] for c in CONFIGS}},
            os.path.join(out_dir, "vanishing_gradients_training.png"), xlabel="epoch",
            ylabels=("cross-entropy", "accuracy")),
    }
    return {k: v for k, v in paths.items() if v is not None}


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False, seed: int = 0) -> dict:
    """Measure, train and explain the six configurations."""
    say = say_if(verbose)
    data = load_data(quick)
    epochs = EPOCHS["quick" if quick else "full"]
    result: dict = {c: run_config(c, data, epochs, seed, verbose) for c in CONFIGS}
    result["tanh_first_layer_vs_relu_he"] = (result["tanh"]["norms_at_init"][0]
                                             / result["relu_he"]["norms_at_init"][0])
    say(f"‖∂L/∂kernel‖ per layer at initialisation ({GRADIENT_BATCH} training images):")
    for line in table(result, "norms_at_init"):
        say(line)
    say(f"after {epochs} epochs of SGD (lr {LEARNING_RATE}, batch {BATCH_SIZE}):")
    for line in table(result, "norms_trained"):
        say(line)
    say("test accuracy: " + ", ".join(f"{c} {result[c]['test_accuracy']:.3f}"
                                      for c in CONFIGS))
    for line in explain(result):
        say(line)
    result["plots"] = plots(result, out_dir) if out_dir is not None else {}
    return result
