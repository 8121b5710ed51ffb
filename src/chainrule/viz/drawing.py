"""Graphs drawn with matplotlib, for when Graphviz's ``dot`` is not installed:
``draw_nodes`` draws any list of ``GraphNode`` (columns from the leaves to the
output), ``plot_graph`` the computational graph (a box per tensor with its name,
value and gradient, an oval per op), and ``cr.utils.plot_model`` a model's layers."""

from __future__ import annotations

import os
from pathlib import Path

from ..tensor import Tensor
from .canvas import finish_figure, new_figure
from .graph import GraphNode, describe


def _layout(nodes: list[GraphNode], rankdir: str) -> dict[str, tuple[float, float]]:
    """(x, y) per node key: its depth along the flow ("LR": x, "TB": down the page);
    each depth's nodes spread evenly across it."""
    columns: dict[int, list[str]] = {}
    for node in nodes:
        columns.setdefault(node.depth, []).append(node.key)
    where = {key: (depth, row - (len(keys) - 1) / 2)
             for depth, keys in columns.items() for row, key in enumerate(keys)}
    if rankdir == "TB":
        return {key: (across, -depth) for key, (depth, across) in where.items()}
    return where


def draw_nodes(nodes: list[GraphNode], path: str | os.PathLike | None = None,
               rankdir: str = "LR", dpi: int = 100):
    """Draw ``nodes`` (boxes for tensors and layers, ovals for ops, an arrow per input)
    with matplotlib, flowing left to right ("LR") or top to bottom ("TB"). Saves the
    picture at ``path`` (PNG, or the format its suffix names) and returns the path,
    else returns the ``Figure``; None when matplotlib is not installed."""
    if rankdir not in ("LR", "TB"):
        raise ValueError(f"Invalid value for argument `rankdir`: expected 'LR' or 'TB'; "
                         f"received rankdir={rankdir!r}.")
    where = _layout(nodes, rankdir)
    xs, ys = [x for x, _ in where.values()], [y for _, y in where.values()]
    scale = (2.0, 1.3) if rankdir == "LR" else (2.6, 1.2)
    made = new_figure(size=(scale[0] * (max(xs) - min(xs) + 1) + 0.5,
                            scale[1] * (max(ys) - min(ys) + 1) + 0.6))
    if made is None:
        return None
    fig, (ax,) = made
    step = (0.28, 0.0) if rankdir == "LR" else (0.0, 0.3)
    for node in nodes:
        x, y = where[node.key]
        box = ("circle,pad=0.3", "#fdf1dc") if node.kind == "op" else ("round,pad=0.4",
                                                                       "#eef4fb")
        ax.text(x, y, "\n".join(node.fields), ha="center", va="center", fontsize=9,
                bbox={"boxstyle": box[0], "facecolor": box[1], "edgecolor": "#555"})
        for source in node.inputs:
            sx, sy = where[source]
            ax.annotate("", xy=(x - step[0], y + step[1]), xytext=(sx + step[0], sy - step[1]),
                        arrowprops={"arrowstyle": "->", "color": "#555"})
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.axis("off")
    suffix = Path(path).suffix.lstrip(".").lower() if path is not None else ""
    return finish_figure(fig, path, dpi=dpi, format=suffix or "png")


def plot_graph(root: Tensor, path: str | os.PathLike | None = None):
    """Draw the graph behind ``root`` (values, and gradients once ``backward`` or
    ``explain`` has run). Saves a PNG and returns its path when ``path`` is given, the
    matplotlib ``Figure`` otherwise; None when matplotlib is not installed."""
    return draw_nodes(describe(root), path)
