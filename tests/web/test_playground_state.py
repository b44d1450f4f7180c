"""The 2-D playground's regression problems, view settings, data seed and CSV target type,
through the session and the HTTP API (no browser): the state a link restores.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import numpy as np
import pytest

from nnscratch.web import Settings
from nnscratch.web.csvdata import interpret_targets, is_numeric_target, read_csv_rows
from nnscratch.web.playground import (
    BUMPS,
    DEFAULTS,
    FIELDS,
    PRESETS,
    REGRESSION_DATASETS,
    VIEW_KEYS,
    PlaygroundSession,
    make_dataset,
)
from nnscratch.web.sessions import Cursor
from nnscratch.web.validation import ParamError


def _session(**params: Any) -> PlaygroundSession:
    return PlaygroundSession("t", Settings(), threading.Semaphore(1), params)


# -- regression datasets -------------------------------------------------------------------------
def test_regression_datasets_follow_their_formulas() -> None:
    config = {**DEFAULTS, "noise": 0.0, "n_points": 400}
    x, t, names = make_dataset({**config, "dataset": "plane"})
    assert names == [] and x.shape == (400, 2) and t.shape == (400, 1) and t.dtype == np.float32
    assert np.abs(x).max() <= 1.5
    np.testing.assert_allclose(t[:, 0], (x[:, 0] + x[:, 1]) / 3, atol=1e-6)
    x, t, _ = make_dataset({**config, "dataset": "sine"})
    np.testing.assert_allclose(t[:, 0], np.sin(np.pi * x[:, 0]), atol=1e-6)
    x, t, _ = make_dataset({**config, "dataset": "multi_gaussian"})
    want = sum(
        s * np.exp(-((x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2) / (2 * 0.35**2))
        for cx, cy, s in BUMPS
    )
    np.testing.assert_allclose(t[:, 0], want, atol=1e-6)
    # noise: Gaussian of standard deviation noise / 2 on the target
    x, noisy, _ = make_dataset({**config, "dataset": "plane", "noise": 0.4, "n_points": 20000})
    residual = noisy[:, 0] - (x[:, 0] + x[:, 1]) / 3
    assert abs(residual.std() - 0.2) < 0.01 and abs(residual.mean()) < 0.01


@pytest.mark.parametrize("dataset", REGRESSION_DATASETS)
def test_regression_session_trains_with_mse_on_one_linear_output(dataset: str) -> None:
    s = _session(dataset=dataset, hidden=[8, 8], learning_rate=0.03, batch_size=10, noise=0.0)
    assert s.model.network.output_dim == 1
    assert s.model.loss.name == "mse" and not s.model.classifier
    first = s._metrics()
    assert first["task"] == "regression" and first["test_accuracy"] is None
    for _ in range(25):
        s._one_epoch()
    last = s._metrics()
    assert last["test_loss"] < 0.5 * first["test_loss"], (first["test_loss"], last["test_loss"])
    # the reported loss is the plain MSE of the predictions
    predictions = s.model.predict_raw(s.x_test)
    assert last["test_loss"] == pytest.approx(
        float(np.mean((predictions - s.y_test) ** 2)), rel=1e-4
    )
    s._refresh_visuals()  # what the training loop does after each chunk of epochs
    frame = s.frame(Cursor())
    heat = frame["heatmap"]
    r = s.target_range
    assert heat["task"] == "regression" and heat["range"] == [-r, r]
    values = np.frombuffer(base64.b64decode(heat["values"]), dtype=np.uint8)
    assert values.shape == (heat["res"] ** 2,)
    # the bytes are the predictions over -r..r
    grid = s.model.predict_raw(s._inputs(s._grid))[:, 0]
    np.testing.assert_allclose(
        values / 255 * 2 * r - r, np.clip(grid, -r, r), atol=2 * r / 255 + 1e-6
    )
    assert frame["data"]["task"] == "regression"
    assert len(frame["data"]["train"]["y"]) == len(s.y_train)


def test_switching_between_classification_and_regression_rebuilds(new_session: Any) -> None:
    s = new_session(params={"dataset": "xor", "loss": "softmax_cross_entropy"})
    state = s.config(dataset="sine").json()
    assert state["reset"] and state["metrics"]["task"] == "regression"
    assert state["config"]["loss"] == "softmax_cross_entropy"  # kept for the way back
    frame = s.frame()
    assert "values" in frame["heatmap"] and "probs" not in frame["heatmap"]
    s.step(2)
    state = s.config(dataset="moons").json()
    assert state["metrics"]["task"] == "classification" and state["metrics"]["epoch"] == 0
    frame = s.frame()
    assert frame["heatmap"]["classes"] == 2 and "probs" in frame["heatmap"]
    assert frame["metrics"]["test_accuracy"] is not None


# -- view settings, data seed, presets ------------------------------------------------------------
def test_view_settings_are_live_and_checked(new_session: Any) -> None:
    s = new_session()
    s.step(3)
    state = s.config(show_test=False, discretize=True).json()
    assert not state["reset"] and state["metrics"]["epoch"] == 3
    assert state["config"]["show_test"] is False and state["config"]["discretize"] is True
    bad = s.config(discretize="yes")
    assert bad.status_code == 422 and bad.json()["field"] == "discretize"
    assert "true or false" in bad.json()["error"]
    assert all(key in FIELDS and FIELDS[key].live for key in VIEW_KEYS)


def test_data_seed_draws_new_points_and_keeps_the_weights() -> None:
    base = _session(dataset="moons")
    assert base.config["data_seed"] == 0
    # data seed 0 is the data the seed alone gave before there was a data seed
    x, _, _ = make_dataset({**DEFAULTS, "dataset": "moons"})
    rng = np.random.default_rng(DEFAULTS["seed"])
    from nnscratch.data import toy

    old, _ = toy.moons(DEFAULTS["n_points"], noise=DEFAULTS["noise"] / 2, seed=rng)
    np.testing.assert_allclose(x, old - np.array([0.5, 0.25], dtype=np.float32), atol=1e-6)
    other = _session(dataset="moons", data_seed=12345)
    assert not np.allclose(base.points_train, other.points_train)
    for a, b in zip(base.model.network.parameters(), other.model.network.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)
    again = _session(dataset="moons", data_seed=12345)
    np.testing.assert_array_equal(other.points_train, again.points_train)


def test_the_regression_preset_is_complete() -> None:
    preset = PRESETS["Multi-gaussian regression, 2 x 8 tanh, Adam"]
    s = _session(**preset)
    assert s.regression() and s.model.network.output_dim == 1


# -- a CSV with a numeric target ------------------------------------------------------------------
def _rows(values: list[str]) -> bytes:
    return ("x1,x2,target\n" + "\n".join(f"{i},{i % 3},{v}" for i, v in enumerate(values))).encode()


def test_csv_target_detection_and_errors() -> None:
    assert is_numeric_target(["0.5", "1", "2"])
    assert not is_numeric_target(["0", "1", "2"])  # integers: class labels
    assert not is_numeric_target([str(i) for i in range(30)])  # too many classes: an error
    assert not is_numeric_target(["1.5", "red"])
    x, labels, lines = read_csv_rows(_rows(["0.5", "-1.25", "2", "3e-1"]), 100)
    y, names = interpret_targets(labels, lines, "auto")
    assert names == [] and y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0], [0.5, -1.25, 2.0, 0.3])
    y, names = interpret_targets(labels, lines, "classes")
    assert names == ["-1.25", "3e-1", "0.5", "2"]
    x, labels, lines = read_csv_rows(_rows(["1", "2", "oops", "4"]), 100)
    with pytest.raises(ParamError, match=r"line 4: the target 'oops' is not a finite number"):
        interpret_targets(labels, lines, "values")
    x, labels, lines = read_csv_rows(_rows(["1", "2", "nan", "4"]), 100)
    with pytest.raises(ParamError, match="line 4"):
        interpret_targets(labels, lines, "values")
    x, labels, lines = read_csv_rows(_rows(["1", "1e308", "0.5", "4"]), 100)
    with pytest.raises(ParamError, match=r"line 3: the target 1e308 is too large: .*1e30"):
        interpret_targets(labels, lines, "values")
    x, labels, lines = read_csv_rows(_rows([f"{i}.5" for i in range(25)]), 100)
    with pytest.raises(ParamError, match="choose the target type 'values'"):
        interpret_targets(labels, lines, "classes")


def test_uploaded_numeric_target_trains_and_switches_target_type(new_session: Any) -> None:
    s = new_session()
    values = [f"{0.1 * i:.2f}" for i in range(40)]
    response = s.client.post(f"{s.base}/dataset?name=v.csv", content=_rows(values))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["regression"] and body["classes"] == [] and body["metrics"]["task"] == "regression"
    # standardized with the inputs: the target has mean 0 and standard deviation 1
    frame = s.frame()
    y = np.array(frame["data"]["train"]["y"] + frame["data"]["test"]["y"])
    assert abs(y.mean()) < 1e-4 and abs(y.std() - 1) < 1e-3
    s.step(2)
    # as class labels: 40 different labels are too many; refused, nothing changed
    refused = s.config(csv_target="classes")
    assert refused.status_code == 422 and refused.json()["field"] == "csv_target"
    state = s.get()
    assert state["config"]["csv_target"] == "auto" and state["metrics"]["epoch"] == 2
    # a file whose targets are few integers: classes under "auto", numbers under "values"
    response = s.client.post(f"{s.base}/dataset?name=c.csv", content=_rows(["1", "2"] * 10))
    assert response.json()["classes"] == ["1", "2"]
    state = s.config(csv_target="values").json()
    assert state["reset"] and state["metrics"]["task"] == "regression"
    # a text label with the target type "values": the upload names the line
    bad = s.client.post(f"{s.base}/dataset?name=t.csv", content=_rows(["a", "b", "a", "b"]))
    assert bad.status_code == 422 and "line 2" in bad.json()["error"]
    assert s.get()["metrics"]["task"] == "regression"  # the previous file is kept
