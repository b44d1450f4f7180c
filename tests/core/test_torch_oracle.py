"""PyTorch autograd as an independent oracle for forward outputs and every gradient.

Skipped only where torch is absent; CI installs torch==2.13.0 (CPU) and turns skips into failures.
"""

import zlib

import numpy as np
import pytest

import nnscratch as nn

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "gelu": lambda z: F.gelu(z, approximate="tanh"),
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def torch_loss(name, out, y):
    n = out.shape[0]
    if name == "mse":
        return F.mse_loss(out, y)
    if name == "sse":
        return 0.5 * ((out - y) ** 2).sum()
    if name == "quadratic":
        return 0.5 * ((out - y) ** 2).sum() / n
    if name == "softmax_cross_entropy":
        return F.cross_entropy(out, y)
    if name == "categorical_cross_entropy":
        return -(F.one_hot(y, out.shape[1]) * torch.log(out)).sum() / n
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy(out, y, reduction="sum") / n
    if name == "binary_cross_entropy_with_logits":
        return F.binary_cross_entropy_with_logits(out, y, reduction="sum") / n
    raise AssertionError(name)


HEAD = {"binary_cross_entropy": "sigmoid", "categorical_cross_entropy": "softmax"}
CASES = [
    (act, loss)
    for act in TORCH_ACTIVATIONS
    for loss in [
        "mse",
        "sse",
        "quadratic",
        "softmax_cross_entropy",
        "categorical_cross_entropy",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
    ]
]


@pytest.mark.parametrize("activation, loss_name", CASES)
def test_forward_and_every_gradient_match_torch(activation, loss_name):
    rng = np.random.default_rng(zlib.crc32(f"{activation}/{loss_name}".encode()))
    sizes = [7, 9, 6, 4]
    head = HEAD.get(loss_name)
    layers = [nn.Dense(w, activation) for w in sizes[1:-1]] + [nn.Dense(sizes[-1], head)]
    net = nn.Sequential(layers, sizes[0], seed=int(rng.integers(1 << 31)), dtype=np.float64)
    for p in net.parameters():
        if p.kind == "bias":
            p.value[...] = rng.normal(scale=0.3, size=p.shape)
    x = rng.normal(size=(16, sizes[0]))
    if loss_name in ("softmax_cross_entropy", "categorical_cross_entropy"):
        y = rng.integers(0, sizes[-1], size=16)
        ty = torch.tensor(y)
    elif loss_name.startswith("binary"):
        y = rng.uniform(size=(16, sizes[-1]))
        ty = torch.tensor(y)
    else:
        y = rng.normal(size=(16, sizes[-1]))
        ty = torch.tensor(y)

    loss = nn.get_loss(loss_name)
    out = net._forward(x, training=True)
    value, grad_out = loss.value_and_gradient(out, y)
    net.backward(grad_out)

    tparams = [torch.tensor(p.value, requires_grad=True) for p in net.parameters()]
    h = torch.tensor(x)
    for i, layer in enumerate(net.layers):
        h = h @ tparams[2 * i] + tparams[2 * i + 1]
        h = TORCH_ACTIVATIONS[layer.activation.name](h)
    tvalue = torch_loss(loss_name, h, ty)
    tvalue.backward()

    assert np.max(np.abs(out - h.detach().numpy())) < 1e-10
    assert abs(value - tvalue.item()) < 1e-10
    for p, tp in zip(net.parameters(), tparams, strict=True):
        assert np.max(np.abs(p.grad - tp.grad.numpy())) < 1e-10, p.name


def test_mnist_sized_float32_network_close_to_torch():
    rng = np.random.default_rng(0)
    net = nn.mlp([784, 64, 10], "relu", seed=0)
    x = rng.uniform(size=(32, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=32)
    loss = nn.SoftmaxCrossEntropy()
    _, g = loss.value_and_gradient(net._forward(x, True), y)
    net.backward(g)
    w1, b1, w2, b2 = (torch.tensor(p.value, requires_grad=True) for p in net.parameters())
    out = torch.relu(torch.tensor(x) @ w1 + b1) @ w2 + b2
    F.cross_entropy(out, torch.tensor(y)).backward()
    for p, tp in zip(net.parameters(), (w1, b1, w2, b2), strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-4, atol=1e-6)
