"""A deep belief net: greedy RBM pretraining helps when labels are few.

A DBN 784-256-128 is pretrained without labels on 8,000 MNIST images (pixel
intensities in [0, 1] read as probabilities), one RBM at a time with CD-1. Its
weights then start a sigmoid network 784-256-128-10 that is fine-tuned on only
1,000 labelled images. The same network from random (Glorot) initialisation is
trained on the same 1,000 labels with the same optimizer, epochs and batches;
both are scored on the 2,000 held-out images. ``--quick`` uses scikit-learn's
8×8 digits (a 64-64-32 DBN, 200 labels; 50 pretraining epochs at lr 0.1).

    python examples/dbn.py [--out DIR] [--quick]
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.layers import Dense
from chainrule.models import Sequential
from chainrule.unsupervised import DBN, limit_blas_threads
from chainrule.unsupervised.images import save_image_grid

from .expected import at_least
from .images import load_images
from .progress import EpochBar, bar, say_if

FULL = {"layers": [784, 256, 128], "n_train": 8000, "labels": 1000,
        "pretrain_epochs": 10, "pretrain_lr": 0.05, "finetune_epochs": 30}
# 1,437 small images need more passes (and a larger step) to learn useful features
QUICK = {"layers": [64, 64, 32], "n_train": 1437, "labels": 200,
         "pretrain_epochs": 50, "pretrain_lr": 0.1, "finetune_epochs": 50}
PRETRAIN_BATCH = 10
FINETUNE = {"batch_size": 32, "lr": 3e-3}

KEY_NUMBERS = {"pretrained": "pretrained_accuracy", "random_init": "random_init_accuracy"}
EXPECTED = (at_least("improvement", 0.01), at_least("pretrained_accuracy", 0.9))
EXPECTED_QUICK = (at_least("improvement", 1e-9), at_least("pretrained_accuracy", 0.75))


def random_network(layer_sizes: list[int], n_classes: int) -> Sequential:
    """The same architecture as ``DBN.to_model``, from Glorot initialisation."""
    model = Sequential([Dense(layer_sizes[1], activation="sigmoid", input_dim=layer_sizes[0])])
    for units in layer_sizes[2:]:
        model.add(Dense(units, activation="sigmoid"))
    model.add(Dense(n_classes, activation="softmax"))
    return model


def finetune(model: Sequential, X, y, X_test, y_test, epochs: int,
             progress: EpochBar | None = None) -> tuple[float, list]:
    """Adam on the labelled set; returns (test accuracy, per-epoch training loss).
    BLAS runs on one thread: batches of 32 are too small to share (see
    chainrule.unsupervised.blas)."""
    model.compile(optimizer=cr.optim.Adam(lr=FINETUNE["lr"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with limit_blas_threads(1):
        history = model.fit(X, y, epochs=epochs, batch_size=FINETUNE["batch_size"],
                            verbose=0, callbacks=[progress] if progress else None)
    accuracy = float(np.mean(model.predict(X_test, batch_size=512).argmax(axis=1) == y_test))
    return accuracy, history.history["loss"]


def main(out_dir: str | os.PathLike | None = None, quick: bool = False, verbose: bool = False,
         seed: int = 0) -> dict:
    """Pretrain, fine-tune both networks on few labels, return their test accuracies."""
    say = say_if(verbose)
    settings = QUICK if quick else FULL
    images, y, _ = load_images(quick)
    X = images.reshape(len(images), -1)
    n_train, n_labels = settings["n_train"], settings["labels"]
    X_train, X_test, y_test = X[:n_train], X[n_train:], y[n_train:]
    X_labelled, y_labelled = X_train[:n_labels], y[:n_labels]
    say(f"pretraining DBN {settings['layers']} on {n_train} unlabelled images, "
        f"{settings['pretrain_epochs']} epochs per RBM (CD-1, batch {PRETRAIN_BATCH}, "
        f"lr {settings['pretrain_lr']})")
    cr.manual_seed(seed)
    dbn = DBN(settings["layers"])
    start = time.perf_counter()
    with bar(1, "dbn: greedy pretraining", verbose, unit="stack") as progress:
        dbn.pretrain(X_train, epochs_per_layer=settings["pretrain_epochs"],
                     batch_size=PRETRAIN_BATCH, lr=settings["pretrain_lr"], k=1)
        progress.update()
    pretrain_seconds = time.perf_counter() - start
    say(f"  {pretrain_seconds:.1f} s; reconstruction error per layer "
        f"{[round(r.history['reconstruction_error'][-1], 4) for r in dbn.rbms]}")

    cr.manual_seed(seed + 1)
    pretrained = dbn.to_model(10)
    pre_acc, pre_loss = finetune(pretrained, X_labelled, y_labelled, X_test, y_test,
                                 settings["finetune_epochs"],
                                 EpochBar("dbn: fine-tune the pretrained net", verbose))
    cr.manual_seed(seed + 1)
    scratch = random_network(settings["layers"], 10)
    rnd_acc, rnd_loss = finetune(scratch, X_labelled, y_labelled, X_test, y_test,
                                 settings["finetune_epochs"],
                                 EpochBar("dbn: train from random weights", verbose))
    say(f"fine-tuned on {n_labels} labels, {settings['finetune_epochs']} epochs of Adam "
        f"(lr {FINETUNE['lr']}): test accuracy on {len(X_test)} images")
    say(f"  pretrained DBN:        {pre_acc:.4f}")
    say(f"  random initialisation: {rnd_acc:.4f}")
    result = {"settings": dict(settings), "labels": n_labels, "n_test": len(X_test),
              "pretrain_seconds": pretrain_seconds,
              "pretrained_accuracy": pre_acc, "random_init_accuracy": rnd_acc,
              "improvement": pre_acc - rnd_acc,
              "pretrained_final_loss": pre_loss[-1], "random_init_final_loss": rnd_loss[-1],
              "plots": {}}
    if out_dir is not None:
        path = save_image_grid(dbn.rbms[0].W.T[:100], Path(out_dir) / "dbn_first_layer.png",
                               normalize=True)
        if path is not None:
            result["plots"]["first RBM's filters"] = path
    return result

