"""Property-based gradient checks for image networks: Conv2D x pooling x activations x
stride / padding / kernel x batch size, against central finite differences in float64."""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import nnscratch as nn
from nnscratch.core.layers.im2col import windows

ACTIVATIONS = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "gelu",
]
KINKED = ("relu", "leaky_relu", "selu")  # derivative jumps at z = 0


def distance_to_kinks(net, x):
    """The smallest distance of the forward pass to a point where the loss is not smooth: a
    pre-activation |z| at a kinked activation, or the gap between the two largest entries of
    a max-pool window (where the arg-max would switch)."""
    closest = np.inf
    for layer in net.layers:
        if isinstance(layer, nn.MaxPool2D):
            ph, pw = layer.padding
            padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
            view = windows(padded, layer.pool_size, layer.stride, layer.output_shape[1:])
            entries = np.sort(view.reshape(*view.shape[:4], -1), axis=-1)
            if entries.shape[-1] > 1:
                gaps = entries[..., -1] - entries[..., -2]
                closest = min(closest, float(np.nan_to_num(gaps, posinf=np.inf).min()))
        x_in, x = x, layer.forward(x, training=True)
        act = getattr(layer, "activation", None)
        if act is not None and act.name in KINKED:
            z = x_in if isinstance(layer, nn.ActivationLayer) else layer._z
            closest = min(closest, float(np.abs(z).min()))
    return closest


@st.composite
def image_networks(draw):
    channels = draw(st.integers(1, 3))
    size = (draw(st.integers(4, 7)), draw(st.integers(4, 7)))
    layers = []
    for _ in range(draw(st.integers(1, 2))):
        kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        padding = draw(
            st.sampled_from(["same", 0, 1, (1, 0)] if stride == (1, 1) else [0, 1, (0, 1)])
        )
        activation = draw(st.sampled_from(ACTIVATIONS))
        batch_norm = draw(st.booleans())
        use_bias = draw(st.booleans())
        if batch_norm:  # normalise Z before the non-linearity, as Ioffe & Szegedy do
            # without a bias, which batch norm would subtract again: its true gradient is 0 and
            # the finite difference of a cancellation is rounding noise
            layers += [
                nn.Conv2D(draw(st.integers(1, 3)), kernel, stride, padding, use_bias=False),
                nn.BatchNorm(),
                nn.ActivationLayer(activation),
            ]
        else:
            layers.append(
                nn.Conv2D(draw(st.integers(1, 3)), kernel, stride, padding, activation, use_bias)
            )
        pool = draw(st.sampled_from(["none", "max", "avg"]))
        if pool != "none":
            k = draw(st.integers(1, 3))
            pool_stride = draw(st.integers(1, 2))
            pad = draw(st.integers(0, k // 2))
            cls = nn.MaxPool2D if pool == "max" else nn.AvgPool2D
            layers.append(cls(k, pool_stride, pad))
    head = draw(st.sampled_from(["flatten", "global"]))
    layers.append(nn.Flatten() if head == "flatten" else nn.GlobalAvgPool2D())
    layers.append(nn.Dense(draw(st.integers(2, 3)), draw(st.sampled_from(ACTIVATIONS))))
    return layers, (channels, *size)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    spec=image_networks(),
    batch=st.integers(1, 4),
    loss_name=st.sampled_from(["mse", "softmax_cross_entropy"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_image_network_backprop_matches_finite_differences(spec, batch, loss_name, seed):
    layers, shape = spec
    try:
        net = nn.Sequential(layers, input_shape=shape, seed=seed, dtype=np.float64)
    except ValueError:  # a window larger than what is left of the image
        assume(False)
    rng = np.random.default_rng(seed)
    for p in net.parameters():
        if p.kind == "bias":  # small random biases, batch-norm scales and shifts
            p.value[...] += rng.normal(scale=0.5, size=p.shape)
    x = rng.normal(size=(batch, *shape))
    # batch norm needs two values per channel to estimate a variance
    assume(
        all(
            batch * layer.input_dim // layer.input_shape[0] >= 2
            for layer in net.layers
            if isinstance(layer, nn.BatchNorm)
        )
    )
    assume(distance_to_kinks(net, x) > 1e-3)
    k = net.output_dim
    y = (
        rng.integers(0, k, size=batch)
        if loss_name == "softmax_cross_entropy"
        else rng.normal(size=(batch, k))
    )
    result = nn.gradient_check(net, x, y, loss_name, eps=1e-6, max_entries=8, seed=seed)
    assert result.max_error < 1e-6, str(result)

    # dL/dX of the first layer, which no parameter's gradient covers: probe a few pixels
    loss = nn.get_loss(loss_name)
    base, grad_out = loss.value_and_gradient(net._forward(x, training=True), y)
    analytic = net.backward(grad_out).copy()
    eps = 1e-6
    # the same relative error as gradient_check, whose floor is the difference's rounding noise
    floor = 10 * np.finfo(np.float64).eps * max(1.0, abs(base)) / eps / 1e-6
    for index in rng.choice(x.size, size=min(6, x.size), replace=False):
        probe = x.copy().reshape(-1)
        probe[index] += eps
        plus = loss.value(net._forward(probe.reshape(x.shape), training=True), y)
        probe[index] -= 2 * eps
        minus = loss.value(net._forward(probe.reshape(x.shape), training=True), y)
        numeric = (plus - minus) / (2 * eps)
        a = analytic.reshape(-1)[index]
        assert abs(a - numeric) / max(abs(a) + abs(numeric), floor) < 1e-6, (index, a, numeric)


class OffByOnePercent(nn.Conv2D):
    """A convolution whose backward pass gets one kernel entry's gradient 1% wrong."""

    def backward(self, grad_output, need_input_grad=True):
        result = super().backward(grad_output, need_input_grad)
        self.W.grad[0, 0, 0, 0] *= 1.01
        return result


def test_the_gradient_check_catches_a_wrong_convolution_gradient():
    x = np.random.default_rng(0).normal(size=(3, 2, 6, 6))
    y = np.array([0, 1, 1])
    for conv, passes in (
        (nn.Conv2D(2, 3, activation="tanh"), True),
        (OffByOnePercent(2, 3, activation="tanh"), False),
    ):
        net = nn.Sequential(
            [conv, nn.MaxPool2D(2), nn.Flatten(), nn.Dense(2)],
            input_shape=(2, 6, 6),
            seed=0,
            dtype=np.float64,
        )
        result = nn.gradient_check(net, x, y, "softmax_cross_entropy")
        assert result.passed is passes
        assert result.errors["3.W"] < 1e-6
        assert (result.errors["0.W"] > 1e-3) is not passes
