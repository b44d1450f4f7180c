"""Batch norm's backward pass after an inference-mode forward.

At inference the layer is the affine map A = gamma (X - running_mean) / sqrt(running_var + eps)
+ beta, so dL/dX = gamma / sqrt(running_var + eps) G, dL/dgamma = sum(G X^), dL/dbeta = sum(G).
Checked against central finite differences in float64 and against PyTorch's eval-mode
autograd, for rows and for images; the pass moves no running statistic, and the training
forward and backward give bit for bit what they gave before.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.core.layers import BatchNorm

SHAPES = [(7, 4), (3, 4, 5, 6)]


def _trained_layer(shape: tuple[int, ...], seed: int = 0) -> BatchNorm:
    """A float64 layer with gamma, beta and running statistics far from their initial values."""
    rng = np.random.default_rng(seed)
    channels = shape[1]
    bn = BatchNorm(momentum=0.9, eps=1e-3)
    bn.build(shape[1:], rng, np.float64)
    assert bn.gamma is not None and bn.beta is not None
    bn.gamma.value[...] = rng.uniform(0.5, 2.0, channels) * rng.choice([-1.0, 1.0], channels)
    bn.beta.value[...] = rng.normal(size=channels)
    bn.running_mean = rng.normal(loc=1.5, size=channels)
    bn.running_var = rng.uniform(0.2, 3.0, channels)
    return bn


def _loss_and_weights(shape: tuple[int, ...]) -> np.ndarray:
    """Fixed weights R for the loss L = sum(R * A), so that G = dL/dA = R."""
    return np.random.default_rng(99).normal(size=shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_inference_backward_matches_finite_differences(shape: tuple[int, ...]) -> None:
    bn = _trained_layer(shape)
    assert bn.gamma is not None and bn.beta is not None
    x = np.random.default_rng(1).normal(loc=1.0, scale=2.0, size=shape)
    r = _loss_and_weights(shape)

    def loss() -> float:
        return float(np.sum(r * bn.forward(x, training=False)))

    loss()
    dx = bn.backward(r)
    assert dx is not None
    dgamma, dbeta = bn.gamma.grad.copy(), bn.beta.grad.copy()

    eps = 1e-6

    def numeric(array: np.ndarray) -> np.ndarray:
        out = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            keep = array[i]
            array[i] = keep + eps
            up = loss()
            array[i] = keep - eps
            down = loss()
            array[i] = keep
            out[i] = (up - down) / (2 * eps)
        return out

    np.testing.assert_allclose(dx, numeric(x), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(dgamma, numeric(bn.gamma.value), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(dbeta, numeric(bn.beta.value), rtol=1e-7, atol=1e-8)
    # and the closed form: the layer is affine in X, per channel
    per_channel = (-1,) + (1,) * (len(shape) - 2)
    scale = bn.gamma.value / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(dx, scale.reshape(per_channel) * r, rtol=1e-14)


@pytest.mark.parametrize("shape", SHAPES)
def test_inference_backward_matches_torch_eval_mode_autograd(shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch)")
    bn = _trained_layer(shape, seed=5)
    assert bn.gamma is not None and bn.beta is not None
    assert bn.running_mean is not None and bn.running_var is not None
    module = torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d
    tbn = module(shape[1], eps=bn.eps, momentum=1 - bn.momentum, dtype=torch.float64)
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(bn.gamma.value))
        tbn.bias.copy_(torch.tensor(bn.beta.value))
        tbn.running_mean.copy_(torch.tensor(bn.running_mean))
        tbn.running_var.copy_(torch.tensor(bn.running_var))
    tbn.eval()
    x = np.random.default_rng(2).normal(loc=-0.5, scale=3.0, size=shape)
    r = _loss_and_weights(shape)
    tx = torch.tensor(x, requires_grad=True)
    tout = tbn(tx)
    (tout * torch.tensor(r)).sum().backward()

    out = bn.forward(x, training=False)
    dx = bn.backward(r)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=0, atol=1e-12)
    assert tx.grad is not None and tbn.weight.grad is not None and tbn.bias.grad is not None
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.gamma.grad, tbn.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.beta.grad, tbn.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inference_backward_moves_nothing_but_the_gradients(dtype: type) -> None:
    bn = _trained_layer((6, 3))
    bn.running_mean = np.asarray(bn.running_mean, dtype=dtype)
    bn.running_var = np.asarray(bn.running_var, dtype=dtype)
    assert bn.gamma is not None and bn.beta is not None
    bn.gamma.value = bn.gamma.value.astype(dtype)
    bn.beta.value = bn.beta.value.astype(dtype)
    bn.gamma.grad = np.zeros(3, dtype)
    bn.beta.grad = np.zeros(3, dtype)
    before = {k: v.copy() for k, v in bn.state().items()}
    gamma, beta = bn.gamma.value.copy(), bn.beta.value.copy()
    x = np.random.default_rng(3).normal(size=(6, 3)).astype(dtype)
    x_before = x.copy()
    bn.forward(x, training=False)
    dx = bn.backward(np.ones((6, 3), dtype))
    assert dx is not None and dx.dtype == dtype and np.isfinite(dx).all()
    for key, value in bn.state().items():
        assert value.tobytes() == before[key].tobytes(), key
    assert bn.gamma.value.tobytes() == gamma.tobytes()
    assert bn.beta.value.tobytes() == beta.tobytes()
    assert x.tobytes() == x_before.tobytes()
    assert bn.backward(np.ones((6, 3), dtype), need_input_grad=False) is None


def test_inference_backward_uses_the_statistics_of_its_own_forward() -> None:
    # a training forward between another layer's inference forward and backward moves the
    # running mean in place: the cached copy keeps the backward that of the forward it follows
    bn = _trained_layer((5, 2))
    assert bn.gamma is not None and bn.running_mean is not None
    x = np.random.default_rng(4).normal(size=(5, 2))
    r = _loss_and_weights((5, 2))
    bn.forward(x, training=False)
    bn.backward(r)
    expected = bn.gamma.grad.copy()
    bn.forward(x, training=False)
    bn.running_mean += 10.0  # as a training step does, in place
    bn.backward(r)
    np.testing.assert_array_equal(bn.gamma.grad, expected)


def test_backward_before_any_forward_says_so() -> None:
    bn = BatchNorm()
    bn.build(3, np.random.default_rng(0), np.float64)
    with pytest.raises(RuntimeError, match=r"BatchNorm: backward called before forward"):
        bn.backward(np.ones((2, 3)))


@pytest.mark.parametrize("shape", SHAPES)
def test_training_forward_and_backward_are_bit_for_bit_the_batch_statistics_formulas(
    shape: tuple[int, ...],
) -> None:
    # the formulas exactly as the training pass computed them before the inference backward
    # existed, in float32 (where any reordering of the arithmetic would show)
    rng = np.random.default_rng(7)
    bn = BatchNorm(momentum=0.9)
    bn.build(shape[1:], rng, np.float32)
    assert bn.gamma is not None and bn.beta is not None
    bn.gamma.value[...] = rng.uniform(0.5, 2.0, shape[1])
    bn.beta.value[...] = rng.normal(size=shape[1])
    x = rng.normal(loc=2.0, size=shape).astype(np.float32)
    g = rng.normal(size=shape).astype(np.float32)
    axes = (0, *range(2, len(shape)))
    per_channel = (-1,) + (1,) * (len(shape) - 2)
    m = x.size // shape[1]
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv_std = 1.0 / np.sqrt(var + bn.eps)
    x_hat = (x - mean.reshape(per_channel)) * inv_std.reshape(per_channel)
    out = x_hat * bn.gamma.value.reshape(per_channel) + bn.beta.value.reshape(per_channel)
    sum_g, sum_g_xhat = g.sum(axis=axes), (g * x_hat).sum(axis=axes)
    dx = (bn.gamma.value * inv_std / m).reshape(per_channel) * (
        m * g - sum_g.reshape(per_channel) - x_hat * sum_g_xhat.reshape(per_channel)
    )
    running_var = np.ones(shape[1], np.float32) * 0.9 + ((1 - 0.9) * m / (m - 1)) * var

    # an inference pass first must leave no trace in the training pass that follows
    bn.forward(x, training=False)
    bn.backward(g)
    assert bn.forward(x, training=True).tobytes() == out.tobytes()
    got = bn.backward(g)
    assert got is not None and got.tobytes() == dx.tobytes()
    assert bn.gamma.grad.tobytes() == sum_g_xhat.tobytes()
    assert bn.beta.grad.tobytes() == sum_g.tobytes()
    assert bn.running_var is not None and bn.running_var.tobytes() == running_var.tobytes()


def test_network_input_gradient_at_inference_matches_finite_differences_of_predict() -> None:
    net = nn.mlp([3, 5, 4, 2], "tanh", batch_norm=True, seed=0, dtype=np.float64)
    rng = np.random.default_rng(8)
    norms = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    assert len(norms) == 2
    for layer in norms:  # running statistics far from the initial (0, 1)
        layer.running_mean = rng.normal(size=layer.running_mean.shape)
        layer.running_var = rng.uniform(0.3, 2.0, layer.running_var.shape)
    x = rng.normal(size=(4, 3))
    r = rng.normal(size=(4, 2))
    net.forward(x, training=False)
    dx = net.backward(r)
    eps = 1e-6
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + eps
        up = float(np.sum(r * net.predict(x)))
        x[i] = keep - eps
        down = float(np.sum(r * net.predict(x)))
        x[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(dx, numeric, rtol=1e-7, atol=1e-9)
