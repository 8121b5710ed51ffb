"""Train small models data-parallel (under mpiexec, fit(distributed=True), batch b on each
rank) or on one process (``--reference``, batch size * b) and write what the test compares
to OUT/results.json.

    mpiexec -n 2 python equivalence.py OUT        # 2 ranks x batch 10
    python equivalence.py OUT --reference 2       # 1 process x batch 20

Rank 1 builds its model and seeds its generator differently from rank 0: fit must hand
it rank 0's weights and generator. After the broadcast and after every step, each rank
checks that every rank holds bit-identical weights. Each rank also asks a CSVLogger to
write OUT/<config>.rank<r>.csv: only rank 0's may appear.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np

import chainrule as cr
from chainrule import process_group
from chainrule.layers import BatchNormalization, Concatenate, Dense, Dropout

SEED = 7
SAMPLES, FEATURES, BATCH, EPOCHS = 105, 8, 10, 2  # 105 = 5 global batches of 20, then 5
VALIDATION = 15
CONFIGS = {  # name: (optimizer, hidden layers after the first Dense)
    "sgd": (lambda: cr.optim.SGD(lr=0.1, momentum=0.9), []),
    "adam": (lambda: cr.optim.Adam(lr=0.01), []),
    "sgd_dropout": (lambda: cr.optim.SGD(lr=0.1, momentum=0.9), [lambda: Dropout(0.3)]),
    "adam_dropout": (lambda: cr.optim.Adam(lr=0.01), [lambda: Dropout(0.3)]),
    "adam_syncbn": (lambda: cr.optim.Adam(lr=0.01),
                    [lambda: BatchNormalization(synchronized=True), lambda: Dropout(0.2)]),
    # a DataLoader of 100 rows (batches of BATCH dealt in turns; the reference's loader
    # has batches of size * BATCH)
    "adam_loader": (lambda: cr.optim.Adam(lr=0.01), [lambda: Dropout(0.3)]),
    # a functional model with two inputs (the features split in halves) and Dropout
    "adam_two_inputs": (lambda: cr.optim.Adam(lr=0.01), [lambda: Dropout(0.3)]),
    # per-rank batch statistics: not the reference's; the ranks' moving statistics agree
    "adam_batchnorm": (lambda: cr.optim.Adam(lr=0.01), [lambda: BatchNormalization()]),
}
EQUIVALENT = [name for name in CONFIGS if name != "adam_batchnorm"]


def data() -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(0)
    x = gen.normal(size=(SAMPLES + VALIDATION, FEATURES))
    y = (x[:, 0] + 0.5 * x[:, 1] * x[:, 2] > 0).astype(np.float64)
    return x, y


def build(name: str) -> cr.Model:
    optimizer, hidden = CONFIGS[name]
    if name == "adam_two_inputs":
        inputs = [cr.Input((FEATURES // 2,)), cr.Input((FEATURES // 2,))]
        h = Concatenate()([Dense(8, activation="relu")(i) for i in inputs])
        for make in hidden:
            h = make()(h)
        model = cr.Model(inputs, Dense(1, activation="sigmoid")(Dense(8, activation="tanh")(h)))
    else:
        model = cr.models.Sequential([Dense(16, activation="relu", input_dim=FEATURES),
                                      *(make() for make in hidden), Dense(8, activation="tanh"),
                                      Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer(), loss="binary_crossentropy",
                  metrics=["accuracy", "auc"])
    return model


def digest(model) -> str:
    return hashlib.sha256(b"".join(p.data.tobytes() for p in model.parameters())).hexdigest()


class Agreement(cr.callbacks.Callback):
    """Count the checks at which every rank held the same weights (bit for bit)."""

    def __init__(self):
        super().__init__()
        self.checks, self.agreed = 0, 0

    def check(self) -> None:
        everyone = process_group.allgather_objects(digest(self.model), "test digests")
        self.checks += 1
        self.agreed += len(set(everyone)) == 1

    def on_batch_begin(self, batch, logs=None):
        if batch == 0 and self.checks == 0:  # after fit's broadcast, before any step
            self.check()

    def on_batch_end(self, batch, logs=None):
        self.check()


def run(name: str, ranks: int, reference: bool, out: str) -> dict:
    rank = cr.distributed.rank()
    cr.manual_seed(SEED + (0 if reference else 100 * rank))
    model = build(name)
    cr.manual_seed(SEED + 1 + (0 if reference else 100 * rank))
    agreement = Agreement()
    x, y = data()
    batch = BATCH if not reference else BATCH * ranks
    train, validation = (x[:SAMPLES], y[:SAMPLES]), (x[SAMPLES:], y[SAMPLES:])
    if name == "adam_two_inputs":
        train, validation = (([part[:, :FEATURES // 2], part[:, FEATURES // 2:]], target)
                             for part, target in (train, validation))
    if name == "adam_loader":
        train = (cr.data.DataLoader(x[:100], y[:100], batch_size=batch, shuffle=True),)
    callbacks = [] if reference else [
        agreement, cr.callbacks.CSVLogger(os.path.join(out, f"{name}.rank{rank}.csv"))]
    history = model.fit(*train, batch_size=batch, epochs=EPOCHS, verbose=0,
                        validation_data=validation,
                        distributed=not reference, callbacks=callbacks)
    state = {k: v.tolist() for k, v in model.state_dict().items()}
    buffers = process_group.allgather_objects(
        hashlib.sha256(b"".join(b.data.tobytes() for _, b in model.named_buffers())).hexdigest(),
        "test buffer digests")
    return {"state": state, "history": history.history,
            "checks": agreement.checks, "agreed": agreement.agreed,
            "buffers_agree": len(set(buffers)) == 1,
            "steps": model.optimizer.iterations}


def main(argv: list[str]) -> None:
    out, reference = argv[1], "--reference" in argv
    cr.set_default_dtype(np.float64)
    if reference:
        ranks = int(argv[argv.index("--reference") + 1])
    else:
        cr.distributed.init(timeout=60)
        ranks = cr.distributed.size()
    results = {name: run(name, ranks, reference, out) for name in CONFIGS}
    if cr.distributed.rank() == 0:
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump({"ranks": ranks, "results": results}, f)


if __name__ == "__main__":
    main(sys.argv)
