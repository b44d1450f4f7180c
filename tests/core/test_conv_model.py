"""Convolutional networks inside ``Model``: training on MNIST, image and flat-row input,
model files (round trip, bitwise resume, shape checks before decompression)."""

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.data import load_mnist_sample
from nnscratch.io import ModelFileError
from nnscratch.io.archive import expected_weights, read_archive, write_archive


@pytest.fixture(scope="module")
def mnist():
    return load_mnist_sample(normalize=True)


def small_convnet(seed=0, **kwargs):
    layers = [
        nn.Conv2D(8, 5, activation="relu"),
        nn.MaxPool2D(2),
        nn.Conv2D(8, 3, padding="same", activation="relu", use_bias=False),
        nn.AvgPool2D(2),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Dense(10),
    ]
    return nn.Sequential(layers, input_shape=(1, 28, 28), seed=seed, **kwargs)


def test_a_small_conv_net_learns_mnist(mnist):
    x = mnist.x_train.reshape(-1, 1, 28, 28)
    x_test = mnist.x_test.reshape(-1, 1, 28, 28)
    net = nn.Sequential(
        [nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(10)],
        input_shape=(1, 28, 28),
        seed=0,
    )
    model = nn.Model(net, optimizer=nn.Adam(0.002))
    model.fit(x, mnist.y_train, epochs=4, batch_size=32, seed=0, verbose=0)
    result = model.evaluate(x_test, mnist.y_test)
    assert result["accuracy"] > 0.95, result
    proba = model.predict_proba(x_test[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(model.predict(x_test[:5]), proba.argmax(axis=1))


def test_fit_builds_an_image_network_from_the_data_and_takes_flat_rows_through_reshape(mnist):
    x = mnist.x_train[:256]
    y = mnist.y_train[:256]
    unbuilt = nn.Model([nn.Conv2D(4, 3), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(10)], seed=0)
    unbuilt.fit(x.reshape(-1, 1, 28, 28), y, epochs=1, batch_size=64, seed=0, verbose=0)
    assert unbuilt.network.input_shape == (1, 28, 28)

    flat = nn.Model(
        [nn.Reshape((1, 28, 28)), nn.Conv2D(4, 3), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(10)],
        input_dim=784,
        seed=0,
    )
    images = nn.Model(
        [nn.Conv2D(4, 3), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(10)],
        input_shape=(1, 28, 28),
        seed=0,
    )
    for kept, dropped in (
        (images.network.layers[0], flat.network.layers[1]),
        (images.network.layers[3], flat.network.layers[4]),
    ):
        kept.W.value[...] = dropped.W.value
        kept.b.value[...] = dropped.b.value
    flat.fit(x, y, epochs=2, batch_size=50, seed=1, verbose=0)
    images.fit(x.reshape(-1, 1, 28, 28), y, epochs=2, batch_size=50, seed=1, verbose=0)
    assert np.array_equal(flat.network.flat_parameter.value, images.network.flat_parameter.value)
    assert flat.history.history["loss"] == images.history.history["loss"]


def test_save_load_predicts_bitwise_and_resumes_training_bitwise(mnist, tmp_path):
    x = mnist.x_train[:300].reshape(-1, 1, 28, 28)
    y = mnist.y_train[:300]

    def model():
        return nn.Model(small_convnet(), optimizer=nn.Adam(0.003))

    straight = model()
    straight.fit(x, y, epochs=3, batch_size=32, seed=5, verbose=0)

    first = model()
    first.fit(x, y, epochs=2, batch_size=32, seed=5, verbose=0)
    path = tmp_path / "conv.npz"
    first.save(path)
    again = nn.Model.load(path)
    assert again.network.input_shape == (1, 28, 28)
    assert [layer.describe() for layer in again.network.layers] == [
        layer.describe() for layer in first.network.layers
    ]
    assert np.array_equal(again.predict_raw(x), first.predict_raw(x))
    again.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.array_equal(again.network.flat_parameter.value, straight.network.flat_parameter.value)
    assert again.history.history["loss"] == straight.history.history["loss"]


def test_model_file_arrays_are_checked_against_the_conv_architecture(mnist, tmp_path):
    model = nn.Model(small_convnet(), optimizer="sgd")
    path = tmp_path / "conv.npz"
    model.save(path)
    metadata, arrays = read_archive(path)
    shapes = expected_weights(metadata["architecture"])
    assert shapes["0.W"][0] == (8, 1, 5, 5) and shapes["0.b"][0] == (8,)
    assert shapes["2.W"][0] == (8, 8, 3, 3) and "2.b" not in shapes
    assert shapes["6.W"][0] == (8 * 6 * 6, 10)

    # a kernel of the wrong shape is named before anything is decompressed
    arrays["weights/2.W"] = np.zeros((8, 8, 5, 5), dtype=np.float32)
    record = {
        k: v for k, v in metadata.items() if k not in ("format", "format_version", "checksum")
    }
    write_archive(tmp_path / "bad.npz", record, arrays)
    with pytest.raises(ModelFileError, match=r"2\.W"):
        nn.Model.load(tmp_path / "bad.npz")

    # a description whose shapes do not fit together is refused, naming the layer
    arch = dict(metadata["architecture"])
    arch["input_shape"] = [1, 6, 6]
    arch["input_dim"] = 36
    with pytest.raises(ModelFileError, match=r"layer 2 \(Conv2D\) is invalid: .*the 3x3 window"):
        expected_weights(
            {
                **arch,
                "layers": arch["layers"][:1]
                + [
                    {"type": "MaxPool2D", "pool_size": [2, 2], "stride": [2, 2], "padding": [0, 0]},
                    {"type": "Conv2D", "channels": 2, "kernel_size": [3, 3]},
                ],
            }
        )
    with pytest.raises(
        ModelFileError,
        match=r"input_shape \[1, 28, 28\] holds 784 values per "
        r"sample but input_dim is 100",
    ):
        expected_weights({**metadata["architecture"], "input_dim": 100})
    with pytest.raises(
        ModelFileError,
        match=r"layer 1 \(Dense\) is invalid: Dense\(10\) takes "
        r"flat rows",
    ):
        expected_weights(
            {
                "input_dim": 4,
                "input_shape": [1, 2, 2],
                "layers": [
                    {"type": "Conv2D", "channels": 2, "kernel_size": 1},
                    {"type": "Dense", "units": 10},
                ],
            }
        )


def test_inference_chunks_are_sized_by_memory_not_only_by_rows():
    """A convolutional network's im2col matrices take hundreds of values per pixel: predict
    cuts its chunks to PREDICT_CHUNK_BYTES instead of 2048 images (which would hold ~1 GB for
    this two-conv-layer net), with the same outputs."""
    import tracemalloc

    from nnscratch.core.network import PREDICT_BATCH, PREDICT_CHUNK_BYTES

    net = nn.Sequential(
        [
            nn.Conv2D(32, 5, activation="relu"),
            nn.MaxPool2D(2),
            nn.Conv2D(64, 5, activation="relu"),
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(10),
        ],
        input_shape=(1, 28, 28),
        seed=0,
    )
    per_image = 4 * net.values_per_sample(training=False)
    assert PREDICT_BATCH * per_image > 10 * PREDICT_CHUNK_BYTES  # 2048 rows would be far over
    x = np.random.default_rng(0).random((600, 1, 28, 28), dtype=np.float32)
    tracemalloc.start()
    try:
        out = net.predict(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * PREDICT_CHUNK_BYTES  # not the ~300 MB of one 600-image chunk
    np.testing.assert_allclose(out, net.predict(x, batch_size=7), rtol=1e-5, atol=1e-6)


def test_dense_inference_keeps_its_2048_row_chunks():
    net = nn.mlp([784, 256, 128, 10], "relu", seed=0)
    assert 2048 * 4 * net.values_per_sample(training=False) < (64 << 20)
