"""Page 11: the computational graph of the page's 2-2-2 network, with the forward value and
the backward gradient written on every edge."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BLUE, RED = "#1f4e9c", "#c0392b"


def fmt(values: np.ndarray) -> str:
    """(a, b) for a vector, (a, b; c, d) for a matrix, 3 significant digits, no -0."""
    rows = np.atleast_2d(values)
    text = "; ".join(", ".join(f"{v + 0.0:.3g}" for v in row) for row in rows)
    return f"({text})".replace("-", "\u2212")


def graph_values() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Forward value and dL/d(value) of every edge, computed by nnscratch's layers.

    The page's example: x = (1, 2), W1 = (1, -1; 0.5, -0.5), b1 = (0, 1), W2 = (1, -1; 0, 2),
    b2 = 0, label t = 1. The network is Dense -> ReLU -> Dense, each its own layer, so every
    intermediate edge is the output of one layer and the gradient reaching it is what that
    layer's backward receives.
    """
    net = nn.Sequential(
        [nn.Dense(2), nn.ActivationLayer("relu"), nn.Dense(2)],
        input_dim=2,
        seed=0,
        dtype=np.float64,
    )
    affine1, relu, affine2 = net.layers
    affine1.W.value[...] = [[1.0, -1.0], [0.5, -0.5]]
    affine1.b.value[...] = [0.0, 1.0]
    affine2.W.value[...] = [[1.0, -1.0], [0.0, 2.0]]
    affine2.b.value[...] = [0.0, 0.0]
    x, t = np.array([[1.0, 2.0]]), np.array([1])
    z1 = affine1.forward(x, training=True)
    a1 = relu.forward(z1, training=True)
    z2 = affine2.forward(a1, training=True)
    loss, dz2 = nn.SoftmaxCrossEntropy().value_and_gradient(z2, t)
    da1 = affine2.backward(dz2)
    dz1 = relu.backward(da1)
    dx = affine1.backward(dz1)
    p = np.exp(2) / (np.exp(2) + np.exp(-2))  # the page's pencil-and-paper check
    assert np.allclose(z2, [[2, -2]]) and np.allclose(dz1, [[2 * p, 0]])
    assert np.isclose(loss, -np.log(1 - p))
    return {
        "x": (x, dx),
        "z1": (z1, dz1),
        "a1": (a1, da1),
        "z2": (z2, dz2),
        "L": (np.array([loss]), np.array([1.0])),
        "W1": (affine1.W.value, affine1.W.grad),
        "b1": (affine1.b.value, affine1.b.grad),
        "W2": (affine2.W.value, affine2.W.grad),
        "b2": (affine2.b.value, affine2.b.grad),
    }


def edge(ax: Axes, x0: float, x1: float, y: float, name: str, value: str, grad: str) -> None:
    """A forward arrow (black, value above) and a backward arrow (red, gradient below)."""
    ax.annotate(
        "",
        (x1, y + 0.12),
        (x0, y + 0.12),
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.4},
    )
    ax.annotate(
        "",
        (x0, y - 0.12),
        (x1, y - 0.12),
        arrowprops={"arrowstyle": "-|>", "color": RED, "lw": 1.2, "linestyle": "--"},
    )
    mid = (x0 + x1) / 2
    ax.text(mid, y + 0.3, f"{name}\n{value}", ha="center", va="bottom", color=BLUE, fontsize=9)
    ax.text(mid, y - 0.3, f"∂L/∂{name}\n{grad}", ha="center", va="top", color=RED, fontsize=9)


def node(ax: Axes, cx: float, y: float, title: str, local: str, width: float = 1.9) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (cx - width / 2, y - 0.55),
            width,
            1.1,
            boxstyle="round,pad=0.05",
            facecolor="#f3f3f3",
            edgecolor="0.3",
            linewidth=1.2,
        )
    )
    ax.text(cx, y + 0.18, title, ha="center", va="center", fontsize=10, weight="bold")
    ax.text(cx, y - 0.22, local, ha="center", va="center", fontsize=8.5, color="0.25")


def parameter(
    ax: Axes, x: float, base: float, tip: tuple[float, float], name: str, value: str, grad: str
) -> None:
    """A parameter edge entering a node from below: value (blue) and gradient (red) under it."""
    ax.annotate(
        "", tip, (x, base + 0.1), arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2}
    )
    ax.text(x, base, f"{name} = {value}", ha="center", va="top", color=BLUE, fontsize=9)
    ax.text(x, base - 0.42, f"∂L/∂{name} = {grad}", ha="center", va="top", color=RED, fontsize=9)


@figure(
    "11-graph-2-2-2.png",
    page="11-computational-graph.md",
    alt=(
        "The computational graph of the page's 2-2-2 network for one sample: x flows through "
        "an Affine node, a ReLU node, a second Affine node and a Softmax-with-loss node to the "
        "loss L = 4.02; each edge carries its forward value in blue above it and the backward "
        "gradient of L in red below it, and the parameters W1, b1, W2, b2 enter the Affine "
        "nodes from below with their values and gradients, the second column of dL/dW1 zero "
        "because the ReLU stopped the second unit."
    ),
)
def draw_graph(fast: bool) -> Figure:
    v = graph_values()
    fig = new_figure(None, None, (13.0, 4.4))
    ax = fig.add_subplot()
    ax.set_xlim(0, 16.2)
    ax.set_ylim(0.0, 5.0)
    ax.set_axis_off()
    y = 3.2
    nodes = [
        (2.9, "Affine", "z = x W₁ + b₁"),
        (6.6, "ReLU", "× 1[z₁ > 0]"),
        (10.3, "Affine", "z = a W₂ + b₂"),
        (13.9, "Softmax-with-loss", "∂L/∂z₂ = P − T"),
    ]
    for cx, title, local in nodes:
        node(ax, cx, y, title, local, width=2.3 if title.startswith("Softmax") else 1.7)
    edge(ax, 0.35, 2.0, y, "x", fmt(v["x"][0]), fmt(v["x"][1]))
    edge(ax, 3.8, 5.7, y, "z₁", fmt(v["z1"][0]), fmt(v["z1"][1]))
    edge(ax, 7.5, 9.4, y, "a₁", fmt(v["a1"][0]), fmt(v["a1"][1]))
    edge(ax, 11.2, 12.7, y, "z₂", fmt(v["z2"][0]), fmt(v["z2"][1]))
    ax.annotate(
        "",
        (16.0, y + 0.12),
        (15.1, y + 0.12),
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.4},
    )
    ax.text(
        15.55, y + 0.3, f"L\n{v['L'][0][0]:.3f}", ha="center", va="bottom", color=BLUE, fontsize=9
    )
    ax.text(15.55, y - 0.3, "∂L/∂L\n1", ha="center", va="top", color=RED, fontsize=9)
    ax.annotate(
        "",
        (13.9, y + 0.62),
        (13.9, y + 1.25),
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2},
    )
    ax.text(13.9, y + 1.3, "label t = 1", ha="center", va="bottom", fontsize=9)
    base = 1.25
    for cx, names in ((2.9, ("W₁", "b₁")), (10.3, ("W₂", "b₂"))):
        for side, name in zip((-1, 1), names, strict=True):
            key = name.replace("₁", "1").replace("₂", "2")
            parameter(
                ax,
                cx + 1.25 * side,
                base,
                (cx + 0.45 * side, y - 0.62),
                name,
                fmt(v[key][0]),
                fmt(v[key][1]),
            )
    ax.text(
        0.1,
        4.95,
        "forward values (blue, above each edge, left to right)   ·   "
        "backward gradients ∂L/∂(edge) (red, below, right to left)",
        ha="left",
        va="top",
        fontsize=10,
    )
    return fig
