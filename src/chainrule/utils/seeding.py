"""``set_random_seed``: one seed for every generator a Keras script may draw from."""

from __future__ import annotations

import random

import numpy as np

from ..backend import manual_seed


def set_random_seed(seed: int) -> None:
    """Seed chainrule's generator (``cr.manual_seed``), Python's ``random`` and NumPy's
    legacy global generator (``np.random.seed``), as Keras' ``set_random_seed`` does.

    Unlike importing chainrule, this deliberately changes process-wide state: it is
    the call a script makes to be reproducible.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"Invalid value for argument `seed` of `set_random_seed`: expected "
                         f"an int; received seed={seed!r:.50} ({type(seed).__name__}).")
    seed = int(seed)
    manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
