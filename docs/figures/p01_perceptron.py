"""Page 1: the perceptron's boundary, update by update, on the page's two clouds of points."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.data import blobs
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PAGE = "01-perceptron.md"


def replay(x: np.ndarray, labels: np.ndarray, seed: int) -> list[dict]:
    """Every update of the perceptron rule, as ``Perceptron.fit`` makes them.

    Same seeded visiting order (one permutation per epoch from ``default_rng(seed)``), same
    rule: on a mistake y (w.x + b) <= 0, w += y x and b += y. Each entry holds the weights
    before and after, the sample that caused it and its epoch.
    """
    rng = np.random.default_rng(seed)
    w, b = np.zeros(x.shape[1]), 0.0
    updates: list[dict] = []
    for epoch in range(1, 101):
        mistakes = 0
        for i in rng.permutation(len(x)):
            if labels[i] * (x[i] @ w + b) <= 0:
                before = (w.copy(), b)
                w, b = w + labels[i] * x[i], b + labels[i]
                updates.append({"epoch": epoch, "i": i, "before": before, "after": (w.copy(), b)})
                mistakes += 1
        if mistakes == 0:
            break
    return updates


def draw_line(ax: Axes, w: np.ndarray, b: float, bounds: tuple, **style: object) -> None:
    """The boundary w.x + b = 0 across the axes' box (nothing while w = 0)."""
    x0, x1, y0, y1 = bounds
    if abs(w[1]) > 1e-12:
        xs = np.array([x0, x1])
        ax.plot(xs, -(w[0] * xs + b) / w[1], **style)
    elif abs(w[0]) > 1e-12:
        ax.plot([-b / w[0]] * 2, [y0, y1], **style)


@figure(
    "01-perceptron-updates.png",
    page=PAGE,
    alt=(
        "Eleven small panels, one per update of the perceptron rule on two clouds of 200 points: "
        "each shows the old boundary dashed, the new one solid and the misclassified point that "
        "moved it circled, until the line separates the clouds; a last panel counts the "
        "mistakes per epoch falling to zero."
    ),
)
def draw_updates(fast: bool) -> Figure:
    x, y = blobs(200, centers=np.array([[-1.5, -1.0], [1.5, 1.0]]), std=0.6, seed=0)
    labels = np.where(y == 1, 1, -1)
    updates = replay(x, labels, seed=0)
    # the replay is the library's rule exactly: same final weights, same number of updates
    perceptron = nn.Perceptron(learning_rate=1.0, seed=0)
    result = perceptron.fit(x, labels)
    w_final, b_final = updates[-1]["after"]
    assert result.updates == len(updates)
    assert np.allclose(perceptron.w, w_final) and np.isclose(perceptron.b, b_final)

    shown = updates[:11]
    cols = 4
    rows = (len(shown) + 1 + cols - 1) // cols
    fig = new_figure(None, None, (10.0, 2.45 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    pad = 0.4
    bounds = (x[:, 0].min() - pad, x[:, 0].max() + pad, x[:, 1].min() - pad, x[:, 1].max() + pad)
    colors = {1: "tab:blue", -1: "tab:orange"}
    for k, (ax, update) in enumerate(zip(axes, shown, strict=False), start=1):
        for label, color in colors.items():
            ax.scatter(*x[labels == label].T, s=6, color=color, alpha=0.5, linewidths=0)
        draw_line(ax, *update["before"], bounds, color="0.45", linestyle="--", linewidth=1)
        draw_line(ax, *update["after"], bounds, color="black", linewidth=1.5)
        i = update["i"]
        ax.scatter(*x[i], s=70, facecolors="none", edgecolors="red", linewidths=1.5)
        w, b = update["after"]
        ax.set_title(f"update {k} (epoch {update['epoch']})", fontsize="small")
        ax.text(
            0.03,
            0.04,
            f"w = ({w[0]:.1f}, {w[1]:.1f}), b = {b:.0f}",
            transform=ax.transAxes,
            fontsize="x-small",
            bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0},
        )
        ax.set_xlim(bounds[0], bounds[1])
        ax.set_ylim(bounds[2], bounds[3])
        ax.set_xticks([])
        ax.set_yticks([])
    ax = axes[len(shown)]
    epochs = np.arange(1, len(result.mistakes_per_epoch) + 1)
    ax.bar(epochs, result.mistakes_per_epoch, color="0.4")
    ax.set_title("mistakes per epoch", fontsize="small")
    ax.set_xlabel("epoch", fontsize="small")
    ax.set_xticks(epochs)
    ax.set_yticks(range(max(result.mistakes_per_epoch) + 1))
    ax.tick_params(labelsize="x-small")
    for ax in axes[len(shown) + 1 :]:
        ax.set_visible(False)
    fig.suptitle(
        "The perceptron rule: each mistake (circled) moves the boundary (dashed: before, "
        "solid: after)",
        fontsize="medium",
    )
    return fig
