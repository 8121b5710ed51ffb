"""A restricted Boltzmann machine learns MNIST digits without labels.

784 binary visible units (pixels binarised at 0.5) and 256 binary hidden units,
trained with CD-1 for 20 epochs on 8,000 images (mini-batches of 10, learning
rate 0.05). The same run trains scikit-learn's ``BernoulliRBM`` at the same
settings (n_components=256, learning_rate, batch_size, n_iter) and compares:

* time per epoch (wall clock of ``fit`` / epochs, same machine, same moment);
  scikit-learn is trained with BLAS limited to one thread (what chainrule does
  for batches this small) and also timed as installed (all BLAS threads) over
  2 epochs; the faster of the two counts;
* mean pseudo-likelihood on the 2,000 held-out images — both models scored by
  the same estimator with the *same* flipped bits (averaged over 10 draws), and
  scikit-learn's own ``score_samples`` for reference.

It saves the learned filters (columns of W as 28×28 images) and held-out digits
next to their reconstructions. ``--quick`` uses scikit-learn's 8×8 digits.

    python examples/rbm.py [--out DIR] [--quick]
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.unsupervised import RBM
from chainrule.unsupervised.images import save_image_grid

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
FULL = {"n_hidden": 256, "epochs": 20, "batch_size": 10, "lr": 0.05}
QUICK = {"n_hidden": 64, "epochs": 10, "batch_size": 10, "lr": 0.05}
PL_DRAWS = 10
TIMING_EPOCHS = 2


def load_binary_images(quick: bool, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) binary float32 rows: MNIST 8,000/2,000, or sklearn digits 1,437/360."""
    if quick:
        from sklearn.datasets import load_digits

        X = load_digits().data / 16.0
        n_train = 1437
    else:
        images, _ = cr.datasets.load_mnist(data_dir or MNIST_DIR)
        X = images.reshape(len(images), -1) / 255.0
        n_train = 8000
    X = (X > 0.5).astype(np.float32)
    return X[:n_train], X[n_train:]


def train_chainrule(X, settings: dict, seed: int) -> tuple[RBM, float]:
    """A chainrule RBM trained with CD-1; (rbm, seconds per epoch)."""
    cr.manual_seed(seed)
    rbm = RBM(X.shape[1], settings["n_hidden"])
    start = time.perf_counter()
    rbm.fit(X, epochs=settings["epochs"], batch_size=settings["batch_size"],
            lr=settings["lr"], k=1)
    return rbm, (time.perf_counter() - start) / settings["epochs"]


def train_sklearn(X, settings: dict, seed: int, blas_threads: int | None = None):
    """scikit-learn's BernoulliRBM (persistent CD-1) on float64 input, as it is usually
    given; ``blas_threads`` limits BLAS as chainrule does for small batches.
    Returns (model, seconds per epoch)."""
    import contextlib

    from sklearn.neural_network import BernoulliRBM
    from threadpoolctl import threadpool_limits

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
         seed: int = 0, data_dir=None, epochs: int | None = None,
         time_default_threads: bool = True) -> dict:
    """Train both RBMs and return the comparison (seconds, pseudo-likelihoods, errors).
    ``time_default_threads=False`` skips timing scikit-learn with all BLAS threads
    (slow on a loaded machine)."""
    say = print if verbose else (lambda *args: None)
    settings = dict(QUICK if quick else FULL)
    if epochs is not None:
        settings["epochs"] = int(epochs)
    X_train, X_test = load_binary_images(quick, data_dir)
    say(f"{len(X_train)} training / {len(X_test)} held-out binary images of "
        f"{X_train.shape[1]} pixels; RBM {X_train.shape[1]}-{settings['n_hidden']}, CD-1, "
        f"{settings['epochs']} epochs, batch {settings['batch_size']}, lr {settings['lr']}")
    rbm, cr_epoch = train_chainrule(X_train, settings, seed)
    say(f"chainrule RBM: {cr_epoch:.3f} s/epoch")
    sk, sk_single = train_sklearn(X_train, settings, seed, blas_threads=1)
    # as installed (all BLAS threads), timed on a few epochs: under load it is far slower
    sk_default = (train_sklearn(X_train, {**settings, "epochs": TIMING_EPOCHS}, seed)[1]
                  if time_default_threads else float("nan"))
    sk_epoch = min(sk_single, sk_default) if time_default_threads else sk_single
    say(f"scikit-learn BernoulliRBM: {sk_single:.3f} s/epoch with one BLAS thread, "
        f"{sk_default:.3f} s/epoch as installed (chainrule takes {cr_epoch / sk_epoch:.2f}x "
        f"the faster)")
    pl = mean_pseudo_likelihood(rbm, X_test, seed + 1000)
    sk_pl = mean_pseudo_likelihood(as_rbm(sk), X_test, seed + 1000)
    sk_own = float(sk.score_samples(X_test).mean())
    reconstruction = rbm.reconstruct(X_test)
    result = {
        "settings": dict(settings), "n_train": len(X_train), "n_test": len(X_test),
        "seconds_per_epoch": cr_epoch, "sklearn_seconds_per_epoch": sk_epoch,
        "sklearn_seconds_per_epoch_default": sk_default,
        "sklearn_seconds_per_epoch_one_thread": sk_single,
        "time_ratio": cr_epoch / sk_epoch,
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


if __name__ == "__main__":
    from chainrule.demo import run_example_script

    run_example_script(main)
