"""Page 4: seed 000's three models side by side on the five clusters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry import figure

from nnscratch.data import five_clusters
from nnscratch.experiments import seed000
from nnscratch.plots import plot_decision_regions_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure(
    "04-seed000-decision-regions.png",
    page="04-softmax-cross-entropy.md",
    alt=(
        "Three panels of the five-cluster test points over predicted regions: the linear model "
        "with straight boundaries, one hidden ReLU layer with the quadratic cost with bent "
        "ones, and the same network with softmax and cross-entropy, the only one that carves "
        "out the cross-shaped middle class, with its accuracy in each title."
    ),
)
def draw_seed000(fast: bool) -> Figure:
    x_test, y_test = five_clusters(seed000.N, seed=1)
    models = {
        "linear, quadratic": seed000._train([2, 5], "sse", seed000.SMALL_LR),
        "hidden ReLU, quadratic": seed000._train([2, 8, 5], "sse", seed000.SMALL_LR),
        # the same step as the summed cost at 3e-4 per sample, on the mean: 3e-4 * N
        "softmax + cross-entropy": seed000._train(
            [2, 8, 5], "softmax_cross_entropy", seed000.LARGE_LR * seed000.N
        ),
    }
    titled = {
        f"{name} ({model.evaluate(x_test, y_test)['accuracy']:.0%})": model
        for name, model in models.items()
    }
    return plot_decision_regions_grid(
        titled,
        x_test,
        y_test,
        resolution=80 if fast else 250,
        figsize=(12.0, 4.2),
        suptitle="Seed 000: what each model predicts on the five clusters (test points on top)",
    )
