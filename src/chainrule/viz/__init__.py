"""Pictures of what chainrule computes: the graph (``explain``, ``to_dot``,
``plot_graph``)."""

from .drawing import plot_graph
from .graph import describe, explain, to_dot

__all__ = ["describe", "explain", "plot_graph", "to_dot"]
