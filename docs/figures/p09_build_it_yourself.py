"""Page 9: the reader's own network, trained side by side with its nnscratch twin."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
from registry import GUIDE, figure

import nnscratch as nn
from nnscratch.data import load_mnist_sample
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE = "09-build-it-yourself.md"


def page_network() -> type:
    """The ``Network`` class exactly as the page writes it (its code block, executed)."""
    text = (GUIDE / PAGE).read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    source = next((b for b in blocks if "class Network" in b), None)
    if source is None:
        raise ValueError(f"{PAGE} has no python block defining class Network")
    namespace: dict = {}
    exec(compile(source, f"{PAGE}:Network", "exec"), namespace)
    return namespace["Network"]


@figure(
    "09-yours-vs-nnscratch.png",
    page=PAGE,
    alt=(
        "Test loss and test accuracy per epoch of the page's hand-written 784-100-10 network "
        "and of its nnscratch twin (same starting weights, same batches, SGD 0.1) on the MNIST "
        "sample: the two curves lie on top of each other, and the bottom panel shows their "
        "difference stays at rounding level, below 1e-12."
    ),
)
def draw_side_by_side(fast: bool) -> Figure:
    network_class = page_network()
    sample = load_mnist_sample(normalize=True)
    x, y = sample.x_train.astype(np.float64), sample.y_train
    x_test, y_test = sample.x_test.astype(np.float64), sample.y_test
    epochs, batch, eta = (2 if fast else 8), 32, 0.1

    yours = network_class([784, 100, 10], seed=0)
    twin = nn.Sequential.from_arrays(
        [w.copy() for w in yours.weights],
        [b.copy() for b in yours.biases],
        activations="relu",
        dtype=np.float64,
    )
    model = nn.Model(twin, loss="softmax_cross_entropy", optimizer=nn.SGD(eta))
    curves: dict[str, list[float]] = {k: [] for k in ("yours", "nnscratch", "acc_y", "acc_n")}
    for epoch in range(epochs):
        # your sgd draws its order from default_rng(seed); hand nnscratch the same order
        order = np.random.default_rng(epoch).permutation(len(x))
        yours.sgd(x, y, epochs=1, batch_size=batch, eta=eta, seed=epoch)
        model.fit(x[order], y[order], epochs=1, batch_size=batch, shuffle=False, verbose=0)
        result = model.evaluate(x_test, y_test)
        curves["yours"].append(float(yours.loss(x_test, y_test)))
        curves["nnscratch"].append(float(result["loss"]))
        curves["acc_y"].append(float(yours.accuracy(x_test, y_test)))
        curves["acc_n"].append(float(result["accuracy"]))

    ep = np.arange(1, epochs + 1)
    gap = np.abs(np.array(curves["yours"]) - np.array(curves["nnscratch"]))
    fig = new_figure(None, None, (10.0, 5.6))
    top_left, top_right, bottom = fig.subplot_mosaic(
        [["loss", "acc"], ["gap", "gap"]], height_ratios=[2.2, 1]
    ).values()
    top_left.plot(ep, curves["yours"], marker="o", linewidth=4, alpha=0.4, label="your Network")
    top_left.plot(ep, curves["nnscratch"], marker="x", color="black", label="nnscratch twin")
    top_right.plot(ep, curves["acc_y"], marker="o", linewidth=4, alpha=0.4, label="your Network")
    top_right.plot(ep, curves["acc_n"], marker="x", color="black", label="nnscratch twin")
    top_left.set_title("test loss (cross-entropy)")
    top_right.set_title("test accuracy")
    bottom.semilogy(ep, np.maximum(gap, 1e-17), marker="o", color="tab:red")
    bottom.set_ylim(1e-17, 1e-10)
    bottom.set_title("|your test loss − nnscratch's test loss|")
    for ax in (top_left, top_right, bottom):
        ax.set_xlabel("epoch")
        ax.set_xticks(ep)
        ax.grid(True, alpha=0.3)
    top_left.legend(fontsize="small")
    top_right.legend(fontsize="small")
    fig.suptitle(
        "784-100-10 ReLU, SGD η = 0.1, batches of 32, on the MNIST sample: same start, same batches"
    )
    return fig
