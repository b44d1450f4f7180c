"""The text spec of a network (``core.spec``): every token kind, fusion, round trips, and the
errors that name the bad token and the shapes that do not fit."""

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.core.activations import ACTIVATIONS, ELU, LeakyReLU, ReLU, Sigmoid
from nnscratch.core.spec import (
    build_network,
    format_layers,
    layer_shapes,
    parse_layers,
    takes_images,
)

NIELSEN = "conv:20x5,relu,maxpool:2,conv:40x5,relu,maxpool:2,flatten,dense:100,relu,dense:10"


def test_the_issue_example_builds_the_expected_shapes_and_parameters():
    spec = "conv:32x5,relu,maxpool:2,conv:64x5,relu,maxpool:2,flatten,dense:256,relu,dropout:0.5,dense:10"
    net = build_network(spec, (1, 28, 28), seed=0)
    assert [layer.output_shape for layer in net.layers] == [
        (32, 24, 24),
        (32, 12, 12),
        (64, 8, 8),
        (64, 4, 4),
        (1024,),
        (256,),
        (256,),
        (10,),
    ]
    # 32*25+32, 64*32*25+64, 1024*256+256, 256*10+10
    assert net.n_parameters == 832 + 51264 + 262400 + 2570
    assert net.dtype == np.float32
    assert format_layers(net) == spec


def test_every_token_kind():
    layers = parse_layers(
        "reshape:1x28x28,conv:8x3:same:nobias,conv:6x5x3:stride=2:pad=1x2,maxpool:3:stride=2:pad=1,"
        "avgpool:2x1,batchnorm:momentum=0.99:eps=0.001,dropout:0.25,gap,flatten,dense:7,"
        "leaky_relu:alpha=0.2,reshape:7"
    )
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == [
        "Reshape",
        "Conv2D",
        "Conv2D",
        "MaxPool2D",
        "AvgPool2D",
        "BatchNorm",
        "Dropout",
        "GlobalAvgPool2D",
        "Flatten",
        "Dense",
        "Reshape",
    ]
    reshape, same, strided, maxpool, avgpool, bn, drop, _, _, dense, flat = layers
    assert reshape.shape == (1, 28, 28)
    assert (same.channels, same.kernel_size, same.padding, same.use_bias) == (
        8,
        (3, 3),
        "same",
        False,
    )
    assert (strided.channels, strided.kernel_size, strided.stride, strided.padding) == (
        6,
        (5, 3),
        (2, 2),
        (1, 2),
    )
    assert strided.use_bias
    assert (maxpool.pool_size, maxpool.stride, maxpool.padding) == ((3, 3), (2, 2), (1, 1))
    assert (avgpool.pool_size, avgpool.stride) == ((2, 1), (2, 1))
    assert (bn.momentum, bn.eps) == (0.99, 0.001)
    assert drop.rate == 0.25
    assert isinstance(dense.activation, LeakyReLU) and dense.activation.alpha == 0.2
    assert flat.shape == (7,)
    net = nn.Sequential(layers, input_shape=784, seed=0)
    assert net.layers[0].output_shape == (1, 28, 28)
    assert net.layers[1].output_shape == (8, 28, 28)
    # the strided convolution by hand: rows (28 + 2*1 - 5)//2 + 1 = 13, columns (28 + 2*2 - 3)//2 + 1 = 15
    assert net.layers[2].output_shape == (6, 13, 15)
    # max-pool 3, stride 2, pad 1: (13 + 2 - 3)//2 + 1 = 7, (15 + 2 - 3)//2 + 1 = 8
    assert net.layers[3].output_shape == (6, 7, 8)
    # avg-pool 2x1 (stride 2x1): 7//2 = 3 rows, 8 columns
    assert net.layers[4].output_shape == (6, 3, 8)
    assert net.layers[7].output_shape == (6,)
    assert net.output_shape == (7,)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_name_parses_alone(name):
    (layer,) = parse_layers(name.replace("_", "-").upper())
    assert isinstance(layer, nn.ActivationLayer)
    assert layer.activation.name == name


def test_aliases_case_and_spaces():
    spec = " CONV2D : 4 x 3 : SAME , Leaky-ReLU : 0.3 , BN , MaxPool2D:2 , GlobalAvgPool , Dense:2 , linear "
    layers = parse_layers(spec)
    assert [type(layer).__name__ for layer in layers] == [
        "Conv2D",
        "BatchNorm",
        "MaxPool2D",
        "GlobalAvgPool2D",
        "Dense",
    ]
    assert isinstance(layers[0].activation, LeakyReLU) and layers[0].activation.alpha == 0.3
    assert (
        format_layers(layers)
        == "conv:4x3:same,leaky_relu:alpha=0.3,batchnorm,maxpool:2,gap,dense:2"
    )


def test_an_activation_after_conv_or_dense_is_fused_once():
    layers = parse_layers(
        "conv:4x3,relu,sigmoid,maxpool:2,relu,flatten,dense:5,elu:alpha=2,dense:3"
    )
    conv, extra, pool, pool_act, flat, dense, out = layers
    assert isinstance(conv.activation, ReLU)
    # the second activation stays a layer of its own, applied after the fused one
    assert isinstance(extra, nn.ActivationLayer) and isinstance(extra.activation, Sigmoid)
    assert isinstance(pool_act, nn.ActivationLayer)
    assert isinstance(dense.activation, ELU) and dense.activation.alpha == 2.0
    assert out.activation.name == "identity"


def test_fusion_computes_the_same_function_as_separate_layers():
    x = np.random.default_rng(1).standard_normal((3, 2, 9, 9))
    fused = build_network(
        "conv:4x3,tanh,maxpool:2,flatten,dense:5,relu,dense:2", (2, 9, 9), seed=3, dtype=np.float64
    )
    separate = nn.Sequential(
        [
            nn.Conv2D(4, 3),
            nn.ActivationLayer("tanh"),
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(5),
            nn.ActivationLayer("relu"),
            nn.Dense(2),
        ],
        input_shape=(2, 9, 9),
        seed=3,
        dtype=np.float64,
    )
    assert len(fused.layers) == 5 and len(separate.layers) == 7
    weights = fused.get_weights()
    separate.set_weights(
        {
            "0.W": weights["0.W"],
            "0.b": weights["0.b"],
            "4.W": weights["3.W"],
            "4.b": weights["3.b"],
            "6.W": weights["4.W"],
            "6.b": weights["4.b"],
        }
    )
    np.testing.assert_allclose(fused.predict(x), separate.predict(x), rtol=1e-13, atol=1e-13)


def test_softmax_and_step_are_not_fused_into_a_convolution():
    conv, act = parse_layers("conv:2x3,softmax")
    assert conv.activation.name == "identity" and act.activation.name == "softmax"
    dense, step = parse_layers("dense:2,step")  # step has no gradient: a trainable layer refuses it
    assert dense.activation.name == "identity" and step.activation.name == "step"
    (dense,) = parse_layers("dense:3,softmax")
    assert dense.activation.name == "softmax"


@pytest.mark.parametrize(
    "spec",
    [
        NIELSEN,
        "conv:30x5,relu,maxpool:2,flatten,dense:100,relu,dense:10",
        "conv:8x3:same:nobias,batchnorm,relu,avgpool:2:stride=1,conv:4x5x3:stride=2x1:pad=2x1,gap,dense:3",
        "reshape:1x28x28,conv:4x5,leaky_relu,maxpool:3:stride=2:pad=1,flatten,dropout:0.3,dense:10,softmax",
        "dense:30,sigmoid,dense:10,sigmoid",
        "batchnorm:momentum=0.5:eps=0.01,selu,dense:4,elu:alpha=0.5,dropout:0.125,dense:2",
    ],
)
def test_round_trip(spec):
    shape = (1, 28, 28) if spec.startswith("conv") else 784
    first = build_network(spec, shape, seed=5, dtype=np.float64)
    assert format_layers(first) == spec
    again = build_network(format_layers(first), shape, seed=5, dtype=np.float64)
    assert again.architecture() == first.architecture()
    x = np.random.default_rng(0).standard_normal((2, *first.input_shape))
    np.testing.assert_array_equal(first.predict(x), again.predict(x))


def test_format_of_python_built_layers_and_unfused_activations():
    net = nn.Sequential(
        [
            nn.Conv2D(3, (2, 4), stride=(1, 2), padding=1, activation="relu"),
            nn.ActivationLayer("gelu"),
            nn.Flatten(),
            nn.Dense(2, "sigmoid"),
        ],
        input_shape=(1, 6, 8),
        seed=0,
    )
    text = format_layers(net)
    assert text == "conv:3x2x4:stride=1x2:pad=1,relu,gelu,flatten,dense:2,sigmoid"
    assert format_layers(parse_layers(text)) == text


def test_format_refuses_layers_without_a_spec():
    with pytest.raises(ValueError, match=r"layer 0 \(Reshape\(28x28\)\) has no spec"):
        format_layers([nn.Reshape((28, 28))])
    with pytest.raises(ValueError, match="no layers"):
        format_layers([])


def test_build_network_seed_and_dtype():
    a = build_network("dense:4,relu,dense:2", 3, seed=7, dtype=np.float64)
    b = build_network("dense:4,relu,dense:2", (3,), seed=7, dtype=np.float64)
    assert a.dtype == np.float64 and a.input_shape == (3,)
    for key, value in a.get_weights().items():
        np.testing.assert_array_equal(value, b.get_weights()[key])
    # the same initialization as Sequential with that seed
    ref = nn.Sequential([nn.Dense(4, "relu"), nn.Dense(2)], input_dim=3, seed=7, dtype=np.float64)
    np.testing.assert_array_equal(a.get_weights()["0.W"], ref.get_weights()["0.W"])


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("conv:32y5", r"^token 1 'conv:32y5': expected conv:CxK such as conv:32x5"),
        ("dense:10,conv:32y5", r"^token 2 'conv:32y5': expected conv:CxK"),
        ("relu,conv:4", r"^token 2 'conv:4': expected conv:CxK"),
        ("conv:4x5:foo", r"^token 1 'conv:4x5:foo': unknown option 'foo'"),
        ("conv:4x5:stride", r"^token 1 'conv:4x5:stride': unknown option 'stride'"),
        ("conv:4x5:same:pad=1", r"give one padding, not same and pad"),
        ("conv:4x5:stride=0", r"stride must be positive, got '0'"),
        ("conv:4x3:same:stride=2", r"^token 1 .*'same' needs stride 1"),
        ("conv:0x5", r"^token 1 'conv:0x5': sizes must be positive"),
        ("maxpool", r"^token 1 'maxpool': missing size; expected maxpool:K such as maxpool:2"),
        ("maxpool:2:pad=2", r"^token 1 'maxpool:2:pad=2': .*at most half the 2x2 window"),
        ("avgpool:x", r"^token 1 'avgpool:x': pool size must be an integer or HxW"),
        ("gap:2", r"^token 1 'gap:2': takes no argument"),
        ("flatten:3", r"^token 1 'flatten:3': takes no argument"),
        ("reshape:1x2x3x4", r"^token 1 'reshape:1x2x3x4': expected reshape:CxHxW"),
        ("dense:ten", r"^token 1 'dense:ten': expected dense:N"),
        ("dense:10:relu", r"^token 1 'dense:10:relu': unexpected 'relu'"),
        ("dense:5,dropout:1.5", r"^token 2 'dropout:1.5': the rate must be in \[0, 1\)"),
        ("dropout:nan", r"^token 1 'dropout:nan': the rate must be a finite number"),
        ("batchnorm:momentum=2", r"^token 1 'batchnorm:momentum=2': BatchNorm momentum must be"),
        ("sigmoid:3", r"^token 1 'sigmoid:3': unexpected '3'; expected sigmoid \(no argument"),
        (
            "leaky_relu:beta=3",
            r"^token 1 'leaky_relu:beta=3': unexpected 'beta=3'; expected leaky_relu\[:alpha=X\]",
        ),
        ("dense:4,foo,dense:2", r"^token 2 'foo': unknown layer 'foo'; expected one of avgpool"),
        ("dense:4,,dense:2", r"^token 2 of 'dense:4,,dense:2' is empty"),
        ("dense:4,", r"^token 2 of 'dense:4,' is empty"),
        ("  ", r"the layer spec is empty"),
    ],
)
def test_parse_errors_name_the_token(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_layers(spec)


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [
        (
            "conv:4x5,relu,dense:10",
            (1, 28, 28),
            r"^token 3 'dense:10' \(input 4x24x24\): Dense\(10\) takes flat rows .* shape 4x24x24 .*"
            r"put flatten before it$",
        ),
        (
            "conv:4x5,maxpool:2,conv:8x13",
            (1, 28, 28),
            r"^token 3 'conv:8x13' \(input 4x12x12\): Conv2D\(8, 13x13\): the 13x13 window is larger "
            r"than its 12x12 input",
        ),
        (
            "conv:4x40",
            (1, 28, 28),
            r"^token 1 'conv:4x40' \(input 1x28x28\): .*40x40 window is larger than its 28x28 input",
        ),
        (
            "conv:4x5,relu,flatten,dense:10",
            784,
            r"^token 1 'conv:4x5': Conv2D\(4, 5x5, relu\) takes images \(C, H, W\), but the input is "
            r"flat rows of 784 features; start the spec with reshape:1x28x28 \(in Python, or "
            r"pass input_shape=\(1, 28, 28\)\)$",
        ),
        ("maxpool:2", 10, r"start the spec with reshape:CxHxW \(in Python, or pass input_shape"),
        ("gap", 3 * 32 * 32, r"start the spec with reshape:3x32x32"),
        (
            "dense:10,conv:2x3",
            784,
            r"^token 2 'conv:2x3' \(input 10\): Conv2D\(2, 3x3\) takes images .* put reshape:CxHxW first",
        ),
        (
            "reshape:1x20x20",
            784,
            r"^token 1 'reshape:1x20x20' \(input 784\): .*784 values.*400 values",
        ),
        (
            "conv:2x3,softmax",
            (1, 5, 5),
            r"^token 2 'softmax' \(input 2x3x3\): .*put flatten before it",
        ),
    ],
)
def test_build_errors_name_the_token_and_the_shapes(spec, shape, message):
    with pytest.raises(ValueError, match=message):
        build_network(spec, shape, seed=0)


def test_build_network_refuses_a_bad_input_shape():
    with pytest.raises(ValueError, match="input_shape must be a positive integer"):
        build_network("dense:2", 0)


def test_layer_shapes_walks_the_spec_without_building():
    rows = layer_shapes("conv:4x5, relu, maxpool:2, flatten, dense:10", (1, 28, 28))
    assert [(text, i, o) for text, _, i, o in rows] == [
        ("conv:4x5", (1, 28, 28), (4, 24, 24)),
        ("maxpool:2", (4, 24, 24), (4, 12, 12)),
        ("flatten", (4, 12, 12), (576,)),
        ("dense:10", (576,), (10,)),
    ]
    assert not any(layer.built for _, layer, _, _ in rows)
    assert rows[0][1].weight_shapes((1, 28, 28)) == {"W": (4, 1, 5, 5), "b": (4,)}
    with pytest.raises(ValueError, match=r"^token 5 'dense:10' \(input 4x24x24\)"):
        layer_shapes("conv:4x5,relu,relu,relu,dense:10", (1, 28, 28))


def test_build_network_weight_init_replaces_the_default():
    net = build_network("conv:2x3,relu,flatten,dense:3", (1, 5, 5), seed=0, weight_init="lecun")
    ref = nn.Sequential(
        [
            nn.Conv2D(2, 3, activation="relu", weight_init="lecun"),
            nn.Flatten(),
            nn.Dense(3, weight_init="lecun"),
        ],
        input_shape=(1, 5, 5),
        seed=0,
    )
    default = build_network("conv:2x3,relu,flatten,dense:3", (1, 5, 5), seed=0)  # He for ReLU
    for key in ("0.W", "2.W"):
        np.testing.assert_array_equal(net.get_weights()[key], ref.get_weights()[key])
    assert not np.array_equal(net.get_weights()["0.W"], default.get_weights()["0.W"])


@pytest.mark.parametrize(
    ("spec", "images"),
    [
        ("conv:8x3,relu,flatten,dense:10", True),
        ("maxpool:2,flatten,dense:10", True),
        ("avgpool:2,flatten,dense:10", True),
        ("batchnorm,relu,dropout:0.1,conv:4x3,flatten,dense:10", True),
        ("dense:64,relu,dense:10", False),
        ("flatten,dense:10", False),
        ("relu,dropout:0.2,dense:10", False),
    ],
)
def test_takes_images_looks_past_shape_agnostic_layers(spec: str, images: bool) -> None:
    """The first layer that is not an activation, batch norm or dropout decides."""
    assert takes_images(spec) is images


def test_the_cli_and_the_digits_page_shape_mnist_alike() -> None:
    from nnscratch.web.digits import IMAGE_SHAPE, spec_input_shape

    assert spec_input_shape("batchnorm,conv:4x3,relu,flatten,dense:10") == IMAGE_SHAPE
    assert spec_input_shape("dense:32,relu,dense:10") == (784,)
