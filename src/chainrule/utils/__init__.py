"""Utilities outside the training path.

Keras' ``keras.utils`` names (``import chainrule as keras; keras.utils.to_categorical``):
``to_categorical``, ``normalize``, ``pad_sequences``, ``set_random_seed``,
``plot_model`` and ``get_file`` (``cr.io.get_file``, the checked, cached download);
and training plots (``plot_history``, ``plot_curves``, ``plot_confusion_matrix``).
"""

from ..io import get_file
from .arrays import normalize, pad_sequences, to_categorical
from .model_plot import model_nodes, plot_model
from .plotting import is_available as plotting_available
from .plotting import plot_confusion_matrix, plot_curves, plot_history
from .seeding import set_random_seed

__all__ = ["get_file", "model_nodes", "normalize", "pad_sequences", "plot_confusion_matrix",
           "plot_curves", "plot_history", "plot_model", "plotting_available",
           "set_random_seed", "to_categorical"]
