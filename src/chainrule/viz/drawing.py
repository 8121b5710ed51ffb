"""``plot_graph``: the computational graph drawn with matplotlib, for when Graphviz's
``dot`` is not installed. Columns run from the leaves (left) to the output (right):
a box per tensor (name, value, gradient), an oval per op, arrows along the edges."""

from __future__ import annotations

import os

from ..tensor import Tensor
from ..utils.plotting import finish_figure, new_figure
from .graph import describe


def _layout(nodes) -> dict[str, tuple[float, float]]:
    """(x, y) per node key: x is its depth; y spreads each column's nodes evenly."""
    columns: dict[int, list[str]] = {}
    for node in nodes:
        columns.setdefault(node.depth, []).append(node.key)
    return {key: (depth, row - (len(keys) - 1) / 2)
            for depth, keys in columns.items() for row, key in enumerate(keys)}


def plot_graph(root: Tensor, path: str | os.PathLike | None = None):
    """Draw the graph behind ``root`` (values, and gradients once ``backward`` or
    ``explain`` has run). Saves a PNG and returns its path when ``path`` is given, the
    matplotlib ``Figure`` otherwise; None when matplotlib is not installed."""
    nodes = describe(root)
    where = _layout(nodes)
    width = max(x for x, _ in where.values()) + 1
    height = max(abs(y) for _, y in where.values()) * 2 + 1
    made = new_figure(size=(2.0 * width + 0.5, 1.3 * height + 0.6))
    if made is None:
        return None
    fig, (ax,) = made
    for node in nodes:
        x, y = where[node.key]
        box = ("round,pad=0.4", "#eef4fb") if node.kind == "tensor" else ("circle,pad=0.3",
                                                                           "#fdf1dc")
        ax.text(x, y, "\n".join(node.fields), ha="center", va="center", fontsize=9,
                bbox={"boxstyle": box[0], "facecolor": box[1], "edgecolor": "#555"})
        for source in node.inputs:
            ax.annotate("", xy=(x - 0.28, y), xytext=(where[source][0] + 0.28, where[source][1]),
                        arrowprops={"arrowstyle": "->", "color": "#555"})
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-height / 2, height / 2)
    ax.axis("off")
    return finish_figure(fig, path)
