"""nnscratch.plots: every picture renders to a PNG of the expected size; bad input is refused."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import plots
from nnscratch.data.toy import five_clusters
from nnscratch.training.metrics import confusion_matrix

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def mpl():
    """matplotlib, with the default (not tight) bounding box so pixel sizes are figsize * dpi."""
    matplotlib = pytest.importorskip("matplotlib")
    with matplotlib.rc_context({"savefig.bbox": "standard"}):
        yield matplotlib


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk; fails unless the file is a non-empty PNG."""
    data = path.read_bytes()
    assert len(data) > 100, f"{path} is (nearly) empty"
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def save_png(fig, tmp_path: Path, name: str) -> tuple[int, int]:
    path = plots.save_figure(fig, tmp_path / f"{name}.png")
    assert path == tmp_path / f"{name}.png"
    return png_size(path)


# -- small models, trained once --------------------------------------------------------------
@pytest.fixture(scope="module")
def toy():
    x, y = five_clusters(200, seed=0)
    x_val, y_val = five_clusters(60, seed=1)
    model = nn.Model(
        nn.mlp([2, 16, 5], "relu", seed=0), loss="softmax_cross_entropy", optimizer=nn.Adam(0.05)
    )
    model.fit(x, y, epochs=8, batch_size=32, seed=0, verbose=0, validation_data=(x_val, y_val))
    linear = nn.Model(nn.mlp([2, 5], "relu", seed=0), loss="sse", optimizer=nn.SGD(1e-4))
    linear.fit(x, y, epochs=5, batch_size=200, seed=0, verbose=0)
    return x, y, model, linear


@pytest.fixture(scope="module")
def digits():
    """A tiny 784-16-10 classifier on the bundled MNIST sample (random images if unavailable)."""
    try:
        from nnscratch.data.mnist import load_mnist_sample

        data = load_mnist_sample(normalize=True)
        x_train, y_train = data.x_train[:600], data.y_train[:600]
        x_test, y_test = data.x_test[:200], data.y_test[:200]
    except Exception:  # the loader may still be under construction: any images will do
        rng = np.random.default_rng(0)
        x_train, y_train = rng.random((600, 784), dtype=np.float32), rng.integers(0, 10, 600)
        x_test, y_test = rng.random((200, 784), dtype=np.float32), rng.integers(0, 10, 200)
    model = nn.Model(
        nn.mlp([784, 16, 10], "relu", seed=0), loss="softmax_cross_entropy", optimizer=nn.Adam(3e-3)
    )
    model.fit(x_train, y_train, epochs=2, batch_size=64, seed=0, verbose=0)
    return model, x_test, y_test


# -- every picture, as a PNG of the requested size --------------------------------------------
def test_decision_regions_png(mpl, toy, tmp_path):
    x, y, model, _ = toy
    fig = plots.plot_decision_regions(
        model, x, y, resolution=50, title="mlp", figsize=(4, 3), dpi=50
    )
    assert save_png(fig, tmp_path, "regions") == (200, 150)
    ax = fig.axes[0]
    assert ax.get_title() == "mlp"
    (image,) = ax.images
    assert image.get_array().shape == (50, 50)
    # the grid covers the data with a margin
    x0, x1 = ax.get_xlim()
    assert x0 < x[:, 0].min() and x1 > x[:, 0].max()


def test_decision_regions_into_a_given_axes(mpl, toy):
    from matplotlib.figure import Figure

    x, y, model, _ = toy
    fig = Figure(figsize=(6, 3), dpi=40)
    left, right = fig.subplots(1, 2)
    assert plots.plot_decision_regions(model, x, y, ax=right, resolution=20) is fig
    assert len(right.images) == 1 and not left.images


def test_decision_regions_of_a_perceptron_with_plus_minus_one_labels(mpl, tmp_path):
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([-1, -1, -1, 1])
    perceptron = nn.Perceptron(seed=0)
    perceptron.fit(x, y)
    fig = plots.plot_decision_regions(perceptron, x, y, resolution=30, figsize=(3, 3), dpi=40)
    assert save_png(fig, tmp_path, "and") == (120, 120)


def test_decision_regions_grid_png(mpl, toy, tmp_path):
    x, y, model, linear = toy
    fig = plots.plot_decision_regions_grid(
        {"linear, quadratic": linear, "softmax + CE": model},
        x,
        y,
        resolution=40,
        figsize=(6, 2.5),
        dpi=40,
    )
    assert save_png(fig, tmp_path, "grid") == (240, 100)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["linear, quadratic", "softmax + CE"]
    # same colours for the same classes: both panels share one colour map and extent
    assert panels[0].images[0].get_extent() == panels[1].images[0].get_extent()


def test_history_png_with_and_without_validation(mpl, toy, tmp_path):
    _, _, model, linear = toy
    fig = plots.plot_history(model.history, figsize=(6, 2.5), dpi=50)
    assert save_png(fig, tmp_path, "history") == (300, 125)
    loss_ax, acc_ax = fig.axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["training", "validation"]
    assert len(loss_ax.lines[0].get_xdata()) == len(model.history) == 8
    # no val_* columns: one curve per panel, no error
    fig = plots.plot_history(linear.history, metrics=("loss",), figsize=(3, 2), dpi=50)
    assert save_png(fig, tmp_path, "history_train_only") == (150, 100)
    assert len(fig.axes[0].lines) == 1


def test_history_into_given_axes(mpl, toy):
    from matplotlib.figure import Figure

    _, _, model, _ = toy
    fig = Figure(figsize=(6, 2), dpi=40)
    axes = fig.subplots(1, 3)
    assert plots.plot_history(model.history, metrics=["accuracy", "lr"], ax=axes[1:]) is fig
    assert not axes[0].lines and axes[1].get_title() == "accuracy"
    with pytest.raises(ValueError, match="2 needed, got 3"):
        plots.plot_history(model.history, ax=axes)


def test_history_from_a_json_dict_with_gaps(mpl, tmp_path):
    saved = {"epochs": [1, 2, 3], "loss": [1.0, 0.5, 0.3], "val_loss": [None, 0.6, 0.4]}
    fig = plots.plot_history(saved, figsize=(3, 2), dpi=40)  # accuracy absent: loss only
    assert len(fig.axes) == 1
    assert save_png(fig, tmp_path, "history_dict") == (120, 80)


def test_confusion_matrix_png_and_annotations(mpl, toy, tmp_path):
    x, y, model, _ = toy
    cm = confusion_matrix(y, model.predict(x), 5)
    fig = plots.plot_confusion_matrix(cm, class_names="abcde", figsize=(4, 3.5), dpi=50)
    assert save_png(fig, tmp_path, "cm") == (200, 175)
    ax = fig.axes[0]
    texts = sorted(int(t.get_text()) for t in ax.texts)
    assert texts == sorted(cm.ravel().tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")
    fig = plots.plot_confusion_matrix(cm, normalize=True, figsize=(4, 3.5), dpi=50)
    values = np.array([float(t.get_text()) for t in fig.axes[0].texts]).reshape(5, 5)
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=0.03)


def test_svg_output(mpl, tmp_path):
    fig = plots.plot_confusion_matrix(np.array([[5, 1], [2, 7]]), figsize=(3, 3), dpi=50)
    path = plots.save_figure(fig, tmp_path / "deep" / "er" / "cm.SVG")
    text = path.read_text()
    assert text.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in text
    assert 'width="216pt"' in text  # 3 inches = 216 points, whatever the dpi


def test_first_layer_weights_from_model_and_matrix(mpl, digits, tmp_path):
    model, _, _ = digits
    fig = plots.plot_first_layer_weights(model, figsize=(4, 4), dpi=50)
    assert save_png(fig, tmp_path, "weights") == (200, 200)
    mosaic = fig.axes[0].images[0]
    lo, hi = mosaic.get_clim()
    assert lo == -hi  # diverging, symmetric about 0
    assert mosaic.get_array().shape == (4 * 28 + 3 * 2, 4 * 28 + 3 * 2)  # 16 units, 4 x 4
    w = model.network.layers[0].W.value
    fig = plots.plot_first_layer_weights(w, n=6, normalize=False, figsize=(3, 2), dpi=40)
    assert save_png(fig, tmp_path, "weights_w") == (120, 80)
    assert fig.axes[0].images[0].get_clim() == pytest.approx(
        (-np.abs(w[:, :6]).max(), np.abs(w[:, :6]).max())
    )
    # PyTorch's (n_units, n_inputs) layout draws the same picture
    fig_t = plots.plot_first_layer_weights(w.T, n=6, normalize=False, figsize=(3, 2), dpi=40)
    np.testing.assert_array_equal(
        fig_t.axes[0].images[0].get_array(), fig.axes[0].images[0].get_array()
    )


def test_most_confident_errors_png_and_titles(mpl, digits, tmp_path):
    model, x, y = digits
    fig = plots.plot_most_confident_errors(model, x, y, k=6, figsize=(6, 2), dpi=40)
    assert save_png(fig, tmp_path, "errors") == (240, 80)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.images]
    proba = model.predict_proba(x)
    wrong = model.predict(x) != y
    assert len(titles) == min(6, int(wrong.sum()))
    probs = []
    for title in titles:
        match = re.fullmatch(r"true (\d), pred (\d) \((\d\.\d\d)\)", title)
        assert match, title
        true, pred, prob = int(match[1]), int(match[2]), float(match[3])
        assert true != pred
        probs.append(prob)
    assert probs == sorted(probs, reverse=True)
    assert probs[0] == pytest.approx(proba[wrong].max(), abs=0.006)


def test_most_confident_errors_when_there_are_none(mpl, toy, tmp_path):
    x = np.eye(4, dtype=np.float32)

    class Perfect:
        def predict_proba(self, images):
            return np.eye(4)[: len(images)]

    fig = plots.plot_most_confident_errors(Perfect(), x, np.arange(4), shape=(2, 2), dpi=40)
    assert "no misclassified" in fig.axes[0].texts[0].get_text()
    assert png_size(plots.save_figure(fig, tmp_path / "none.png")) == (160, 80)


def test_activations_png(mpl, tmp_path):
    fig = plots.plot_activations(figsize=(8, 6), dpi=30)
    assert save_png(fig, tmp_path, "activations") == (240, 180)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    assert len(panels) == len(nn.core.activations.ACTIVATIONS)

    def dashed(ax):
        return [line for line in ax.lines if line.get_linestyle() == "--"]

    assert not dashed(panels["step"])  # no derivative line for the step function
    assert len(dashed(panels["relu"])) == 1
    sigmoid = panels["sigmoid"].lines[-2].get_ydata()  # f, then f'
    softmax = next(ax for title, ax in panels.items() if title.startswith("softmax"))
    np.testing.assert_allclose(softmax.lines[-2].get_ydata(), sigmoid, atol=1e-9)
    fig = plots.plot_activations(["linear", "tanh"], z_range=(-2, 2), figsize=(4, 2), dpi=30)
    assert save_png(fig, tmp_path, "two") == (120, 60)
    assert [ax.get_xlim() for ax in fig.axes[:2]] == [(-2, 2), (-2, 2)]


def test_learning_slowdown_png(mpl, tmp_path):
    epochs = np.arange(300)
    curves = {
        "quadratic, w=0.6 b=0.9": 0.3 * np.exp(-epochs / 30),
        "quadratic, w=2 b=2": 0.4 / (1 + np.exp((epochs - 150) / 20)),
        "cross-entropy, w=2 b=2": list(2.0 * np.exp(-epochs / 40)),
    }
    fig = plots.plot_learning_slowdown(curves, figsize=(5, 3), dpi=40)
    assert save_png(fig, tmp_path, "slowdown") == (200, 120)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"  # spans many decades
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(curves)
    assert ax.lines[0].get_xdata()[0] == 1
    fig = plots.plot_learning_slowdown(
        {"error": [0.1, 0.08, 0.07]}, log=False, ylabel="validation error", dpi=40
    )
    assert fig.axes[0].get_yscale() == "linear"
    assert fig.axes[0].get_ylabel() == "validation error"


def test_figures_are_built_safely_from_several_threads(mpl, tmp_path):
    errors = []

    def draw(i):
        try:
            fig = plots.plot_learning_slowdown({"c": np.linspace(1, 2, 20) * i}, dpi=20)
            plots.save_figure(fig, tmp_path / f"t{i}.png")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(png_size(tmp_path / f"t{i}.png") == (120, 80) for i in range(1, 4))


# -- save_figure --------------------------------------------------------------------------------
def test_save_figure_rejects_other_suffixes(mpl, tmp_path):
    fig = plots.plot_learning_slowdown({"c": [3, 2, 1]}, dpi=20)
    for name in ("fig.jpg", "fig.pdf", "fig"):
        with pytest.raises(ValueError, match=r"\.png, \.svg"):
            plots.save_figure(fig, tmp_path / name)
    assert not list(tmp_path.iterdir())


def test_save_figure_is_atomic_and_keeps_the_figure(mpl, tmp_path, monkeypatch):
    fig = plots.plot_learning_slowdown({"c": [3, 2, 1]}, figsize=(2, 2), dpi=20)
    path = tmp_path / "fig.png"
    plots.save_figure(fig, path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        args[0].write(b"half a picture")
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save_figure(fig, path)
    assert path.read_bytes() == before  # the earlier picture survives
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]  # no temporary file left
    monkeypatch.undo()
    fig.axes[0].set_title("still usable")  # not closed: draw more and save again
    plots.save_figure(fig, path, dpi=40)
    assert png_size(path) == (80, 80)


# -- bad input -------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_value_errors(mpl, toy, digits):
    x, y, model, _ = toy
    digit_model, x_digits, y_digits = digits
    bad = [
        (lambda: plots.plot_decision_regions(model, x[:, :1], y), "shape \\(n_samples, 2\\)"),
        (lambda: plots.plot_decision_regions(model, x[None], y), "2-D inputs"),
        (lambda: plots.plot_decision_regions(model, x, y[:-1]), "must match"),
        (lambda: plots.plot_decision_regions(model, x, y + 0.5), "integer class labels"),
        (lambda: plots.plot_decision_regions(model, x, y, resolution=1), "resolution"),
        (lambda: plots.plot_decision_regions_grid({}, x, y), "non-empty"),
        (lambda: plots.plot_decision_regions(model, x, y, class_names=["a"]), "class_names"),
        (lambda: plots.plot_history(model.history, metrics=("f1",)), "no 'f1'"),
        (lambda: plots.plot_history({"loss": []}), "empty"),
        (lambda: plots.plot_confusion_matrix(np.ones((2, 3))), "square"),
        (lambda: plots.plot_confusion_matrix(-np.eye(2)), "non-negative"),
        (lambda: plots.plot_confusion_matrix(np.eye(3), class_names=["a", "b"]), "2 names"),
        (lambda: plots.plot_first_layer_weights(np.zeros((100, 5))), "28x28"),
        (lambda: plots.plot_first_layer_weights(digit_model, shape=(20, 20)), "20x20"),
        (lambda: plots.plot_first_layer_weights(digit_model, n=17), "only 16 units"),
        (lambda: plots.plot_first_layer_weights(np.zeros(784)), "2-D"),
        (lambda: plots.plot_most_confident_errors(digit_model, x_digits, y_digits, k=0), "k"),
        (
            lambda: plots.plot_most_confident_errors(digit_model, x_digits[:, :700], y_digits),
            "flattened 28x28",
        ),
        (lambda: plots.plot_activations(["relu", "nope"]), "unknown activation"),
        (lambda: plots.plot_activations(z_range=(5, -5)), "low < high"),
        (lambda: plots.plot_learning_slowdown({}), "non-empty"),
        (lambda: plots.plot_learning_slowdown({"c": []}), "non-empty 1-D"),
        (lambda: plots.plot_learning_slowdown({"c": [1, -1]}, log=True), "positive"),
        (lambda: plots.plot_learning_slowdown({"c": [1]}, figsize=(0, 1)), "figsize"),
    ]
    for call, message in bad:
        with pytest.raises(ValueError, match=message):
            call()


def test_unbuilt_network_and_non_classifier_are_refused(mpl, toy):
    x, y, _, _ = toy
    with pytest.raises(ValueError, match="not built"):
        plots.plot_first_layer_weights(nn.Sequential([nn.Dense(4)]))

    class Regressor:
        def predict(self, grid):
            return grid.sum(axis=1) * 0.37

    with pytest.raises(ValueError, match="is it a classifier"):
        plots.plot_decision_regions(Regressor(), x, y, resolution=5)


# -- without matplotlib ------------------------------------------------------------------------
def test_import_works_and_drawing_explains_itself_without_matplotlib():
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import nnscratch.plots as p\n"
        "assert not any(m.startswith('matplotlib') and sys.modules[m] for m in sys.modules)\n"
        "try:\n"
        "    p.plot_activations()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "plots need matplotlib: pip install 'nnscratch[plot]'"


def test_every_function_raises_the_install_hint_without_matplotlib(monkeypatch, toy, digits):
    x, y, model, _ = toy
    digit_model, x_digits, y_digits = digits
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    calls = [
        lambda: plots.plot_decision_regions(model, x, y, resolution=5),
        lambda: plots.plot_decision_regions_grid({"m": model}, x, y, resolution=5),
        lambda: plots.plot_history(model.history),
        lambda: plots.plot_confusion_matrix(np.eye(3)),
        lambda: plots.plot_first_layer_weights(digit_model),
        lambda: plots.plot_most_confident_errors(digit_model, x_digits, y_digits),
        lambda: plots.plot_activations(),
        lambda: plots.plot_learning_slowdown({"c": [1, 2]}),
        lambda: plots.save_figure(object(), "fig.png"),
    ]
    for call in calls:
        with pytest.raises(ImportError, match=re.escape(plots.MISSING_MESSAGE)):
            call()
    assert plots.MISSING_MESSAGE == "plots need matplotlib: pip install 'nnscratch[plot]'"
