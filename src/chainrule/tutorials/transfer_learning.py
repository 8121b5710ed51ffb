"""Transfer learning on MNIST: learn digits 0-4, then reuse the features for 5-9.

The classic recipe (Keras' ``mnist_transfer_cnn`` example), on the 8,000/2,000
split of ``mnist_cnn.py``:

1. train ``mnist_cnn.py``'s CNN on the training digits 0-4 only (5 classes);
2. freeze its convolutional feature extractor (``layer.trainable = False`` on the
   Conv2D/MaxPooling2D/Flatten layers), ``pop()`` the classifier head (Dropout,
   Dense(128), Dense(5)) and ``add()`` a new one;
3. train on the digits 5-9 only (labels 5..9 as classes 0..4): only the new head
   learns, and the backward pass stops at the frozen layers, so an epoch is cheaper.

It prints the test accuracy on the digits 5-9 after transfer, the time per epoch
frozen against training the same architecture fully (unfrozen, from scratch, on the
same 5-9 data), and checks that ``fit`` left the frozen weights bit-for-bit unchanged.

``--quick`` runs it on scikit-learn's 8x8 digits (what ``chainrule demo --quick`` shows).

    python examples/transfer_learning.py [--quick] [--epochs N] [--out DIR]
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.callbacks import Callback
from chainrule.models import Sequential
from chainrule.utils import plot_curves

from . import mnist_cnn  # the data, the CNN and its head
from .expected import at_least, equal
from .progress import EpochBar, say_if

EPOCHS, QUICK_EPOCHS = 5, 20
FEATURE_LAYERS = 5  # Conv2D, MaxPooling2D, Conv2D, MaxPooling2D, Flatten

KEY_NUMBERS = {"accuracy_5_9": "transfer_accuracy_5_9",
               "s/epoch_frozen": "frozen_seconds_per_epoch",
               "s/epoch_full": "full_seconds_per_epoch"}
EXPECTED = (at_least("transfer_accuracy_5_9", 0.96, quote="96%"),  # Keras: 99.2% on 60k
            at_least("pretrain_accuracy_0_4", 0.975), equal("frozen_weights_unchanged", True),
            equal("trainable_params", 1600 * 128 + 128 + 128 * 5 + 5, quote="205,573"))
EXPECTED_QUICK = (at_least("transfer_accuracy_5_9", 0.85), equal("frozen_weights_unchanged", True))


class EpochTimer(Callback):
    """Records the wall-clock seconds of every epoch in ``self.seconds``."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def split_digits(data, low: range, high: range):
    """The (x, y) train and test parts whose labels lie in ``low`` and in ``high``;
    labels are shifted to start at 0 in each part."""
    x_train, y_train, x_test, y_test = data
    parts = []
    for digits in (low, high):
        train, test = np.isin(y_train, digits), np.isin(y_test, digits)
        parts.append((x_train[train], y_train[train] - digits.start,
                      x_test[test], y_test[test] - digits.start))
    return parts


def fit_timed(model: Sequential, part, epochs: int, progress: EpochBar | None = None
              ) -> tuple[float, float, list[float]]:
    """Fit on a part's training data; (test accuracy, median s/epoch, loss per epoch)."""
    x_train, y_train, x_test, y_test = part
    timer = EpochTimer()
    history = model.fit(x_train, y_train, batch_size=mnist_cnn.BATCH_SIZE, epochs=epochs,
                        verbose=0, callbacks=[timer] + ([progress] if progress else []))
    accuracy = float(np.mean(model.predict(x_test, batch_size=500).argmax(axis=1) == y_test))
    return accuracy, statistics.median(timer.seconds), list(history.history["loss"])


def freeze_and_replace_head(model: Sequential, num_classes: int, lr: float) -> list[np.ndarray]:
    """Freeze the feature layers, pop the head, add a new one, recompile.
    Returns copies of the frozen weights, taken before any further training."""
    for layer in model.layers[:FEATURE_LAYERS]:
        layer.trainable = False
    while len(model.layers) > FEATURE_LAYERS:
        model.pop()
    for layer in mnist_cnn.classifier_head(num_classes):
        model.add(layer)
    model.compile(optimizer=cr.optim.Adam(lr=lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return [p.data.copy() for layer in model.layers[:FEATURE_LAYERS]
            for p in layer.parameters()]


def main(out_dir: str | os.PathLike | None = None, quick: bool = False, verbose: bool = False,
         seed: int = 0, epochs: int | None = None) -> dict:
    """Pretrain on 0-4, transfer to 5-9 frozen, compare with full training; the numbers."""
    say = say_if(verbose)
    data = mnist_cnn.load_split(quick)
    padding = "same" if quick else "valid"
    epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    low, high = split_digits(data, range(0, 5), range(5, 10))
    say(f"digits 0-4: {len(low[0])} train / {len(low[2])} test; "
        f"digits 5-9: {len(high[0])} train / {len(high[2])} test")

    cr.manual_seed(seed)
    model = mnist_cnn.build_cnn(num_classes=5, padding=padding)
    base_accuracy, _, _ = fit_timed(model, low, epochs,
                                    EpochBar("transfer_learning: 0-4", verbose))
    say(f"1. CNN trained on 0-4 ({epochs} epochs): test accuracy on 0-4 {base_accuracy:.4f}")

    frozen_before = freeze_and_replace_head(model, 5, lr=1e-3)
    say(f"2. froze {FEATURE_LAYERS} feature layers ({sum(w.size for w in frozen_before)} "
        f"weights), popped the head and added a new one")
    accuracy, frozen_epoch, frozen_loss = fit_timed(
        model, high, epochs, EpochBar("transfer_learning: 5-9 frozen", verbose))
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    unchanged = all(np.array_equal(before, p.data) for before, p in zip(
        frozen_before, (p for layer in model.layers[:FEATURE_LAYERS]
                        for p in layer.parameters())))
    say(f"3. transfer to 5-9 ({epochs} epochs, frozen): test accuracy on 5-9 {accuracy:.4f}; "
        f"{frozen_epoch:.2f} s/epoch; {trainable} weights trained; frozen weights bit-for-bit "
        f"unchanged: {unchanged}")

    cr.manual_seed(seed)
    full = mnist_cnn.build_cnn(num_classes=5, padding=padding)
    full_accuracy, full_epoch, _ = fit_timed(full, high, epochs,
                                             EpochBar("transfer_learning: 5-9 full", verbose))
    say(f"   same architecture trained fully on 5-9 from scratch: test accuracy "
        f"{full_accuracy:.4f}; {full_epoch:.2f} s/epoch "
        f"(frozen epochs take {frozen_epoch / full_epoch:.0%} of that)")

    result = {"dataset": "sklearn 8x8 digits" if quick else "MNIST (8,000 / 2,000)",
              "epochs": epochs, "pretrain_accuracy_0_4": base_accuracy,
              "transfer_accuracy_5_9": accuracy, "full_accuracy_5_9": full_accuracy,
              "frozen_seconds_per_epoch": frozen_epoch,
              "full_seconds_per_epoch": full_epoch,
              "frozen_weights_unchanged": unchanged, "trainable_params": trainable,
              "transfer_loss": frozen_loss, "plots": {}}
    if out_dir is not None:
        path = plot_curves({"frozen features + new head": frozen_loss},
                           Path(out_dir) / "transfer_learning_loss.png",
                           title="Training on digits 5-9 after transfer", xlabel="epoch",
                           ylabel="loss")
        if path is not None:
            result["plots"]["transfer loss"] = path
    return result

