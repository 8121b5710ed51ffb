"""A GAN learns to draw MNIST digits, scored by a classifier it never saw.

Generator 64 → 256 → 512 → 784 (LeakyReLU, tanh output) and discriminator
784 → 512 → 256 → 1 logit (LeakyReLU, Dropout 0.3), trained on the 8,000
training images scaled to [-1, 1] with Adam (lr 2e-4, β₁ 0.5), batch 64, the
non-saturating generator loss and one-sided label smoothing 0.1, for a bounded
time: 40 epochs (``--epochs 100`` for the guide's longer run) or 540 seconds,
whichever comes first. A grid of 100
samples from fixed noise is saved after every epoch.

Scoring, honestly: a small CNN is trained here on the same 8,000 real images
(its accuracy on the 2,000 held-out real images is printed), then it labels
1,000 generated digits. Reported: the mean max-probability (how confidently the
samples look like *some* digit) and how many of the 10 classes appear (mode
coverage). ``--quick`` trains on scikit-learn's 8×8 digits.

    python examples/gan.py [--out DIR] [--quick] [--epochs N]
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.callbacks import LambdaCallback
from chainrule.generative import GAN
from chainrule.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from chainrule.models import Sequential
from chainrule.unsupervised import limit_blas_threads
from chainrule.unsupervised.images import save_image_grid

from .expected import at_least
from .images import load_images
from .progress import EpochBar, say_if

LATENT = 64
FULL = {"side": 28, "epochs": 40, "max_seconds": 540.0,
        "g_units": (256, 512), "d_units": (512, 256), "classifier_epochs": 5}
QUICK = {"side": 8, "epochs": 20, "max_seconds": 60.0,
         "g_units": (128, 128), "d_units": (128, 64), "classifier_epochs": 15}
BATCH = 64
N_SCORED = 1000

KEY_NUMBERS = {"confidence": "mean_confidence", "classes": "classes_covered",
               "epochs": "epochs_run"}
EXPECTED = (at_least("classifier_accuracy", 0.97), at_least("classes_covered", 8),
            at_least("mean_confidence", 0.7))
EXPECTED_QUICK = (at_least("classes_covered", 3),)


def build_gan(s: dict) -> GAN:
    pixels = s["side"] ** 2
    g1, g2 = s["g_units"]
    d1, d2 = s["d_units"]
    generator = Sequential([Dense(g1, activation="leaky_relu", input_dim=LATENT),
                            Dense(g2, activation="leaky_relu"),
                            Dense(pixels, activation="tanh")])
    discriminator = Sequential([Dense(d1, activation="leaky_relu", input_dim=pixels),
                                Dropout(0.3), Dense(d2, activation="leaky_relu"),
                                Dropout(0.3), Dense(1)])
    return GAN(generator, discriminator, LATENT, label_smoothing=0.1)


def train_classifier(s: dict, X, y, X_test, y_test, verbose: bool = False
                     ) -> tuple[Sequential, float]:
    """A small CNN on the real training images; (model, held-out accuracy)."""
    padding = "same" if s["side"] < 28 else "valid"
    model = Sequential([
        Conv2D(16, 5 if s["side"] == 28 else 3, padding=padding, activation="relu",
               input_shape=(s["side"], s["side"], 1)), MaxPooling2D(2),
        Conv2D(32, 5 if s["side"] == 28 else 3, padding=padding, activation="relu"),
        MaxPooling2D(2), Flatten(), Dropout(0.3), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, y, epochs=s["classifier_epochs"], batch_size=64, verbose=0,
              callbacks=[EpochBar("gan: the scoring CNN", verbose)])
    return model, float(np.mean(model.predict(X_test, 256).argmax(axis=1) == y_test))


def score(classifier: Sequential, images: np.ndarray) -> dict:
    """Mean max-probability, the classes that appear and how often, for [0, 1] images."""
    probs = classifier.predict(images, 256)
    counts = np.bincount(probs.argmax(axis=1), minlength=10)
    return {"mean_confidence": float(probs.max(axis=1).mean()),
            "classes_covered": int(np.count_nonzero(counts)),
            "class_counts": counts.tolist()}


def epoch_grids(gan: GAN, side: int, out: Path | None, z: np.ndarray, paths: list):
    """A callback saving a grid of G(z) (fixed z) after each epoch to ``out``."""
    def save(epoch: int, logs=None) -> None:
        if out is not None:
            images = (gan.generate(len(z), z=z) + 1) / 2
            path = save_image_grid(images.reshape(-1, side, side),
                                   out / f"gan_epoch_{epoch + 1:03d}.png")
            if path is not None:
                paths.append(path)
    return LambdaCallback(on_epoch_end=save)


def time_limit(gan: GAN, max_seconds: float) -> LambdaCallback:
    """Stop after the epoch during which ``max_seconds`` ran out."""
    start = time.perf_counter()

    def check(epoch: int, logs=None) -> None:
        if time.perf_counter() - start > max_seconds:
            gan.stop_training = True
    return LambdaCallback(on_epoch_end=check)


def main(out_dir: str | os.PathLike | None = None, quick: bool = False, verbose: bool = False,
         seed: int = 0, epochs: int | None = None, max_seconds: float | None = None) -> dict:
    """Train the GAN for a bounded time and score 1,000 of its samples (BLAS on one
    thread: batches of 64 are too small to share, see chainrule.unsupervised.blas)."""
    with limit_blas_threads(1):
        return _run(out_dir, quick, verbose, seed, epochs, max_seconds)


def _run(out_dir, quick: bool, verbose: bool, seed: int, epochs: int | None,
         max_seconds: float | None) -> dict:
    say = say_if(verbose)
    s = dict(QUICK if quick else FULL)
    s["epochs"] = s["epochs"] if epochs is None else int(epochs)
    s["max_seconds"] = s["max_seconds"] if max_seconds is None else float(max_seconds)
    images, y, n_train = load_images(quick)
    X = images[..., None]
    X_train, y_train = X[:n_train], y[:n_train]
    X_test, y_test = X[n_train:], y[n_train:]

    cr.manual_seed(seed)
    classifier, accuracy = train_classifier(s, X_train, y_train, X_test, y_test, verbose)
    say(f"scoring CNN: {accuracy:.4f} accuracy on {len(X_test)} held-out real images")

    cr.manual_seed(seed)
    gan = build_gan(s)
    real = X_train.reshape(len(X_train), -1) * 2 - 1  # tanh range
    fixed_z = gan.sample_latent(100)
    out = None if out_dir is None else Path(out_dir) / "gan_samples"
    grids: list = []
    start = time.perf_counter()
    history = gan.fit(real, epochs=s["epochs"], batch_size=BATCH, verbose=0,
                      callbacks=[epoch_grids(gan, s["side"], out, fixed_z, grids),
                                 time_limit(gan, s["max_seconds"]),
                                 EpochBar("gan: adversarial training", verbose)])
    seconds = time.perf_counter() - start
    d_loss, g_loss = history.history["d_loss"], history.history["g_loss"]
    say(f"GAN: {len(d_loss)} epochs in {seconds:.0f} s; last epoch d_loss {d_loss[-1]:.3f}, "
        f"g_loss {g_loss[-1]:.3f}")

    samples = (gan.generate(N_SCORED) + 1) / 2
    scores = score(classifier, samples.reshape(-1, s["side"], s["side"], 1))
    real_scores = score(classifier, X_test[:N_SCORED])
    say(f"{N_SCORED} generated digits: mean confidence {scores['mean_confidence']:.3f} "
        f"(real held-out digits: {real_scores['mean_confidence']:.3f}), "
        f"{scores['classes_covered']} of 10 classes, counts {scores['class_counts']}")
    result = {"settings": s, "classifier_accuracy": accuracy, "epochs_run": len(d_loss),
              "seconds": seconds, "d_loss": d_loss, "g_loss": g_loss, **scores,
              "real_mean_confidence": real_scores["mean_confidence"], "plots": {}}
    if out_dir is not None:
        path = save_image_grid(samples[:100].reshape(-1, s["side"], s["side"]),
                               Path(out_dir) / "gan_samples.png")
        if path is not None:
            result["plots"]["samples after the first epoch (fixed noise)"] = grids[0]
            result["plots"]["1,000 scored samples: the first 100"] = path
            result["epoch_grids"] = str(out)
    return result

