"""The bank-churn classifier again, as a two-input Functional model.

The churn walkthrough (``chainrule.tutorials.churn``) feeds Geography to a
``Sequential`` as two one-hot columns (France dropped). Here the country is a
category id (France 0, Germany 1, Spain 2) that a learned ``Embedding`` turns into
a 2-d vector; the other nine columns (credit score, gender, age, tenure, balance,
products, card, active, salary) are standardised on the training set, as the
tutorial does. ``Concatenate`` joins the two and the tutorial's 6-6-1 network
follows::

    numeric (N, 9) ---------------------------------------.
    geography (N, 1) -> Embedding(3, 2) -> Flatten (N, 2) -+-> Concatenate (N, 11)
        -> Dense(6, relu) -> Dense(6, relu) -> Dense(1, sigmoid)

The Dense layers start from Keras' default, ``glorot_uniform``, not the tutorial's
"uniform" (+-0.05): from that tiny start the six hidden units learn nearly one
direction (the second layer's activations span 1-3 directions of 6) and training
stalls at a loss of about 0.40 on most seeds (the one-hot Sequential's too), where Glorot's
scale keeps the units apart and every seed reaches about 0.33 (how this was
chosen: the comment above :func:`two_input_model`). Everything else is the churn
walkthrough's recipe: the same 80/20 split, Adam on binary cross-entropy, 50 epochs
in batches of 10, the same new customer (France). :func:`compare_over_seeds` trains
both models over the churn walkthrough's seeds (0-6) and compares their test
accuracy, mean and per seed.

    python examples/churn_functional.py [--epochs 50] [--seed 0] [--compare] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.layers import Concatenate, Dense, Embedding, Flatten
from chainrule.metrics import confusion_matrix

from . import churn
from .expected import at_least, at_most, near
from .extras import require
from .progress import EpochBar, say_if

GEOGRAPHIES = ("France", "Germany", "Spain")
EMBEDDING_DIM = 2

KEY_NUMBERS = {"test_accuracy": "accuracy", "p_new_customer_leaves": "probability"}
# Bars set before measuring, then what seed 0 printed (50 epochs: 0.8580; --quick,
# 5 epochs: 0.8260).
EXPECTED = (at_least("accuracy", 0.83), at_most("probability", 0.5),
            near("accuracy", 0.858, 0.005, quote="0.8580"))
EXPECTED_QUICK = (at_least("accuracy", 0.80), at_most("probability", 0.5),
                  near("accuracy", 0.826, 0.005, quote="0.8260"))
# The bar, set before measuring: over the churn walkthrough's seeds (0-6), same
# split and budget, the mean test accuracy of this model is at least the one-hot
# Sequential's (margin >= 0). Per-seed differences are reported, not required.
# It is met: measured 0.8615 against 0.8449, ahead by 0.0166 (ahead on 6 seeds of 7;
# per seed: +0.0185, +0.0205, +0.0245, -0.0005, +0.0205, +0.0120, +0.0205), in the one
# run over seeds 0-6 made after the initializer was chosen. With the tutorial's
# "uniform" init it was not: 0.8409, short by 0.0040.
SEED_BAR = (at_least("mean_margin", 0.0),)
# What compare_over_seeds() printed, pinned.
SEED_EXPECTED = (near("mean_functional", 0.8615, 0.003, quote="0.8615"),
                 near("mean_sequential", 0.8449, 0.003, quote="0.8449"),
                 at_least("min_functional", 0.83))


def geography_ids(X: np.ndarray) -> np.ndarray:
    """(N, 1) int64 country ids (France 0, Germany 1, Spain 2) from the one-hot
    columns ``Geography_Germany`` and ``Geography_Spain`` of ``load_churn()``'s X."""
    return (X[:, 0] + 2 * X[:, 1]).astype(np.int64)[:, None]


# How the initializer was chosen, without the test set: train on the first 80% of
# X_train, score on its last 20% (1,600 rows), seeds 100-106, the full recipe; rule:
# highest mean validation accuracy (within 0.002, prefer Keras' default). Mean (min)
# validation accuracy; "rank": directions hidden_2's activations span (of 6).
#   one-hot Sequential as in churn ("uniform")         0.8328 (0.8263)
#   this model, "uniform" Dense and Embedding          0.8362 (0.8281)  rank 1-3
#   + Embedding drawn N(0, 1), like standardised columns 0.8402 (0.8269)  rank 1-4
#   + he_uniform hidden layers, glorot_uniform output  0.8533 (0.8425)  rank 5-6
#   + glorot_uniform Dense (Keras' default): chosen    0.8575 (0.8525)  rank 5-6
# The gain is the initializer's, not the embedding's: the one-hot Sequential with
# glorot_uniform scores 0.8560 (0.8519) on the same protocol; churn keeps the tutorial's.
def two_input_model() -> cr.Model:
    """numeric (N, 9) and geography id (N, 1) -> P(leaves) (N, 1), compiled."""
    numeric = cr.Input(shape=(9,), name="numeric")
    geography = cr.Input(shape=(1,), dtype="int64", name="geography")
    country = Flatten(name="country_vector")(
        Embedding(len(GEOGRAPHIES), EMBEDDING_DIM, name="country_embedding")(geography))
    x = Concatenate(name="features")([numeric, country])
    x = Dense(units=6, kernel_initializer="glorot_uniform", activation="relu",
              name="hidden_1")(x)
    x = Dense(units=6, kernel_initializer="glorot_uniform", activation="relu",
              name="hidden_2")(x)
    leaves = Dense(units=1, kernel_initializer="glorot_uniform", activation="sigmoid",
                   name="leaves")(x)
    model = cr.Model(inputs=[numeric, geography], outputs=leaves, name="churn_two_inputs")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def split_inputs(path: str | os.PathLike | None = None) -> tuple:
    """The churn walkthrough's split and scaling, for two inputs: ([numeric, geography]
    for train, the same for test, y_train, y_test, the fitted scaler)."""
    train_test_split = require("sklearn.model_selection",
                               "the tutorial's train/test split").train_test_split
    scaler = require("sklearn.preprocessing", "the tutorial's feature scaling").StandardScaler()
    X, y, _ = cr.datasets.load_churn(path)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    train = [scaler.fit_transform(X_train[:, 2:]), geography_ids(X_train)]
    test = [scaler.transform(X_test[:, 2:]), geography_ids(X_test)]
    return train, test, y_train, y_test, scaler


def main(out_dir: str | os.PathLike | None = None, quick: bool = False, verbose: bool = False,
         seed: int = 0, epochs: int | None = None, path: str | os.PathLike | None = None,
         compare: bool = False) -> dict:
    """Train and test the two-input model; returns the numbers it prints. ``compare``
    adds :func:`compare_over_seeds` (both models, seeds 0-6) as ``"comparison"``."""
    say = say_if(verbose)
    epochs = epochs or (churn.QUICK_EPOCHS if quick else churn.EPOCHS)
    train, test, y_train, y_test, scaler = split_inputs(path)
    cr.manual_seed(seed)
    model = two_input_model()
    history = model.fit(train, y_train, batch_size=10, epochs=epochs, verbose=0,
                        callbacks=[EpochBar("churn_functional: fit", verbose)])
    cm = confusion_matrix(y_test, model.predict(test) > 0.5)
    accuracy = float(np.trace(cm) / cm.sum())
    new = np.array(churn.NEW_CUSTOMER, dtype=np.float32)
    probability = float(model.predict([scaler.transform(new[:, 2:]), geography_ids(new)])[0, 0])
    vectors = model.get_layer("country_embedding").embeddings.numpy()

    model.summary(print_fn=say)
    churn.report(say, history.history["loss"], cm, accuracy, probability)
    say("Learned country vectors: " + ", ".join(
        f"{name} ({v[0]:.3f}, {v[1]:.3f})" for name, v in zip(GEOGRAPHIES, vectors)))
    result = {"epochs": epochs, "confusion_matrix": cm, "accuracy": accuracy,
              "probability": probability, "leaves": bool(probability > 0.5),
              "history": history.history, "parameters": model.count_params(),
              "country_vectors": vectors.tolist(), "plots": {}}
    if out_dir is not None:
        result["plots"] = churn.plots(result, Path(out_dir), "churn_functional")
    if compare:
        result["comparison"] = compare_over_seeds(epochs=epochs, verbose=verbose)
    return result


def compare_over_seeds(seeds=churn.SEEDS, epochs: int | None = None,
                       verbose: bool = False) -> dict:
    """Both churn models, full recipe, on each seed: their accuracies and the margins
    (two-input minus one-hot), per seed and of the means."""
    say = say_if(verbose)
    rows = []
    for seed in seeds:
        one_hot = churn.main(seed=seed, epochs=epochs)["accuracy"]
        two_input = main(seed=seed, epochs=epochs)["accuracy"]
        rows.append({"seed": seed, "sequential": one_hot, "functional": two_input,
                     "margin": two_input - one_hot})
        say(f"seed {seed}: one-hot Sequential {one_hot:.4f}, two-input functional "
            f"{two_input:.4f} ({two_input - one_hot:+.4f})")
    means = {k: float(np.mean([r[k] for r in rows])) for k in ("sequential", "functional")}
    summary = {"rows": rows, "mean_sequential": means["sequential"],
               "mean_functional": means["functional"],
               "mean_margin": means["functional"] - means["sequential"],
               "min_functional": min(r["functional"] for r in rows),
               "seeds_won": sum(r["margin"] > 0 for r in rows),
               "seeds_tied": sum(r["margin"] == 0 for r in rows)}
    say(f"mean over seeds {list(seeds)}: one-hot {means['sequential']:.4f}, two-input "
        f"{means['functional']:.4f} ({summary['mean_margin']:+.4f}); two-input ahead on "
        f"{summary['seeds_won']}, tied on {summary['seeds_tied']} of {len(rows)} seeds")
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--compare`` for ``python examples/churn_functional.py``."""
    parser.add_argument("--compare", action="store_true",
                        help="also train both churn models on seeds 0-6 and compare them")
