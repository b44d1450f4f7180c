"""ONNX export: every supported activation and loss head, BatchNorm folding, Dropout removal,
trained networks and MNIST, all checked against nnscratch's own predictions in onnxruntime."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package")
ort = pytest.importorskip("onnxruntime", reason="the export tests run models in onnxruntime")

import nnscratch as nn  # noqa: E402
from nnscratch.core.activations import Activation, ReLU  # noqa: E402
from nnscratch.core.layers import Layer  # noqa: E402
from nnscratch.data.toy import blobs  # noqa: E402
from nnscratch.onnx import (  # noqa: E402
    DEFAULT_OPSET,
    SUPPORTED_ACTIVATIONS,
    export_model_file,
    export_onnx,
    to_onnx,
)

TOL = dict(rtol=1e-5, atol=1e-5)
HIDDEN_ACTIVATIONS = [a for a in SUPPORTED_ACTIVATIONS if a != "identity"] + ["identity"]


def run_onnx(path: str | Path, x: np.ndarray, input_name: str = "input") -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {input_name: np.asarray(x, dtype=np.float32)})[0]


def inputs(n_features: int, n: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)) * rng.choice([0.1, 1.0, 4.0], size=(n, 1))
    return x.astype(np.float32)


def op_types(path: str | Path) -> list[str]:
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def network(activation: str, n_out: int, seed: int = 0, dtype=np.float32) -> nn.Sequential:
    """Dense with a fused activation, then a stand-alone activation layer, then the output."""
    return nn.Sequential(
        [nn.Dense(10, activation), nn.Dense(7), nn.ActivationLayer(activation), nn.Dense(n_out)],
        input_dim=5,
        seed=seed,
        dtype=dtype,
    )


HEADS = {
    # loss: (output units, targets, what predict_proba-like output to compare with)
    "softmax_cross_entropy": 3,
    "binary_cross_entropy_with_logits": 1,
    "mse": 2,
}


def targets_for(loss: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "softmax_cross_entropy":
        return rng.integers(0, 3, size=n)
    if loss == "binary_cross_entropy_with_logits":
        return rng.integers(0, 2, size=(n, 1)).astype(np.float32)
    return rng.normal(size=(n, 2)).astype(np.float32)


def expected_output(model: nn.Model, x: np.ndarray, output: str) -> np.ndarray:
    if output == "logits" or not model.loss.classification:
        return model.predict_raw(x)
    return model.predict_proba(x)


@pytest.mark.parametrize("trained", [False, True], ids=["random", "trained"])
@pytest.mark.parametrize("loss", list(HEADS))
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_every_activation_and_head_matches(activation, loss, trained, tmp_path) -> None:
    model = nn.Model(network(activation, HEADS[loss]), loss=loss, optimizer=nn.Adam(0.01))
    if trained:
        rng = np.random.default_rng(1)
        x_train = inputs(5, 128, seed=1)
        model.fit(x_train, targets_for(loss, 128, rng), epochs=5, batch_size=32, seed=0, verbose=0)
    x = inputs(5)
    for output in ("probabilities", "logits"):
        path = export_onnx(model, tmp_path / f"{output}.onnx", output=output)
        got = run_onnx(path, x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected_output(model, x, output), **TOL)
    heads = {"softmax_cross_entropy": "Softmax", "binary_cross_entropy_with_logits": "Sigmoid"}
    last = op_types(tmp_path / "probabilities.onnx")[-1]
    if loss in heads:
        assert last == heads[loss]
    assert "Dropout" not in op_types(tmp_path / "logits.onnx")


def test_activations_at_extreme_inputs(tmp_path) -> None:
    x = np.array([[-1e4, -80.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 80.0, 1e4]], dtype=np.float32)
    for name in HIDDEN_ACTIVATIONS:
        layer = nn.ActivationLayer(name)
        net = nn.Sequential([layer], input_dim=x.shape[1])
        path = export_onnx(net, tmp_path / f"{name}.onnx")
        np.testing.assert_allclose(run_onnx(path, x), net.predict(x), rtol=1e-6, atol=1e-6)


def test_gelu_is_the_tanh_form_written_in_primitives(tmp_path) -> None:
    net = nn.Sequential([nn.Dense(4, "gelu")], input_dim=3, seed=0)
    path = export_onnx(net, tmp_path / "gelu.onnx")
    assert set(op_types(path)) <= {"Gemm", "Clip", "Mul", "Add", "Tanh"}
    x = np.linspace(-8, 8, 300, dtype=np.float32).reshape(-1, 3)
    # Far left, 1 + tanh(u) cancels to ~1e-7: there onnxruntime's tanh (exactly -1 sooner)
    # and NumPy's differ by a float32 ulp of tanh, so only an absolute tolerance applies.
    np.testing.assert_allclose(run_onnx(path, x), net.predict(x), rtol=1e-6, atol=1e-6)


def trained_batch_norm_model() -> nn.Model:
    x, y = blobs(n=300, centers=3, seed=0)
    x = x * 3.0 + 5.0  # off-centre inputs: running statistics far from (0, 1)
    net = nn.mlp([2, 16, 16, 3], "relu", batch_norm=True, dropout=0.2, seed=0)
    model = nn.Model(net, optimizer=nn.Adam(0.01))
    model.fit(x, y, epochs=8, batch_size=32, seed=0, verbose=0)
    return model


def test_trained_batch_norm_is_folded_and_dropout_removed(tmp_path) -> None:
    model = trained_batch_norm_model()
    norms = [layer for layer in model.network.layers if isinstance(layer, nn.BatchNorm)]
    assert len(norms) == 2
    for bn in norms:  # the statistics were learned, not the initial (0, 1)
        assert np.abs(bn.running_mean).max() > 0.1
        assert np.abs(bn.running_var - 1).max() > 0.1
        assert np.abs(bn.gamma.value - 1).max() > 1e-3
    path = export_onnx(model, tmp_path / "bn.onnx")
    ops = op_types(path)
    assert "BatchNormalization" not in ops and "Dropout" not in ops
    assert ops == ["Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"]
    x = blobs(n=200, centers=3, seed=5)[0] * 3.0 + 5.0
    np.testing.assert_allclose(run_onnx(path, x), model.predict_proba(x), **TOL)
    np.testing.assert_array_equal(run_onnx(path, x).argmax(axis=1), model.predict(x))


def test_batch_norm_that_cannot_be_folded_is_an_operator(tmp_path) -> None:
    """BatchNorm first, and after a Dense with an activation: BatchNormalization operators."""
    net = nn.Sequential(
        [nn.BatchNorm(), nn.Dense(6, "tanh"), nn.Dropout(0.5), nn.BatchNorm(), nn.Dense(2)],
        input_dim=4,
        seed=0,
    )
    rng = np.random.default_rng(0)
    for bn in (net.layers[0], net.layers[3]):
        bn.running_mean[:] = rng.normal(size=bn.running_mean.shape)
        bn.running_var[:] = rng.uniform(0.2, 3.0, size=bn.running_var.shape)
        bn.gamma.value[:] = rng.normal(size=bn.gamma.value.shape)
        bn.beta.value[:] = rng.normal(size=bn.beta.value.shape)
    path = export_onnx(net, tmp_path / "bn_op.onnx")
    assert op_types(path).count("BatchNormalization") == 2
    x = inputs(4)
    np.testing.assert_allclose(run_onnx(path, x), net.predict(x), **TOL)


def test_float64_model_is_exported_as_float32(tmp_path) -> None:
    model = nn.Model(network("tanh", 3, dtype=np.float64))
    path = export_onnx(model, tmp_path / "f64.onnx")
    x = inputs(5)
    got = run_onnx(path, x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, model.predict_proba(x.astype(np.float64)), **TOL)


def test_dynamic_batch_opset_and_metadata(tmp_path) -> None:
    model = nn.Model(network("relu", 3))
    path = export_onnx(model, tmp_path / "m.onnx", input_name="pixels", output_name="probs")
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == DEFAULT_OPSET == 17
    assert proto.ir_version == 8
    assert proto.producer_name == "nnscratch"
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 5
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["nnscratch.loss"] == "softmax_cross_entropy"
    assert props["nnscratch.output"] == "probabilities"
    for target, kind in ((model, "logits"), (model.network, "raw")):
        output = "logits" if kind == "logits" else "probabilities"
        proto = to_onnx(target, output=output)
        assert {p.key: p.value for p in proto.metadata_props}["nnscratch.output"] == kind
    for n in (1, 7, 1000):
        x = inputs(5, n)
        got = run_onnx(path, x, input_name="pixels")
        np.testing.assert_allclose(got, model.predict_proba(x), **TOL)
    for opset in (13, 15):
        path = export_onnx(model, tmp_path / f"opset{opset}.onnx", opset=opset)
        np.testing.assert_allclose(run_onnx(path, x), model.predict_proba(x), **TOL)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic writes


def test_only_dropout_is_still_a_valid_graph(tmp_path) -> None:
    net = nn.Sequential([nn.Dropout(0.5)], input_dim=3)
    x = inputs(3)
    np.testing.assert_array_equal(run_onnx(export_onnx(net, tmp_path / "id.onnx"), x), x)


@pytest.mark.filterwarnings("ignore:.*maximum iterations")
def test_fitted_estimator_exports_with_class_labels(tmp_path) -> None:
    pytest.importorskip("sklearn", reason="needs scikit-learn")
    import json

    from nnscratch.sklearn import NetClassifier, NetRegressor

    x, y = blobs(n=150, centers=3, seed=0)
    labels = np.array(["a", "b", "c"])[y]
    clf = NetClassifier(hidden_layer_sizes=(8,), max_iter=20, batch_norm=True, random_state=0)
    clf.fit(x, labels)
    path = export_onnx(clf, tmp_path / "clf.onnx")
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["nnscratch.classes"]) == ["a", "b", "c"]
    got = run_onnx(path, x)
    np.testing.assert_allclose(got, clf.predict_proba(x), **TOL)
    np.testing.assert_array_equal(clf.classes_[got.argmax(axis=1)], clf.predict(x))
    reg = NetRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(x, y * 1.0)
    path = export_onnx(reg, tmp_path / "reg.onnx")
    np.testing.assert_allclose(run_onnx(path, x)[:, 0], reg.predict(x), **TOL)
    with pytest.raises(ValueError, match="not fitted"):
        export_onnx(NetClassifier(), tmp_path / "unfitted.onnx")


# -- MNIST -----------------------------------------------------------------------------------
def load_mnist_for_test():
    from nnscratch.data import mnist

    if hasattr(mnist, "load_mnist_sample"):
        return mnist.load_mnist_sample(normalize=True)
    from tests.conftest import mnist_dir

    folder = mnist_dir()
    if folder is None:
        pytest.skip("no MNIST sample in this nnscratch and no MNIST files found")
    return mnist.load_mnist(folder, normalize=True)


def test_trained_mnist_model_keeps_its_test_accuracy(tmp_path) -> None:
    ds = load_mnist_for_test()
    net = nn.mlp([784, 64, 10], "relu", seed=0)
    model = nn.Model(net, optimizer=nn.Adam(0.002))
    model.fit(ds.x_train, ds.y_train, epochs=3, batch_size=64, seed=0, verbose=0)
    expected = model.predict_proba(ds.x_test)
    accuracy = float(np.mean(expected.argmax(axis=1) == ds.y_test))
    assert accuracy > 0.85
    path = export_onnx(model, tmp_path / "mnist.onnx")
    got = run_onnx(path, ds.x_test)
    np.testing.assert_allclose(got, expected, **TOL)
    # the same argmax on every test image (no ties at float32 resolution decide otherwise)
    np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    assert float(np.mean(got.argmax(axis=1) == ds.y_test)) == accuracy


# -- errors ----------------------------------------------------------------------------------
class Doubler(Layer):
    """A user-defined layer: y = 2x."""

    def forward(self, x, training=False):
        return 2 * x

    def backward(self, grad_output, need_input_grad=True):
        return 2 * grad_output


class Cube(Activation):
    name = "cube"

    def forward(self, z, out=None):
        return z**3

    def derivative(self, z, a=None):
        return 3 * z**2


class MyReLU(ReLU):
    """A subclass may compute anything: it is not exported as Relu."""


@pytest.mark.parametrize(
    "layers, match",
    [
        ([nn.Dense(3, "relu"), Doubler(), nn.Dense(2)], r"layer 1 \(Doubler"),
        ([nn.Dense(3), nn.ActivationLayer("step"), nn.Dense(2)], r"layer 1 .*Step"),
        ([nn.Dense(3, Cube()), nn.Dense(2)], r"layer 0 .*Cube"),
        ([nn.Dense(3), nn.Dense(2), nn.ActivationLayer(MyReLU())], r"layer 2 .*MyReLU"),
    ],
)
def test_unsupported_layers_and_activations_raise(layers, match, tmp_path) -> None:
    net = nn.Sequential(layers, input_dim=4, seed=0)
    with pytest.raises(ValueError, match=match):
        export_onnx(net, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_bad_options(tmp_path) -> None:
    model = nn.Model(network("relu", 3))
    with pytest.raises(ValueError, match="opset"):
        to_onnx(model, opset=11)
    with pytest.raises(ValueError, match="output"):
        to_onnx(model, output="labels")
    with pytest.raises(ValueError, match="differ"):
        to_onnx(model, input_name="x", output_name="x")
    with pytest.raises(TypeError, match="Model"):
        to_onnx("model.npz")
    with pytest.raises(ValueError, match="not built"):
        to_onnx(nn.Sequential([nn.Dense(2)]))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_onnx(model, tmp_path / "missing" / "m.onnx")
    with pytest.raises(IsADirectoryError):
        export_onnx(model, tmp_path)


def test_export_model_file(tmp_path) -> None:
    model = trained_batch_norm_model()
    saved = model.save(tmp_path / "model.npz")
    path = export_model_file(saved, tmp_path / "model.onnx", output="logits")
    x = blobs(n=50, centers=3, seed=2)[0] * 3.0 + 5.0
    np.testing.assert_allclose(run_onnx(path, x), model.predict_raw(x), **TOL)
    with pytest.raises(nn.ModelFileError, match="not found"):
        export_model_file(tmp_path / "nope.npz", tmp_path / "nope.onnx")
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(nn.ModelFileError):
        export_model_file(tmp_path / "junk.npz", tmp_path / "junk.onnx")
    with pytest.raises(TypeError, match="unknown export option"):
        export_model_file(saved, tmp_path / "x.onnx", fp16=True)


def test_missing_onnx_package_gives_install_hint(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ImportError, match=r"pip install 'nnscratch\[onnx\]'"):
        export_onnx(nn.Model(network("relu", 3)), tmp_path / "m.onnx")
