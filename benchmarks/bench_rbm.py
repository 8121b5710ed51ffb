"""One CD-1 epoch of the RBM walkthrough: chainrule's ``RBM`` vs scikit-learn's
``BernoulliRBM``, on the same 8,000 binarised MNIST images (784-256, batch 10, lr 0.05).

scikit-learn runs its ``fit`` for one epoch (``n_iter=1``) on float64 input, as it is
usually given, twice: with BLAS limited to one thread (what chainrule does for batches
this small) and as installed (all BLAS threads). chainrule runs ``RBM.fit(X, epochs=1)``.
The contenders take turns (``common.time_interleaved``); each cell is the median over
``--repeats`` epochs. The ratio is chainrule's time over each scikit-learn column
(below 1: chainrule is faster). Moved here from the walkthrough and its test: speed is
measured in benchmarks/, never asserted in a unit test.

    python benchmarks/bench_rbm.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib

import numpy as np
from common import fmt_ratio, machine_lines, markdown_table, median, time_interleaved

import chainrule as cr
from chainrule.tutorials import rbm as walkthrough
from chainrule.unsupervised import RBM

try:
    import sklearn
    from sklearn.neural_network import BernoulliRBM
    from threadpoolctl import threadpool_limits
except ImportError:  # the chainrule row still prints
    sklearn = None


def contenders(X: np.ndarray) -> dict:
    """{name: one training epoch}: chainrule, then scikit-learn one thread / as installed."""
    s = walkthrough.FULL
    cr.manual_seed(0)
    rbm = RBM(X.shape[1], s["n_hidden"])
    fns = {"chainrule RBM": lambda: rbm.fit(X, epochs=1, batch_size=s["batch_size"],
                                            lr=s["lr"], k=1)}
    if sklearn is None:
        return fns
    X64 = X.astype(np.float64)

    def sklearn_epoch(threads: int | None):
        def epoch():
            limit = (contextlib.nullcontext() if threads is None
                     else threadpool_limits(limits=threads, user_api="blas"))
            with limit:
                BernoulliRBM(n_components=s["n_hidden"], learning_rate=s["lr"],
                             batch_size=s["batch_size"], n_iter=1, random_state=0).fit(X64)
        return epoch

    fns["scikit-learn, 1 BLAS thread"] = sklearn_epoch(1)
    fns["scikit-learn, as installed"] = sklearn_epoch(None)
    return fns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    X, _ = walkthrough.load_binary_images(quick=False)
    samples = time_interleaved(contenders(X), repeats=args.repeats, warmup=0, rounds=1)
    ours = median(samples["chainrule RBM"])
    rows = [[name, f"{median(times):.3f}", fmt_ratio(ours, median(times))]
            for name, times in samples.items()]
    print("\n".join(machine_lines(sklearn=sklearn)))
    print(f"\nRBM 784-256, CD-1, one epoch over {len(X)} binarised MNIST images, batch 10:\n")
    print(markdown_table(["contender", "s/epoch", "chainrule / this"], rows))


if __name__ == "__main__":
    main()
