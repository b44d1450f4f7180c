"""ONNX export of convolutional networks: Conv (every padding, "same" with even kernels
included), MaxPool, AveragePool, GlobalAveragePool, Flatten/Reshape and BatchNormalization on
images, checked against nnscratch's own predictions in onnxruntime."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package")
ort = pytest.importorskip("onnxruntime", reason="the export tests run models in onnxruntime")

import nnscratch as nn  # noqa: E402
from nnscratch.core.layers import (  # noqa: E402
    ActivationLayer,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    Layer,
    MaxPool2D,
    Reshape,
)
from nnscratch.onnx import export_model_file, export_onnx, to_onnx  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)
ELEMENTWISE = ["relu", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "softplus", "gelu"]
LOSSES = {"softmax_cross_entropy": 4, "binary_cross_entropy_with_logits": 1, "mse": 3}


def run_onnx(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": np.asarray(x, dtype=np.float32)})[0]


def op_types(path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def randomise_batch_norm(net: nn.Sequential, rng: np.random.Generator) -> None:
    """Running statistics and affine parameters far from their initial (0, 1)."""
    for layer in net.layers:
        if isinstance(layer, BatchNorm):
            c = layer.running_mean.shape
            layer.running_mean[:] = rng.normal(size=c)
            layer.running_var[:] = rng.uniform(0.2, 3.0, size=c)
            layer.gamma.value[:] = rng.normal(size=c)
            layer.beta.value[:] = rng.normal(size=c)


def random_conv_layers(rng: np.random.Generator) -> list[Layer]:
    """One or two conv blocks (kernel 1-4, stride 1-2, padding 0/1/(1, 2)/"same"/"valid",
    bias on or off, fused activation or not, BatchNorm, Dropout, max or average pooling with
    padding), then Flatten or GlobalAvgPool2D and a dense head."""
    layers: list[Layer] = []
    for _ in range(int(rng.integers(1, 3))):
        kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        choice = int(rng.integers(0, 5))
        if choice == 0:
            stride, padding = (1, 1), "same"
        else:
            stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            padding = [0, 1, (1, 2), "valid"][choice - 1]
        fused = rng.random() < 0.5
        act = str(rng.choice(ELEMENTWISE))
        layers.append(
            Conv2D(
                int(rng.integers(1, 6)),
                kernel,
                stride=stride,
                padding=padding,
                activation=act if fused else None,
                use_bias=bool(rng.random() < 0.8),
            )
        )
        if rng.random() < 0.5:
            layers.append(BatchNorm())
        if not fused:
            layers.append(ActivationLayer(act))
        if rng.random() < 0.3:
            layers.append(Dropout(0.5))
        pool = int(rng.integers(0, 3))
        if pool:
            size = (int(rng.integers(2, 4)), int(rng.integers(2, 4)))
            stride = None if rng.random() < 0.5 else (int(rng.integers(1, 3)),) * 2
            pad = (int(rng.integers(0, size[0] // 2 + 1)), int(rng.integers(0, size[1] // 2 + 1)))
            cls = MaxPool2D if pool == 1 else AvgPool2D
            layers.append(cls(size, stride=stride, padding=pad))
    if rng.random() < 0.3:
        layers.append(GlobalAvgPool2D())
    else:
        layers.append(Flatten())
        if rng.random() < 0.5:
            layers.append(Dense(int(rng.integers(3, 9)), str(rng.choice(ELEMENTWISE))))
    return layers


def random_conv_model(seed: int) -> tuple[nn.Model, tuple[int, int, int]]:
    rng = np.random.default_rng(seed)
    while True:  # redraw the (rare) architectures whose windows do not fit the image
        shape = (int(rng.integers(1, 4)), int(rng.integers(5, 13)), int(rng.integers(5, 13)))
        loss = str(rng.choice(list(LOSSES)))
        layers = [*random_conv_layers(rng), Dense(LOSSES[loss])]
        try:
            net = nn.Sequential(layers, input_shape=shape, seed=seed)
        except ValueError:
            continue
        randomise_batch_norm(net, rng)
        return nn.Model(net, loss=loss), shape


def images(shape: tuple[int, ...], n: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, *shape)) * 2.0).astype(np.float32)


@pytest.mark.parametrize("seed", range(48))
def test_random_conv_networks_match_onnxruntime(seed, tmp_path) -> None:
    model, shape = random_conv_model(seed)
    x = images(shape, seed=seed)
    for output in ("probabilities", "logits"):
        path = export_onnx(model, tmp_path / f"{output}.onnx", output=output)
        expected = (
            model.predict_proba(x)
            if output == "probabilities" and model.loss.classification
            else model.predict_raw(x)
        )
        got = run_onnx(path, x)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **TOL)
    proto = onnx.load(str(tmp_path / "logits.onnx"))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    assert [d.dim_value for d in dims[1:]] == list(shape)
    ops = set(op_types(tmp_path / "logits.onnx"))
    assert "Conv" in ops and "Dropout" not in ops


def test_the_random_networks_cover_every_layer_and_padding() -> None:
    """The 48 networks above exercise each exported construct at least once."""
    seen: set[str] = set()
    for seed in range(48):
        model, _ = random_conv_model(seed)
        for layer in model.network.layers:
            seen.add(type(layer).__name__)
            if isinstance(layer, Conv2D):
                top, bottom, left, right = layer.pads()
                if layer.padding == "same" and (top != bottom or left != right):
                    seen.add("same-even")
                if layer.stride != (1, 1):
                    seen.add("strided")
            if isinstance(layer, (MaxPool2D, AvgPool2D)) and any(layer.padding):
                seen.add(f"padded {type(layer).__name__}")
    for name in (
        "Conv2D",
        "BatchNorm",
        "ActivationLayer",
        "Dropout",
        "MaxPool2D",
        "AvgPool2D",
        "GlobalAvgPool2D",
        "Flatten",
        "same-even",
        "strided",
        "padded MaxPool2D",
        "padded AvgPool2D",
    ):
        assert name in seen, name


def test_same_padding_with_even_kernels_is_asymmetric(tmp_path) -> None:
    """A 4x2 kernel: 1 row above, 2 below, 0 columns left, 1 right (PyTorch's split)."""
    net = nn.Sequential(
        [Conv2D(3, (4, 2), padding="same", activation="relu"), Flatten(), Dense(2)],
        input_shape=(2, 7, 6),
        seed=0,
    )
    path = export_onnx(net, tmp_path / "same.onnx")
    conv = next(n for n in onnx.load(str(path)).graph.node if n.op_type == "Conv")
    attrs = {a.name: list(a.ints) for a in conv.attribute}
    assert attrs["pads"] == [1, 0, 2, 1]
    assert attrs["kernel_shape"] == [4, 2]
    assert net.layers[0].output_shape == (3, 7, 6)
    x = images((2, 7, 6))
    np.testing.assert_allclose(run_onnx(path, x), net.predict(x), **TOL)


def test_average_pool_counts_the_padding(tmp_path) -> None:
    """A 2x2 window over a corner with padding 1 holds one real pixel: its average is x/4."""
    net = nn.Sequential([AvgPool2D(2, stride=1, padding=1)], input_shape=(1, 3, 3))
    path = export_onnx(net, tmp_path / "avg.onnx")
    node = onnx.load(str(path)).graph.node[0]
    assert node.op_type == "AveragePool"
    assert {a.name: a.i for a in node.attribute if a.name == "count_include_pad"} == {
        "count_include_pad": 1
    }
    x = np.arange(1.0, 10.0, dtype=np.float32).reshape(1, 1, 3, 3)
    got = run_onnx(path, x)
    assert got.shape == (1, 1, 4, 4)
    assert got[0, 0, 0, 0] == pytest.approx(1.0 / 4)
    assert got[0, 0, 1, 1] == pytest.approx((1 + 2 + 4 + 5) / 4)
    np.testing.assert_allclose(got, net.predict(x), **TOL)


def test_conv_batch_norm_is_folded_or_an_operator(tmp_path) -> None:
    """After a Conv2D without activation the BatchNorm is folded into its weights; after one
    with an activation it stays a BatchNormalization operator on the 4-D tensor."""
    net = nn.Sequential(
        [
            Conv2D(4, 3, padding=1, use_bias=False),
            BatchNorm(),
            ActivationLayer("relu"),
            Conv2D(3, 3, activation="tanh"),
            BatchNorm(),
            MaxPool2D(2),
            Flatten(),
            Dense(2),
        ],
        input_shape=(2, 8, 8),
        seed=1,
    )
    randomise_batch_norm(net, np.random.default_rng(3))
    path = export_onnx(net, tmp_path / "bn.onnx")
    ops = op_types(path)
    assert ops == [
        "Conv",
        "Relu",
        "Conv",
        "Tanh",
        "BatchNormalization",
        "MaxPool",
        "Flatten",
        "Gemm",
    ]
    x = images((2, 8, 8), n=32)
    np.testing.assert_allclose(run_onnx(path, x), net.predict(x), **TOL)


def test_network_that_starts_with_reshape_takes_flat_rows(tmp_path) -> None:
    net = nn.Sequential(
        [
            Reshape((1, 6, 6)),
            Conv2D(3, 3, activation="relu"),
            GlobalAvgPool2D(),
            Dense(5),
            Reshape((5, 1, 1)),
            Flatten(),
        ],
        input_dim=36,
        seed=0,
    )
    model = nn.Model(net)
    path = export_onnx(model, tmp_path / "flat.onnx")
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [36]
    x = images((36,), n=9)
    np.testing.assert_allclose(run_onnx(path, x), model.predict_proba(x), **TOL)
    assert op_types(path)[:2] == ["Reshape", "Conv"]


def test_flatten_keeps_channel_row_column_order(tmp_path) -> None:
    """Flatten of a (2, 2, 3) image is its values in C, H, W row-major order (torch's)."""
    net = nn.Sequential([Flatten()], input_shape=(2, 2, 3))
    x = np.arange(24.0, dtype=np.float32).reshape(2, 2, 2, 3)
    got = run_onnx(export_onnx(net, tmp_path / "flatten.onnx"), x)
    np.testing.assert_array_equal(got, x.reshape(2, 12))
    np.testing.assert_array_equal(got, net.predict(x))


def test_trained_conv_model_on_digits(tmp_path) -> None:
    """A LeNet-like network trained a few epochs (batch-norm statistics learned): the ONNX
    file gives the same probabilities and the same predicted digits."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 1, 10, 10)).astype(np.float32)
    y = (x[:, 0, :5].mean(axis=(1, 2)) > x[:, 0, 5:].mean(axis=(1, 2))).astype(int)
    net = nn.Sequential(
        [
            Conv2D(6, 3, padding="same"),
            BatchNorm(),
            ActivationLayer("relu"),
            MaxPool2D(2),
            Conv2D(8, 2, activation="relu"),
            Dropout(0.2),
            AvgPool2D(2),
            Flatten(),
            Dense(2),
        ],
        input_shape=(1, 10, 10),
        seed=0,
    )
    model = nn.Model(net, optimizer=nn.Adam(0.01))
    model.fit(x, y, epochs=3, batch_size=32, seed=0, verbose=0)
    assert np.abs(net.layers[1].running_mean).max() > 0.01
    path = export_onnx(model, tmp_path / "trained.onnx")
    got = run_onnx(path, x)
    np.testing.assert_allclose(got, model.predict_proba(x), **TOL)
    np.testing.assert_array_equal(got.argmax(axis=1), model.predict(x))


def test_cli_exports_a_conv_model_file(tmp_path) -> None:
    model, shape = random_conv_model(5)
    saved = model.save(tmp_path / "conv.npz")
    out = tmp_path / "conv.onnx"
    result = subprocess.run(
        [sys.executable, "-m", "nnscratch", "export", str(saved), str(out), "--output", "logits"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    x = images(shape)
    np.testing.assert_allclose(run_onnx(out, x), model.predict_raw(x), **TOL)
    again = export_model_file(saved, tmp_path / "again.onnx", output="logits")
    np.testing.assert_allclose(run_onnx(again, x), model.predict_raw(x), **TOL)


class ChannelShuffle(Layer):
    """A user-defined layer on images: not exportable."""

    def forward(self, x, training=False):
        return x[:, ::-1]

    def backward(self, grad_output, need_input_grad=True):
        return grad_output[:, ::-1]


def test_unexportable_layer_in_a_conv_network_is_refused(tmp_path) -> None:
    net = nn.Sequential(
        [Conv2D(2, 3), ChannelShuffle(), Flatten(), Dense(2)], input_shape=(1, 5, 5), seed=0
    )
    with pytest.raises(ValueError, match=r"layer 1 \(ChannelShuffle.*cannot be exported"):
        to_onnx(net)
    with pytest.raises(ValueError, match=r"layer 1 \(ChannelShuffle"):
        export_onnx(net, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


@pytest.mark.filterwarnings("ignore:.*maximum iterations")
def test_fitted_conv_estimator_exports_images(tmp_path) -> None:
    pytest.importorskip("sklearn", reason="needs scikit-learn")
    from sklearn.datasets import load_digits

    from nnscratch.sklearn import NetClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16.0
    clf = NetClassifier(
        layers="conv:4x3:same,relu,maxpool:2,flatten",
        input_shape=(1, 8, 8),
        max_iter=3,
        random_state=0,
    ).fit(X, y[:300])
    path = export_onnx(clf, tmp_path / "digits.onnx")
    got = run_onnx(path, X.reshape(-1, 1, 8, 8))
    np.testing.assert_allclose(got, clf.predict_proba(X), **TOL)
    np.testing.assert_array_equal(clf.classes_[got.argmax(axis=1)], clf.predict(X))
