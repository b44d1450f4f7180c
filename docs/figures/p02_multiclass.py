"""Page 2: what the linear multi-class model of seed 000 learns on the five clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry import figure

import nnscratch as nn
from nnscratch.data import five_clusters
from nnscratch.experiments import seed000
from nnscratch.plots import plot_confusion_matrix, plot_decision_regions
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure(
    "02-linear-regions.png",
    page="02-multiclass-perceptron.md",
    alt=(
        "Left: the five-cluster test points over the regions a linear model predicts; every "
        "region is a convex polygon with straight edges, so the cross-shaped middle class cannot "
        "be cut out. Right: its confusion matrix, with most points of every class predicted as "
        "class 4."
    ),
)
def draw_linear(fast: bool) -> Figure:
    # seed 000's linear model: 2-5, summed quadratic cost, 1,000 full-batch steps
    model = seed000._train([2, 5], "sse", seed000.SMALL_LR)
    x_test, y_test = five_clusters(seed000.N, seed=1)
    accuracy = model.evaluate(x_test, y_test)["accuracy"]
    fig = new_figure(None, None, (10.0, 4.2))
    left, right = fig.subplots(1, 2, width_ratios=[1.15, 1])
    plot_decision_regions(
        model,
        x_test,
        y_test,
        ax=left,
        resolution=80 if fast else 300,
        title=f"linear model, test accuracy {accuracy:.0%}",
    )
    matrix = nn.confusion_matrix(y_test, model.predict(x_test), 5)
    plot_confusion_matrix(matrix, ax=right, title="where the test points go")
    return fig
