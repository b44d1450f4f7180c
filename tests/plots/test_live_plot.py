"""LivePlot: redraws the learning curves in a notebook cell, and costs nothing outside one."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import plots
from nnscratch.data.toy import five_clusters
from nnscratch.plots.live import in_notebook

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def mpl():
    """matplotlib, with the default (not tight) bounding box so pixel sizes are figsize * dpi."""
    matplotlib = pytest.importorskip("matplotlib")
    with matplotlib.rc_context({"savefig.bbox": "standard"}):
        yield matplotlib


@pytest.fixture(scope="module")
def data():
    x, y = five_clusters(200, seed=0)
    x_val, y_val = five_clusters(60, seed=1)
    return x, y, (x_val, y_val)


def new_model() -> nn.Model:
    return nn.Model(
        nn.mlp([2, 16, 5], "relu", seed=0), loss="softmax_cross_entropy", optimizer=nn.Adam(0.05)
    )


def fit(model, data, epochs, callback, validation=True):
    x, y, val = data
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=50,
        seed=0,
        verbose=0,
        validation_data=val if validation else None,
        callbacks=[callback],
    )


def png_size(payload: bytes) -> tuple[int, int]:
    assert payload[:8] == PNG_MAGIC, "not a PNG"
    assert payload[12:16] == b"IHDR"
    return struct.unpack(">II", payload[16:24])


class FakeKernel:
    """What ``IPython.display`` receives inside a Jupyter kernel, recorded in ``events``:
    ("display", picture) for a new output, ("update", picture) for a replaced one. At each
    event it also notes, through ``watch``, what the callback's figure shows then."""

    def __init__(self, monkeypatch, with_kernel: bool = True) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.shown: list[list[float]] = []  # the loss curve of the figure at each event
        self.live: nn.LivePlot | None = None
        shell = types.SimpleNamespace(kernel=object()) if with_kernel else types.SimpleNamespace()
        ipython = types.ModuleType("IPython")
        ipython.get_ipython = lambda: shell
        ipython.version_info = (9, 0, 0, "")  # matplotlib reads it when a canvas is made
        display = types.ModuleType("IPython.display")
        kernel = self

        class Image:
            def __init__(self, data: bytes, format: str) -> None:
                assert format == "png"
                self.data = data

        class Handle:
            def update(self, picture: Image) -> None:
                kernel.record("update", picture)

        def show(picture: Image, display_id: bool = False) -> Handle:
            assert display_id is True  # only a display with an id can be updated in place
            kernel.record("display", picture)
            return Handle()

        display.Image = Image
        display.display = show
        monkeypatch.setitem(sys.modules, "IPython", ipython)
        monkeypatch.setitem(sys.modules, "IPython.display", display)

    def record(self, kind: str, picture) -> None:
        self.events.append((kind, picture.data))
        assert self.live is not None and self.live.figure is not None
        loss_panel = self.live.figure.axes[0]
        self.shown.append(list(loss_panel.lines[0].get_ydata()))


# -- outside a notebook ----------------------------------------------------------------------
def test_outside_a_notebook_it_imports_and_draws_nothing():
    script = (
        "import sys\n"
        "import nnscratch as nn\n"
        "from nnscratch.data.toy import five_clusters\n"
        "assert 'nnscratch.plots' not in sys.modules\n"  # nn.LivePlot loads on first use
        "x, y = five_clusters(100, seed=0)\n"
        "live = nn.LivePlot()\n"
        "model = nn.Model(nn.mlp([2, 8, 5], 'relu', seed=0), loss='softmax_cross_entropy')\n"
        "model.fit(x, y, epochs=3, batch_size=50, verbose=0, callbacks=[live])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'IPython'))\n"
        "print(len(model.history), live.figure, live.redraws, loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 None 0 []"


def test_outside_a_notebook_it_needs_no_matplotlib(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    live = nn.LivePlot()
    history = fit(new_model(), data, 2, live)
    assert len(history) == 2 and live.figure is None and live.redraws == 0


def test_a_terminal_ipython_is_not_a_notebook(monkeypatch, data):
    kernel = FakeKernel(monkeypatch, with_kernel=False)
    assert not in_notebook()
    live = nn.LivePlot()
    fit(new_model(), data, 2, live)
    assert kernel.events == [] and live.figure is None


def test_exported_as_nn_and_plots_liveplot():
    assert nn.LivePlot is plots.LivePlot
    assert "LivePlot" in nn.__all__ and "LivePlot" in plots.__all__
    assert "LivePlot" in dir(nn) and "Model" in dir(nn)
    with pytest.raises(AttributeError, match="has no attribute 'LivePlott'"):
        nn.LivePlott  # noqa: B018


# -- in a notebook ---------------------------------------------------------------------------
def test_in_a_kernel_it_shows_one_output_and_updates_it_every_epoch(monkeypatch, mpl, data):
    kernel = FakeKernel(monkeypatch)
    assert in_notebook()
    live = kernel.live = nn.LivePlot(figsize=(6, 3), dpi=50)
    history = fit(new_model(), data, 3, live)

    assert [kind for kind, _ in kernel.events] == ["display", "update", "update"]
    assert live.redraws == 3
    loss = history["loss"]
    assert kernel.shown == [loss[:1], loss[:2], loss[:3]]  # each picture holds the epochs so far
    for _, picture in kernel.events:
        assert png_size(picture) == (300, 150)  # figsize * dpi

    # the last figure: one panel per metric, training and validation curves, the logged numbers
    panels = live.figure.axes
    assert [p.get_title() for p in panels] == ["loss", "accuracy"]
    for panel, metric in zip(panels, ["loss", "accuracy"], strict=True):
        train, val = panel.lines
        np.testing.assert_array_equal(train.get_xdata(), history.epochs)
        np.testing.assert_array_equal(train.get_ydata(), history[metric])
        np.testing.assert_array_equal(val.get_ydata(), history[f"val_{metric}"])
        assert [t.get_text() for t in panel.get_legend().get_texts()] == [
            "training",
            "validation",
        ]


def test_every_n_epochs_and_once_more_at_the_end(monkeypatch, mpl, data):
    kernel = FakeKernel(monkeypatch)
    live = kernel.live = nn.LivePlot(every=2)
    history = fit(new_model(), data, 5, live, validation=False)
    # epochs 2 and 4, then the end of training brings in epoch 5
    assert [kind for kind, _ in kernel.events] == ["display", "update", "update"]
    loss = history["loss"]
    assert kernel.shown == [loss[:2], loss[:4], loss[:5]]
    assert len(live.figure.axes) == 2 and len(live.figure.axes[0].lines) == 1  # no validation

    # a second fit (a new cell) gets its own output, and its curves continue the history
    kernel.events.clear()
    kernel.shown.clear()
    fit(live_model := new_model(), data, 2, live, validation=False)
    fit(live_model, data, 2, live, validation=False)
    assert [kind for kind, _ in kernel.events] == ["display", "display"]
    np.testing.assert_array_equal(live.figure.axes[0].lines[0].get_xdata(), [1, 2, 3, 4])
    assert kernel.shown[-1] == live_model.history["loss"]


def test_chosen_metrics_only(monkeypatch, mpl, data):
    kernel = FakeKernel(monkeypatch)
    live = kernel.live = nn.LivePlot("accuracy")
    history = fit(new_model(), data, 2, live)
    assert [p.get_title() for p in live.figure.axes] == ["accuracy"]
    np.testing.assert_array_equal(live.figure.axes[0].lines[1].get_ydata(), history["val_accuracy"])


def test_in_a_kernel_without_matplotlib_it_says_how_to_install_before_training(monkeypatch, data):
    FakeKernel(monkeypatch)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    model = new_model()
    with pytest.raises(ImportError, match=re.escape(plots.MISSING_MESSAGE)):
        fit(model, data, 3, nn.LivePlot())
    assert model.epoch == 0  # refused before the first epoch: no training was lost


# -- force and path --------------------------------------------------------------------------
def test_force_draws_outside_a_notebook(mpl, data):
    assert not in_notebook()
    live = nn.LivePlot(every=3, force=True)
    history = fit(new_model(), data, 4, live)
    assert live.redraws == 2  # after epoch 3, and at the end for epoch 4
    np.testing.assert_array_equal(live.figure.axes[1].lines[0].get_ydata(), history["accuracy"])


def test_path_writes_the_final_picture(mpl, data, tmp_path):
    target = tmp_path / "run" / "curves.png"
    live = nn.LivePlot(path=target, figsize=(5, 2), dpi=40)
    history = fit(new_model(), data, 3, live)
    assert png_size(target.read_bytes()) == (200, 80)
    assert live.redraws == 0  # outside a notebook: no live drawing, only the file
    np.testing.assert_array_equal(live.figure.axes[0].lines[0].get_ydata(), history["loss"])
    assert [p.name for p in target.parent.iterdir()] == ["curves.png"]  # no temporary left


def test_path_in_a_kernel_saves_the_last_picture_shown(monkeypatch, mpl, data, tmp_path):
    kernel = FakeKernel(monkeypatch)
    live = kernel.live = nn.LivePlot(every=2, path=tmp_path / "c.png", figsize=(4, 2), dpi=50)
    fit(new_model(), data, 3, live)
    assert png_size((tmp_path / "c.png").read_bytes()) == (200, 100)
    assert len(kernel.events) == 2 and len(kernel.shown[-1]) == 3


# -- bad arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": 0}, "every must be a positive whole number of epochs, got 0"),
        ({"every": -2}, "every must be a positive whole number of epochs, got -2"),
        ({"every": 1.5}, "every must be a positive whole number of epochs, got 1.5"),
        ({"every": True}, "every must be a positive whole number of epochs, got True"),
        ({"metrics": []}, "metrics must be a logged quantity's name or a non-empty list"),
        ({"metrics": ["loss", 3]}, "metrics must hold names such as 'loss' or 'accuracy', got 3"),
        ({"metrics": 7}, "metrics must be a logged quantity's name or a non-empty list"),
        ({"figsize": (0, 3)}, "figsize must be two positive finite numbers"),
        ({"dpi": -1}, "dpi must be a positive finite number"),
        ({"path": "curves.jpg"}, "cannot save the live plot as 'curves.jpg': the suffix must be"),
    ],
)
def test_bad_arguments_are_refused_at_once(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        nn.LivePlot(**kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("in_kernel", [False, True])
def test_an_unlogged_metric_is_refused_after_the_first_epoch(monkeypatch, mpl, data, in_kernel):
    kernel = FakeKernel(monkeypatch) if in_kernel else None
    model = new_model()
    with pytest.raises(ValueError) as info:
        fit(model, data, 5, nn.LivePlot(["loss", "acc"]))
    assert str(info.value) == (
        "LivePlot plots 'acc', which training does not log (nor 'val_acc'); logged: "
        "['accuracy', 'loss', 'lr', 'seconds', 'val_accuracy', 'val_loss']"
    )
    assert model.epoch == 1  # the first epoch's training is kept
    if kernel is not None:
        assert kernel.events == []  # refused before anything was shown
