"""Utilities outside the training path: plots (``cr.utils.plot_history``)."""

from .plotting import is_available as plotting_available
from .plotting import plot_confusion_matrix, plot_curves, plot_history

__all__ = ["plot_confusion_matrix", "plot_curves", "plot_history", "plotting_available"]
