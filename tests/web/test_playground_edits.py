"""The 2-D playground's session edits (no browser): a configuration change is all or
nothing, and a neuron's bias can be set from the page (``set_bias``), like a weight.
"""

from __future__ import annotations

import base64
import math
import threading
from typing import Any

import numpy as np
import pytest

from nnscratch.web import Settings
from nnscratch.web.playground import PlaygroundSession
from nnscratch.web.sessions import Cursor
from nnscratch.web.validation import ParamError


def _session(**params: Any) -> PlaygroundSession:
    return PlaygroundSession("t", Settings(), threading.Semaphore(1), params)


def _snapshot(session: PlaygroundSession) -> dict[str, Any]:
    """Everything a configure may touch, copied: settings, data, model, curves, frame."""
    return {
        "config": dict(session.config),
        "x_train": session.x_train.copy(),
        "points_test": session.points_test.copy(),
        "y_train": session.y_train.copy(),
        "class_names": list(session.class_names),
        "extent": session.extent,
        "generation": session.generation,
        "epoch": session.model.epoch,
        "params": [p.value.copy() for p in session.model.network.parameters()],
        "lr": session.model.optimizer.learning_rate,
        "curves": (list(session.curves.epochs), dict(session.curves.latest)),
        "frame": session.frame(Cursor()),
    }


def _same(before: dict[str, Any], session: PlaygroundSession) -> None:
    after = _snapshot(session)
    assert after["config"] == before["config"]
    for key in ("x_train", "points_test", "y_train"):
        np.testing.assert_array_equal(after[key], before[key])
    for key in ("class_names", "extent", "generation", "epoch", "lr", "curves"):
        assert after[key] == before[key], key
    assert len(after["params"]) == len(before["params"])
    for a, b in zip(after["params"], before["params"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert after["frame"] == before["frame"]


def test_a_refused_data_change_leaves_config_data_and_model_as_they_were() -> None:
    session = _session(n_points=15, classes=3, hidden=[4])
    session.step(2)
    model = session.model
    before = _snapshot(session)
    # 20 spiral arms need at least 20 points: the data cannot be made
    with pytest.raises(ParamError) as refused:
        session.configure({"classes": 20, "learning_rate": 0.5, "hidden": [6, 6]})
    assert refused.value.message == (
        "n_points (15) must be at least the number of classes (20): use more points or fewer "
        "classes"
    )
    assert session.model is model
    _same(before, session)
    # the session goes on from where it was
    session.step(1)
    assert session.model.epoch == 3
    result = session.configure({"classes": 5})
    assert result["reset"] and session.class_names == ["0", "1", "2", "3", "4"]


def test_a_failure_late_in_a_rebuild_restores_everything(monkeypatch: Any) -> None:
    session = _session(n_points=60, hidden=[4])
    session.step(1)
    before = _snapshot(session)

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("no room for the evaluation")

    # the new data and model are made; measuring them (the last step of a rebuild) fails
    monkeypatch.setattr(session, "_record", fails)
    with pytest.raises(MemoryError):
        session.configure({"dataset": "moons", "n_points": 80, "csv_target": "values"})
    monkeypatch.undo()
    _same(before, session)


# -- the set_bias command ------------------------------------------------------------------------
def _floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


def test_frames_carry_the_biases_of_the_units_drawn() -> None:
    s = _session(hidden=[100, 4])
    layers = s.frame(Cursor())["weights"]["layers"]
    assert [len(_floats(m["b"])) for m in layers] == [64, 4, 3]  # layer 1: its first 64 units
    s.model.network.layers[1].b.value[:] = [0.5, -1.0, 2.0, 0.25]
    s.command({"type": "set_bias", "layer": 0, "unit": 3, "value": 1.5})  # refreshes the frame
    layers = s.frame(Cursor())["weights"]["layers"]
    np.testing.assert_array_equal(_floats(layers[1]["b"]), [0.5, -1.0, 2.0, 0.25])
    assert _floats(layers[0]["b"])[3] == np.float32(1.5)
    np.testing.assert_array_equal(_floats(layers[0]["b"]), s.model.network.layers[0].b.value[:64])


def test_set_bias_changes_the_model_and_the_output_at_once() -> None:
    s = _session()
    frame = s.frame(Cursor())
    heat, neurons = frame["heatmap"], frame["neurons"]
    x = s.x_test[:5]
    before = s.model.network.forward(x, training=False).copy()
    epoch, generation = s.model.epoch, s.generation
    # the output unit of class 1: z_1 = h W[:, 1] + b_1, so its logit rises by exactly 4
    result = s.command({"type": "set_bias", "layer": 2, "unit": 1, "value": 4})
    assert result["bias"] == {"layer": 2, "unit": 1, "value": 4.0}
    assert s.model.network.layers[2].b.value[1] == np.float32(4.0)
    after = s.model.network.forward(x, training=False)
    np.testing.assert_allclose(after - before, np.tile([0.0, 4.0, 0.0], (5, 1)), atol=1e-5)
    frame = s.frame(Cursor())
    assert frame["heatmap"] != heat
    assert frame["neurons"] == neurons  # the hidden units are not touched by an output bias
    assert (s.model.epoch, s.generation) == (epoch, generation)
    assert frame["curves"]["epochs"] == [0, 0]
    assert frame["curves"]["test_loss"][0] != frame["curves"]["test_loss"][1]
    # a hidden unit's bias moves its map
    s.command({"type": "set_bias", "layer": 0, "unit": 0, "value": -3})
    assert s.frame(Cursor())["neurons"]["layers"][0]["maps"][0] != neurons["layers"][0]["maps"][0]


@pytest.mark.parametrize(
    ("message", "error", "field"),
    [
        ({"layer": 3, "unit": 0, "value": 1}, "layer must be between 0 and 2, got 3", "layer"),
        ({"unit": 0, "value": 1}, "layer must be an integer, got None", "layer"),
        (
            {"layer": 2, "unit": 3, "value": 1},
            "unit must be between 0 and 2, got 3 (layer 2 has 3 units: unit 0 to 2)",
            "unit",
        ),
        (
            {"layer": 0, "unit": "1", "value": 1},
            "unit must be an integer, got '1' (layer 0 has 16 units: unit 0 to 15)",
            "unit",
        ),
        ({"layer": 0, "unit": 0, "value": None}, "value must be a number, got None", "value"),
        (
            {"layer": 0, "unit": 0, "value": math.nan},
            "value must be a finite number, got nan",
            "value",
        ),
        (
            {"layer": 0, "unit": 0, "value": -1001},
            "value must be in [-1000, 1000], got -1001",
            "value",
        ),
    ],
)
def test_set_bias_refuses_bad_input_and_changes_nothing(
    message: dict[str, Any], error: str, field: str
) -> None:
    s = _session()
    params = [p.value.copy() for p in s.model.network.parameters()]
    with pytest.raises(ParamError) as info:
        s.command({"type": "set_bias", **message})
    assert info.value.message == error
    assert info.value.field == field and info.value.status == 422
    for kept, p in zip(params, s.model.network.parameters(), strict=True):
        np.testing.assert_array_equal(kept, p.value)


def test_set_bias_over_the_socket(client: Any, new_session: Any) -> None:
    s = new_session()
    with client.websocket_connect(f"{s.base}/ws") as ws:
        assert ws.receive_json()["type"] == "frame"
        ws.send_json({"type": "set_bias", "id": 1, "layer": 1, "unit": 7, "value": -0.75})
        reply = ws.receive_json()
        while reply["type"] == "frame":
            reply = ws.receive_json()
        assert reply["type"] == "ack" and reply["id"] == 1
        assert reply["result"]["bias"] == {"layer": 1, "unit": 7, "value": -0.75}
        ws.send_json({"type": "set_bias", "id": 2, "layer": 1, "unit": 16, "value": 1})
        reply = ws.receive_json()
        while reply["type"] == "frame":
            reply = ws.receive_json()
        assert reply == {
            "type": "error",
            "id": 2,
            "error": "unit must be between 0 and 15, got 16 (layer 1 has 16 units: unit 0 to 15)",
            "field": "unit",
            "status": 422,
        }
    assert _floats(s.frame()["weights"]["layers"][1]["b"])[7] == -0.75
