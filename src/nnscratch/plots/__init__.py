"""Pictures of networks, training runs and data (optional: needs matplotlib).

``import nnscratch.plots`` works without matplotlib; drawing raises ImportError with the install
command (``pip install 'nnscratch[plot]'``). Every function builds a headless figure
(``matplotlib.figure.Figure`` with the Agg canvas, no pyplot state) -- or draws into the ``ax``
it is given -- and returns the Figure; write it with :func:`save_figure` (PNG or SVG).

>>> from nnscratch import plots                                        # doctest: +SKIP
>>> plots.save_figure(plots.plot_history(model.history), "run/history.png")  # doctest: +SKIP
"""

from ._base import MISSING_MESSAGE, save_figure
from .activations import plot_activations
from .classification import plot_confusion_matrix, plot_decision_regions, plot_decision_regions_grid
from .convolution import plot_conv_kernels, plot_feature_maps
from .curves import plot_history, plot_learning_slowdown
from .images import plot_first_layer_weights, plot_most_confident_errors
from .live import LivePlot

__all__ = [
    "LivePlot",
    "MISSING_MESSAGE",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_conv_kernels",
    "plot_decision_regions",
    "plot_decision_regions_grid",
    "plot_feature_maps",
    "plot_first_layer_weights",
    "plot_history",
    "plot_learning_slowdown",
    "plot_most_confident_errors",
    "save_figure",
]
