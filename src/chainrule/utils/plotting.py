"""Training plots: loss curves, any labelled curves, a confusion matrix.

matplotlib is optional: the figures come from ``chainrule.viz.canvas`` (the Agg
canvas, no pyplot), and without matplotlib every function returns None, so a caller
can write ``if plot_history(h, path) is None: print("plots skipped")``.

Each function saves a PNG and returns its path when ``path`` is given, and returns
the matplotlib ``Figure`` otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..viz.canvas import finish_figure, is_available, new_figure

__all__ = ["is_available", "plot_confusion_matrix", "plot_curves", "plot_history",
           "plot_panels"]


def _history_dict(history) -> dict[str, list[float]]:
    """A ``History`` (``.history``) or a plain ``{"loss": [...], ...}`` mapping."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(f"plot_history expects a History or a dict of per-epoch lists; "
                        f"received {type(history).__name__}.")
    return {k: list(map(float, v)) for k, v in logs.items() if len(v)}


def plot_history(history, path: str | os.PathLike | None = None, title: str | None = None):
    """One panel per metric ("loss", "accuracy", ...), its ``val_`` twin on the same axes.

    ``history``: a ``History`` from ``fit`` or a dict of per-epoch lists.
    """
    logs = _history_dict(history)
    metrics = [k for k in logs if not k.startswith("val_")]
    metrics += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    made = new_figure(max(len(metrics), 1))
    if made is None:
        return None
    fig, axes = made
    for ax, metric in zip(axes, metrics):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in logs:
                ax.plot(np.arange(1, len(logs[key]) + 1), logs[key], style, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return finish_figure(fig, path)


def plot_curves(curves: Mapping[str, Sequence[float] | tuple[Sequence[float], Sequence[float]]],
                path: str | os.PathLike | None = None, title: str | None = None,
                xlabel: str = "", ylabel: str = "", logy: bool = False,
                points: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None):
    """Labelled lines on one axes: each value is ``y`` (x = 0, 1, ...) or ``(x, y)``.

    ``points`` adds labelled scatter series (e.g. the training samples), drawn in grey
    under the lines.
    """
    made = new_figure()
    if made is None:
        return None
    fig, (ax,) = made
    _draw_curves(ax, curves, title, xlabel, ylabel, logy)
    for label, (x, y) in (points or {}).items():
        ax.scatter(np.asarray(x).ravel(), np.asarray(y).ravel(), s=10, label=label, color="0.3",
                   alpha=0.6, zorder=1)
    ax.legend()
    return finish_figure(fig, path)


def plot_panels(panels: Mapping[str, Mapping[str, Sequence[float] | tuple]],
                path: str | os.PathLike | None = None, xlabel: str = "",
                ylabels: Sequence[str] = (), logy: Sequence[bool] = (),
                title: str | None = None):
    """Panels side by side, one per ``{panel title: curves}`` entry; each panel's curves
    as in :func:`plot_curves`, with its own y label and log scale (``ylabels[i]``,
    ``logy[i]``). The first panel carries the legend."""
    made = new_figure(max(len(panels), 1))
    if made is None:
        return None
    fig, axes = made
    for i, (ax, (name, curves)) in enumerate(zip(axes, panels.items())):
        _draw_curves(ax, curves, name, xlabel, ylabels[i] if i < len(ylabels) else "",
                     bool(logy[i]) if i < len(logy) else False)
    axes[0].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return finish_figure(fig, path)


def _draw_curves(ax, curves: Mapping, title: str | None, xlabel: str, ylabel: str,
                 logy: bool) -> None:
    for label, series in curves.items():
        x, y = series if isinstance(series, tuple) else (np.arange(len(series)), series)
        ax.plot(np.asarray(x).ravel(), np.asarray(y).ravel(), label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)


def plot_confusion_matrix(cm, path: str | os.PathLike | None = None,
                          labels: Sequence[str] | None = None, title: str | None = None):
    """A (k, k) confusion matrix (rows: true class, columns: predicted) with counts."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix expects a square (k, k) matrix; received "
                         f"shape {cm.shape}.")
    made = new_figure(size=(4.2, 3.8))
    if made is None:
        return None
    fig, (ax,) = made
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = np.arange(cm.shape[0])
    names = list(labels) if labels is not None else [str(i) for i in ticks]
    ax.set(xticks=ticks, yticks=ticks, xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true")
    threshold = cm.max() / 2 if cm.size else 0
    for (i, j), value in np.ndenumerate(cm):
        ax.text(j, i, f"{value:g}", ha="center", va="center",
                color="white" if value > threshold else "black")
    if title:
        ax.set_title(title)
    return finish_figure(fig, path)
