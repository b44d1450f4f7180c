"""The playground's limits hold: each one refuses a request just over it with a message that
names it, and accepts one just within it.

``max_step_seconds`` is a hard limit: a step stops at a batch boundary, in the middle of an
epoch if need be (a full-MNIST epoch takes longer than the limit here), says how far it got,
and the next step continues that epoch. The limit holds for the whole request: it counts from
the request's arrival (a wait for a compute slot included), and training stops early enough to
leave the time that refreshing the page took the last time. Chunked epochs train exactly what
one ``fit`` epoch over the same order would. Loss and accuracy are measured when an epoch ends,
and a partial step says that those shown are of the last whole epoch.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from nnscratch.web import Settings
from nnscratch.web.settings import (
    MAX_CLASSES,
    MAX_EPOCHS_PER_STEP,
    MAX_HIDDEN_LAYERS,
    MAX_POINTS,
    MAX_UNITS,
)


def _session(client: Any, s: Any) -> Any:
    return client.app.state.manager.get(s.id)


def _weights(session: Any) -> np.ndarray:
    return np.array(session.model.network.flat_parameter.value, copy=True)


# -- max_step_seconds ------------------------------------------------------------------------
def test_a_step_on_full_mnist_stops_inside_the_epoch_at_the_time_limit(
    make_client: Any, new_session: Any
) -> None:
    from tests.conftest import mnist_dir

    folder = mnist_dir()
    if folder is None:
        pytest.skip("full MNIST not found (set NNSCRATCH_DATA to a folder with the IDX files)")
    client = make_client(Settings(max_step_seconds=2.0, mnist_path=str(folder)))
    # 2 x 512 ReLU units at batch 32: one epoch of 1875 batches takes far longer than 2 s
    s = new_session("digits", {"source": "full", "hidden": [512, 512], "batch_size": 32}, on=client)
    session = _session(client, s)
    before = _weights(session)
    measured = s.state["metrics"]

    started = time.perf_counter()
    state = s.step(1)
    wall = time.perf_counter() - started
    print(f"first step on full MNIST with max_step_seconds=2: {wall:.2f} s")
    assert wall < 3.0
    first = state["epoch_progress"]
    assert first["epoch"] == 1 and first["batches"] == 1875
    assert 0 < first["batches_done"] < 1875
    assert state["notice"] == (
        f"step stopped after {first['batches_done']} of 1875 batches of epoch 1 "
        "(0 of 1 epochs completed): one step may take at most 2 s on this server; the next "
        "step continues this epoch. Loss and accuracy are measured when an epoch ends: those "
        "shown are of epoch 0"
    )
    # the batches done changed the weights; the epoch is not counted until it ends, and the
    # loss and accuracy shown are still those measured before it (as the notice says)
    assert state["metrics"]["epoch"] == 0 and first["measured_epoch"] == 0
    # the training loss is measured on a fixed subset of the 60,000, and the answer says so
    assert state["metrics_rows"] == {"train": 5000, "test": 10_000}
    assert state["metrics"]["n_train"] == 60_000
    for name in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        assert state["metrics"][name] == measured[name]
    assert len(session.model.history) == 0
    after_first = _weights(session)
    assert not np.array_equal(before, after_first)
    # the page's frame carries the same message and progress
    frame = s.frame()
    assert frame["notice"] == state["notice"]
    assert frame["epoch_progress"] == first

    started = time.perf_counter()
    state = s.step(1)
    wall = time.perf_counter() - started
    print(f"second step: {wall:.2f} s")
    assert wall < 3.0
    second = state["epoch_progress"]
    # the same epoch goes on where the first step left it
    assert second["epoch"] == 1 and first["batches_done"] < second["batches_done"] < 1875
    assert f"step stopped after {second['batches_done']} of 1875 batches" in state["notice"]
    assert not np.array_equal(after_first, _weights(session))


def test_steps_split_an_epoch_exactly_as_one_fit_epoch(
    make_client: Any, new_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Epoch 1 made of many steps, each stopped by the limit after one batch, ends with the
    weights and history of one ``fit`` epoch over the same order (L2 included: its gradient
    keeps the whole training set's scale, lambda/n)."""
    from nnscratch.core.network import mlp
    from nnscratch.data.mnist import load_mnist_sample
    from nnscratch.model import Model
    from nnscratch.training.optimizers import get_optimizer
    from nnscratch.training.regularizers import L2
    from nnscratch.web.sessions import ModelSession

    # one batch per chunk, so that each step (past its limit at once) trains one batch
    monkeypatch.setattr(ModelSession, "MAX_CHUNK_ROWS", 500)
    client = make_client(Settings(max_step_seconds=0.0))
    params = {
        "hidden": [20],
        "batch_size": 500,
        "regularization": "l2",
        "reg_rate": 50.0,
        "seed": 3,
    }
    s = new_session("digits", params, on=client)
    session = _session(client, s)
    steps, state = 0, s.get()
    while state["metrics"]["epoch"] == 0:
        state = s.step(1)
        steps += 1
        assert steps <= 10
        if state["metrics"]["epoch"] == 0:  # a partial step shows epoch 0's measurements
            assert state["epoch_progress"]["measured_epoch"] == 0
            assert state["notice"].endswith("those shown are of epoch 0")
            assert state["metrics"]["test_loss"] == s.state["metrics"]["test_loss"]
    assert steps > 1  # the epoch was really split
    assert state["notice"] is None and state["epoch_progress"] is None
    assert state["metrics"]["test_loss"] != s.state["metrics"]["test_loss"]

    data = load_mnist_sample(normalize=True)
    n = len(data.x_train)
    order = np.random.default_rng([3, 1]).permutation(n)
    net = mlp([784, 20, 10], "relu", output_activation=None, dropout=0.0, seed=3)
    reference = Model(
        net, loss="softmax_cross_entropy", optimizer=get_optimizer("adam", learning_rate=0.001)
    )
    reference.regularizers = [L2(50.0)]
    history = reference.fit(
        data.x_train[order],
        data.y_train[order],
        epochs=1,
        batch_size=500,
        shuffle=False,
        seed=3,
        verbose=0,
    )
    np.testing.assert_allclose(
        _weights(session), reference.network.flat_parameter.value, rtol=1e-5, atol=1e-6
    )
    got = session.model.history
    assert got.epochs == [1]
    assert got["loss"][0] == pytest.approx(history["loss"][0], rel=1e-5)
    assert got["accuracy"][0] == pytest.approx(history["accuracy"][0])
    # the next step starts epoch 2 in a new order
    assert s.step(1)["epoch_progress"] == {
        "epoch": 2,
        "batches_done": 1,
        "batches": 10,
        "measured_epoch": 1,
    }


def test_the_time_limit_counts_from_the_requests_arrival(
    make_client: Any, new_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that waited for a compute slot past its limit trains only the chunk every step
    trains (here one batch), not a whole limit's worth of batches after the wait."""
    from nnscratch.web.sessions import ModelSession

    monkeypatch.setattr(ModelSession, "CHUNK_SECONDS", 0.0)  # chunks of one batch
    client = make_client(Settings(training_workers=1, max_step_seconds=0.3))
    s = new_session("digits", {"hidden": [16], "batch_size": 10}, on=client)
    compute = client.app.state.manager.compute
    assert compute.acquire(timeout=10)  # another session is computing
    results: list[dict[str, Any]] = []
    waiting = threading.Thread(target=lambda: results.append(s.step(1)))
    try:
        waiting.start()
        waiting.join(0.6)  # longer than the limit
        assert waiting.is_alive() and not results
    finally:
        compute.release()
    waiting.join(30)
    progress = results[0]["epoch_progress"]
    assert progress == {"epoch": 1, "batches_done": 1, "batches": 500, "measured_epoch": 0}
    assert results[0]["notice"].startswith("step stopped after 1 of 500 batches of epoch 1")


def test_a_step_leaves_an_epochs_end_to_the_next_when_its_measurement_does_not_fit(
    make_client: Any, new_session: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ending an epoch also measures it (train and test loss); a step whose time left cannot
    hold that measurement stops one batch short of the end, and the next step ends the epoch
    (its first chunk is trained whatever the time)."""
    from nnscratch.web.sessions import ModelSession

    monkeypatch.setattr(ModelSession, "CHUNK_SECONDS", 0.0)  # chunks of one batch
    client = make_client(Settings(max_step_seconds=60.0))
    s = new_session("digits", {"hidden": [16], "batch_size": 500}, on=client)
    session = _session(client, s)
    # the last measurement of this model took (say) 1000 s; the refresh after a step, nothing
    session._record_seconds = (session.model, 1000.0)
    session._refresh_seconds = (session.model, 0.0)
    state = s.step(1)
    assert state["epoch_progress"] == {
        "epoch": 1,
        "batches_done": 9,
        "batches": 10,
        "measured_epoch": 0,
    }
    assert state["notice"].startswith("step stopped after 9 of 10 batches of epoch 1")
    assert state["metrics"]["epoch"] == 0
    state = s.step(1)
    assert state["metrics"]["epoch"] == 1 and state["epoch_progress"] is None
    assert state["notice"] is None
    assert session.model.history.epochs == [1]


def test_the_metrics_shown_are_the_latest_even_when_the_curves_are_thinned() -> None:
    from nnscratch.web.sessions import Curves

    curves = Curves(("train_loss",), max_points=4)
    for epoch in range(1, 10):
        curves.add(epoch, train_loss=float(epoch))
    assert 9 not in curves.epochs  # thinned: only every 4th epoch is kept now
    assert curves.last("train_loss") == 9.0


def test_a_step_that_ends_on_an_epoch_boundary_says_how_many_epochs(
    make_client: Any, new_session: Any
) -> None:
    client = make_client(Settings(max_step_seconds=0.0))
    s = new_session("playground", {"n_points": 100, "batch_size": 100}, on=client)
    state = s.step(5)
    assert state["metrics"]["epoch"] == 1
    assert state["epoch_progress"] is None
    assert state["notice"].startswith("step stopped after 1 of 5 epochs")


# -- sizes the forms accept ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "within", "over"),
    [
        ("hidden", [1] * MAX_HIDDEN_LAYERS, [1] * (MAX_HIDDEN_LAYERS + 1)),
        ("hidden", [MAX_UNITS], [MAX_UNITS + 1]),
        ("n_points", MAX_POINTS, MAX_POINTS + 1),
        ("classes", MAX_CLASSES, MAX_CLASSES + 1),
    ],
)
def test_form_sizes_are_bounded(
    client: Any, new_session: Any, field: str, within: Any, over: Any
) -> None:
    s = new_session("playground", {"dataset": "spirals", "n_points": 200}, on=client)
    response = s.config(**{field: over})
    assert response.status_code == 422
    assert response.json()["field"].startswith(field)
    assert field in response.json()["error"]
    response = s.config(**{field: within})
    assert response.status_code == 200, response.text
    assert response.json()["config"][field] == within


def test_epochs_per_step_are_bounded(make_client: Any, new_session: Any) -> None:
    client = make_client(Settings(max_step_seconds=0.0))
    s = new_session("playground", {"n_points": 100, "batch_size": 100}, on=client)
    response = s.control("step", epochs=MAX_EPOCHS_PER_STEP + 1)
    assert response.status_code == 422
    assert response.json()["field"] == "epochs"
    assert str(MAX_EPOCHS_PER_STEP) in response.json()["error"]
    state = s.step(MAX_EPOCHS_PER_STEP)
    assert f"step stopped after 1 of {MAX_EPOCHS_PER_STEP} epochs" in state["notice"]


# -- bytes and rows --------------------------------------------------------------------------
def test_a_json_body_of_max_message_bytes_is_accepted_one_more_is_refused(
    make_client: Any, new_session: Any
) -> None:
    limit = 1000
    client = make_client(Settings(max_message_bytes=limit))
    s = new_session("playground", on=client)
    body = b'{"learning_rate": 0.05}'
    exact = body[:-1] + b" " * (limit - len(body)) + b"}"
    assert len(exact) == limit
    assert client.post(f"{s.base}/config", content=exact).status_code == 200
    response = client.post(f"{s.base}/config", content=exact[:-1] + b" }")
    assert response.status_code == 413
    assert f"larger than {limit:,} bytes" in response.json()["error"]
    with client.websocket_connect(f"{s.base}/ws") as ws:
        ws.receive_json()
        ws.send_text('{"type": "ping", "id": 1' + " " * (limit - 25) + "}")
        reply = ws.receive_json()
        while reply["type"] == "frame":
            reply = ws.receive_json()
        assert reply["type"] == "pong"
        ws.send_text('{"type": "ping", "id": 2' + " " * (limit - 24) + "}")
        reply = ws.receive_json()
        while reply["type"] == "frame":
            reply = ws.receive_json()
        assert (reply["type"], reply["status"]) == ("error", 413)
        assert reply["error"] == (
            f"the message is too large: {limit + 1:,} bytes, larger than {limit:,} bytes "
            "(max_message_bytes)"
        )


def _csv(rows: int, size: int | None = None) -> bytes:
    lines = [f"{i % 7}.5,{i % 5}.25,{i % 2}\n" for i in range(rows)]
    text = "".join(lines).encode()
    if size is not None:  # pad the first number with zeros to an exact size
        first = lines[0].split(",", 1)
        text = (first[0] + "0" * (size - len(text)) + "," + first[1]).encode() + text[
            len(lines[0]) :
        ]
        assert len(text) == size
    return text


def test_an_upload_of_max_upload_bytes_is_accepted_one_more_is_refused(
    make_client: Any, new_session: Any
) -> None:
    limit = 2000
    client = make_client(Settings(max_upload_bytes=limit))
    s = new_session("playground", on=client)
    response = client.post(f"{s.base}/dataset", content=_csv(20, limit))
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 20
    response = client.post(f"{s.base}/dataset", content=_csv(20, limit + 1))
    assert response.status_code == 413
    assert f"larger than {limit:,} bytes" in response.json()["error"]
    # a saved model is an upload too
    digits = new_session("digits", {"hidden": [4]}, on=client)
    response = client.post(f"{digits.base}/model?name=big.npz", content=b"x" * (limit + 1))
    assert response.status_code == 413
    assert f"larger than {limit:,} bytes" in response.json()["error"]
    assert digits.get()["metrics"]["model_source"] == digits.state["metrics"]["model_source"]


def test_a_csv_of_max_csv_rows_is_accepted_one_more_is_refused(
    make_client: Any, new_session: Any
) -> None:
    client = make_client(Settings(max_csv_rows=10))
    s = new_session("playground", on=client)
    response = client.post(f"{s.base}/dataset", content=_csv(10))
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 10
    response = client.post(f"{s.base}/dataset", content=_csv(11))
    assert response.status_code == 413
    assert "more than 10 rows" in response.json()["error"]


def test_session_memory_is_an_exact_bound(make_client: Any, new_session: Any) -> None:
    from nnscratch.web import netinfo

    params = {"hidden": [64], "batch_size": 32}
    need = netinfo.training_bytes([784, 64, 10], 0, 32, 10_000)
    within = make_client(Settings(session_memory=need))
    new_session("digits", params, on=within)
    over = make_client(Settings(session_memory=need - 1))
    response = over.post("/api/sessions", json={"kind": "digits", "params": params})
    assert response.status_code == 422
    assert response.json()["field"] == "hidden"
    assert "MiB" in response.json()["error"]


# -- sharing the machine ---------------------------------------------------------------------
def test_training_workers_bounds_the_sessions_computing_at_once(
    make_client: Any, new_session: Any
) -> None:
    client = make_client(Settings(training_workers=1))
    s = new_session("playground", {"n_points": 100}, on=client)
    compute = client.app.state.manager.compute
    assert compute.acquire(timeout=10)  # another session is computing
    results: list[int] = []
    waiting = threading.Thread(target=lambda: results.append(s.step(1)["metrics"]["epoch"]))
    try:
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive() and not results  # the step waits for its turn
    finally:
        compute.release()
    waiting.join(30)
    assert results == [1]


def test_allowed_hosts_refuses_other_host_headers(make_client: Any) -> None:
    refused = make_client(Settings(allowed_hosts=("example.org",)))
    response = refused.get("/api/health")
    assert response.status_code == 400
    assert response.json()["error"] == (
        "unexpected Host header 'testserver': this server answers only to example.org "
        "(allowed_hosts, a guard against DNS rebinding)"
    )
    accepted = make_client(Settings(allowed_hosts=("testserver",)))
    assert accepted.get("/api/health").status_code == 200


def test_max_sessions_refuses_a_new_tab_when_every_session_is_in_use(
    make_client: Any, new_session: Any
) -> None:
    client = make_client(Settings(max_sessions=2))
    tabs = [new_session(on=client), new_session(on=client)]
    with client.websocket_connect(f"{tabs[0].base}/ws") as first:
        first.receive_json()
        with client.websocket_connect(f"{tabs[1].base}/ws") as second:
            second.receive_json()
            response = client.post("/api/sessions", json={"kind": "playground"})
            assert response.status_code == 503
            assert response.json()["error"] == (
                "the server is full (2 sessions, all in use); close a tab or try again later"
            )
        # a tab without a connection makes room: the third tab opens, the second is closed
        third = new_session(on=client)
        assert client.get(third.base).status_code == 200
        assert client.get(tabs[1].base).status_code == 404
        assert client.get(tabs[0].base).status_code == 200


@pytest.mark.parametrize(
    ("kind", "setting", "params"),
    [
        ("playground", "frame_interval", {"n_points": 100, "speed": 0}),
        ("digits", "digits_frame_interval", {"hidden": [8], "batch_size": 100}),
    ],
)
def test_playing_publishes_at_most_one_frame_per_frame_interval(
    make_client: Any, new_session: Any, kind: str, setting: str, params: dict[str, Any]
) -> None:
    """While playing, training runs in rounds of ``frame_interval`` (the digits page:
    ``digits_frame_interval``), each followed by one frame: the epochs shown advance at most
    once per round, however fast the epochs are (a busy machine only makes it slower)."""
    interval = 0.2
    client = make_client(Settings(**{setting: interval}))
    s = new_session(kind, params, on=client)
    with client.websocket_connect(f"{s.base}/ws") as ws:
        ws.receive_json()
        started = time.monotonic()
        ws.send_json({"type": "control", "action": "play", "id": 1})
        times: list[float] = []
        last_epoch = 0
        while len(times) < 6:
            message = ws.receive_json()
            if message["type"] != "frame" or message["metrics"]["epoch"] <= last_epoch:
                continue
            last_epoch = message["metrics"]["epoch"]
            times.append(time.monotonic())
        ws.send_json({"type": "control", "action": "pause", "id": 2})
    # six new epochs shown take six rounds, each started at least one interval after the one
    # before (a little slack for the timer)
    assert times[-1] - started >= 5 * interval * 0.95
    assert last_epoch >= 6


def test_idle_timeout_closes_a_forgotten_session_and_says_so(
    make_client: Any, new_session: Any
) -> None:
    client = make_client(Settings(idle_timeout=0.2, reap_interval=0.05))
    s = new_session(on=client)
    for _ in range(200):  # the reaper runs every 0.05 s; 10 s at most
        if client.get("/api/health").json()["sessions"] == 0:  # (does not touch the session)
            break
        time.sleep(0.05)
    response = client.get(s.base)
    assert response.status_code == 404
    assert response.json()["error"] == (
        "no such session (it may have expired); reload the page to start a new one"
    )


def test_unattended_timeout_pauses_training_with_a_notice(
    make_client: Any, new_session: Any
) -> None:
    client = make_client(Settings(unattended_timeout=0.2))
    s = new_session(on=client, params={"n_points": 100})
    assert s.control("play").json()["playing"]
    session = _session(client, s)
    for _ in range(200):  # 10 s at most
        if not session.playing:
            break
        time.sleep(0.05)
    state = s.get()
    assert not state["playing"]
    assert state["notice"] == "paused: no client for 0.2 s (press play to go on)"
