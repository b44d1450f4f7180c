"""Page 13: im2col on the page's 4 x 4 example; the kernels of a trained SimpleConvNet with the
feature maps of one digit, before and after max pooling."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.core.layers.im2col import im2col
from nnscratch.data import load_mnist_sample
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PAGE = "13-convolutional-networks.md"
# one colour per window position (p, q) = (0, 0), (0, 1), (1, 0), (1, 1)
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
SPEC = "reshape:1x28x28,conv:30x5,relu,maxpool:2,flatten,dense:100,relu,dense:10"
SHOWN = 10  # filters drawn in the feature-map figure


def grid(
    ax: Axes,
    values: np.ndarray,
    x0: float,
    y0: float,
    fill: list[list[str | None]] | None = None,
    size: float = 1.0,
) -> None:
    """The matrix ``values`` as a grid of cells of side ``size``, top-left corner at (x0, y0),
    y downwards, each cell with its number and an optional background colour."""
    from matplotlib.patches import Rectangle

    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            colour = fill[r][c] if fill is not None else None
            ax.add_patch(
                Rectangle(
                    (x0 + c * size, y0 + r * size),
                    size,
                    size,
                    facecolor=colour or "white",
                    alpha=0.25 if colour else 1,
                    edgecolor="0.4",
                    linewidth=0.8,
                )
            )
            ax.text(
                x0 + (c + 0.5) * size,
                y0 + (r + 0.5) * size,
                f"{values[r, c]:g}",
                ha="center",
                va="center",
                fontsize=10 if size >= 1 else 9,
            )


@figure(
    "13-im2col.png",
    page=PAGE,
    alt=(
        "im2col on a 4 x 4 image holding the numbers 0 to 15: each of the four 3 x 3 windows, "
        "outlined in its own colour, becomes one column of the 9 x 4 matrix X_col, so that the "
        "3 x 3 filter, flattened into a row of 9 weights, times X_col gives the four outputs of "
        "the convolution in one matrix product."
    ),
)
def draw_im2col(fast: bool) -> Figure:
    from matplotlib.patches import FancyArrowPatch, Rectangle

    x = np.arange(16.0).reshape(1, 1, 4, 4)
    cols = im2col(x, (3, 3), (1, 1), (2, 2), np.empty((1, 9, 4)))[0]
    kernel = np.array([[2.0, 0, 1], [0, 1, 2], [1, 0, 2]])
    z = kernel.reshape(1, 9) @ cols

    fig = new_figure(None, None, (10.0, 4.8))
    ax = fig.add_subplot()
    ax.set_xlim(-0.5, 19.6)
    ax.set_ylim(11.2, 0.3)
    ax.set_aspect("equal")
    ax.set_axis_off()

    # the image, with the four windows outlined (inset a little so that they stay apart)
    grid(ax, x[0, 0], 0, 2.5)
    ax.text(2, 1.9, "X: a 4 x 4 image", ha="center", fontsize=11)
    for k, (p, q) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        inset = 0.06 + 0.07 * k
        ax.add_patch(
            Rectangle(
                (q + inset, 2.5 + p + inset),
                3 - 2 * inset,
                3 - 2 * inset,
                fill=False,
                edgecolor=COLOURS[k],
                linewidth=2.2,
            )
        )
        ax.text(-0.35 + 1.2 * k, 7.2, f"({p},{q})", color=COLOURS[k], fontsize=9, weight="bold")
    ax.text(2, 8.0, "window at (p, q)", ha="center", fontsize=9, color="0.3")

    ax.add_patch(
        FancyArrowPatch((4.6, 4.5), (7.4, 4.5), arrowstyle="-|>", mutation_scale=18, color="0.3")
    )
    ax.text(6.0, 4.1, "im2col", ha="center", fontsize=11, style="italic")

    # X_col: column k is window k, read row by row
    fill: list[list[str | None]] = [[COLOURS[c] for c in range(4)] for _ in range(9)]
    grid(ax, cols, 8, 1.5, fill)
    ax.text(10, 1.0, "X_col (9 x 4)", ha="center", fontsize=11)
    ax.text(7.7, 6.0, "(c, i, j)", ha="right", va="center", fontsize=9, color="0.3", rotation=90)
    ax.text(10, 11.0, "one column per window", ha="center", fontsize=9, color="0.3")

    # the flattened filter times X_col: each output is the filter's row times one column
    ax.text(13.0, 1.9, "W_col (1 x 9): the filter, row by row", fontsize=10)
    grid(ax, kernel.reshape(1, 9), 13.0, 2.4, size=0.65)
    ax.text(13.0, 4.6, "Z = W_col X_col (1 x 4): the filter", fontsize=10)
    ax.text(13.0, 5.15, "times each column", fontsize=10)
    fill_z: list[list[str | None]] = [[COLOURS[c] for c in range(4)]]
    grid(ax, z, 13.0, 5.6, fill_z)
    ax.text(13.0, 7.3, "= the 2 x 2 output, row by row:", fontsize=9, color="0.3")
    ax.text(13.0, 8.0, f"[[{z[0, 0]:g}, {z[0, 1]:g}], [{z[0, 2]:g}, {z[0, 3]:g}]]", fontsize=10)
    fig.suptitle(
        "A convolution as one matrix product: each window of the image becomes a column",
        fontsize=12,
    )
    return fig


@cache
def trained(fast: bool) -> tuple[nn.Model, np.ndarray, int, float]:
    """The page's SimpleConvNet, trained with Adam 1e-3 on the bundled sample (5 epochs; 1
    epoch on 1,000 images when fast); the sample's first test image, its label, and the
    model's accuracy on the sample's 1,000 test images."""
    sample = load_mnist_sample(normalize=True)
    model = nn.Model(
        nn.build_network(SPEC, 784, seed=0), loss="softmax_cross_entropy", optimizer=nn.Adam(1e-3)
    )
    n = 1000 if fast else len(sample.x_train)
    model.fit(
        sample.x_train[:n],
        sample.y_train[:n],
        epochs=1 if fast else 5,
        batch_size=50,
        seed=0,
        verbose=0,
    )
    accuracy = model.evaluate(sample.x_test, sample.y_test)["accuracy"]
    return model, sample.x_test[0], int(sample.y_test[0]), accuracy


@figure(
    "13-kernels-and-feature-maps.png",
    page=PAGE,
    alt=(
        "Ten of the thirty 5 x 5 kernels that the page's SimpleConvNet learned on the MNIST "
        "sample, each above its feature map of a test digit 4 after the ReLU (24 x 24) and "
        "after 2 x 2 max pooling (12 x 12): the kernels are noisy stroke and edge detectors, "
        "and each map lights up where the 4 has a stroke that its kernel matches, some on the "
        "horizontal bar, others on the vertical strokes."
    ),
)
def draw_feature_maps(fast: bool) -> Figure:
    model, image, label, accuracy = trained(fast)
    net = model.network
    reshape, conv, pool = net.layers[:3]
    x = reshape.forward(image.reshape(1, 784).astype(net.dtype))
    relu_maps = np.array(conv.forward(x), dtype=np.float64)[0]
    pooled = np.array(pool.forward(conv.forward(x)), dtype=np.float64)[0]
    kernels = np.asarray(conv.W.value, dtype=np.float64)[:, 0]

    fig = new_figure(None, None, (11.0, 4.6))
    spec = fig.add_gridspec(
        3, SHOWN + 1, width_ratios=[1.6] + [1] * SHOWN, wspace=0.12, hspace=0.25
    )
    ax = fig.add_subplot(spec[:, 0])
    ax.imshow(x[0, 0], cmap="gray_r", interpolation="nearest")
    ax.set_title(f"input (label {label})", fontsize=9)
    ax.set_axis_off()
    rows = [
        ("kernel\n5 x 5", kernels),
        ("ReLU(conv)\n24 x 24", relu_maps),
        ("max-pool\n12 x 12", pooled),
    ]
    for r, (name, values) in enumerate(rows):
        for f in range(SHOWN):
            panel = fig.add_subplot(spec[r, f + 1])
            if r == 0:
                limit = float(np.abs(values[f]).max()) or 1.0
                panel.imshow(
                    values[f], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
                )
                panel.set_title(f"filter {f}", fontsize=8)
            else:  # one colour scale per filter, shared by its two maps: bright = strong
                top = float(relu_maps[f].max()) or 1.0
                panel.imshow(values[f], cmap="viridis", vmin=0.0, vmax=top, interpolation="nearest")
            panel.set_xticks([])
            panel.set_yticks([])
            if f == 0:
                panel.set_ylabel(name, fontsize=8)
    fig.suptitle(
        f"What the first layer learned (SimpleConvNet on the MNIST sample, {accuracy:.1%} of "
        "its test digits right): red weights excite, blue inhibit",
        fontsize=10,
    )
    return fig
