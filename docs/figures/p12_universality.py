"""Page 12: Nielsen's visual proof of universality: steps, a bump, and bumps that follow f."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def f(x: np.ndarray) -> np.ndarray:
    """Nielsen's example function."""
    return 0.2 + 0.4 * x**2 + 0.3 * x * np.sin(15 * x) + 0.05 * np.cos(50 * x)


def bump_network(func: Callable[[np.ndarray], np.ndarray], n_bumps: int, w: float) -> nn.Sequential:
    """The page's 1-(2N)-1 sigmoid network: N bumps of width 1/(N - 1), heights func(centres)."""
    centres = np.arange(n_bumps) / (n_bumps - 1)
    half = 0.5 / (n_bumps - 1)
    edges = np.concatenate([centres - half, centres + half])  # up-steps, then down-steps
    heights = func(centres)
    return nn.Sequential.from_arrays(
        [np.full((1, 2 * n_bumps), float(w)), np.concatenate([heights, -heights])[:, None]],
        [-w * edges, np.zeros(1)],
        activations="sigmoid",
        dtype=np.float64,
    )


@figure(
    "12-steps-and-bumps.png",
    page="12-what-a-network-can-represent.md",
    alt=(
        "Left: one sigmoid neuron sigma(w(x - 0.4)) for w = 10, 100 and 1000, turning from a "
        "gentle slope into a step at x = 0.4, and two such steps with output weights +0.6 and "
        "-0.6 adding up to a bump of height 0.6 between 0.4 and 0.7. Right: Nielsen's wiggly "
        "function f between 0 and 1 with the outputs of one-hidden-layer sigmoid networks built by "
        "hand from 10 and 50 bumps: the 10-bump staircase keeps only the coarse shape, the "
        "50-bump one follows f closely."
    ),
)
def draw_bumps(fast: bool) -> Figure:
    grid = np.linspace(0.0, 1.0, 2_001 if fast else 20_001)
    column = grid[:, None]
    fig = new_figure(None, None, (11.0, 4.3))
    left, right = fig.subplots(1, 2)

    for w, color in ((10, "0.7"), (100, "0.45"), (1000, "black")):
        step = nn.Sequential.from_arrays(
            [np.array([[float(w)]])],
            [np.array([-0.4 * w])],
            output_activation="sigmoid",
            dtype=np.float64,
        )
        left.plot(
            grid,
            step.forward(column)[:, 0],
            color=color,
            linewidth=1.2,
            label=f"σ(w(x − 0.4)), w = {w}",
        )
    # two hidden neurons, steps at 0.4 and 0.7, output weights +h and -h: a bump of height h
    h = 0.6
    bump = nn.Sequential.from_arrays(
        [np.array([[1000.0, 1000.0]]), np.array([[h], [-h]])],
        [np.array([-400.0, -700.0]), np.zeros(1)],
        activations="sigmoid",
        dtype=np.float64,
    )
    left.plot(
        grid,
        bump.forward(column)[:, 0],
        color="tab:red",
        linewidth=2,
        label=f"{h} σ(1000(x − 0.4)) − {h} σ(1000(x − 0.7))",
    )
    left.set_ylim(-0.05, 1.3)
    left.set_xlabel("x")
    left.set_title("a steep sigmoid is a step; two steps make a bump")
    left.legend(fontsize="small", loc="upper left")
    left.grid(True, alpha=0.3)

    right.plot(grid, f(grid), color="black", linewidth=2.2, label="f(x)")
    for n_bumps, color in ((10, "tab:orange"), (50, "tab:blue")):
        net = bump_network(f, n_bumps, w=1000 * n_bumps)
        out = net.forward(column)[:, 0]
        error = np.abs(out - f(grid)).max()
        right.plot(
            grid,
            out,
            color=color,
            linewidth=1.1,
            label=f"{n_bumps} bumps ({2 * n_bumps} hidden neurons), max error {error:.3f}",
        )
    right.set_xlabel("x")
    right.set_title("one hidden layer of sigmoid steps, weights built by hand")
    right.legend(fontsize="small", loc="upper left")
    right.grid(True, alpha=0.3)
    return fig
