"""Page 6: gradient descent and momentum on a cost surface; the learning slowdown (seed 002)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.experiments import seed002
from nnscratch.plots import plot_learning_slowdown
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE = "06-training.md"


class Track(nn.Callback):
    """Records (w, b) of a one-input linear neuron after every epoch (one full-batch step)."""

    def __init__(self, layer: nn.Dense) -> None:
        self.layer = layer
        self.path = [(float(layer.W.value[0, 0]), float(layer.b.value[0]))]

    def on_epoch_end(self, model: nn.Model, epoch: int, logs: dict[str, float]) -> None:
        self.path.append((float(self.layer.W.value[0, 0]), float(self.layer.b.value[0])))


@figure(
    "06-cost-surface.png",
    page=PAGE,
    alt=(
        "Contour lines of the quadratic cost of a linear neuron y = wx + b over its two "
        "parameters, a long narrow valley: 40 steps of plain gradient descent zigzag across it "
        "and crawl along it, stopping far from the minimum, while 40 steps of momentum sweep "
        "along the valley and reach it."
    ),
)
def draw_surface(fast: bool) -> Figure:
    rng = np.random.default_rng(0)
    x = np.linspace(1.0, 3.0, 40)[:, None]  # inputs far from 0: w and b pull together
    y = 0.5 * x - 1.0 + 0.1 * rng.normal(size=x.shape)
    start, steps = (-1.0, 2.5), 40
    paths = {}
    for name, optimizer in (
        ("gradient descent, η = 0.35", nn.SGD(0.35)),
        ("momentum, η = 0.1, μ = 0.9", nn.Momentum(0.1, 0.9)),
    ):
        net = nn.Sequential.from_arrays(
            [np.array([[start[0]]])], [np.array([start[1]])], dtype=np.float64
        )
        track = Track(net.layers[0])
        model = nn.Model(net, loss="quadratic", optimizer=optimizer)
        model.fit(x, y, epochs=steps, batch_size=len(x), verbose=0, callbacks=[track])
        paths[name] = (np.array(track.path), model.history["loss"][-1])

    n = 120 if fast else 300
    w, b = np.meshgrid(np.linspace(-1.6, 1.6, n), np.linspace(-2.6, 3.0, n))
    residual = w[..., None] * x[:, 0] + b[..., None] - y[:, 0]
    cost = 0.5 * np.mean(residual**2, axis=-1)  # QuadraticCost: ||wx + b - y||^2 / 2N
    check = nn.QuadraticCost().value(x * w[0, 0] + b[0, 0], y)
    assert np.isclose(check, cost[0, 0])
    best = np.linalg.lstsq(np.column_stack([x, np.ones(len(x))]), y, rcond=None)[0].ravel()

    fig = new_figure(None, None, (7.0, 5.0))
    ax = fig.add_subplot()
    levels = np.geomspace(cost.min() + 1e-3, cost.max(), 14)
    ax.contour(w, b, cost, levels=levels, cmap="Greys_r", linewidths=0.8, alpha=0.8)
    for (name, (path, final)), color in zip(paths.items(), ("tab:red", "tab:blue"), strict=True):
        ax.plot(
            path[:, 0],
            path[:, 1],
            marker="o",
            markersize=2.5,
            linewidth=1,
            color=color,
            label=f"{name}: cost {final:.4f} after {steps} steps",
        )
    ax.plot(*start, marker="s", color="black", markersize=6, label="start")
    ax.plot(
        *best,
        marker="*",
        color="gold",
        markeredgecolor="black",
        markersize=14,
        label="minimum (least squares)",
    )
    ax.set_xlabel("weight w")
    ax.set_ylabel("bias b")
    ax.set_title("Cost of y = wx + b on 40 points with x in [1, 3]")
    ax.legend(fontsize="small", loc="upper right")
    return fig


@figure(
    "06-learning-slowdown.png",
    page=PAGE,
    alt=(
        "One sigmoid neuron learning to output 0 for input 1, cost per epoch on the left and "
        "its output on the right: with the quadratic cost from w = 0.6, b = 0.9 it learns at "
        "once; from the saturated start w = b = 2 its output stays above 0.93 for 150 "
        "epochs; with the cross-entropy cost from the same start there is no plateau, and at "
        "the same learning rate the output is below 0.1 after 50 epochs."
    ),
)
def draw_slowdown(fast: bool) -> Figure:
    # seed 002's three runs (Nielsen, chapter 3), 300 epochs each, plus cross-entropy at the
    # quadratic cost's learning rate, for a comparison at equal eta
    runs = {
        "quadratic, w = 0.6, b = 0.9, η = 0.15": ("quadratic", 0.15, 0.6),
        "quadratic, w = b = 2 (saturated), η = 0.15": ("quadratic", 0.15, 2.0),
        "cross-entropy, w = b = 2, η = 0.005 (Nielsen)": ("cross-entropy", 0.005, 2.0),
        "cross-entropy, w = b = 2, η = 0.15": ("cross-entropy", 0.15, 2.0),
    }
    costs, outputs = {}, {}
    for label, (cost, eta, w) in runs.items():
        b = 0.9 if w == 0.6 else 2.0
        loss = "quadratic" if cost == "quadratic" else "binary_cross_entropy_with_logits"
        c = seed002.neuron_costs(loss, eta, w, b)
        # the neuron's output a from its cost, target 0: C = a^2 / 2, or C = -ln(1 - a)
        outputs[label] = np.sqrt(2 * c) if cost == "quadratic" else -np.expm1(-c)
        if eta != 0.15 or cost == "quadratic":
            costs[label] = c
    fig = new_figure(None, None, (11.0, 4.2))
    left, right = fig.subplots(1, 2)
    plot_learning_slowdown(costs, ax=left, title="cost per epoch (seed 002)")
    for k, (label, a) in enumerate(outputs.items()):
        right.plot(np.arange(1, len(a) + 1), a, color=f"C{k}", label=label)
    right.set_ylim(0.0, 1.02)
    right.set_xlabel("epoch")
    right.set_ylabel("output a (the target is 0)")
    right.set_title("the neuron's answer per epoch")
    right.grid(True, alpha=0.3)
    right.legend(fontsize="small")
    fig.suptitle("The learning slowdown of a saturated sigmoid neuron, and cross-entropy's cure")
    return fig
