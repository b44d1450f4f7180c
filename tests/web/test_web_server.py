"""Server-level tests of the playground: sessions, training, validation, sockets, isolation,
expiry, uploads and downloads, through Starlette's in-process TestClient."""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import tempfile
import threading
import time
import zipfile
from typing import Any

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.web import Settings
from nnscratch.web.playground import DEFAULTS

# -- pages, info, sessions ------------------------------------------------------------------


def test_pages_and_static_files_are_served_with_security_headers(client: Any) -> None:
    for path, marker in (
        ("/", "playground.js"),
        ("/neuron", "neuron.js"),
        ("/digits", "digits.js"),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert marker in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    for name in (
        "common.js",
        "playground.js",
        "neuron.js",
        "digits.js",
        "style.css",
        "favicon.svg",
    ):
        assert client.get(f"/static/{name}").status_code == 200
    missing = client.get("/static/nope.js")
    assert missing.status_code == 404
    assert client.get("/api/nothing").json() == {"error": "Not Found"}


def test_info_lists_defaults_presets_and_limits(client: Any) -> None:
    info = client.get("/api/info").json()
    assert info["playground"]["defaults"] == DEFAULTS
    assert set(info["playground"]["datasets"]) == {
        "spirals",
        "five_clusters",
        "xor",
        "circles",
        "moons",
        "blobs",
    }
    assert len(info["playground"]["presets"]) >= 5
    assert set(info["playground"]["live"]) == {
        "learning_rate",
        "regularization",
        "reg_rate",
        "batch_size",
        "speed",
        "show_test",  # how the page draws: no effect on training, applied without a reset
        "discretize",
    }
    assert info["limits"]["max_sessions"] == Settings().max_sessions
    assert len(info["neuron"]["presets"]) == 3


def test_create_session_returns_state(new_session: Any) -> None:
    s = new_session()
    assert s.state["kind"] == "playground"
    assert s.state["config"] == DEFAULTS
    assert s.state["metrics"]["epoch"] == 0
    assert s.state["metrics"]["n_train"] + s.state["metrics"]["n_test"] == DEFAULTS["n_points"]
    assert s.get()["session"] == s.id


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"kind": "chess"}, 422, "kind must be one of"),
        ({"kind": "playground", "params": {"hidden": [0]}}, 422, "hidden[0]"),
        ({"kind": "playground", "params": []}, 400, "params must be a JSON object"),
        ({"kind": "playground", "extra": 1}, 422, "unknown field"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_create_session_rejects_bad_requests(
    client: Any, body: Any, status: int, fragment: str
) -> None:
    response = client.post("/api/sessions", json=body)
    assert response.status_code == status
    assert fragment in response.json()["error"]


def test_unknown_session_is_404_everywhere(client: Any) -> None:
    for method, path in (
        ("get", "/api/sessions/nope"),
        ("get", "/api/sessions/nope/frame"),
        ("get", "/api/sessions/nope/model"),
        ("delete", "/api/sessions/nope"),
    ):
        response = getattr(client, method)(path)
        assert response.status_code == 404
        assert "session" in response.json()["error"]
    response = client.post("/api/sessions/nope/config", json={"learning_rate": 0.1})
    assert response.status_code == 404


def test_delete_session(new_session: Any, client: Any) -> None:
    s = new_session()
    assert client.delete(s.base).status_code == 204
    assert client.get(s.base).status_code == 404


# -- training -------------------------------------------------------------------------------


def test_step_trains_and_the_test_loss_falls(new_session: Any) -> None:
    s = new_session()
    before = s.get()["metrics"]
    after = s.step(60)["metrics"]
    assert after["epoch"] == 60
    assert after["test_loss"] < 0.5 * before["test_loss"]
    assert after["test_accuracy"] > 0.8
    frame = s.frame()
    assert frame["curves"]["epochs"] == list(range(61))
    assert len(frame["curves"]["test_loss"]) == 61


def test_play_and_pause_over_http(new_session: Any) -> None:
    s = new_session(params={"speed": 0})
    assert s.control("play").json()["playing"] is True
    deadline = time.monotonic() + 20
    while s.get()["metrics"]["epoch"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    paused = s.control("pause").json()
    assert paused["playing"] is False
    epoch = paused["metrics"]["epoch"]
    assert epoch >= 5
    time.sleep(0.3)
    assert s.get()["metrics"]["epoch"] == epoch  # nothing runs while paused


def test_live_parameters_apply_without_reset(new_session: Any) -> None:
    s = new_session()
    s.step(5)
    generation = s.get()["generation"]
    response = s.config(learning_rate=0.05, batch_size=8, regularization="l2", reg_rate=0.5)
    assert response.status_code == 200
    body = response.json()
    assert body["reset"] is False
    assert body["metrics"]["epoch"] == 5
    assert body["metrics"]["learning_rate"] == 0.05
    assert body["generation"] == generation
    assert s.step(1)["metrics"]["epoch"] == 6


@pytest.mark.parametrize(
    "change",
    [
        {"hidden": [8]},
        {"activation": "relu"},
        {"dataset": "moons"},
        {"noise": 0.5},
        {"dropout": 0.2},
    ],
)
def test_architecture_and_dataset_changes_reset(new_session: Any, change: dict) -> None:
    s = new_session()
    s.step(3)
    generation = s.get()["generation"]
    body = s.config(**change).json()
    assert body["reset"] is True
    assert body["metrics"]["epoch"] == 0
    assert body["generation"] == generation + 1
    assert all(body["config"][k] == v for k, v in change.items())


def test_every_dataset_loss_and_optimizer_trains(new_session: Any) -> None:
    s = new_session(params={"hidden": [6], "n_points": 120})
    for dataset in ("spirals", "five_clusters", "xor", "circles", "moons", "blobs"):
        assert s.config(dataset=dataset).status_code == 200
        metrics = s.step(2)["metrics"]
        assert metrics["test_loss"] is not None
    for loss in ("mse", "softmax_cross_entropy"):
        for optimizer in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"):
            assert s.config(loss=loss, optimizer=optimizer).status_code == 200
            assert s.step(1)["metrics"]["train_loss"] is not None


def test_a_network_without_hidden_layers_works(new_session: Any) -> None:
    s = new_session(params={"hidden": [], "dataset": "blobs"})
    s.step(5)
    frame = s.frame()
    assert frame["neurons"]["layers"] == []
    assert frame["heatmap"]["classes"] == 3


def test_divergence_pauses_with_a_message_and_the_session_recovers(new_session: Any) -> None:
    s = new_session(
        params={
            "hidden": [64, 64],
            "activation": "linear",
            "optimizer": "sgd",
            "learning_rate": 10.0,
            "loss": "softmax_cross_entropy",
        }
    )
    state = s.step(50)
    assert state["playing"] is False
    assert "diverged" in state["notice"]
    assert s.control("reset").json()["notice"] is None
    assert s.config(learning_rate=0.01, activation="tanh").status_code == 200
    assert s.step(2)["metrics"]["epoch"] == 2


def test_a_long_step_stops_at_the_time_limit(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(max_step_seconds=0.0))
    s = new_session(on=client)
    state = s.step(50)
    assert state["metrics"]["epoch"] == 1
    assert "step stopped after 1 of 50 epochs" in state["notice"]
    assert s.step(1)["notice"] is None


def test_frames_carry_heatmap_neurons_and_points(new_session: Any) -> None:
    s = new_session(params={"hidden": [5, 3], "dataset": "xor"})
    frame = s.frame()
    res, k = frame["heatmap"]["res"], frame["heatmap"]["classes"]
    assert k == 2
    probs = np.frombuffer(base64.b64decode(frame["heatmap"]["probs"]), dtype=np.uint8)
    assert probs.shape == (k * res * res,)
    np.testing.assert_allclose(probs.reshape(k, -1).sum(axis=0), 255, atol=2)
    layers = frame["neurons"]["layers"]
    assert [layer["units"] for layer in layers] == [5, 3]
    r = frame["neurons"]["res"]
    assert all(len(base64.b64decode(m)) == r * r for layer in layers for m in layer["maps"])
    data = frame["data"]
    assert len(data["train"]["x"]) == 2 * len(data["train"]["y"])
    assert data["class_names"] == ["0", "1"]


# -- validation -----------------------------------------------------------------------------

INVALID = [
    ("dataset", "mnist"),
    ("dataset", 3),
    ("noise", -0.1),
    ("noise", 1.5),
    ("noise", "0.2"),
    ("classes", 1),
    ("classes", 21),
    ("classes", 2.5),
    ("n_points", 5),
    ("n_points", 10**7),
    ("n_points", True),
    ("train_ratio", 0.0),
    ("train_ratio", 0.95),
    ("standardize", "yes"),
    ("seed", -1),
    ("seed", 2**40),
    ("hidden", 16),
    ("hidden", [0]),
    ("hidden", [4, "8"]),
    ("hidden", [5000]),
    ("hidden", [2] * 17),
    ("activation", "swish"),
    ("loss", "hinge"),
    ("optimizer", "lbfgs"),
    ("dropout", 0.95),
    ("dropout", -0.1),
    ("learning_rate", 0),
    ("learning_rate", -0.1),
    ("learning_rate", 11),
    ("learning_rate", None),
    ("regularization", "l3"),
    ("reg_rate", -1),
    ("reg_rate", 1e9),
    ("batch_size", 0),
    ("batch_size", 1.5),
    ("speed", -1),
    ("speed", 10**6),
]


@pytest.mark.parametrize(("name", "value"), INVALID)
def test_each_invalid_parameter_is_a_4xx_with_a_message(
    new_session: Any, name: str, value: Any
) -> None:
    s = new_session()
    before = s.get()["config"]
    response = s.config(**{name: value})
    assert 400 <= response.status_code < 500
    body = response.json()
    assert name in body["error"]
    assert body["field"].split("[")[0] == name
    assert s.get()["config"] == before  # nothing was applied


def test_a_bad_value_in_a_batch_applies_none_of_it(new_session: Any) -> None:
    s = new_session()
    before = s.get()["config"]
    response = s.config(learning_rate=0.5, hidden=[3], noise=7)
    assert response.status_code == 422
    assert s.get()["config"] == before


def test_unknown_parameter_and_uploaded_dataset_without_file(new_session: Any) -> None:
    s = new_session()
    response = s.config(colour="red")
    assert response.status_code == 422
    assert "unknown parameter 'colour'" in response.json()["error"]
    response = s.config(dataset="upload")
    assert response.status_code == 422
    assert "upload a CSV" in response.json()["error"]


def test_the_memory_bound_is_enforced_with_a_message(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(session_memory=2 * 2**20))
    s = new_session(on=client, params={"hidden": [8]})
    response = s.config(hidden=[2048, 2048])
    assert response.status_code == 422
    assert "MiB" in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"learning_rate": NaN}', 400, "not valid JSON"),
        (b"", 400, "needs a JSON body"),
        (b"[1, 2]", 400, "JSON object"),
        (b"[" * 200_000, 400, "nested too deeply"),
        (b'{"a": ' * 100_000, 400, "nested too deeply"),
        (b'{"hidden": ' + b"[" * 900 + b"]" * 900 + b"}", 422, "hidden"),
    ],
)
def test_malformed_http_bodies(
    new_session: Any, client: Any, content: bytes, status: int, fragment: str
) -> None:
    s = new_session()
    response = client.post(f"{s.base}/config", content=content)
    assert response.status_code == status
    assert fragment in response.json()["error"]
    assert s.step(1)["metrics"]["epoch"] == 1  # the session still works


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"action": "fly"}, 400),
        ({}, 400),
        ({"action": "step", "epochs": 0}, 422),
        ({"action": "step", "epochs": 10**6}, 422),
        ({"action": "step", "epochs": "3"}, 422),
    ],
)
def test_bad_control_requests(new_session: Any, client: Any, body: dict, status: int) -> None:
    s = new_session()
    response = client.post(f"{s.base}/control", json=body)
    assert response.status_code == status
    assert response.json()["error"]


def test_oversized_bodies_are_refused(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(max_message_bytes=1000, max_upload_bytes=2000))
    s = new_session(on=client)
    response = client.post(f"{s.base}/config", content=b"{" + b" " * 5000 + b"}")
    assert response.status_code == 413
    response = client.post(f"{s.base}/dataset", content=b"1,2,0\n" * 1000)
    assert response.status_code == 413


# -- the WebSocket --------------------------------------------------------------------------


def _until(ws: Any, predicate: Any, limit: int = 200) -> dict:
    """Read messages until one satisfies ``predicate`` (frames may come in between)."""
    for _ in range(limit):
        message = ws.receive_json()
        if predicate(message):
            return message
    raise AssertionError("the expected message did not arrive")


def _reply(ws: Any, mid: int) -> dict:
    return _until(ws, lambda m: m.get("id") == mid and m["type"] != "frame")


def test_websocket_pushes_frames_and_takes_commands(new_session: Any, client: Any) -> None:
    s = new_session()
    with client.websocket_connect(f"{s.base}/ws") as ws:
        first = ws.receive_json()
        assert first["type"] == "frame"
        assert {"data", "heatmap", "neurons", "curves", "config", "metrics"} <= set(first)
        ws.send_json({"type": "control", "action": "step", "epochs": 3, "id": 1})
        ack = _reply(ws, 1)
        assert ack["type"] == "ack"
        assert ack["result"]["metrics"]["epoch"] == 3
        frame = _until(ws, lambda m: m["type"] == "frame" and m["metrics"]["epoch"] == 3)
        assert "data" not in frame  # points are sent once per dataset
        ws.send_json({"type": "config", "params": {"learning_rate": 0.2}, "id": 2})
        assert _reply(ws, 2)["result"]["config"]["learning_rate"] == 0.2
        ws.send_json({"type": "state", "id": "s"})
        assert _reply(ws, "s")["result"]["session"] == s.id


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ("not json at all", "not valid JSON"),
        ("[1, 2, 3]", "JSON object"),
        ('{"type": "dance", "id": 9}', "unknown message type"),
        ('{"type": "config", "id": 9}', "needs 'params'"),
        ('{"type": "config", "params": {"learning_rate": -3}, "id": 9}', "learning_rate"),
        ('{"type": "config", "params": "lr=3", "id": 9}', "JSON object"),
        ('{"type": "control", "action": 7, "id": 9}', "action must be one of"),
        ('{"type": "predict", "id": 9}', "unknown message type"),
        ('{"type": "config", "params": {"x": NaN}}', "not valid JSON"),
        ("[" * 200_000, "nested too deeply"),
    ],
)
def test_malformed_socket_messages_get_an_error_and_the_socket_keeps_working(
    new_session: Any, client: Any, message: str, fragment: str
) -> None:
    s = new_session()
    with client.websocket_connect(f"{s.base}/ws") as ws:
        ws.receive_json()  # the first frame
        ws.send_text(message)
        error = _until(ws, lambda m: m["type"] == "error")
        assert fragment in error["error"]
        ws.send_bytes(b"\x00\x01binary")
        assert "binary" in _until(ws, lambda m: m["type"] == "error")["error"]
        ws.send_json({"type": "ping", "id": 5})
        assert _reply(ws, 5)["type"] == "pong"
        ws.send_json({"type": "control", "action": "step", "id": 6})
        assert _reply(ws, 6)["result"]["metrics"]["epoch"] == 1


def test_websocket_to_an_unknown_session_is_closed_with_a_message(client: Any) -> None:
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/api/sessions/nope/ws") as ws:
        message = ws.receive_json()
        assert message["type"] == "error"
        assert message["status"] == 404
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 4404


def test_websocket_from_a_foreign_origin_is_refused(new_session: Any, client: Any) -> None:
    from starlette.websockets import WebSocketDisconnect

    s = new_session()
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect(
            f"{s.base}/ws", headers={"origin": "http://evil.example"}
        ) as ws:
            ws.receive_json()
    assert info.value.code == 4403


def test_closing_a_session_tells_its_socket(new_session: Any, client: Any) -> None:
    s = new_session()
    with client.websocket_connect(f"{s.base}/ws") as ws:
        ws.receive_json()
        assert client.delete(s.base).status_code == 204
        assert _until(ws, lambda m: m["type"] == "closed")["status"] == 404


# -- isolation, concurrency, bounds, expiry -------------------------------------------------

CONFIG_A = {"dataset": "spirals", "hidden": [12], "seed": 4, "learning_rate": 0.02}
CONFIG_B = {
    "dataset": "circles",
    "hidden": [6, 6],
    "seed": 9,
    "optimizer": "sgd",
    "learning_rate": 0.3,
}


def test_concurrent_sessions_are_isolated(make_client: Any, new_session: Any) -> None:
    """Two sessions trained at the same time end exactly where each would alone."""
    client = make_client()
    a, b = new_session(on=client, params=CONFIG_A), new_session(on=client, params=CONFIG_B)
    errors: list[BaseException] = []

    def train(s: Any, change: dict) -> None:
        try:
            for i in range(10):
                s.step(2)
                if i == 4:
                    assert s.config(**change).status_code == 200
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [
        threading.Thread(target=train, args=(a, {"learning_rate": 0.01})),
        threading.Thread(target=train, args=(b, {"batch_size": 4})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    results = {}
    for name, s in (("a", a), ("b", b)):
        results[name] = s.get()
        assert results[name]["metrics"]["epoch"] == 20
    # the same work, one session at a time, in a fresh server
    alone = make_client()
    for name, config, change in (
        ("a", CONFIG_A, {"learning_rate": 0.01}),
        ("b", CONFIG_B, {"batch_size": 4}),
    ):
        s = new_session(on=alone, params=config)
        for i in range(10):
            s.step(2)
            if i == 4:
                s.config(**change)
        assert s.get()["metrics"] == results[name]["metrics"]
        assert s.get()["config"] == results[name]["config"]


def test_sessions_do_not_see_each_others_changes(new_session: Any) -> None:
    a, b = new_session(), new_session()
    a.config(hidden=[3], dataset="xor")
    a.step(4)
    assert b.get()["config"] == DEFAULTS
    assert b.get()["metrics"]["epoch"] == 0


def test_the_least_recently_used_session_makes_room(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(max_sessions=2))
    first, second = new_session(on=client), new_session(on=client)
    second.get()
    third = new_session(on=client)
    assert client.get(first.base).status_code == 404
    assert client.get(second.base).status_code == 200
    assert client.get(third.base).status_code == 200


def test_a_full_server_with_connected_sessions_answers_503(
    make_client: Any, new_session: Any
) -> None:
    client = make_client(Settings(max_sessions=1))
    only = new_session(on=client)
    with client.websocket_connect(f"{only.base}/ws") as ws:
        ws.receive_json()
        response = client.post("/api/sessions", json={"kind": "playground"})
        assert response.status_code == 503
        assert "full" in response.json()["error"]


def test_idle_sessions_expire(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(idle_timeout=0.3, reap_interval=0.05))
    s = new_session(on=client)
    s.control("play")
    deadline = time.monotonic() + 10
    status = 200
    while time.monotonic() < deadline and status == 200:
        time.sleep(0.1)
        # look without touching the session: the health check counts sessions
        status = 200 if client.get("/api/health").json()["sessions"] else 404
    assert status == 404
    assert client.get(s.base).status_code == 404


def test_an_open_socket_keeps_a_session_alive(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(idle_timeout=0.2, reap_interval=0.05))
    s = new_session(on=client)
    with client.websocket_connect(f"{s.base}/ws") as ws:
        ws.receive_json()
        time.sleep(0.6)
        ws.send_json({"type": "ping", "id": 1})
        assert _reply(ws, 1)["type"] == "pong"
    assert client.get("/api/health").json()["sessions"] == 1


def test_training_pauses_when_no_client_is_left(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(unattended_timeout=0.3))
    s = new_session(on=client, params={"speed": 20})
    s.control("play")
    manager = client.app.state.manager
    session = manager._sessions[s.id]
    deadline = time.monotonic() + 10
    while session.playing and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not session.playing
    assert "no client" in session.notice


# -- uploads and downloads ------------------------------------------------------------------


def test_downloaded_model_loads_with_the_library(
    new_session: Any, client: Any, tmp_path: Any
) -> None:
    s = new_session(params={"dataset": "moons", "hidden": [8, 8]})
    s.step(20)
    response = client.get(f"{s.base}/model")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / "model.npz"
    path.write_bytes(response.content)
    model = nn.Model.load(path)
    assert model.epoch == 20
    assert [layer.units for layer in model.network.layers if hasattr(layer, "units")] == [8, 8, 2]
    frame = s.frame()
    x = np.asarray(frame["data"]["test"]["x"], dtype=np.float32).reshape(-1, 2)
    y = np.asarray(frame["data"]["test"]["y"])
    # the points are rounded to 5 decimals in frames, so compare loosely
    assert model.evaluate(x, y)["loss"] == pytest.approx(frame["metrics"]["test_loss"], rel=1e-3)


CSV = "x1,x2,label\n" + "\n".join(
    f"{np.cos(t):.4f},{np.sin(t):.4f},{'red' if t < 3 else 'blue'}" for t in np.linspace(0, 6, 60)
)


def test_csv_upload_becomes_the_dataset(new_session: Any, client: Any) -> None:
    s = new_session()
    response = client.post(f"{s.base}/dataset?name=ring.csv", content=CSV.encode())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rows"] == 60
    assert body["classes"] == ["blue", "red"]
    assert body["config"]["dataset"] == "upload"
    frame = s.frame()
    assert frame["data"]["upload_name"] == "ring.csv"
    assert frame["metrics"]["n_train"] + frame["metrics"]["n_test"] == 60
    s.step(3)
    # changing the split keeps the uploaded data
    assert s.config(train_ratio=0.5, standardize=False).json()["metrics"]["n_train"] == 30
    # and the generated datasets are still a click away
    assert s.config(dataset="spirals").status_code == 200
    assert s.config(dataset="upload").status_code == 200


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"1,2\n3,4\n", "expected 3 values"),
        (b"1,2,0\n1,x,1\n2,2,0\n3,3,1\n", "line 2: 'x' is not a number"),
        (b"1,2,0\n2,3,0\n3,4,0\n4,5,0\n", "at least 2 classes"),
        (b"1,2,0\n2,3,1\n", "at least 4 data rows"),
        (b"", "at least 4 data rows"),
        (b"\xff\xfe\x00b\x00a\x00d", "not UTF-8"),
        (b"1,2,0\ninf,3,1\n2,2,0\n3,3,1\n", "finite"),
        (b"1,2,0\n2,3,\n2,2,0\n3,3,1\n", "label is empty"),
        ("\n".join(f"{i},{i},{i}" for i in range(30)).encode(), "at most 20 classes"),
    ],
)
def test_invalid_csv_uploads_are_refused_with_the_line(
    new_session: Any, client: Any, content: bytes, fragment: str
) -> None:
    s = new_session()
    response = client.post(f"{s.base}/dataset", content=content)
    assert response.status_code == 422
    assert fragment in response.json()["error"]
    assert response.json()["field"] == "file"
    assert s.get()["config"]["dataset"] == DEFAULTS["dataset"]


def test_csv_row_bound(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(max_csv_rows=10))
    s = new_session(on=client)
    response = client.post(f"{s.base}/dataset", content=b"1,2,0\n2,1,1\n" * 6)
    assert response.status_code == 413
    assert "10 rows" in response.json()["error"]


# -- the single neuron ----------------------------------------------------------------------


def test_neuron_matches_seed_002(client: Any) -> None:
    from nnscratch.experiments.seed002 import neuron_costs

    for cost, lr, w, b, loss in (
        ("quadratic", 0.15, 0.6, 0.9, "quadratic"),
        ("quadratic", 0.15, 2.0, 2.0, "quadratic"),
        ("cross_entropy", 0.005, 2.0, 2.0, "binary_cross_entropy_with_logits"),
    ):
        response = client.post(
            "/api/neuron", json={"cost": cost, "learning_rate": lr, "w": w, "b": b, "epochs": 300}
        )
        assert response.status_code == 200
        run = response.json()
        assert len(run["cost_values"]) == 301
        np.testing.assert_allclose(
            run["cost_values"][:300], neuron_costs(loss, lr, w, b), rtol=1e-9
        )
        assert run["output"][0] == pytest.approx(1 / (1 + np.exp(-(w + b))))
    slow = client.post("/api/neuron", json={"w": 2, "b": 2, "learning_rate": 0.15}).json()
    c = slow["cost_values"]
    assert (c[0] - c[150]) < 0.15 * (c[0] - c[300])  # the plateau of the saturated neuron


@pytest.mark.parametrize(
    "body",
    [
        {"cost": "hinge"},
        {"w": "2"},
        {"w": 1e9},
        {"b": None},
        {"learning_rate": 0},
        {"epochs": 0},
        {"epochs": 10**7},
        {"eta": 0.1},
        [1],
    ],
)
def test_neuron_validation(client: Any, body: Any) -> None:
    response = client.post("/api/neuron", json=body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]


# -- digits ---------------------------------------------------------------------------------


def _digit_message(image28: np.ndarray, scale: int = 4) -> dict:
    big = np.kron((image28 * 255).astype(np.uint8), np.ones((scale, scale), dtype=np.uint8))
    h, w = big.shape
    return {"width": w, "height": h, "data": base64.b64encode(big.tobytes()).decode()}


def test_digits_train_predict_and_inspect(new_session: Any, client: Any) -> None:
    from nnscratch.data import load_mnist_sample

    s = new_session("digits", params={"hidden": [64]})
    state = s.step(2)
    assert state["metrics"]["test_accuracy"] > 0.85
    frame = s.frame()
    assert np.asarray(frame["confusion"]).sum() == frame["metrics"]["n_test"]
    assert [g["name"] for g in frame["gradients"]] == ["Dense(64, relu)", "Dense(10)"]
    assert frame["dead"][0]["dead_share"] is not None
    assert len(base64.b64decode(frame["weights"]["images"])) == 64 * 784
    data = load_mnist_sample(normalize=True)
    correct = 0
    for i in range(10):
        result = client.post(
            f"{s.base}/predict", json={"image": _digit_message(data.x_test[i].reshape(28, 28))}
        ).json()
        assert result["blank"] is False
        assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-3)
        assert [len(layer["values"]) for layer in result["layers"]] == [64, 10]
        assert len(base64.b64decode(result["input"])) == 784
        correct += result["digit"] == data.y_test[i]
    assert correct >= 7
    blank = client.post(f"{s.base}/predict", json={"image": _digit_message(np.zeros((28, 28)))})
    assert blank.json() == {"type": "prediction", "blank": True}


@pytest.mark.parametrize(
    ("image", "status"),
    [
        (None, 400),
        ({"width": 10, "height": 10}, 400),
        ({"width": 10, "height": 10, "data": "%%%"}, 400),
        ({"width": 10, "height": 10, "data": base64.b64encode(b"12").decode()}, 400),
        ({"width": 4, "height": 4, "data": base64.b64encode(bytes(16)).decode()}, 422),
        ({"width": 5000, "height": 10, "data": ""}, 422),
    ],
)
def test_digits_predict_validation(new_session: Any, client: Any, image: Any, status: int) -> None:
    s = new_session("digits")
    response = client.post(f"{s.base}/predict", json={"image": image})
    assert response.status_code == status
    assert response.json()["error"]


def test_digits_predict_over_the_socket(new_session: Any, client: Any) -> None:
    from nnscratch.data import load_mnist_sample

    s = new_session("digits")
    image = load_mnist_sample(normalize=True).x_test[0].reshape(28, 28)
    with client.websocket_connect(f"{s.base}/ws") as ws:
        ws.receive_json()
        ws.send_json({"type": "predict", "image": _digit_message(image), "id": 3})
        reply = _reply(ws, 3)
        assert reply["type"] == "prediction"
        assert len(reply["probabilities"]) == 10
        ws.send_json({"type": "predict", "image": {"width": 8}, "id": 4})
        assert _reply(ws, 4)["type"] == "error"


def test_digits_model_round_trip_and_bad_uploads(
    new_session: Any, client: Any, tmp_path: Any
) -> None:
    s = new_session("digits", params={"hidden": [32], "seed": 3})
    s.step(1)
    model_bytes = client.get(f"{s.base}/model").content
    other = new_session("digits", params={"hidden": [16, 16]})
    response = client.post(f"{other.base}/model?name=mine.npz", content=model_bytes)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["config"]["hidden"] == [32]
    assert body["metrics"]["model_source"] == "uploaded: mine.npz"
    assert body["metrics"]["epoch"] == 1
    assert body["metrics"]["test_loss"] == pytest.approx(s.get()["metrics"]["test_loss"])
    assert other.step(1)["metrics"]["epoch"] == 2  # training continues from the file
    # a playground model has the wrong shape
    pg = new_session()
    wrong = client.get(f"{pg.base}/model").content
    response = client.post(f"{other.base}/model", content=wrong)
    assert response.status_code == 422
    assert "784 inputs and 10 outputs" in response.json()["error"]
    for junk in (b"not a zip file", model_bytes[: len(model_bytes) // 2], b""):
        response = client.post(f"{other.base}/model", content=junk)
        assert 400 <= response.status_code < 500
        assert response.json()["error"]
    buffer = io.BytesIO()
    np.savez(buffer, W1=np.zeros((2, 2)))
    response = client.post(f"{other.base}/model", content=buffer.getvalue())
    assert response.status_code == 422
    assert other.step(1)["metrics"]["epoch"] == 3  # still usable


def _rezip(data: bytes, change: Any) -> bytes:
    """The model file ``data`` with its members passed through ``change`` (a valid zip)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in change(members).items():
            zf.writestr(name, content)
    return buffer.getvalue()


def test_digits_upload_errors_name_no_server_path(new_session: Any, client: Any) -> None:
    s = new_session("digits", params={"hidden": [16]})
    good = client.get(f"{s.base}/model").content

    def tamper(members: dict[str, bytes]) -> dict[str, bytes]:
        weights = bytearray(members["weights/0.W.npy"])
        weights[-1] ^= 0x40  # a changed weight with a valid zip CRC: only the checksum sees it
        return {**members, "weights/0.W.npy": bytes(weights)}

    def extra(members: dict[str, bytes]) -> dict[str, bytes]:
        return {**members, "payload.npy": members["weights/0.b.npy"]}

    cases = [
        (_rezip(good, tamper), "checksum"),
        (_rezip(good, extra), "'payload.npy'"),
        (good[: len(good) // 2], "truncated or corrupted"),
        (b"\x93NUMPY" + good[8:200], "single NumPy array"),
    ]
    temp = tempfile.gettempdir()
    for content, fragment in cases:
        response = client.post(f"{s.base}/model?name=mine.npz", content=content)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert fragment in error and "mine.npz" in error
        assert temp not in error and "nnscratch-web-" not in error and "upload.npz" not in error
    session = client.app.state.manager.get(s.id)
    for memory in (200_000, 40_000):  # past the training bound, then past the file's size
        session.settings = session.settings.with_(session_memory=memory)
        response = client.post(f"{s.base}/model?name=mine.npz", content=good)
        assert response.status_code == 413, response.text
        assert "too large for this server" in response.json()["error"]
        assert temp not in response.text
    assert s.step(1)["metrics"]["epoch"] == 1  # the session is untouched


def test_digits_full_mnist_missing_is_a_clear_error(
    make_client: Any, tmp_path: Any, new_session: Any
) -> None:
    client = make_client(Settings(mnist_path=str(tmp_path)))
    s = new_session("digits", on=client)
    response = s.config(source="full")
    assert response.status_code == 422
    assert "full MNIST is not available" in response.json()["error"]
    assert str(tmp_path) not in response.text and "Looked in" not in response.text
    assert s.get()["config"]["source"] == "sample"
    assert client.get("/api/info").json()["digits"]["sources"]["full"] is False


def test_digits_validation_and_wrong_kind_endpoints(new_session: Any, client: Any) -> None:
    d = new_session("digits")
    for name, value in (
        ("hidden", [0]),
        ("source", "emnist"),
        ("learning_rate", 0),
        ("batch_size", 0),
    ):
        response = d.config(**{name: value})
        assert response.status_code == 422
        assert name in response.json()["error"]
    pg = new_session()
    assert client.post(f"{pg.base}/predict", json={"image": {}}).status_code == 409
    assert client.post(f"{pg.base}/model", content=b"x").status_code == 409
    assert client.post(f"{d.base}/dataset", content=CSV.encode()).status_code == 409


# -- the real server ------------------------------------------------------------------------


def test_start_server_on_a_free_loopback_port() -> None:
    pytest.importorskip("websockets")
    import httpx2 as httpx
    from websockets.sync.client import connect

    from nnscratch.web import start_server

    with start_server(port=0) as server:
        assert server.host == "127.0.0.1" and server.port > 0
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/api/health").json()["ok"] is True
            sid = http.post("/api/sessions", json={"kind": "playground"}).json()["session"]
            # the DNS-rebinding guard: a foreign Host header is refused
            assert http.get("/api/health", headers={"host": "evil.example"}).status_code == 400
        ws_url = server.url.replace("http://", "ws://") + f"api/sessions/{sid}/ws"
        with connect(ws_url, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "frame"
            ws.send("{oops")
            assert json.loads(ws.recv(timeout=10))["type"] == "error"
            ws.send(json.dumps({"type": "ping", "id": 1}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "pong", "id": 1}
    assert not server._thread.is_alive()


def test_concurrent_session_creation_never_exceeds_the_bound() -> None:
    import httpx2 as httpx

    from nnscratch.web import start_server

    limit, requests = 5, 120

    def create(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            return http.post("/api/sessions", json={"kind": "playground"}).status_code

    with start_server(port=0, settings=Settings(max_sessions=limit)) as server:
        with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
            statuses = list(pool.map(create, range(requests)))
        with httpx.Client(base_url=server.url, timeout=10) as http:
            open_now = http.get("/api/health").json()["sessions"]
        assert open_now <= limit
        assert server.app.state.manager._pending == 0  # every reservation was released
    assert set(statuses) <= {201, 503} and statuses.count(201) >= limit


def test_serve_reports_a_port_in_use() -> None:
    import socket

    from nnscratch.web import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="--port 0"):
            serve(host="127.0.0.1", port=port)


def test_missing_packages_name_the_extra(monkeypatch: Any) -> None:
    import importlib.util

    from nnscratch.web import _deps

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'nnscratch\[web\]'.*uvicorn"):
        _deps.require_web_dependencies()
