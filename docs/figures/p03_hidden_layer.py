"""Page 3: the activation functions with their derivatives; what one hidden ReLU layer learns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry import figure

from nnscratch.data import five_clusters
from nnscratch.experiments import seed000
from nnscratch.plots import plot_activations, plot_decision_regions

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE = "03-hidden-layer-and-activations.md"


@figure(
    "03-activations.png",
    page=PAGE,
    alt=(
        "Eight small plots, one per activation function (step, sigmoid, tanh, ReLU, leaky ReLU, "
        "ELU, softplus, GELU), each drawing f(z) as a solid line and its derivative f'(z) "
        "dashed for z from -5 to 5: the sigmoid's and tanh's derivatives fall to zero away from "
        "0, ReLU's is 0 then 1, and the step has none."
    ),
)
def draw_activations(fast: bool) -> Figure:
    names = ["step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu"]
    return plot_activations(names, ncols=4, figsize=(10.0, 4.8))


@figure(
    "03-hidden-regions.png",
    page=PAGE,
    alt=(
        "The five-cluster test points over the regions predicted by a network with one hidden "
        "layer of 8 ReLU units trained with the quadratic cost: the boundaries now bend, but "
        "the cross-shaped middle class is still only partly carved out."
    ),
)
def draw_hidden(fast: bool) -> Figure:
    # seed 000's second model: 2-8-5 ReLU, summed quadratic cost, 1,000 full-batch steps
    model = seed000._train([2, 8, 5], "sse", seed000.SMALL_LR)
    x_test, y_test = five_clusters(seed000.N, seed=1)
    accuracy = model.evaluate(x_test, y_test)["accuracy"]
    return plot_decision_regions(
        model,
        x_test,
        y_test,
        resolution=80 if fast else 300,
        figsize=(5.6, 4.6),
        title=f"one hidden ReLU layer, quadratic cost: {accuracy:.0%}",
    )
