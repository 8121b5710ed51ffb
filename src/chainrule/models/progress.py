"""Progress reporting for ``fit``: a tqdm bar per epoch (verbose=1), one line per
epoch (verbose=2), or nothing (verbose=0).

The bar is refreshed at most ten times a second, from the training loop's own clock
check, so a fast epoch of many tiny steps spends almost nothing on it. When stderr
is not a terminal (a log file, CI), verbose=1 prints one tidy line per epoch there
instead of carriage-return bar frames.
"""

from __future__ import annotations

import sys
import time

REFRESH_SECONDS = 0.1


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}"
                      for k, v in logs.items())


class Progress:
    """Per-epoch progress; ``due()`` says when the bar wants fresh numbers."""

    def __init__(self, verbose: int, epochs: int, steps: int | None):
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self.use_bar = verbose == 1 and (_isatty(sys.stderr) or "ipykernel" in sys.modules)
        self.bar = None
        self.next_refresh = float("inf")

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.started = time.perf_counter()
        if self.use_bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps, desc=f"Epoch {epoch + 1}/{self.epochs}",
                            unit="step", file=sys.stderr, leave=True, dynamic_ncols=True)
            self.next_refresh = self.started + REFRESH_SECONDS

    def due(self, now: float) -> bool:
        return now >= self.next_refresh

    def update(self, steps_done: int, logs: dict, now: float) -> None:
        """Move the bar to ``steps_done`` and show ``logs`` (called when ``due``)."""
        self.bar.n = steps_done  # one redraw, by set_postfix
        self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=True)
        self.next_refresh = now + REFRESH_SECONDS

    def end_epoch(self, steps_done: int, logs: dict) -> None:
        seconds = time.perf_counter() - self.started
        if self.bar is not None:
            self.bar.n = steps_done
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            self.bar.close()
            self.bar = None
            self.next_refresh = float("inf")
        elif self.verbose:
            line = (f"Epoch {self.epoch + 1}/{self.epochs} - {steps_done} steps - "
                    f"{seconds:.2f}s - {format_logs(logs)}")
            print(line, file=sys.stderr if self.verbose == 1 else sys.stdout, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
