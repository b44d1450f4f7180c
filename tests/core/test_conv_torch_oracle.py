"""PyTorch autograd as an oracle for image networks: outputs, every parameter's gradient, the
input's gradient and batch norm's running statistics agree to 1e-10 in float64 on 150 random
small networks (conv2d, max_pool2d, avg_pool2d, batch_norm in training mode, ...).

Skipped only where torch is absent; CI installs torch==2.13.0 (CPU) and turns skips into failures.
"""

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
}
NAMES = sorted(TORCH_ACTIVATIONS)


def random_network(rng):
    """Layers of a random small image network, and its input shape."""
    shape = (int(rng.integers(1, 4)), int(rng.integers(5, 10)), int(rng.integers(5, 10)))
    layers = []
    if rng.random() < 0.2:  # flat rows in, read as images
        layers.append(nn.Reshape(shape))
    for _ in range(int(rng.integers(1, 3))):
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        options = ["same", 0, 1, (2, 1)] if stride == (1, 1) else [0, 1, (0, 2)]
        padding = options[int(rng.integers(len(options)))]
        channels = int(rng.integers(1, 5))
        activation = NAMES[int(rng.integers(len(NAMES)))]
        bias = bool(rng.random() < 0.7)
        if rng.random() < 0.3:
            layers += [
                nn.Conv2D(channels, kernel, stride, padding, use_bias=bias),
                nn.BatchNorm(momentum=float(rng.uniform(0.5, 0.99))),
                nn.ActivationLayer(activation),
            ]
        else:
            layers.append(nn.Conv2D(channels, kernel, stride, padding, activation, bias))
        kind = rng.integers(3)
        if kind:
            k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            p = (int(rng.integers(0, k[0] // 2 + 1)), int(rng.integers(0, k[1] // 2 + 1)))
            layers.append((nn.MaxPool2D if kind == 1 else nn.AvgPool2D)(k, s, p))
        if rng.random() < 0.15:
            layers.append(nn.Dropout(0.0))
    layers.append(nn.GlobalAvgPool2D() if rng.random() < 0.3 else nn.Flatten())
    layers.append(nn.Dense(int(rng.integers(1, 5)), NAMES[int(rng.integers(len(NAMES)))]))
    return layers, shape


def torch_forward(net, x, tensors):
    """The network's forward pass in torch, with ``tensors`` holding its parameters by name
    and batch norm's running statistics (updated in place, as ours are)."""
    for i, layer in enumerate(net.layers):

        def t(name, i=i):
            return tensors.get(f"{i}.{name}")

        if isinstance(layer, nn.Conv2D):
            pad = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
            x = F.conv2d(x, t("W"), t("b"), stride=layer.stride, padding=pad)
            x = TORCH_ACTIVATIONS[layer.activation.name](x)
        elif isinstance(layer, nn.MaxPool2D):
            x = F.max_pool2d(x, layer.pool_size, layer.stride, layer.padding)
        elif isinstance(layer, nn.AvgPool2D):
            x = F.avg_pool2d(x, layer.pool_size, layer.stride, layer.padding)
        elif isinstance(layer, nn.GlobalAvgPool2D):
            x = x.mean(dim=(2, 3))
        elif isinstance(layer, nn.BatchNorm):
            x = F.batch_norm(
                x,
                t("running_mean"),
                t("running_var"),
                t("gamma"),
                t("beta"),
                training=True,
                momentum=1 - layer.momentum,
                eps=layer.eps,
            )
        elif isinstance(layer, nn.ActivationLayer):
            x = TORCH_ACTIVATIONS[layer.activation.name](x)
        elif isinstance(layer, nn.Flatten):
            x = torch.flatten(x, 1)
        elif isinstance(layer, nn.Reshape):
            x = x.reshape(x.shape[0], *layer.output_shape)
        elif isinstance(layer, nn.Dense):
            x = TORCH_ACTIVATIONS[layer.activation.name](x @ t("W") + t("b"))
    return x


# torch pads a copy of the input for an even kernel with padding="same", and says so
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_random_image_networks_match_torch_autograd_to_1e_10():
    rng = np.random.default_rng(20261130)
    checked = 0
    while checked < 150:
        layers, shape = random_network(rng)
        try:
            net = nn.Sequential(
                layers, input_shape=shape, seed=int(rng.integers(1 << 31)), dtype=np.float64
            )
        except ValueError:  # a window larger than what is left of the image
            continue
        if isinstance(layers[0], nn.Reshape):
            net = nn.Sequential(layers, input_dim=int(np.prod(shape)), dtype=np.float64)
        for p in net.parameters():
            if p.kind == "bias":
                p.value[...] += rng.normal(scale=0.5, size=p.shape)
        batch = int(rng.integers(2, 6))
        x = rng.normal(size=(batch, *net.input_shape))
        tensors = {
            name: torch.tensor(value, requires_grad=not name.endswith(("mean", "var")))
            for name, value in net.get_weights().items()
        }
        out = net._forward(x, training=True).copy()
        g = rng.normal(size=out.shape)
        grad_x = net.backward(g).copy()

        xt = torch.tensor(x, requires_grad=True)
        out_t = torch_forward(net, xt, tensors)
        out_t.backward(torch.tensor(g))
        where = f"network {checked}: {net!r}"
        np.testing.assert_allclose(
            out, out_t.detach().numpy(), rtol=1e-10, atol=1e-10, err_msg=where
        )
        np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=where)
        for name, p in net.named_parameters():
            np.testing.assert_allclose(
                p.grad,
                tensors[name].grad.numpy(),
                rtol=1e-10,
                atol=1e-10,
                err_msg=f"{where} {name}",
            )
        for i, layer in enumerate(net.layers):
            for key, value in layer.state().items():
                np.testing.assert_allclose(
                    value, tensors[f"{i}.{key}"].numpy(), rtol=1e-12, atol=1e-12, err_msg=where
                )
        checked += 1
