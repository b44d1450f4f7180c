"""Convolutional layers: shapes, summary, initialization, max-pool ties and bad input."""

import warnings

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.core.layers import LAYER_TYPES, layer_config, layer_from_config

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
F = torch.nn.functional


def simple_convnet(**kwargs):
    """Saito's SimpleConvNet: conv 30x5x5, relu, max-pool 2, dense 100 relu, dense 10."""
    layers = [
        nn.Conv2D(30, 5, activation="relu"),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(100, "relu"),
        nn.Dense(10),
    ]
    return nn.Sequential(layers, input_shape=(1, 28, 28), seed=0, **kwargs)


def test_shapes_flow_through_an_image_network_and_summary_shows_them():
    net = simple_convnet()
    assert [layer.output_shape for layer in net.layers] == [
        (30, 24, 24),
        (30, 12, 12),
        (4320,),
        (100,),
        (10,),
    ]
    assert net.input_shape == (1, 28, 28) and net.input_dim == 784 and net.output_dim == 10
    assert net.layers[0].W.shape == (30, 1, 5, 5) and net.layers[0].b.shape == (30,)
    assert net.n_parameters == 30 * 25 + 30 + 4320 * 100 + 100 + 1010
    text = net.summary(print_fn=None)
    assert "Conv2D(30, 5x5, relu)  (N, 30, 24, 24)" in text
    assert "(N, 30, 12, 12)" in text and "(N, 4320)" in text and "432,100" in text
    assert "input: 1x28x28 images (N, 1, 28, 28)" in text
    assert repr(net).endswith("input_shape=(1, 28, 28))")
    # the flat parameter buffer holds the kernels: every optimizer works unchanged
    w = net.layers[0].W.value
    assert np.shares_memory(w, net.flat_parameter.value)
    assert np.array_equal(net.flat_parameter.value[: w.size], w.reshape(-1))


def test_output_sizes_for_stride_padding_and_same():
    cases = [
        (nn.Conv2D(2, 3), (3, 7, 9), (2, 5, 7)),
        (nn.Conv2D(2, 3, stride=2), (3, 7, 9), (2, 3, 4)),
        (nn.Conv2D(2, (3, 1), padding=(1, 2)), (3, 7, 9), (2, 7, 13)),
        (nn.Conv2D(2, 4, padding="same"), (3, 7, 9), (2, 7, 9)),
        (nn.Conv2D(2, (2, 5), padding="same"), (3, 6, 6), (2, 6, 6)),
        (nn.Conv2D(2, 3, padding="valid"), (3, 5, 5), (2, 3, 3)),
        (nn.MaxPool2D(2), (3, 7, 9), (3, 3, 4)),
        (nn.MaxPool2D(3, stride=1, padding=1), (3, 7, 9), (3, 7, 9)),
        (nn.AvgPool2D((2, 3), stride=(1, 2)), (3, 7, 9), (3, 6, 4)),
        (nn.GlobalAvgPool2D(), (3, 7, 9), (3,)),
        (nn.Flatten(), (3, 7, 9), (189,)),
        (nn.Reshape((1, 28, 28)), (784,), (1, 28, 28)),
        (nn.Reshape((4, -1)), (3, 4, 4), (4, 12)),
    ]
    for layer, shape, expected in cases:
        net = nn.Sequential([layer], input_shape=shape)
        assert layer.output_shape == expected, layer
        out = net.predict(np.zeros((2, *shape), dtype=np.float32))
        assert out.shape == (2, *expected)


def test_same_padding_with_an_even_kernel_follows_torch():
    """k - 1 zeros in all: (k - 1) // 2 above/left, the rest below/right, as torch does."""
    rng = np.random.default_rng(0)
    layer = nn.Conv2D(3, (2, 4), padding="same")
    net = nn.Sequential([layer], input_shape=(2, 5, 6), dtype=np.float64, seed=0)
    assert layer.pads() == (0, 1, 1, 2)
    x = rng.normal(size=(2, 2, 5, 6))
    ours = net.predict(x)
    # torch warns (once per process, so not always here) that it pads a copy for even kernels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        theirs = F.conv2d(
            torch.tensor(x),
            torch.tensor(layer.W.value),
            torch.tensor(layer.b.value),
            padding="same",
        )
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-12)


def test_flatten_orders_values_channel_row_column_like_torch():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    net = nn.Sequential([nn.Flatten()], input_shape=(3, 2, 2))
    assert np.array_equal(net.predict(x), torch.flatten(torch.tensor(x), 1).numpy())


def test_a_network_can_take_flat_rows_through_reshape():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(4, 64)).astype(np.float32)
    flat = nn.Sequential(
        [nn.Reshape((1, 8, 8)), nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(3)], input_dim=64, seed=3
    )
    images = nn.Sequential(
        [nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(3)], input_shape=(1, 8, 8), seed=3
    )
    for name in ("W", "b"):
        getattr(images.layers[0], name).value[...] = getattr(flat.layers[1], name).value
        getattr(images.layers[2], name).value[...] = getattr(flat.layers[3], name).value
    assert np.array_equal(flat.predict(rows), images.predict(rows.reshape(4, 1, 8, 8)))


def test_conv_initializers_use_kernel_fan_in_and_fan_out():
    """fan-in = C*kh*kw, fan-out = F*kh*kw (torch's and Keras's convention)."""
    c, f, k = 16, 64, 3
    fan_in, fan_out = c * k * k, f * k * k
    cases = {
        "he": np.sqrt(2 / fan_in),
        "lecun": np.sqrt(1 / fan_in),
        "glorot": np.sqrt(2 / (fan_in + fan_out)),
        "glorot_uniform": np.sqrt(2 / (fan_in + fan_out)),
        "nielsen": np.sqrt(1 / fan_in),
        nn.He(fan="fan_out"): np.sqrt(2 / fan_out),
        nn.Normal(0.05): 0.05,
    }
    for init, std in cases.items():
        layer = nn.Conv2D(f, k, weight_init=init)
        nn.Sequential([layer], input_shape=(c, 8, 8), seed=0)
        assert layer.W.shape == (f, c, k, k)
        assert abs(layer.W.value.std() / std - 1) < 0.03, (init, layer.W.value.std(), std)


def test_activations_apply_to_images_elementwise():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4, 5))
    for name in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "gelu"):
        image_net = nn.Sequential(
            [nn.ActivationLayer(name)], input_shape=(3, 4, 5), dtype=np.float64
        )
        row_net = nn.Sequential([nn.ActivationLayer(name)], input_dim=60, dtype=np.float64)
        expected = row_net.predict(x.reshape(2, 60)).reshape(x.shape)
        np.testing.assert_array_equal(image_net.predict(x), expected)
        g = rng.normal(size=x.shape)
        image_net._forward(x, training=True)
        row_net._forward(x.reshape(2, 60), training=True)
        np.testing.assert_array_equal(
            image_net.backward(g), row_net.backward(g.reshape(2, 60)).reshape(x.shape)
        )


def test_dropout_on_images_keeps_the_expected_value():
    layer = nn.Dropout(0.25, seed=0)
    net = nn.Sequential([layer], input_shape=(4, 16, 16))
    x = np.ones((50, 4, 16, 16), dtype=np.float32)
    out = layer.forward(x, training=True)
    assert out.shape == x.shape
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    assert np.allclose(out[kept], 1 / 0.75)
    assert np.array_equal(net.predict(x), x)  # the identity at inference


def test_max_pool_ties_route_the_gradient_to_the_first_maximum_in_row_major_order():
    # one 2x2 window holding its maximum 3 three times, one with 5 twice on its second row
    x = np.array([[[[1.0, 3.0, 5.0, 2.0], [3.0, 3.0, 5.0, 5.0]]]])
    net = nn.Sequential([nn.MaxPool2D(2)], input_shape=(1, 2, 4), dtype=np.float64)
    out = net._forward(x, training=True)
    assert out.tolist() == [[[[3.0, 5.0]]]]
    grad = net.backward(np.array([[[[10.0, 20.0]]]]))
    assert grad.tolist() == [[[[0.0, 10.0, 20.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]
    # PyTorch's CPU kernel makes the same choice
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.tensor([[[[10.0, 20.0]]]], dtype=torch.float64))
    assert np.array_equal(grad, xt.grad.numpy())


def test_max_pool_ties_with_overlapping_windows_and_padding_match_torch():
    x = np.zeros((1, 1, 4, 4))  # every window a tie
    x[0, 0, 2, 1] = -1.0
    for kwargs in ({"stride": 1}, {"stride": 1, "padding": 1}, {"stride": 2, "padding": 1}):
        pool = nn.MaxPool2D(3, **kwargs)
        net = nn.Sequential([pool], input_shape=(1, 4, 4), dtype=np.float64)
        out = net._forward(x, training=True)
        g = np.arange(1.0, 1.0 + out.size).reshape(out.shape)
        grad = net.backward(g)
        xt = torch.tensor(x, requires_grad=True)
        F.max_pool2d(xt, 3, **kwargs).backward(torch.tensor(g))
        assert np.array_equal(grad, xt.grad.numpy()), kwargs
        assert grad.sum() == g.sum()  # all of it routed, none duplicated


def test_avg_pool_counts_padding_as_zeros():
    x = np.ones((1, 1, 2, 2))
    net = nn.Sequential(
        [nn.AvgPool2D(2, stride=1, padding=1)], input_shape=(1, 2, 2), dtype=np.float64
    )
    out = net.predict(x)[0, 0]
    assert out.tolist() == [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]


def test_batch_norm_over_channels_matches_torch_batch_norm_2d():
    rng = np.random.default_rng(3)
    bn = nn.BatchNorm(momentum=0.9)
    net = nn.Sequential([bn], input_shape=(3, 4, 5), dtype=np.float64)
    bn.gamma.value[...] = rng.normal(size=3)
    bn.beta.value[...] = rng.normal(size=3)
    x = rng.normal(2.0, 3.0, size=(2, 3, 4, 5))
    out = net._forward(x, training=True)
    g = rng.normal(size=x.shape)
    grad_x = net.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    weight = torch.tensor(bn.gamma.value.copy(), requires_grad=True)
    bias = torch.tensor(bn.beta.value.copy(), requires_grad=True)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    yt = F.batch_norm(xt, rm, rv, weight, bias, training=True, momentum=0.1, eps=1e-5)
    yt.backward(torch.tensor(g))
    for ours, theirs in (
        (out, yt.detach()),
        (grad_x, xt.grad),
        (bn.gamma.grad, weight.grad),
        (bn.beta.grad, bias.grad),
        (bn.running_mean, rm),
        (bn.running_var, rv),  # unbiased, over the N*H*W = 40 values of each channel
    ):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


def test_new_layers_round_trip_through_their_config():
    layers = [
        nn.Conv2D(4, (3, 2), stride=(2, 1), padding=(1, 0), activation="elu", use_bias=False),
        nn.Conv2D(3, 2, padding="same"),
        nn.MaxPool2D(2, stride=1, padding=1),
        nn.AvgPool2D((2, 1)),
        nn.GlobalAvgPool2D(),
        nn.Flatten(),
        nn.Reshape((1, -1)),
    ]
    for layer in layers:
        config = layer_config(layer)
        assert config["type"] in LAYER_TYPES
        again = layer_from_config(config)
        assert layer_config(again) == config
        assert again.describe() == layer.describe()


# -- bad input --------------------------------------------------------------------------------
def error(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_images_of_the_wrong_shape_or_channel_count_are_refused_naming_the_shapes():
    net = simple_convnet()
    error(
        r"has 3 channels \(shape \(2, 3, 28, 28\)\), but the network expects 1",
        net.predict,
        np.zeros((2, 3, 28, 28)),
    )
    error(
        r"layer 0 \(Conv2D\(30, 5x5, relu\)\).*must be a batch of shape \(n_samples, 1, 28, 28\), "
        r"got shape \(2, 784\) \(flat rows of 784 values: use x.reshape\(-1, 1, 28, 28\)",
        net.predict,
        np.zeros((2, 784)),
    )
    error(
        r"got shape \(1, 28, 28\) \(a single image needs shape \(1, 1, 28, 28\)",
        net.predict,
        np.zeros((1, 28, 28)),
    )
    error(r"got shape \(2, 1, 27, 28\)", net.predict, np.zeros((2, 1, 27, 28)))
    model = nn.Model(simple_convnet())
    error(r"has 3 channels", model.fit, np.zeros((4, 3, 28, 28)), np.zeros(4, dtype=int))
    error(r"has 3 channels", model.evaluate, np.zeros((4, 3, 28, 28)), np.zeros(4, dtype=int))


def test_layers_that_do_not_fit_their_input_are_refused_naming_the_layer_and_shapes():
    def build(layers, shape):
        return nn.Sequential(layers, input_shape=shape)

    error(
        r"layer 0: Conv2D\(2, 7x7, pad 1x1\): the 7x7 window is larger than its 4x4 input "
        r"\(padded to 6x6\)",
        build,
        [nn.Conv2D(2, 7, padding=1)],
        (1, 4, 4),
    )
    error(
        r"layer 2: MaxPool2D\(2x2\): the 2x2 window is larger than its 1x1 input",
        build,
        [nn.Conv2D(2, 3), nn.MaxPool2D(2), nn.MaxPool2D(2)],
        (1, 4, 4),
    )
    error(
        r"layer 1: Dense\(10\) takes flat rows of features, but the previous layer produces "
        r"samples of shape 2x6x6 \(a batch of N x 2 x 6 x 6\); put Flatten\(\) before it",
        build,
        [nn.Conv2D(2, 3), nn.Dense(10)],
        (1, 8, 8),
    )
    error(
        r"layer 0: Conv2D\(2, 3x3\) takes images of shape \(C, H, W\) per sample .* receives "
        r"samples of shape \(784,\); put Reshape",
        build,
        [nn.Conv2D(2, 3)],
        784,
    )
    error(r"layer 0: MaxPool2D\(2x2\) takes images", build, [nn.MaxPool2D(2)], (3, 4))
    error(
        r"layer 1: Reshape\(1x28x28\) cannot lay out samples of shape 3x6x6 \(108 values\) as "
        r"1x28x28 \(784 values\)",
        build,
        [nn.Conv2D(3, 3), nn.Reshape((1, 28, 28))],
        (1, 8, 8),
    )
    error(
        r"layer 2: Activation\(softmax\) normalises flat rows, but receives samples of shape "
        r"2x6x6",
        build,
        [nn.Conv2D(2, 3), nn.ActivationLayer("relu"), nn.ActivationLayer("softmax")],
        (1, 8, 8),
    )


def test_bad_layer_arguments_are_refused():
    error(
        r"Conv2D\(4\): stride must be a positive integer or a pair of them \(height, width\), "
        r"got 0",
        nn.Conv2D,
        4,
        3,
        stride=0,
    )
    error(r"stride must be a positive integer .* got \(1, -2\)", nn.Conv2D, 4, 3, stride=(1, -2))
    error(
        r"Conv2D\(4\): padding must be an integer >= 0 or a pair of them .* got -1",
        nn.Conv2D,
        4,
        3,
        padding=-1,
    )
    error(r"kernel_size must be a positive integer .* got \(3, 3, 3\)", nn.Conv2D, 4, (3, 3, 3))
    error(r"Conv2D channels must be a positive integer, got 0", nn.Conv2D, 0, 3)
    error(
        r"padding='same' needs stride 1 \(got stride \(2, 2\)\)",
        nn.Conv2D,
        4,
        3,
        stride=2,
        padding="same",
    )
    error(
        r"padding must be 'same', 'valid', an int or a pair, got 'full'",
        nn.Conv2D,
        4,
        3,
        padding="full",
    )
    error(r"Conv2D\(4\): softmax normalises flat rows", nn.Conv2D, 4, 3, activation="softmax")
    error(r"MaxPool2D: stride must be a positive integer", nn.MaxPool2D, 2, stride=0)
    error(
        r"MaxPool2D\(2x2, pad 2x2\): padding \(2, 2\) must be at most half the 2x2 window",
        nn.MaxPool2D,
        2,
        padding=2,
    )
    error(r"AvgPool2D: padding must be an integer >= 0", nn.AvgPool2D, 2, padding=-1)
    error(
        r"Reshape shape must be a tuple of positive integers \(one may be -1\), got \(-1, -1\)",
        nn.Reshape,
        (-1, -1),
    )
    error(
        r"input_dim=10 and input_shape=\(1, 2, 5\) disagree",
        nn.Sequential,
        [nn.Flatten()],
        10,
        input_shape=(1, 2, 5),
    )


def test_dense_networks_describe_themselves_as_in_version_0_1_0():
    net = nn.mlp([4, 3, 2], "relu", seed=0)
    arch = net.architecture()
    assert set(arch) == {"input_dim", "dtype", "layers"} and arch["input_dim"] == 4
    assert net.input_shape == (4,) and net.layers[0].input_dim == 4
    assert "input: 4 features" in net.summary(print_fn=None)
    image_arch = simple_convnet().architecture()
    assert image_arch["input_shape"] == [1, 28, 28] and image_arch["input_dim"] == 784


def test_weight_shapes_predict_exactly_the_arrays_a_built_layer_saves():
    """The model-file checks read ``weight_shapes``; building must create the same arrays."""
    cases = [
        (nn.Conv2D(4, (3, 2)), (3, 7, 9)),
        (nn.Conv2D(4, 3, use_bias=False), (2, 5, 5)),
        (nn.BatchNorm(), (3, 4, 4)),
        (nn.BatchNorm(), (6,)),
        (nn.Dense(5), (6,)),
        (nn.MaxPool2D(2), (3, 4, 4)),
        (nn.GlobalAvgPool2D(), (3, 4, 4)),
        (nn.Reshape((2, 3)), (6,)),
    ]
    for layer, shape in cases:
        net = nn.Sequential([layer], input_shape=shape)
        saved = {k.split(".", 1)[1]: v.shape for k, v in net.get_weights().items()}
        assert saved == layer.weight_shapes(shape), layer
