"""A restricted Boltzmann machine learns MNIST digits without labels.

784 binary visible units (pixels binarised at 0.5) and 256 binary hidden units,
trained with CD-1 for 5 epochs on 8,000 images (mini-batches of 10, learning rate
0.05). The same run trains scikit-learn's ``BernoulliRBM`` (persistent CD-1) at the
same settings (n_components=256, learning_rate, batch_size, n_iter) and compares
the mean pseudo-likelihood on the 2,000 held-out images: both models scored by the
same estimator with the *same* flipped bits (averaged over 10 draws), and
scikit-learn's own ``score_samples`` for reference. (Their speed is compared in
``benchmarks/bench_rbm.py``.)

It saves the learned filters (columns of W as 28×28 images) and held-out digits
next to their reconstructions. ``--quick`` uses scikit-learn's 8×8 digits.

    python examples/rbm.py [--out DIR] [--quick] [--epochs 20]
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.unsupervised import RBM
from chainrule.unsupervised.images import save_image_grid

from .expected import at_least, at_most
from .extras import require
from .images import load_images
from .progress import bar, say_if

FULL = {"n_hidden": 256, "epochs": 5, "batch_size": 10, "lr": 0.05}
QUICK = {"n_hidden": 64, "epochs": 10, "batch_size": 10, "lr": 0.05}
PL_DRAWS = 10

KEY_NUMBERS = {"pseudo_likelihood": "pseudo_likelihood",
               "sklearn": "sklearn_pseudo_likelihood",
               "reconstruction_mse": "reconstruction_error"}
EXPECTED = (at_least("pseudo_likelihood_gain", 0.0),)  # at least as good as scikit-learn's
EXPECTED_QUICK = (at_least("pseudo_likelihood_gain", 0.0), at_most("reconstruction_error", 0.1))


def load_binary_images(quick: bool) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) binary float32 rows: MNIST 8,000/2,000, or sklearn digits 1,437/360."""
    images, _, n_train = load_images(quick)
    X = (images.reshape(len(images), -1) > 0.5).astype(np.float32)
    return X[:n_train], X[n_train:]


def train_chainrule(X, settings: dict, seed: int, progress=None) -> tuple[RBM, float]:
    """A chainrule RBM trained with CD-1, one ``fit`` epoch at a time (the same draws as
    one call with all the epochs); (rbm, seconds per epoch)."""
    cr.manual_seed(seed)
    rbm = RBM(X.shape[1], settings["n_hidden"])
    start = time.perf_counter()
    for _ in range(settings["epochs"]):
        rbm.fit(X, epochs=1, batch_size=settings["batch_size"], lr=settings["lr"], k=1)
        if progress is not None:
            progress.update()
    return rbm, (time.perf_counter() - start) / settings["epochs"]


def train_sklearn(X, settings: dict, seed: int, blas_threads: int | None = 1):
    """scikit-learn's BernoulliRBM (persistent CD-1) on float64 input, as it is usually
    given; ``blas_threads`` limits BLAS as chainrule does for small batches (None: as
    installed). Returns (model, seconds per epoch)."""
    BernoulliRBM = require("sklearn.neural_network",  # noqa: N806 (scikit-learn's name)
                           "the BernoulliRBM it is compared with").BernoulliRBM
    threadpool_limits = require("threadpoolctl", "BLAS thread control").threadpool_limits
    model = BernoulliRBM(n_components=settings["n_hidden"], learning_rate=settings["lr"],
                         batch_size=settings["batch_size"], n_iter=settings["epochs"],
                         random_state=seed)
    limit = (contextlib.nullcontext() if blas_threads is None
             else threadpool_limits(limits=blas_threads, user_api="blas"))
    with limit:
        start = time.perf_counter()
        model.fit(X.astype(np.float64))
        seconds = time.perf_counter() - start
    return model, seconds / settings["epochs"]


def as_rbm(sklearn_rbm) -> RBM:
    """scikit-learn's parameters in a chainrule RBM (so both are scored identically)."""
    n_hidden, n_visible = sklearn_rbm.components_.shape
    rbm = RBM(n_visible, n_hidden)
    rbm.W = sklearn_rbm.components_.T.astype(np.float64)
    rbm.visible_bias = sklearn_rbm.intercept_visible_.astype(np.float64)
    rbm.hidden_bias = sklearn_rbm.intercept_hidden_.astype(np.float64)
    return rbm


def mean_pseudo_likelihood(rbm: RBM, X, seed: int) -> float:
    """Mean over rows and ``PL_DRAWS`` draws; a given seed flips the same bits for any model."""
    values = []
    for draw in range(PL_DRAWS):
        cr.manual_seed(seed + draw)
        values.append(rbm.pseudo_likelihood(X).mean())
    return float(np.mean(values))


def main(out_dir: str | os.PathLike | None = None, quick: bool = False, verbose: bool = False,
         seed: int = 0, epochs: int | None = None) -> dict:
    """Train both RBMs and return the comparison (pseudo-likelihoods, errors)."""
    say = say_if(verbose)
    settings = dict(QUICK if quick else FULL)
    if epochs is not None:
        settings["epochs"] = int(epochs)
    X_train, X_test = load_binary_images(quick)
    say(f"{len(X_train)} training / {len(X_test)} held-out binary images of "
        f"{X_train.shape[1]} pixels; RBM {X_train.shape[1]}-{settings['n_hidden']}, CD-1, "
        f"{settings['epochs']} epochs, batch {settings['batch_size']}, lr {settings['lr']}")
    with bar(settings["epochs"] + 1, "rbm: CD-1 epochs, then scikit-learn's", verbose,
             unit="epoch") as progress:
        rbm, cr_epoch = train_chainrule(X_train, settings, seed, progress)
        say(f"chainrule RBM: {cr_epoch:.3f} s/epoch")
        sk, _ = train_sklearn(X_train, settings, seed)
        progress.update()
    pl = mean_pseudo_likelihood(rbm, X_test, seed + 1000)
    sk_pl = mean_pseudo_likelihood(as_rbm(sk), X_test, seed + 1000)
    sk_own = float(sk.score_samples(X_test).mean())
    reconstruction = rbm.reconstruct(X_test)
    result = {
        "settings": dict(settings), "n_train": len(X_train), "n_test": len(X_test),
        "seconds_per_epoch": cr_epoch,
        "pseudo_likelihood": pl, "sklearn_pseudo_likelihood": sk_pl,
        "pseudo_likelihood_gain": pl - sk_pl,
        "sklearn_score_samples": sk_own,
        "reconstruction_error": float(np.mean((reconstruction - X_test) ** 2)),
        "sklearn_reconstruction_error": float(np.mean(
            (as_rbm(sk).reconstruct(X_test) - X_test) ** 2)),
        "train_reconstruction_errors": rbm.history["reconstruction_error"], "plots": {},
    }
    say(f"held-out pseudo-likelihood (same flipped bits, {PL_DRAWS} draws): chainrule "
        f"{pl:.2f}, scikit-learn {sk_pl:.2f} (its own score_samples: {sk_own:.2f})")
    say(f"held-out reconstruction MSE: chainrule {result['reconstruction_error']:.4f}, "
        f"scikit-learn {result['sklearn_reconstruction_error']:.4f}")
    if out_dir is not None:
        plots = {
            "RBM filters (columns of W)": save_image_grid(
                rbm.W.T[:100], Path(out_dir) / "rbm_filters.png", normalize=True),
            "held-out digits (odd rows) and RBM reconstructions (even rows)": save_image_grid(
                np.stack([X_test[:50].reshape(5, 10, -1),
                          reconstruction[:50].reshape(5, 10, -1)], axis=1).reshape(100, -1),
                Path(out_dir) / "rbm_reconstructions.png"),
        }
        result["plots"] = {title: path for title, path in plots.items() if path is not None}
    return result
