"""Page 10: per-layer gradient sizes of the 784-30-30-30-30-10 network, sigmoid vs ReLU/He vs
batch norm, at initialization and during training."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.data import load_mnist_sample
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def deep_net(activation: str, weight_init: str, batch_norm: bool = False) -> nn.Sequential:
    """784-30-30-30-30-10: four hidden layers Dense -> [BatchNorm ->] activation (the page's)."""
    layers: list = []
    for _ in range(4):
        layers.append(nn.Dense(30, weight_init=weight_init))
        if batch_norm:
            layers.append(nn.BatchNorm())
        layers.append(nn.ActivationLayer(activation))
    layers.append(nn.Dense(10, weight_init=weight_init))
    return nn.Sequential(layers, input_dim=784, seed=0)


def gradient_sizes(net: nn.Sequential, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """||Delta_l|| = ||dL/dZ_l|| of the four hidden layers, from one backward pass on (x, y)."""
    g = nn.SoftmaxCrossEntropy().gradient(net.forward(x, training=True), y)
    found = []
    for layer in reversed(net.layers):
        if isinstance(layer, nn.Dense):
            found.append(np.linalg.norm(g))  # what reaches a Dense is dL/dZ of its output
        g = layer.backward(g)
    return np.array(found[::-1][:-1])


@figure(
    "10-gradient-sizes.png",
    page="10-why-deep-networks-are-hard.md",
    alt=(
        "Left: bar chart, on a log scale, of the gradient size of each of the four hidden "
        "layers of a 784-30-30-30-30-10 network at initialization: for sigmoid the bars climb "
        "almost two decades from the first layer to the fourth, for ReLU with He "
        "initialization and for sigmoid with batch norm they are level. Right: the ratio of "
        "the last to the first hidden layer's gradient during ten epochs of training, which "
        "stays tens of times above 1 for sigmoid for about six epochs, and between 0.4 and 1 "
        "for ReLU."
    ),
)
def draw_gradient_sizes(fast: bool) -> Figure:
    ds = load_mnist_sample(normalize=True)
    xb, yb = ds.x_train[:1000], ds.y_train[:1000]
    nets = {
        "sigmoid": ("sigmoid", "nielsen", False),
        "ReLU + He": ("relu", "he", False),
        "sigmoid + batch norm": ("sigmoid", "nielsen", True),
    }
    sizes = {name: gradient_sizes(deep_net(*spec), xb, yb) for name, spec in nets.items()}

    fig = new_figure(None, None, (11.0, 4.3))
    left, right = fig.subplots(1, 2)
    layers = np.arange(1, 5)
    for k, (name, s) in enumerate(sizes.items()):
        left.bar(
            layers + (k - 1) * 0.27,
            s,
            width=0.27,
            label=f"{name} (last / first {s[-1] / s[0]:.1f})",
        )
    left.set_yscale("log")
    left.set_xticks(layers, [f"hidden {layer}" for layer in layers])
    left.set_ylabel(r"$\|\partial L / \partial Z_l\|$ over 1,000 images")
    left.set_ylim(top=max(s.max() for s in sizes.values()) * 30)
    left.set_title("at initialization")
    left.grid(True, axis="y", which="both", alpha=0.3)
    left.legend(fontsize="small", loc="upper left")

    # the page's ten epochs of SGD (eta 0.1, batches of 10), measured after each
    epochs = 1 if fast else 10
    for name in ("sigmoid", "ReLU + He"):
        net = deep_net(*nets[name])
        model = nn.Model(net, loss="softmax_cross_entropy", optimizer=nn.SGD(0.1))
        ratios = [sizes[name][-1] / sizes[name][0]]
        for epoch in range(1, epochs + 1):
            model.fit(ds.x_train, ds.y_train, epochs=1, batch_size=10, seed=epoch, verbose=0)
            s = gradient_sizes(net, xb, yb)
            ratios.append(s[-1] / s[0])
        accuracy = model.evaluate(ds.x_test, ds.y_test)["accuracy"]
        right.semilogy(
            np.arange(epochs + 1),
            ratios,
            marker="o",
            markersize=4,
            color="C0" if name == "sigmoid" else "C1",
            label=f"{name}: test accuracy {accuracy:.0%} after {epochs} epochs",
        )
    right.axhline(1.0, color="0.5", linewidth=0.8)
    right.set_ylim(0.2, 2000)
    right.set_xlabel("epoch (0 = at initialization)")
    right.set_ylabel(r"$\|\Delta_4\| \,/\, \|\Delta_1\|$ (last / first hidden layer)")
    right.set_title("during training (SGD η = 0.1, batches of 10)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize="small", loc="upper right")
    fig.suptitle("784-30-30-30-30-10 on the MNIST sample: how fast each hidden layer learns")
    return fig
