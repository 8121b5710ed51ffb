"""Live progress for the walkthroughs: tqdm bars on stderr, so the screen is never
silent for long (stdout carries the walkthrough's own lines, which the demo keeps
for its report). Bars appear only when ``verbose`` and stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable

from tqdm.auto import tqdm

from ..callbacks import Callback


def say_if(verbose: bool) -> Callable[..., None]:
    """``print`` when ``verbose``, else a function that prints nothing."""
    return print if verbose else (lambda *args, **kwargs: None)


def bar(total: int, desc: str, verbose: bool, unit: str = "step") -> tqdm:
    """A progress bar over ``total`` units (a no-op bar unless ``verbose``)."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                dynamic_ncols=True, mininterval=0.2, disable=None if verbose else True)


class EpochBar(Callback):
    """One bar over all the epochs of a ``fit`` (rather than one bar per epoch), with
    the latest loss beside it."""

    def __init__(self, desc: str, verbose: bool = True):
        super().__init__()
        self.desc, self.verbose, self.bar = desc, verbose, None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.bar = bar(self.params.get("epochs", 0), self.desc, self.verbose, unit="epoch")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        numbers = {k: f"{v:.4f}" for k, v in (logs or {}).items() if "loss" in k}
        self.bar.set_postfix(numbers, refresh=False)
        self.bar.update(1)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
