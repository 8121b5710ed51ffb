"""A LeNet-style convolutional net on real MNIST digits, with an MLP baseline.

Data: the official MNIST test release that ships with chainrule
(``cr.datasets.load_mnist()``, 10,000 images): the first 8,000 images train, the
last 2,000 test. Pixels are scaled to [0, 1] and given a channel axis,
(N, 28, 28, 1), channels-last as Keras.

The network (Keras' "simple MNIST convnet", with a Dense layer before the head)::

    [RandomTranslation(0.1, 0.1)]        only with --augment: shift by up to ±3 pixels
    Conv2D(32, 3x3, relu)   -> (26, 26, 32)
    MaxPooling2D(2)         -> (13, 13, 32)
    Conv2D(64, 3x3, relu)   -> (11, 11, 64)
    MaxPooling2D(2)         -> (5, 5, 64)
    Flatten, Dropout(0.5)   -> 1600
    Dense(128, relu), Dense(10, softmax)

trained with ``fit`` (Adam, lr 1e-3, batch 64, 10 epochs). The baseline is an MLP
(Flatten, Dense(256, relu), Dropout(0.2), Dense(10, softmax)) on the same split.
The run prints the confusion matrix and saves a grid of the misclassified digits.

``--quick`` runs the same code on scikit-learn's 8x8 digits (1,797 images, no file
needed; "same" padding so the two pools fit), which is what ``chainrule demo
--quick`` shows.

    python examples/mnist_cnn.py [--augment] [--quick] [--epochs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import layers
from chainrule.models import Sequential
from chainrule.utils import plot_confusion_matrix, plot_history

from .expected import at_least
from .images import load_images
from .progress import EpochBar, say_if

EPOCHS, QUICK_EPOCHS = 10, 20
BATCH_SIZE = 64

KEY_NUMBERS = {"test_accuracy": "test_accuracy", "mlp": "mlp_test_accuracy",
               "errors": "errors"}
EXPECTED = (at_least("test_accuracy", 0.975, quote="97.5%"),)  # Keras: ~99% on 60k images
EXPECTED_QUICK = (at_least("test_accuracy", 0.9), at_least("mlp_test_accuracy", 0.8))


def load_split(quick: bool = False):
    """(x_train (n, side, side, 1), y_train, x_test, y_test), float32 in [0, 1] and int64:
    MNIST's first 8,000 and last 2,000 images, or with ``quick`` scikit-learn's 8x8
    digits (first 1,437 / last 360)."""
    images, labels, n_train = load_images(quick)
    x = images[..., None]
    return x[:n_train], labels[:n_train], x[n_train:], labels[n_train:]


def feature_extractor(padding: str = "valid") -> list[layers.Layer]:
    """The convolutional part: two Conv2D + MaxPooling2D blocks, then Flatten."""
    return [layers.Conv2D(32, 3, padding=padding, activation="relu"), layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding=padding, activation="relu"), layers.MaxPooling2D(2),
            layers.Flatten()]


def classifier_head(num_classes: int = 10) -> list[layers.Layer]:
    """Dropout, Dense(128, relu), Dense(num_classes, softmax)."""
    return [layers.Dropout(0.5), layers.Dense(128, activation="relu"),
            layers.Dense(num_classes, activation="softmax")]


def build_cnn(num_classes: int = 10, augment: bool = False, padding: str = "valid",
              lr: float = 1e-3) -> Sequential:
    """The compiled LeNet-style CNN (see the module docstring)."""
    stack = [layers.RandomTranslation(0.1, 0.1)] if augment else []
    model = Sequential(stack + feature_extractor(padding) + classifier_head(num_classes))
    model.compile(optimizer=cr.optim.Adam(lr=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def build_mlp(num_classes: int = 10) -> Sequential:
    """The baseline: Flatten, Dense(256, relu), Dropout(0.2), Dense(num_classes, softmax)."""
    model = Sequential([layers.Flatten(), layers.Dense(256, activation="relu"),
                        layers.Dropout(0.2), layers.Dense(num_classes, activation="softmax")])
    model.compile(optimizer=cr.optim.Adam(lr=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def format_confusion(cm: np.ndarray) -> str:
    """The confusion matrix as text: rows true digit, columns predicted."""
    width = max(4, len(str(cm.max())) + 1)
    head = "true\\pred" + "".join(f"{j:>{width}}" for j in range(cm.shape[1]))
    rows = [f"{i:>9}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(cm)]
    return "\n".join([head, *rows])


def plot_misclassified(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                       path: str | os.PathLike, limit: int = 36) -> Path | None:
    """Save a grid of the first ``limit`` misclassified images, each titled
    "true→predicted"; None when matplotlib is absent or nothing was misclassified."""
    wrong = np.flatnonzero(y_true != y_pred)[:limit]
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    if len(wrong) == 0:
        return None
    cols = min(9, len(wrong))
    rows = -(-len(wrong) // cols)
    fig = Figure(figsize=(1.1 * cols, 1.25 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    for k, i in enumerate(wrong):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(images[i, ..., 0], cmap="gray_r")
        ax.set_title(f"{y_true[i]}→{y_pred[i]}", fontsize=9)
        ax.axis("off")
    fig.suptitle("misclassified test digits (true→predicted)", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def train_and_test(model: Sequential, data, epochs: int, batch_size: int = BATCH_SIZE,
                   progress: EpochBar | None = None):
    """Fit on the training split; returns (history, test accuracy, predicted labels, seconds)."""
    x_train, y_train, x_test, y_test = data
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[progress] if progress is not None else None)
    seconds = time.perf_counter() - start
    predicted = model.predict(x_test, batch_size=500).argmax(axis=1)
    return history, float(np.mean(predicted == y_test)), predicted, seconds


def main(out_dir: str | os.PathLike | None = None, quick: bool = False, verbose: bool = False,
         augment: bool = False, seed: int = 0, epochs: int | None = None,
         baseline: bool = True) -> dict:
    """Train the CNN (and the MLP baseline) and test them; returns the numbers."""
    say = say_if(verbose)
    start = time.perf_counter()
    data = load_split(quick)
    dataset = "sklearn 8x8 digits" if quick else "MNIST (8,000 train / 2,000 test)"
    epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    x_test, y_test = data[2], data[3]
    say(f"{dataset}: train {data[0].shape}, test {x_test.shape}")

    cr.manual_seed(seed)
    cnn = build_cnn(augment=augment, padding="same" if quick else "valid")
    history, accuracy, predicted, cnn_seconds = train_and_test(
        cnn, data, epochs, progress=EpochBar("mnist_cnn: CNN", verbose))
    cm = cr.metrics.confusion_matrix(y_test, predicted, num_classes=10)
    say(f"CNN{' + RandomTranslation(0.1, 0.1)' if augment else ''}, {epochs} epochs "
        f"({cnn_seconds:.1f} s): loss {history.history['loss'][0]:.3f} -> "
        f"{history.history['loss'][-1]:.3f}; test accuracy {accuracy:.4f}")
    say("confusion matrix (rows: true digit, columns: predicted):")
    say(format_confusion(cm))

    result = {"dataset": dataset, "augment": augment, "epochs": epochs,
              "test_accuracy": accuracy, "errors": int(np.sum(predicted != y_test)),
              "loss": [float(v) for v in history.history["loss"]],
              "train_accuracy": [float(v) for v in history.history["accuracy"]],
              "train_seconds": cnn_seconds, "confusion_matrix": cm.tolist(), "plots": {}}
    if baseline:
        cr.manual_seed(seed)
        _, mlp_accuracy, _, mlp_seconds = train_and_test(
            build_mlp(), data, epochs, progress=EpochBar("mnist_cnn: MLP", verbose))
        result.update(mlp_test_accuracy=mlp_accuracy, mlp_train_seconds=mlp_seconds)
        say(f"MLP baseline, {epochs} epochs ({mlp_seconds:.1f} s): test accuracy "
            f"{mlp_accuracy:.4f}")
    if out_dir is not None:
        _save_plots(result, history, cm, x_test, y_test, predicted, Path(out_dir), say)
    result["seconds"] = time.perf_counter() - start
    say(f"whole run: {result['seconds']:.1f} s")
    return result


def _save_plots(result: dict, history, cm, x_test, y_test, predicted, out: Path, say) -> None:
    for title, path in (
            ("CNN training", plot_history(history, out / "mnist_cnn_history.png",
                                          title="CNN on MNIST")),
            ("confusion matrix", plot_confusion_matrix(cm, out / "mnist_cnn_confusion.png",
                                                       title="CNN, test digits")),
            ("misclassified digits", plot_misclassified(x_test, y_test, predicted,
                                                        out / "mnist_cnn_misclassified.png"))):
        if path is not None:
            result["plots"][title] = path
            say(f"saved {title}: {path}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--augment`` for ``python examples/mnist_cnn.py``."""
    parser.add_argument("--augment", action="store_true",
                        help="add RandomTranslation(0.1, 0.1) as the first layer")

