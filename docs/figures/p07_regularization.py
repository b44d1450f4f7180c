"""Page 7: overfitting on 1,000 images, without and with L2 (Nielsen, chapter 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.data import load_mnist_sample
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure(
    "07-overfitting-curves.png",
    page="07-regularization.md",
    alt=(
        "Training curves of a 784-30-10 sigmoid network on 1,000 images of the MNIST sample "
        "over 100 epochs: without regularization the training loss falls towards 0 and the "
        "training accuracy reaches 100% while the test loss turns upwards after about 15 "
        "epochs; with L2 (lambda = 0.1) the test loss keeps falling and the test accuracy "
        "ends higher."
    ),
)
def draw_overfitting(fast: bool) -> Figure:
    # the page's experiment: N(0, 1) weights, softmax + cross-entropy, SGD 0.5, batches of 10
    ds = load_mnist_sample(normalize=True)
    x_small, y_small = ds.x_train[:1000], ds.y_train[:1000]
    epochs = 15 if fast else 100
    runs = {}
    for l2 in (0.0, 0.1):
        model = nn.Model(
            nn.mlp([784, 30, 10], "sigmoid", weight_init="standard_normal", seed=0),
            loss="softmax_cross_entropy",
            optimizer=nn.SGD(0.5),
            l2=l2,
        )
        runs[l2] = model.fit(
            x_small,
            y_small,
            epochs=epochs,
            batch_size=10,
            seed=0,
            verbose=0,
            validation_data=(ds.x_test, ds.y_test),
        )
    fig = new_figure(None, None, (11.0, 4.2))
    panels = fig.subplots(1, 2)
    x = np.arange(1, epochs + 1)
    for (l2, history), color in zip(runs.items(), ("tab:red", "tab:blue"), strict=True):
        name = "no regularization" if l2 == 0 else f"L2, λ = {l2}"
        for ax, metric in zip(panels, ("loss", "accuracy"), strict=True):
            ax.plot(x, history[metric], color=color, label=f"{name}: training")
            ax.plot(x, history[f"val_{metric}"], color=color, linestyle="--", label=f"{name}: test")
    plain = np.asarray(runs[0.0]["val_loss"])
    best = int(np.argmin(plain))
    panels[0].annotate(
        f"lowest test loss\n(epoch {best + 1})",
        xy=(best + 1, plain[best]),
        xytext=(best + 1 + epochs * 0.12, plain[best] + 0.6),
        arrowprops={"arrowstyle": "->", "color": "0.3"},
        fontsize="small",
    )
    panels[0].set_ylabel("cross-entropy loss (training loss includes the L2 term)")
    panels[1].set_ylabel("accuracy")
    for ax, metric in zip(panels, ("loss", "accuracy"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(
        "784-30-10 sigmoid network on 1,000 training images (solid: training, dashed: "
        "1,000 test images)"
    )
    return fig
