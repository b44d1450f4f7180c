import numpy as np
import pytest
from tests.conftest import mnist_dir, shared_data_dir

import nnscratch as nn

# Seed 004's fixed-weight 3-layer network (Saito, ch. 3).
W1 = np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]])
B1 = np.array([0.1, 0.2, 0.3])
W2 = np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]])
B2 = np.array([0.1, 0.2])
W3 = np.array([[0.1, 0.3], [0.2, 0.4]])
B3 = np.array([0.1, 0.2])


def seed_004_network():
    return nn.Sequential.from_arrays([W1, W2, W3], [B1, B2, B3], "sigmoid")


def test_seed_004_forward_pass_exact():
    net = seed_004_network()
    assert net.dtype == np.float64
    x = np.array([[1.0, 0.5]])
    np.testing.assert_allclose(net.forward(x), [[0.31682708, 0.69627909]], atol=1e-8)
    first = net.layers[0]
    first.forward(x)
    np.testing.assert_allclose(first._z, [[0.3, 0.7, 1.1]], atol=1e-12)
    np.testing.assert_allclose(first._a, [[0.57444252, 0.66818777, 0.75026011]], atol=1e-8)


def test_pretrained_saito_network_scores_93_52_percent():
    data, images = shared_data_dir(), mnist_dir()
    if data is None or images is None:
        pytest.skip("needs ../shared/data (saito-sample-weight.npz and MNIST)")
    from nnscratch.data.idx import read_idx

    x = read_idx(images / "t10k-images-idx3-ubyte.gz").reshape(10000, 784) / np.float32(255)
    y = read_idx(images / "t10k-labels-idx1-ubyte.gz")
    net = nn.Sequential.from_npz(data / "saito-sample-weight.npz", activations="sigmoid")
    assert [layer.units for layer in net.layers] == [50, 100, 10]
    accuracy = np.mean(net.predict(x, batch_size=100).argmax(axis=1) == y)
    assert accuracy == pytest.approx(0.9352, abs=1e-12)


def test_from_npz_rejects_foreign_archives(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, weights=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="W1, b1"):
        nn.Sequential.from_npz(path)
    with pytest.raises(FileNotFoundError):
        nn.Sequential.from_npz(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable .npz"):
        nn.Sequential.from_npz(junk)


def test_from_arrays_checks_shapes():
    with pytest.raises(ValueError, match="bias of shape"):
        nn.Sequential.from_arrays([W1], [B2])
    with pytest.raises(ValueError, match="previous layer produces 3"):
        nn.Sequential.from_arrays([W1, W3], [B1, B3])


def test_parameters_are_views_into_one_flat_buffer():
    net = nn.mlp([4, 5, 3], "relu", seed=0)
    flat = net.flat_parameter
    assert flat.value.size == net.n_parameters == 4 * 5 + 5 + 5 * 3 + 3
    flat.value[:] = 0.5
    assert all(np.all(p.value == 0.5) for p in net.parameters())
    net.layers[0].W.grad[...] = 2.0
    assert flat.grad[:20].sum() == 40.0


def test_float32_by_default_and_float64_on_request():
    x = np.random.default_rng(0).normal(size=(3, 4))
    net = nn.mlp([4, 6, 2], "tanh", seed=1)
    assert net.dtype == np.float32 and net.forward(x).dtype == np.float32
    net64 = net.astype(np.float64)
    assert net64.forward(x).dtype == np.float64
    np.testing.assert_allclose(net64.forward(x), net.forward(x), rtol=1e-5, atol=1e-6)


def test_same_seed_same_weights_and_generator_accepted():
    a = nn.mlp([3, 4, 2], seed=7).get_weights()
    b = nn.mlp([3, 4, 2], seed=np.random.default_rng(7)).get_weights()
    c = nn.mlp([3, 4, 2], seed=8).get_weights()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.W"], c["0.W"])


def test_backward_fills_gradients_of_the_mean_loss():
    rng = np.random.default_rng(3)
    net = nn.mlp([3, 4, 2], "sigmoid", seed=3, dtype=np.float64)
    x = rng.normal(size=(5, 3))
    y = np.array([0, 1, 1, 0, 1])
    loss = nn.SoftmaxCrossEntropy()
    _, grad = loss.value_and_gradient(net._forward(x, True), y)
    dx = net.backward(grad)
    assert dx.shape == x.shape
    assert net.backward(grad, need_input_grad=False) is None
    assert nn.gradient_check(net, x, y, loss).passed


def test_summary_lists_layers_shapes_and_counts(capsys):
    net = nn.mlp([784, 30, 10], "sigmoid", seed=0)
    text = net.summary()
    assert "Dense(30, sigmoid)" in text and "(N, 30)" in text
    assert "23,550" in text and "23,860" in text and "float32" in text
    assert capsys.readouterr().out.strip() == text.strip()


def test_get_set_weights_round_trip_and_validation():
    net = nn.mlp([3, 4, 2], seed=0)
    other = nn.mlp([3, 4, 2], seed=1)
    other.set_weights(net.get_weights())
    x = np.ones((2, 3))
    np.testing.assert_array_equal(other.predict(x), net.predict(x))
    with pytest.raises(ValueError, match="shape"):
        other.set_weights({**net.get_weights(), "0.W": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="missing"):
        other.set_weights({"0.W": np.zeros((3, 4))})


def test_predict_in_batches_equals_one_pass():
    net = nn.mlp([5, 8, 3], seed=0)
    x = np.random.default_rng(1).normal(size=(103, 5)).astype(np.float32)
    np.testing.assert_array_equal(net.predict(x, batch_size=10), net.predict(x, batch_size=None))


def test_forward_returns_a_fresh_array():
    net = nn.mlp([2, 3, 2], seed=0)
    first = net.forward(np.ones((1, 2)))
    net.forward(np.zeros((1, 2)))
    np.testing.assert_array_equal(first, net.forward(np.ones((1, 2))))


@pytest.mark.parametrize(
    "x, message",
    [
        (np.ones((2, 5)), r"has 5 features per sample \(shape \(2, 5\)\), but the layer expects 4"),
        (np.ones(4), r"must be 2-D.*reshape\(1, -1\)"),
        (np.ones((0, 4)), "empty batch"),
        (np.array([[1.0, np.nan, 0.0, 0.0]]), "NaN or infinite"),
        (np.array([[1.0, np.inf, 0.0, 0.0]]), "NaN or infinite"),
        (np.array([["a", "b", "c", "d"]]), "must hold numbers"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_layer_and_shapes(x, message):
    net = nn.mlp([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match=message) as info:
        net.forward(x)
    assert "layer 0 (Dense(3, relu))" in str(info.value) or "x" in str(info.value)


def test_construction_errors():
    with pytest.raises(ValueError, match="positive integer"):
        nn.Dense(0)
    with pytest.raises(ValueError, match="cannot be used in a trainable Dense"):
        nn.Dense(3, "step")
    with pytest.raises(ValueError, match="at least two positive integers"):
        nn.mlp([784])
    with pytest.raises(ValueError, match="float32 or float64"):
        nn.Sequential([nn.Dense(2)], 2, dtype=np.int32)
    with pytest.raises(RuntimeError, match="not built"):
        nn.Sequential([nn.Dense(2)]).predict(np.ones((1, 2)))
    with pytest.raises(ValueError, match="declared with input_dim=3"):
        nn.Sequential([nn.Dense(2, input_dim=3)], 4)
