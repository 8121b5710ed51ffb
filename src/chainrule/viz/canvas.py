"""The matplotlib canvas every chainrule picture is drawn on.

matplotlib is optional (the ``examples`` extra brings it). It is imported only when
a picture is drawn, on the non-interactive Agg canvas (no pyplot, no global state,
no window). Without matplotlib ``new_figure`` returns None and so do the functions
that draw, so a caller can write ``if plot_history(h, path) is None: ...``.
"""

from __future__ import annotations

import os
from pathlib import Path


def new_figure(ncols: int = 1, size: tuple[float, float] = (5.0, 3.6)):
    """(figure, list of axes) on an Agg canvas, or None when matplotlib is absent."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(size[0] * ncols, size[1]), layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def finish_figure(fig, path: str | os.PathLike | None, dpi: int = 100, format: str = "png"):
    """Save ``fig`` at ``path`` (a PNG unless ``format`` says "svg", "pdf", ...) and
    return the path; the figure itself when ``path`` is None."""
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=format, dpi=dpi)
    return path


def is_available() -> bool:
    """True when matplotlib can be imported (pictures will be drawn)."""
    return new_figure() is not None
