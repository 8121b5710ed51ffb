"""A data-parallel fit in which rank 1 fails at its 4th step of the 2nd epoch, as the
first argument says: ``kill`` (SIGKILL, as the kernel's OOM killer would), ``raise``
(an exception, as bad data would), ``hang`` (it stops answering). Rank 0 saves a
checkpoint every epoch; the second argument is its path.

    mpiexec -n 2 python faults.py kill CHECKPOINT [TIMEOUT]
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time

import numpy as np

import chainrule as cr


def fail(mode: str) -> None:
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "raise":
        raise ValueError("rank 1 read a corrupt batch")
    time.sleep(3600)  # hang


def main(mode: str, checkpoint: str, timeout: float) -> None:
    cr.distributed.init(timeout=timeout)
    cr.manual_seed(0)
    gen = np.random.default_rng(0)
    x, y = gen.normal(size=(400, 8)), gen.integers(0, 2, 400)
    model = cr.models.Sequential([cr.layers.Dense(16, activation="relu", input_dim=8),
                                  cr.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")

    def on_batch_begin(batch, logs=None):
        if cr.distributed.rank() == 1 and model.optimizer.iterations == 23:
            fail(mode)

    cr.distributed.barrier(timeout=math.inf)  # however unevenly the processes started
    print(f"rank {cr.distributed.rank()} training", flush=True)
    model.fit(x, y, batch_size=10, epochs=3, verbose=0, distributed=True,
              callbacks=[cr.callbacks.ModelCheckpoint(checkpoint, monitor="loss"),
                         cr.callbacks.LambdaCallback(on_batch_begin=on_batch_begin)])
    print("fit returned", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 20.0)
