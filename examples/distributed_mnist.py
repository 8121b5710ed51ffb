"""The MNIST CNN of ``mnist_cnn.py`` (``chainrule.tutorials.mnist_cnn``), trained
data-parallel over MPI processes.

    mpiexec -n 2 python examples/distributed_mnist.py [--epochs 3] [--quick] [--out DIR]

Every process loads the same data and builds the same model; ``fit(distributed=True)``
gives each its share of every global batch of 64 images (32 each on 2 processes),
averages the gradients over the processes before every step, and merges the epoch's
loss and accuracy, so the run trains as one process with batch 64 would. Each process
uses one BLAS thread (two processes on two cores). Only rank 0 prints and saves the
model. Without mpiexec it trains on one process.

The data is the walkthrough's: the MNIST test release that ships with chainrule (the
first 8,000 images train, the last 2,000 test), or with ``--quick`` scikit-learn's 8x8
digits, as ``mnist_cnn.py --quick``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import chainrule as cr
from chainrule.tutorials import mnist_cnn


def main(epochs: int = 3, quick: bool = False, out_dir: str | os.PathLike = "chainrule-demo",
         seed: int = 0) -> dict:
    """Train and test the CNN on ``size()`` processes; returns the numbers (every rank)."""
    cr.distributed.init()
    rank, size = cr.distributed.rank(), cr.distributed.size()
    say = print if rank == 0 else (lambda *args: None)
    x_train, y_train, x_test, y_test = mnist_cnn.load_split(quick)
    batch_size = mnist_cnn.BATCH_SIZE // size
    say(f"{size} process(es) x batch {batch_size} (global batch {batch_size * size}); "
        f"train {x_train.shape}, test {x_test.shape}")
    cr.manual_seed(seed)
    model = mnist_cnn.build_cnn(padding="same" if quick else "valid")
    start = time.perf_counter()
    with cr.backend.limit_blas_threads(1 if size > 1 else None):
        history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                            verbose=2 if rank == 0 else 0, distributed=True,
                            validation_data=(x_test, y_test))
    seconds = time.perf_counter() - start
    accuracy = history.history["val_accuracy"][-1]
    say(f"{epochs} epochs in {seconds:.1f} s: test accuracy {accuracy:.4f}")
    path = Path(out_dir) / "distributed_mnist.keras"
    if rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        say(f"saved {path}")
    cr.distributed.barrier()  # the file is complete when any rank goes on
    return {"ranks": size, "test_accuracy": accuracy, "seconds": seconds, "path": path,
            "history": history.history}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="scikit-learn's 8x8 digits instead of MNIST")
    parser.add_argument("--out", default="chainrule-demo", help="folder for the saved model")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    main(epochs=args.epochs, quick=args.quick, out_dir=args.out)
