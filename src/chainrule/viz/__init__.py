"""Pictures of what chainrule computes: the graph (``to_dot``, ``explain``)."""

from .graph import explain, to_dot

__all__ = ["explain", "to_dot"]
