"""Looking inside a network: per-layer activations, gradient norms, dead units, memory.

These helpers use only the library's public layer interface (``layer.forward``, ``Dense.W``,
``Dense.activation``) and are called with the owning session's lock held: a layer's forward
pass writes into buffers the layer keeps between calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core._types import Array
from ..core.layers import ActivationLayer, BatchNorm, Conv2D, Dense, Dropout, Layer, Parameter
from ..core.network import Sequential
from ..model import Model
from ..training.threads import blas_threads, largest_product

#: Activations whose outputs lie in a fixed range (drawn on that range, not per-neuron).
BOUNDED = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0)}


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def activation_name(layer: Layer) -> str | None:
    """The name of the non-linearity a layer applies, if any."""
    act = getattr(layer, "activation", None)
    return None if act is None else act.name


def layer_outputs(net: Sequential, x: np.ndarray) -> list[tuple[int, Layer, np.ndarray]]:
    """Run the network one layer at a time (inference mode); return each layer's output.

    Dropout layers (the identity at inference) are skipped. The returned arrays are copies.
    """
    a = np.ascontiguousarray(x, dtype=net.dtype)
    outputs = []
    for index, layer in enumerate(net.layers):
        a = layer.forward(a, training=False)
        if not isinstance(layer, Dropout):
            outputs.append((index, layer, np.array(a, copy=True)))
    return outputs


def hidden_outputs(net: Sequential, x: np.ndarray) -> list[tuple[int, Layer, np.ndarray]]:
    """The outputs of the hidden layers: every layer's output except the network's last.

    A layer followed by its own activation layer (batch-norm networks) is represented by the
    activation layer's output, which is what the next layer sees.
    """
    outputs = layer_outputs(net, x)[:-1]
    shown = []
    for i, (index, layer, out) in enumerate(outputs):
        nxt = outputs[i + 1][1] if i + 1 < len(outputs) else None
        if isinstance(nxt, (ActivationLayer, BatchNorm)):
            continue  # its non-linear output comes next
        shown.append((index, layer, out))
    return shown


def _backprop(model: Model, x: Array, y: Array) -> None:
    """One forward and backward pass of the data loss alone (no regularization term) on a
    batch, in inference mode, leaving the parameters' gradients in their ``grad``; the same
    path as training (binary cross-entropy after a sigmoid taken from the logits)."""
    net = model.network
    xb = np.ascontiguousarray(x, dtype=net.dtype)
    fused = model._fused_sigmoid
    output = net._forward(xb, training=False, logits=fused)
    target = model.loss.prepare_target(output, y)
    _, grad = model._compute_loss(output, target)
    if grad is None:  # only when the gradient is not asked for
        raise RuntimeError("the loss gave no gradient")
    net.backward(grad, need_input_grad=False, logits=fused)


def gradient_norms(
    model: Model, x: Array, y: Array, chunk: int | None = None
) -> list[dict[str, Any]]:
    """||dL/dW|| (Frobenius) of every dense and convolutional layer on probe rows, for the
    data loss alone, in inference mode; and ||W||.

    Inference mode means the gradient of the function ``predict`` computes: dropout is the
    identity and batch norm the affine map of its running statistics, A = gamma (X - mu_run) /
    sqrt(var_run + eps) + beta, differentiated as such (``BatchNorm``'s inference-mode
    backward). A training-mode pass would differentiate through the probe batch's own
    statistics instead, but it would move the running statistics and draw dropout masks
    (changing the model and its random stream), and its gradient would depend on how the
    probe rows were split into batches. Of the model, only the parameters' ``grad`` change
    (training overwrites them at its next step).

    ``chunk``: rows per pass (all of them if None), as training batches them (a convolution's
    im2col matrices for 512 images at once would take tens of MB more). Rows stay independent
    in inference mode, so the chunked sum is exact: the gradient of the mean loss over n rows
    is the sum over chunks of (rows in the chunk / n) times the chunk's mean-loss gradient (of
    the plain sum, for a loss summed over the batch).
    """
    net = model.network
    layers = [
        (i, layer) for i, layer in enumerate(net.layers) if isinstance(layer, (Dense, Conv2D))
    ]
    n = len(x)
    step = n if chunk is None else chunk
    total: dict[int, Array] = {}
    # the BLAS thread count training would choose for batches of this size (threads that
    # wait for each other over small products are many times slower on a busy machine)
    with blas_threads("auto", largest_product(net, min(step, n))):
        for start in range(0, n, step):
            stop = min(n, start + step)
            _backprop(model, x[start:stop], y[start:stop])
            share = 1.0 if model.loss.sums_over_batch else (stop - start) / n
            for index, layer in layers:
                weights = layer.W
                if weights is None or weights.grad is None:
                    raise RuntimeError(f"{layer.describe()} is not built")
                part = share * np.asarray(weights.grad, dtype=np.float64)
                total[index] = total[index] + part if index in total else part
    rows = []
    for index, layer in layers:
        g = total[index]
        w = np.asarray(layer.W.value if layer.W is not None else g, dtype=np.float64)
        rows.append(
            {
                "layer": index,
                "name": layer.describe(),
                "grad_norm": _finite(np.sqrt(np.vdot(g, g))),
                "weight_norm": _finite(np.sqrt(np.vdot(w, w))),
            }
        )
    return rows


def dense_weights(layer: Dense) -> tuple[Parameter, Parameter]:
    """(W, b) of a Dense layer of a built network (they are None only before ``build``)."""
    if layer.W is None or layer.b is None:
        raise RuntimeError(f"{layer.describe()} is not built")
    return layer.W, layer.b


def dead_units(net: Sequential, x: np.ndarray) -> list[dict[str, Any]]:
    """Per hidden layer: the share of units that output 0 for every probe sample.

    A ReLU unit that is zero for every input gets no gradient and never recovers ("dead").
    The share is reported for ReLU layers only (``None`` for other activations).
    """
    result = []
    for index, layer, out in hidden_outputs(net, x):
        name = activation_name(layer)
        share = float(np.mean(np.all(out <= 0, axis=0))) if name == "relu" else None
        result.append(
            {"layer": index, "name": layer.describe(), "activation": name, "dead_share": share}
        )
    return result


def training_bytes(sizes: Sequence[int], n_samples: int, batch_size: int, n_eval: int) -> int:
    """A generous estimate of the memory a session needs to train an MLP of ``sizes``.

    Parameters with their gradients, the divergence guard's snapshot and up to three
    optimizer slots (6 copies); per-layer buffers for a training batch (Z, A, dZ, dX, a dropout
    mask: 5 copies) and for evaluation in chunks of up to 10,000 rows (3 copies); the data.
    """
    params = sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))
    width = sum(sizes)
    batch = min(batch_size, max(1, n_samples))
    chunk = min(10_000, max(1, n_eval))
    return 4 * (6 * params + 5 * batch * width + 3 * chunk * width + 2 * n_samples * sizes[0])
