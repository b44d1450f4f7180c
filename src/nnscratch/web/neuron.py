"""The single-neuron page: seed 002's learning slowdown, one sigmoid neuron at a time.

One neuron with weight ``w`` and bias ``b`` sees the input 1 and should output 0. Trained by
gradient descent on the quadratic cost C = (a - y)^2 / 2, a neuron that starts saturated
(w = b = 2, a = sigmoid(4) ~ 0.98) learns very slowly at first, because dC/dw = (a - y) a (1 - a)
carries the tiny slope sigma'(z). With the cross-entropy cost the sigma'(z) cancels
(dC/dw = a - y) and learning is fastest when the neuron is most wrong (Nielsen, ch. 3).

The trajectory is computed by the library itself, as seed 002's experiment does: a one-unit
``Sequential`` from the given w and b, an ``nn.Model`` with the quadratic cost on a sigmoid
output (or cross-entropy computed from the logit), plain ``SGD`` and ``fit`` with one sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.layers import Dense
from ..core.network import Sequential
from ..model import Model
from ..training.callbacks import LambdaCallback
from ..training.optimizers import SGD
from .netinfo import dense_weights
from .validation import ParamError, as_choice, as_float, as_int

COSTS = ("quadratic", "cross_entropy")
MAX_NEURON_EPOCHS = 5000

#: Nielsen's three runs (seed 002): the defaults the page offers.
NEURON_PRESETS: dict[str, dict[str, Any]] = {
    "Quadratic cost, w=0.6, b=0.9, eta=0.15 (learns fast)": {
        "cost": "quadratic",
        "w": 0.6,
        "b": 0.9,
        "learning_rate": 0.15,
        "epochs": 300,
    },
    "Quadratic cost, w=2, b=2, eta=0.15 (saturated: slow start)": {
        "cost": "quadratic",
        "w": 2.0,
        "b": 2.0,
        "learning_rate": 0.15,
        "epochs": 300,
    },
    "Cross-entropy, w=2, b=2, eta=0.005 (no slowdown)": {
        "cost": "cross_entropy",
        "w": 2.0,
        "b": 2.0,
        "learning_rate": 0.005,
        "epochs": 300,
    },
}


def validate_neuron(params: Any) -> dict[str, Any]:
    """Check the page's request: cost, w, b, learning_rate, epochs."""
    if not isinstance(params, dict):
        raise ParamError("the request body must be a JSON object", status=400)
    known = {"cost", "w", "b", "learning_rate", "epochs"}
    unknown = sorted(str(k) for k in params if k not in known)
    if unknown:
        raise ParamError(
            f"unknown parameter {unknown[0]!r}; known parameters: {', '.join(sorted(known))}",
            unknown[0],
        )
    return {
        "cost": as_choice(params.get("cost", "quadratic"), "cost", COSTS),
        "w": as_float(params.get("w", 0.6), "w", -100.0, 100.0),
        "b": as_float(params.get("b", 0.9), "b", -100.0, 100.0),
        "learning_rate": as_float(
            params.get("learning_rate", 0.15), "learning_rate", 0.0, 100.0, lo_open=True
        ),
        "epochs": as_int(params.get("epochs", 300), "epochs", 1, MAX_NEURON_EPOCHS),
    }


def neuron_trajectory(params: Any) -> dict[str, Any]:
    """Weights, bias, output and cost of the neuron at every epoch 0..epochs.

    Entry i is the state after i gradient-descent steps (entry 0: the starting point).
    """
    p = validate_neuron(params)
    head = "sigmoid" if p["cost"] == "quadratic" else None
    loss = "quadratic" if p["cost"] == "quadratic" else "binary_cross_entropy_with_logits"
    net = Sequential.from_arrays(
        [np.array([[p["w"]]])], [np.array([p["b"]])], output_activation=head, dtype=np.float64
    )
    model = Model(net, loss=loss, optimizer=SGD(p["learning_rate"]))
    dense = net.layers[0]
    if not isinstance(dense, Dense):  # from_arrays builds Dense layers
        raise TypeError(f"expected a Dense layer, got {type(dense).__name__}")
    ws, bs = [p["w"]], [p["b"]]

    def record(model: Model, epoch: int, logs: dict[str, float]) -> None:
        weights, bias = dense_weights(dense)
        ws.append(float(weights.value[0, 0]))
        bs.append(float(bias.value[0]))

    x, y = np.ones((1, 1)), np.zeros((1, 1))
    model.fit(
        x,
        y,
        epochs=p["epochs"],
        batch_size=1,
        callbacks=[LambdaCallback(on_epoch_end=record)],
        verbose=0,
    )
    w, b = np.array(ws), np.array(bs)
    z = w + b
    a = 1.0 / (1.0 + np.exp(-z))
    if p["cost"] == "quadratic":
        cost = 0.5 * a**2
    else:  # -[y ln a + (1 - y) ln(1 - a)] with y = 0, computed stably from z
        cost = np.logaddexp(0.0, z)
    return {
        **p,
        "epoch": list(range(p["epochs"] + 1)),
        "weight": w.tolist(),
        "bias": b.tolist(),
        "output": a.tolist(),
        "cost_values": cost.tolist(),
    }
