"""Seed 002 (Nielsen, ch. 3): the learning slowdown of a sigmoid neuron under the quadratic cost,
cross-entropy's cure, and Nielsen's MNIST networks with cross-entropy and L2."""

from __future__ import annotations

import numpy as np

from ..core._types import Array
from ..core.initializers import Normal, StandardNormal
from ..core.layers import Dense
from ..core.network import Sequential
from ..i18n import t
from ..model import Model
from ..training import SGD
from .common import Context, Row, mnist_with_validation, verdict

NEURON_EPOCHS = 300


def neuron_costs(loss: str, lr: float, w: float, b: float, epochs: int = NEURON_EPOCHS) -> Array:
    """Cost per epoch of one sigmoid neuron learning input 1 -> output 0 by gradient descent."""
    head = "sigmoid" if loss == "quadratic" else None  # cross-entropy is computed from the logit
    net = Sequential.from_arrays([np.array([[w]])], [np.array([b])], output_activation=head)
    model = Model(net, loss=loss, optimizer=SGD(lr))
    model.fit(np.ones((1, 1)), np.zeros((1, 1)), epochs=epochs, batch_size=1, verbose=0)
    return np.array(model.history["loss"])


def _epochs_to_halve(costs: Array) -> int:
    below = np.flatnonzero(costs <= costs[0] / 2)
    return int(below[0]) + 1 if below.size else len(costs) + 1


def run_neuron(ctx: Context) -> list[Row]:
    fast = neuron_costs("quadratic", 0.15, 0.6, 0.9)
    slow = neuron_costs("quadratic", 0.15, 2.0, 2.0)
    ce = neuron_costs("binary_cross_entropy_with_logits", 0.005, 2.0, 2.0)
    slow_first150 = (slow[0] - slow[150]) / (slow[0] - slow[-1])

    def window(c: Array) -> Array:
        return np.array([c[i] - c[i + 50] for i in range(0, len(c) - 50, 50)])

    rows = [
        Row(
            t("seed002.fast"),
            t("seed002.fast.article"),
            t("seed002.fast.ours", epochs=_epochs_to_halve(fast), first=fast[0], last=fast[-1]),
            verdict(_epochs_to_halve(fast) <= 40),
        ),
        Row(
            t("seed002.slow"),
            t("seed002.slow.article"),
            t("seed002.slow.ours", share=slow_first150, epochs=_epochs_to_halve(slow)),
            verdict(slow_first150 < 0.15 and _epochs_to_halve(slow) > 150),
        ),
        Row(
            t("seed002.ce"),
            t("seed002.ce.article"),
            t("seed002.ce.ours", drops=", ".join(f"{d:.2f}" for d in window(ce))),
            verdict(bool(np.all(np.diff(window(ce)) < 0))),
        ),
    ]
    try:
        from ..plots import plot_learning_slowdown

        fig = plot_learning_slowdown(
            {
                "quadratic, w=0.6 b=0.9, eta 0.15": fast,
                "quadratic, w=2 b=2, eta 0.15": slow,
                "cross-entropy, w=2 b=2, eta 0.005": ce,
            }
        )
        ctx.save(fig, "seed002_learning_slowdown")
    except ImportError as exc:
        rows[0].note = t("note.figure_skipped", error=str(exc))
    return rows


def run_mnist(ctx: Context) -> list[Row]:
    data = mnist_with_validation(ctx)
    names = (t("seed002.mnist30"), t("seed002.mnist100"))
    if isinstance(data, Exception):
        return [
            Row(n, "-", t("mnist.missing"), "skipped", str(data).splitlines()[0]) for n in names
        ]
    epochs = 5 if ctx.fast else 30
    note = t("seed002.mnist.fast", epochs=epochs) if ctx.fast else ""
    y_train = np.eye(10, dtype=np.float32)[data.y_train]  # Nielsen: sigmoid outputs, one-hot
    results = []
    for hidden, l2 in ((30, 0.0), (100, 5.0)):
        # As in the book's runs: network2 with large_weight_initializer (weights and biases
        # N(0, 1)), cross-entropy on sigmoid outputs (computed from the logits), eta 0.5
        layers = [
            Dense(hidden, "sigmoid", weight_init=StandardNormal(), bias_init=Normal(1.0)),
            Dense(10, weight_init=StandardNormal(), bias_init=Normal(1.0)),
        ]
        model = Model(
            Sequential(layers, 784, seed=0),
            loss="binary_cross_entropy_with_logits",
            optimizer=SGD(0.5),
            l2=l2,
        )
        model.fit(
            data.x_train,
            y_train,
            epochs=epochs,
            batch_size=10,
            seed=0,
            verbose=0,
            validation_data=(data.x_val, np.eye(10, dtype=np.float32)[data.y_val]),
        )
        results.append(model.history["val_accuracy"])
    small, large = results
    if ctx.fast:
        ok = (small[-1] >= 0.93, large[-1] >= 0.95)
    else:
        ok = (abs(small[-1] - 0.9549) <= 0.01, large[-1] >= 0.9742)
    rows = [
        Row(
            names[0],
            t("seed002.mnist30.article"),
            t("seed002.mnist.ours", last=small[-1], best=max(small)),
            verdict(ok[0]),
            note,
        ),
        Row(
            names[1],
            t("seed002.mnist100.article"),
            t("seed002.mnist.ours", last=large[-1], best=max(large)),
            verdict(ok[1]),
            note,
        ),
    ]
    try:
        from ..plots import plot_learning_slowdown

        fig = plot_learning_slowdown(
            {
                "784-30-10, cross-entropy": 1 - np.array(small),
                "784-100-10, cross-entropy + L2": 1 - np.array(large),
            },
            ylabel="validation error",
            log=False,
        )
        ctx.save(fig, "seed002_mnist_validation_error")
    except (ImportError, TypeError):
        pass
    return rows
