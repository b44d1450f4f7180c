"""Page 5: why a gradient check uses a central difference with eps near 1e-6."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.plots._base import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def difference_errors(eps_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Worst relative error of central and one-sided differences against backward, per eps.

    On a float64 4-5-3 tanh network with softmax + cross-entropy and 8 samples, over every
    parameter entry whose analytic gradient is at least 1e-3 (smaller ones measure rounding,
    not the method): |a - n| / (|a| + |n|).
    """
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    net = nn.mlp([4, 5, 3], "tanh", seed=0, dtype=np.float64)
    loss = nn.SoftmaxCrossEntropy()
    base, grad = loss.value_and_gradient(net.forward(x, training=True), y)
    net.backward(grad)
    central, forward = [], []
    for eps in eps_values:
        worst_c = worst_f = 0.0
        for _, p in net.named_parameters():
            flat, analytic = p.value.reshape(-1), p.grad.reshape(-1).copy()
            for i in np.flatnonzero(np.abs(analytic) >= 1e-3):
                original = flat[i]
                flat[i] = original + eps
                plus = loss.value(net.forward(x), y)
                flat[i] = original - eps
                minus = loss.value(net.forward(x), y)
                flat[i] = original
                a = analytic[i]
                c, f = (plus - minus) / (2 * eps), (plus - base) / eps
                worst_c = max(worst_c, abs(a - c) / (abs(a) + abs(c)))
                worst_f = max(worst_f, abs(a - f) / (abs(a) + abs(f)))
        central.append(worst_c)
        forward.append(worst_f)
    return np.array(central), np.array(forward)


@figure(
    "05-gradient-check-eps.png",
    page="05-backpropagation.md",
    alt=(
        "Log-log plot of the worst relative error between backpropagation's gradient and a "
        "finite difference, against the step eps from 1e-12 to 0.1: the one-sided difference "
        "does best, about 3e-7, near eps = 1e-7, the central one, about 4e-10, near eps = 1e-5, "
        "and is about 1e-8 at eps = 1e-6; to the right the error grows with eps (the central "
        "one as eps squared), to the left rounding error grows as 1/eps."
    ),
)
def draw_eps(fast: bool) -> Figure:
    eps_values = np.logspace(-12, -1, 23 if fast else 45)
    central, forward = difference_errors(eps_values)
    fig = new_figure(None, None, (6.4, 4.2))
    ax = fig.add_subplot()
    ax.loglog(eps_values, forward, marker="o", markersize=3, label="one-sided (L(θ+ε) − L(θ)) / ε")
    ax.loglog(eps_values, central, marker="o", markersize=3, label="central (L(θ+ε) − L(θ−ε)) / 2ε")
    ax.axvline(1e-6, color="0.5", linestyle=":", linewidth=1)
    ax.text(1.3e-6, 0.3, "ε = 1e-6", fontsize="small", color="0.3")
    ax.set_xlabel("step ε")
    ax.set_ylabel("worst relative error |a − n| / (|a| + |n|)")
    ax.set_title("Gradient check of a 4-5-3 network in float64")
    ax.set_ylim(1e-13, 1.0)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return fig
