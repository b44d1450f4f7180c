"""The 2-D playground's input features, per-layer activations and weight edits (no browser).

The feature map (``nnscratch.web.features``) against hand-computed values; the validation of
``features``, ``activations`` and the ``set_weight`` command; and their effect on a session:
the input width, each layer's activation, the weights in the frames, and an edit that changes
the output at once.
"""

from __future__ import annotations

import base64
import math
import threading
from typing import Any

import numpy as np
import pytest

from nnscratch.core.network import mlp
from nnscratch.web import Settings
from nnscratch.web.features import (
    FEATURE_LABELS,
    FEATURES,
    as_features,
    feature_maps,
    feature_matrix,
)
from nnscratch.web.playground import (
    DEFAULTS,
    GRAPH_LINES,
    PRESETS,
    PlaygroundSession,
    layered_mlp,
    merge_config,
)
from nnscratch.web.sessions import Cursor
from nnscratch.web.validation import ParamError


def _session(**params: Any) -> PlaygroundSession:
    return PlaygroundSession("test", Settings(), threading.Semaphore(2), params)


def _floats(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


# -- the feature map ---------------------------------------------------------------------------
def test_feature_matrix_matches_hand_computed_values() -> None:
    points = np.array([[0.5, -2.0], [1.0, 0.25], [-1.5, 0.0]], dtype=np.float32)
    out = feature_matrix(points, list(FEATURES))
    assert out.dtype == np.float32 and out.shape == (3, 7)
    expected = [
        [0.5, -2.0, 0.25, 4.0, -1.0, 1.0, 0.0],
        [1.0, 0.25, 1.0, 0.0625, 0.25, 0.0, math.sin(math.pi / 4)],
        [-1.5, 0.0, 2.25, 0.0, 0.0, 1.0, 0.0],
    ]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    # a subset keeps the order asked for, one column each
    np.testing.assert_array_equal(
        feature_matrix(points, ["x1x2", "x1"]), np.array([[-1.0, 0.5], [0.25, 1.0], [0.0, -1.5]])
    )


def test_feature_matrix_refuses_points_that_are_not_n_by_2() -> None:
    with pytest.raises(ValueError, match=r"points must be an N x 2 array, got shape \(3,\)"):
        feature_matrix(np.zeros(3), ["x1"])


def test_feature_maps_give_every_feature_and_its_scale() -> None:
    grid = np.array([[-1.0, 2.0], [0.5, -0.5]], dtype=np.float32)
    maps = feature_maps(grid)
    assert list(maps) == list(FEATURES) == list(FEATURE_LABELS)
    values, scale = maps["x2sq"]
    np.testing.assert_allclose(values, [4.0, 0.25])
    assert scale == 4.0
    assert maps["sin_x1"][1] == pytest.approx(1.0)  # sin(-pi) = 0, sin(pi/2) = 1


def test_as_features_normalises_order_and_refuses_bad_lists() -> None:
    assert as_features(["sin_x2", "x1"]) == ["x1", "sin_x2"]
    cases = {
        "features must switch on at least one input feature": [],
        r"features\[1\] must be one of x1, x2, x1sq, x2sq, x1x2, sin_x1, sin_x2; got 'x3'": [
            "x1",
            "x3",
        ],
        r"features\[0\] must be one of .*; got 1": [1],
        "features lists 'x2' twice": ["x2", "x2"],
        "features must be a list of feature names": "x1",
    }
    for message, value in cases.items():
        with pytest.raises(ParamError, match=message) as info:
            as_features(value)
        assert info.value.field == "features" and info.value.status == 422


# -- per-layer activations ---------------------------------------------------------------------
def test_layered_mlp_with_one_activation_is_mlp() -> None:
    a = layered_mlp([2, 16, 8, 3], ["tanh", "tanh"], None, dropout=0.1, seed=4)
    b = mlp([2, 16, 8, 3], "tanh", dropout=0.1, seed=4)
    assert [layer.describe() for layer in a.layers] == [layer.describe() for layer in b.layers]
    params_a, params_b = a.parameters(), b.parameters()
    assert len(params_a) == len(params_b) == 6
    for p, q in zip(params_a, params_b, strict=True):
        np.testing.assert_array_equal(p.value, q.value)


def test_merge_config_keeps_one_activation_per_layer() -> None:
    base = {**DEFAULTS, "hidden": [8, 8], "activations": ["tanh", "relu"]}
    # more layers: the new ones get the global activation; fewer: cut at the end
    assert merge_config(base, {"hidden": [8, 8, 4]})["activations"] == ["tanh", "relu", "tanh"]
    assert merge_config(base, {"hidden": [8]})["activations"] == ["tanh"]
    # the global activation sets every layer
    assert merge_config(base, {"activation": "elu"})["activations"] == ["elu", "elu"]
    # a list with the same choice everywhere also shows as the global one
    assert merge_config(base, {"activations": ["gelu", "gelu"]})["activation"] == "gelu"
    with pytest.raises(
        ParamError, match=r"activations must give one activation per hidden layer \(3\), got 2"
    ):
        merge_config(base, {"hidden": [8, 8, 8], "activations": ["relu", "relu"]})


def test_presets_give_each_layer_the_preset_activation() -> None:
    for name, preset in PRESETS.items():
        assert preset["activations"] == [preset["activation"]] * len(preset["hidden"]), name
        assert preset["features"] == ["x1", "x2"], name
        merge_config(DEFAULTS, preset)  # consistent: no error


def test_session_features_set_the_input_width_and_rebuild() -> None:
    s = _session(features=["x1", "x2", "x1sq", "sin_x2"])
    assert s.x_train.shape == (420, 4)
    assert s.model.network.layers[0].W.value.shape == (4, 16)
    np.testing.assert_allclose(
        s.x_train, feature_matrix(s.points_train, ["x1", "x2", "x1sq", "sin_x2"]), atol=0
    )
    assert s.points_train.shape == (420, 2)  # the points drawn stay in the plane
    result = s.configure({"features": ["x1x2"]})
    assert result["reset"] is True
    assert s.model.network.layers[0].W.value.shape == (1, 16)
    np.testing.assert_allclose(s.x_train[:, 0], s.points_train[:, 0] * s.points_train[:, 1])
    frame = s.frame(Cursor())
    assert frame["weights"]["features"] == ["x1x2"]
    tiles = frame["data"]["features"]
    assert tiles["names"] == list(FEATURES) and len(tiles["maps"]) == 7
    assert len(base64.b64decode(tiles["maps"][0])) == tiles["res"] ** 2
    # a refused update changes nothing
    with pytest.raises(ParamError, match="at least one input feature"):
        s.configure({"features": []})
    assert s.config["features"] == ["x1x2"]


def test_session_activations_change_only_the_chosen_layer() -> None:
    s = _session(hidden=[6, 5, 4])
    first = s.model.network.layers[0].W.value.copy()
    s.configure({"activations": ["tanh", "relu", "tanh"]})
    names = [layer.activation.name for layer in s.model.network.layers]
    assert names == ["tanh", "relu", "tanh", "identity"]
    # the other layers keep their initialisation (same seed, same initializer)
    np.testing.assert_array_equal(s.model.network.layers[0].W.value, first)
    maps = s.frame(Cursor())["neurons"]["layers"]
    assert [layer["activation"] for layer in maps] == ["tanh", "relu", "tanh"]
    # choosing the global activation again sets every layer, even when it is unchanged
    s.configure({"activation": "tanh"})
    assert s.config["activations"] == ["tanh", "tanh", "tanh"]
    assert s.model.network.layers[1].activation.name == "tanh"
    with pytest.raises(ParamError, match=r"activations\[1\] must be one of relu, tanh"):
        s.configure({"activations": ["tanh", "swish", "tanh"]})
    with pytest.raises(ParamError, match="must be a list of up to 16 activations"):
        s.configure({"activations": "relu"})


# -- weights in frames and the set_weight command ----------------------------------------------
def test_frames_carry_every_weight_of_small_layers() -> None:
    s = _session()
    weights = s.frame(Cursor())["weights"]
    layers = weights["layers"]
    assert [(m["rows"], m["cols"]) for m in layers] == [(2, 16), (16, 16), (16, 3)]
    for m, layer in zip(layers, s.model.network.layers, strict=True):
        assert m["index"] is None
        np.testing.assert_array_equal(_floats(m["w"]), layer.W.value.ravel())


def test_frames_carry_only_the_strongest_weights_of_large_layers() -> None:
    s = _session(hidden=[100, 40])
    layers = s.frame(Cursor())["weights"]["layers"]
    big = layers[1]  # 100 x 40: its first 64 x 40 units are drawn
    assert (big["rows"], big["cols"], big["shown_rows"], big["shown_cols"]) == (100, 40, 64, 40)
    index = np.frombuffer(base64.b64decode(big["index"]), dtype="<u4")
    values = _floats(big["w"])
    assert len(index) == len(values) == GRAPH_LINES
    block = s.model.network.layers[1].W.value[:64, :40].ravel()
    np.testing.assert_array_equal(values, block[index])
    # they are the strongest: none left out is larger than the smallest sent
    left_out = np.delete(np.abs(block), index)
    assert np.abs(values).min() >= left_out.max()
    assert layers[0]["shown_cols"] == 64 and layers[0]["index"] is None  # 2 x 64 = 128 lines


def test_set_weight_changes_the_model_and_the_output_at_once() -> None:
    s = _session()
    before = s.frame(Cursor())["heatmap"]
    epoch, generation = s.model.epoch, s.generation
    result = s.command({"type": "set_weight", "layer": 2, "row": 15, "col": 2, "value": 6.5})
    assert result["weight"] == {"layer": 2, "row": 15, "col": 2, "value": 6.5}
    assert s.model.network.layers[2].W.value[15, 2] == np.float32(6.5)
    frame = s.frame(Cursor())
    assert frame["heatmap"] != before
    assert _floats(frame["weights"]["layers"][2]["w"])[15 * 3 + 2] == np.float32(6.5)
    # no new model and no epoch: the losses of the edited model are recorded at the same epoch
    assert (s.model.epoch, s.generation) == (epoch, generation)
    assert frame["curves"]["epochs"] == [0, 0]
    assert frame["metrics"]["test_loss"] == frame["curves"]["test_loss"][-1]
    assert frame["curves"]["test_loss"][0] != frame["curves"]["test_loss"][1]


@pytest.mark.parametrize(
    ("message", "error", "field"),
    [
        (
            {"layer": 3, "row": 0, "col": 0, "value": 1},
            "layer must be between 0 and 2, got 3",
            "layer",
        ),
        (
            {"layer": -1, "row": 0, "col": 0, "value": 1},
            "layer must be between 0 and 2, got -1",
            "layer",
        ),
        (
            {"layer": 0, "row": 2, "col": 0, "value": 1},
            "row must be between 0 and 1, got 2 (weight matrix 0 has 2 inputs: row 0 to 1)",
            "row",
        ),
        (
            {"layer": 2, "row": 0, "col": 3, "value": 1},
            "col must be between 0 and 2, got 3 (weight matrix 2 has 3 units: col 0 to 2)",
            "col",
        ),
        (
            {"layer": 0, "row": 0.5, "col": 0, "value": 1},
            "row must be an integer, got 0.5 (weight matrix 0 has 2 inputs: row 0 to 1)",
            "row",
        ),
        (
            {"layer": 0, "row": 0, "col": 0, "value": math.inf},
            "value must be a finite number, got inf",
            "value",
        ),
        (
            {"layer": 0, "row": 0, "col": 0, "value": "2"},
            "value must be a number, got '2'",
            "value",
        ),
        (
            {"layer": 0, "row": 0, "col": 0, "value": 1e4},
            "value must be in [-1000, 1000], got 10000",
            "value",
        ),
        ({"row": 0, "col": 0, "value": 1}, "layer must be an integer, got None", "layer"),
    ],
)
def test_set_weight_refuses_bad_input_and_changes_nothing(
    message: dict[str, Any], error: str, field: str
) -> None:
    s = _session()
    weights = [layer.W.value.copy() for layer in s.model.network.layers]
    with pytest.raises(ParamError) as info:
        s.command({"type": "set_weight", **message})
    assert info.value.message == error
    assert info.value.field == field and info.value.status == 422
    for kept, layer in zip(weights, s.model.network.layers, strict=True):
        np.testing.assert_array_equal(kept, layer.W.value)


def test_set_weight_over_the_socket(client: Any, new_session: Any) -> None:
    s = new_session()
    with client.websocket_connect(f"{s.base}/ws") as ws:
        assert ws.receive_json()["type"] == "frame"
        ws.send_json(
            {"type": "set_weight", "id": 1, "layer": 0, "row": 1, "col": 4, "value": -2.25}
        )
        reply = ws.receive_json()
        while reply["type"] == "frame":
            reply = ws.receive_json()
        assert reply["type"] == "ack" and reply["id"] == 1
        assert reply["result"]["weight"] == {"layer": 0, "row": 1, "col": 4, "value": -2.25}
        ws.send_json({"type": "set_weight", "id": 2, "layer": 0, "row": 9, "col": 4, "value": 1})
        reply = ws.receive_json()
        while reply["type"] == "frame":
            reply = ws.receive_json()
        assert reply == {
            "type": "error",
            "id": 2,
            "error": "row must be between 0 and 1, got 9 (weight matrix 0 has 2 inputs: row 0 to 1)",
            "field": "row",
            "status": 422,
        }
    weights = _floats(s.frame()["weights"]["layers"][0]["w"]).reshape(2, 16)
    assert weights[1, 4] == -2.25


def test_features_over_http_are_validated(new_session: Any) -> None:
    s = new_session()
    response = s.config(features=["x1", "cos_x1"])
    assert response.status_code == 422
    assert response.json() == {
        "error": "features[1] must be one of x1, x2, x1sq, x2sq, x1x2, sin_x1, sin_x2; got 'cos_x1'",
        "field": "features",
    }
    response = s.config(features=["x2", "x1sq"], activations=["relu", "tanh"])
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["config"]["features"] == ["x2", "x1sq"]
    assert "input: 2 features" in state["architecture"]
    assert "Dense(16, relu)" in state["architecture"]
