"""The digits page's convolutional networks, through the application (``TestClient``).

A layer spec (the syntax of ``nnscratch train --layers``) is validated by the library's parser
and refused with its message; a conv network reads the images as N x 1 x 28 x 28 views of the
shared data; a drawn digit gets each convolution's feature maps (after its activation, scaled
per map, capped) and the frames carry the learned kernels; a saved conv model is loaded and
one that does not take 28 x 28 images or give 10 outputs is refused; ``max_step_seconds``
holds for a network whose cost lies in its convolutions rather than in its parameter count.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.core.layers import Conv2D
from nnscratch.core.spec import build_network
from nnscratch.data import load_mnist_sample
from nnscratch.web import Settings
from nnscratch.web.digits import MAX_MAPS_PER_LAYER, PRESETS

TINY = "conv:8x5,relu,maxpool:2,flatten,dense:10"


def _session(client: Any, s: Any) -> Any:
    return client.app.state.manager.get(s.id)


def _digit_message(image28: np.ndarray, scale: int = 4) -> dict:
    big = np.kron((image28 * 255).astype(np.uint8), np.ones((scale, scale), dtype=np.uint8))
    h, w = big.shape
    return {"width": w, "height": h, "data": base64.b64encode(big.tobytes()).decode()}


def _model_file(model: nn.Model, folder: Path) -> bytes:
    path = folder / "model.npz"
    model.save(path)
    return path.read_bytes()


# -- the layer spec -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("conv:16y5,relu,flatten,dense:10", "layers: token 1 'conv:16y5': expected conv:CxK"),
        ("conv:8x5,relu,dense:10", "token 3 'dense:10' (input 8x24x24)"),
        ("conv:8x30,relu,flatten,dense:10", "token 1 'conv:8x30'"),
        ("conv:8x5,relu,flatten", "must end with the output layer dense:10"),
        ("conv:8x5,relu,flatten,dense:7", "gives 7 outputs but there are 10 digits"),
        ("conv:8x5,,flatten,dense:10", "token 2 of"),
        ("conv:8x5,relu,flatten,dense:10,softmax", "the loss softmax_cross_entropy takes"),
        ("frobnicate:3,dense:10", "unknown layer 'frobnicate'"),
        (42, "layers must be a string"),
        ("dense:10," * 300, "at most 2,000 are allowed"),
    ],
)
def test_a_bad_spec_is_refused_with_the_parsers_message(
    new_session: Any, spec: Any, message: str
) -> None:
    s = new_session("digits")
    before = s.get()
    response = s.config(layers=spec)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "layers"
    assert message in body["error"]
    after = s.get()  # nothing changed
    assert after["config"] == before["config"]
    assert after["generation"] == before["generation"]


def test_a_spec_is_stored_canonically_and_builds_a_network_of_images(
    client: Any, new_session: Any
) -> None:
    s = new_session("digits")
    response = s.config(layers=" Conv:8x5 , ReLU, maxpool:2, FLATTEN, dense:10 ")
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["reset"] is True
    assert state["config"]["layers"] == TINY
    session = _session(client, s)
    assert session.model.network.input_shape == (1, 28, 28)
    # N x 1 x 28 x 28 views of the data every session shares (no copy), as the CLI feeds them
    assert session.x_train.shape == (5000, 1, 28, 28)
    assert session.x_test.shape == (1000, 1, 28, 28)
    assert np.shares_memory(session.x_train, session.data.x_train)
    # the MSE loss puts a sigmoid on the output layer, and the spec may name it itself
    assert s.config(loss="mse").status_code == 200
    assert session.model.network.layers[-1].activation.name == "sigmoid"
    assert s.config(layers=TINY + ",sigmoid").status_code == 200
    assert s.config(loss="softmax_cross_entropy").status_code == 422  # sigmoid + softmax
    # an empty spec goes back to the MLP of the hidden sizes, on flat rows
    assert s.config(layers="", loss="mse").status_code == 200
    assert session.model.network.input_shape == (784,)
    assert session.x_train.shape == (5000, 784)


def test_a_spec_over_the_memory_bound_is_refused(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(session_memory=128 * 2**20))
    s = new_session("digits", on=client)
    response = s.config(layers="conv:64x3:same,relu,conv:64x3:same,relu,flatten,dense:10")
    assert response.status_code == 422
    assert response.json()["field"] == "layers"
    assert "MiB per session" in response.json()["error"]


# -- training, kernels, feature maps ------------------------------------------------------------
def test_the_conv_preset_trains_and_frames_carry_kernels_and_conv_gradients(
    client: Any, new_session: Any
) -> None:
    name = next(n for n in PRESETS if n.startswith("Small conv net"))
    info = client.get("/api/info").json()
    assert info["digits"]["presets"][name]["layers"].startswith("conv:16x5,relu,maxpool:2")
    s = new_session("digits", params=info["digits"]["presets"][name])
    state = s.step(1)
    assert state["metrics"]["epoch"] == 1
    assert state["metrics"]["test_accuracy"] > 0.85
    frame = s.frame()
    assert frame["weights"] is None  # no dense layer reads the pixels
    kernels = frame["kernels"]
    first = kernels["first"]
    assert (first["filters"], first["channels"], first["kh"], first["kw"]) == (16, 1, 5, 5)
    data = np.frombuffer(base64.b64decode(first["data"]), dtype=np.uint8).reshape(16, 25)
    # each kernel on its own symmetric scale: its largest |w| is at 0 or 255
    assert all(row.min() == 0 or row.max() == 255 for row in data)
    w = _session(client, s).model.network.layers[0].W.value.reshape(16, 25)
    assert first["scales"] == pytest.approx(np.abs(w).max(axis=1).tolist(), rel=1e-5)
    expected = np.clip(np.rint((w / np.abs(w).max(axis=1, keepdims=True) + 1) * 127.5), 0, 255)
    assert np.abs(data.astype(int) - expected).max() <= 1
    (later,) = kernels["later"]
    assert (later["filters"], later["channels"]) == (32, 16)
    norms = np.frombuffer(base64.b64decode(later["norms"]), dtype=np.uint8).reshape(32, 16)
    assert norms.max() == 255
    names = [g["name"] for g in frame["gradients"]]
    assert names == [
        "Conv2D(16, 5x5, relu)",
        "Conv2D(32, 5x5, relu)",
        "Dense(64, relu)",
        "Dense(10)",
    ]
    assert all(g["grad_norm"] > 0 for g in frame["gradients"])


def test_probe_gradient_norms_in_chunks_equal_one_pass(client: Any, new_session: Any) -> None:
    from nnscratch.web import netinfo
    from nnscratch.web.digits import gradient_norms

    s = new_session("digits", params={"layers": TINY, "hidden": [32]})
    model = _session(client, s).model
    data = load_mnist_sample(normalize=True)
    x, y = data.x_train[:200].reshape(-1, 1, 28, 28), data.y_train[:200]
    chunked = gradient_norms(model, x, y, chunk=64)
    netinfo.gradient_norms(model, x, y)  # one pass over the 200 rows
    net = model.network
    one = [float(np.linalg.norm(net.layers[i].W.grad)) for i in (0, 3)]
    assert [row["name"] for row in chunked] == ["Conv2D(8, 5x5, relu)", "Dense(10)"]
    assert [row["grad_norm"] for row in chunked] == pytest.approx(one, rel=1e-4)


def test_a_batch_norm_networks_gradient_norms_are_shown_and_move_nothing(
    client: Any, new_session: Any
) -> None:
    # batch norm differentiated as predict computes it, with its running statistics:
    # A = gamma (Z - mu_run) / sqrt(var_run + eps) + beta, checked against a float64 hand pass
    from nnscratch.web.digits import gradient_norms

    s = new_session("digits", params={"layers": "dense:32,batchnorm,relu,dense:10"})
    s.step(1)  # running statistics, gamma and beta away from their initial values
    session = _session(client, s)
    net = session.model.network
    dense1, bn, _, dense2 = net.layers
    assert isinstance(bn, nn.BatchNorm) and not np.allclose(bn.running_var, 1.0)
    shown = s.frame()["gradients"]
    assert [row["name"] for row in shown] == ["Dense(32)", "Dense(10)"]

    x = np.asarray(session.x_probe, dtype=np.float64)
    y = np.asarray(session.y_probe)
    w1, b1 = (np.asarray(p.value, dtype=np.float64) for p in (dense1.W, dense1.b))
    w2, b2 = (np.asarray(p.value, dtype=np.float64) for p in (dense2.W, dense2.b))
    gamma, beta = (np.asarray(p.value, dtype=np.float64) for p in (bn.gamma, bn.beta))
    scale = gamma / np.sqrt(np.asarray(bn.running_var, dtype=np.float64) + bn.eps)
    z1 = x @ w1 + b1
    a1 = np.maximum((z1 - bn.running_mean) * scale + beta, 0.0)
    z2 = a1 @ w2 + b2
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz2 = (p - np.eye(10)[y]) / len(x)  # mean softmax cross-entropy
    dz1 = ((dz2 @ w2.T) * (a1 > 0)) * scale
    expected = [np.linalg.norm(x.T @ dz1), np.linalg.norm(a1.T @ dz2)]
    got = [row["grad_norm"] for row in shown]
    assert all(g is not None and np.isfinite(g) and g > 0 for g in got)
    assert got == pytest.approx(expected, rel=1e-4)

    # computing them moves nothing: every parameter and running statistic, bit for bit
    before = {k: v.tobytes() for k, v in net.get_weights().items()}
    again = gradient_norms(session.model, session.x_probe, session.y_probe)
    assert {k: v.tobytes() for k, v in net.get_weights().items()} == before
    assert [row["grad_norm"] for row in again] == pytest.approx(expected, rel=1e-4)


def test_a_drawn_digit_gets_each_convolutions_feature_maps(client: Any, new_session: Any) -> None:
    spec = "conv:40x5,relu,maxpool:2,conv:6x3,batchnorm,tanh,maxpool:2,flatten,dense:10"
    s = new_session("digits", params={"layers": spec})
    s.step(1)
    image = load_mnist_sample(normalize=True).x_test[0].reshape(28, 28)
    result = client.post(f"{s.base}/predict", json={"image": _digit_message(image)}).json()
    assert result["blank"] is False
    assert [layer["name"] for layer in result["layers"]] == ["Dense(10)"]  # images are maps
    first, second = result["feature_maps"]
    assert (first["channels"], first["shown"], first["height"]) == (40, MAX_MAPS_PER_LAYER, 24)
    assert first["after"] is None  # the ReLU is fused into the convolution
    assert (second["channels"], second["shown"], second["height"]) == (6, 6, 10)
    assert second["after"] == "Activation(tanh)"  # after batch norm and tanh
    # the maps are the network's own activations for the preprocessed drawing, each scaled
    # from its minimum (0) to its maximum (255)
    net = _session(client, s)._infer.network
    x = np.frombuffer(base64.b64decode(result["input"]), dtype=np.uint8) / 255.0
    a = x.reshape(1, 1, 28, 28).astype(np.float32)
    outputs = []
    for layer in net.layers:
        a = layer.forward(a, training=False)
        outputs.append(a.copy())
    for shown, out in [(first, outputs[0]), (second, outputs[4])]:
        maps = out[0][: shown["shown"]].reshape(shown["shown"], -1).astype(np.float64)
        got = np.frombuffer(base64.b64decode(shown["maps"]), dtype=np.uint8)
        got = got.reshape(shown["shown"], -1)
        for m, g, (lo, hi) in zip(maps, got, shown["ranges"], strict=True):
            if hi - lo < 1e-12:
                assert g.max() == 0
                continue
            assert lo == pytest.approx(m.min(), abs=0.02) and hi == pytest.approx(m.max(), abs=0.02)
            assert g.min() == 0 and g.max() == 255
            assert np.abs(g - (m - m.min()) / (m.max() - m.min()) * 255).max() <= 6
    assert isinstance(_session(client, s).model.network.layers[0], Conv2D)


# -- loading a saved conv model -----------------------------------------------------------------
def test_a_saved_conv_model_is_loaded_and_continues_training(
    client: Any, new_session: Any, tmp_path: Path
) -> None:
    data = load_mnist_sample(normalize=True)
    x, y = data.x_train.reshape(-1, 1, 28, 28), data.y_train
    model = nn.Model(build_network(TINY, (1, 28, 28), seed=3), loss="softmax_cross_entropy")
    model.fit(x[:2000], y[:2000], epochs=1, batch_size=32, seed=0, verbose=0)
    expected = model.evaluate(data.x_test.reshape(-1, 1, 28, 28), data.y_test)["accuracy"]
    s = new_session("digits")
    response = client.post(f"{s.base}/model?name=mine.npz", content=_model_file(model, tmp_path))
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["config"]["layers"] == TINY
    assert state["metrics"]["model_source"] == "uploaded: mine.npz"
    assert state["metrics"]["test_accuracy"] == pytest.approx(expected)
    frame = s.frame()
    assert frame["kernels"]["first"]["filters"] == 8
    image = data.x_test[1].reshape(28, 28)
    result = client.post(f"{s.base}/predict", json={"image": _digit_message(image)}).json()
    assert len(result["feature_maps"]) == 1
    assert s.step(1)["metrics"]["epoch"] == 2  # training continues from the file
    downloaded = client.get(f"{s.base}/model")
    again = nn.Model.load(io.BytesIO(downloaded.content))
    assert again.network.input_shape == (1, 28, 28) and again.epoch == 2
    # Reset rebuilds the same architecture from the spec the upload set
    s.control("reset")
    assert _session(client, s).model.network.summary(print_fn=None) == again.network.summary(
        print_fn=None
    )


@pytest.mark.parametrize(
    ("spec", "shape", "message"),
    [
        ("conv:4x3,relu,flatten,dense:10", (3, 16, 16), "this one takes 3x16x16 inputs"),
        ("conv:4x3,relu,flatten,dense:5", (1, 28, 28), "gives 5 outputs"),
        ("conv:4x3,relu,flatten,dense:10", (1, 14, 56), "this one takes 1x14x56 inputs"),
    ],
)
def test_a_conv_model_for_other_images_is_refused(
    client: Any, new_session: Any, tmp_path: Path, spec: str, shape: tuple[int, ...], message: str
) -> None:
    model = nn.Model(build_network(spec, shape, seed=0), loss="softmax_cross_entropy")
    s = new_session("digits")
    before = s.get()
    response = client.post(f"{s.base}/model?name=other.npz", content=_model_file(model, tmp_path))
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "file"
    assert "784 inputs and 10 outputs" in body["error"] and message in body["error"]
    assert s.get()["generation"] == before["generation"]


# -- max_step_seconds ---------------------------------------------------------------------------
def test_a_step_of_a_conv_net_stops_inside_the_epoch_at_the_time_limit(
    make_client: Any, new_session: Any
) -> None:
    # a few thousand parameters, but about two million multiply-adds per image: judged by its
    # parameters, a first chunk would be the whole epoch (many seconds)
    spec = "conv:16x3:same,relu,conv:16x3:same,relu,gap,dense:10"
    client = make_client(Settings(max_step_seconds=0.5))
    s = new_session("digits", {"layers": spec, "batch_size": 32}, on=client)
    first = s.step(1)
    progress = first["epoch_progress"]
    assert progress is not None, first["notice"]
    assert progress["epoch"] == 1 and progress["batches"] == 157
    assert 0 < progress["batches_done"] < 157
    assert first["notice"].startswith(f"step stopped after {progress['batches_done']} of 157")
    assert first["metrics"]["epoch"] == 0
    second = s.step(1)["epoch_progress"]
    assert second["batches_done"] > progress["batches_done"]  # the next step continues it
