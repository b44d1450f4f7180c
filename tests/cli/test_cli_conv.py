"""``nnscratch`` with convolutional networks: ``train --layers SPEC --augment ...``, resume,
``evaluate``, ``predict`` on PNG digits, ``summary``, ``plot`` and ``gradcheck``, each run as the
real command in a subprocess on the bundled mnist-sample, one epoch, a tiny network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn

SPEC = "conv:4x5,relu,maxpool:2,flatten,dense:10"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def nnscratch(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "nnscratch", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("conv") / "run"
    result = nnscratch(
        "train", "--layers", SPEC, "--augment", "shift:1", "--epochs", "1", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    return out


def test_train_layers_builds_the_spec_on_1x28x28_images(conv_run):
    record = json.loads((conv_run / "run.json").read_text())
    assert record["settings"]["layers"] == SPEC
    assert record["settings"]["augment"] == "shift:1"
    assert record["settings"]["hidden"] is None
    assert "--layers conv:4x5,relu,maxpool:2,flatten,dense:10" in record["command"]
    assert "--augment shift:1" in record["command"]
    model = nn.Model.load(conv_run / "model.npz")
    net = model.network
    assert net.input_shape == (1, 28, 28)
    assert [layer.output_shape for layer in net.layers] == [(4, 24, 24), (4, 12, 12), (576,), (10,)]
    assert net.n_parameters == 4 * 25 + 4 + 576 * 10 + 10
    assert net.layers[0].activation.name == "relu"  # fused
    metrics = json.loads((conv_run / "metrics.json").read_text())
    # one epoch of 4 filters on 4,500 digits: well above chance (10%)
    assert metrics["n_test"] == 1000 and metrics["accuracy"] > 0.7


def test_a_conv_run_draws_kernels_and_feature_maps_not_dense_weights(conv_run):
    names = {p.name for p in conv_run.iterdir()}
    assert {"conv_kernels.png", "feature_maps.png", "confusion_matrix.png"} <= names
    assert "first_layer_weights.png" not in names
    for name in ("conv_kernels.png", "feature_maps.png", "most_confident_errors.png"):
        assert (conv_run / name).read_bytes()[:8] == PNG_MAGIC


def test_summary_evaluate_and_plot_a_conv_model(conv_run, tmp_path):
    model = str(conv_run / "model.npz")
    result = nnscratch("summary", model)
    assert result.returncode == 0, result.stderr
    assert "Conv2D(4, 5x5, relu)  (N, 4, 24, 24)" in result.stdout
    assert "MaxPool2D(2x2)        (N, 4, 12, 12)" in result.stdout
    assert "input: 1x28x28 images" in result.stdout
    assert f"layers: {SPEC}" in result.stdout

    result = nnscratch("evaluate", model)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((conv_run / "metrics.json").read_text())
    assert f"accuracy         {metrics['accuracy']:.4f}" in result.stdout

    result = nnscratch("plot", str(conv_run), "--out", str(tmp_path / "p"))
    assert result.returncode == 0, result.stderr
    written = {p.name for p in (tmp_path / "p").iterdir()}
    assert {"conv_kernels.png", "feature_maps.png", "history.png"} <= written
    assert "first_layer_weights.png" not in written


def test_predict_png_digits_and_rows_with_a_conv_model(conv_run, tmp_path):
    from PIL import Image

    from nnscratch.data import load_mnist_sample

    digits = load_mnist_sample()
    model = nn.Model.load(conv_run / "model.npz")
    expected = model.predict(digits.x_test[:8].reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    paths = []
    for i in range(8):
        image = 255 - digits.x_test[i].reshape(28, 28)  # dark ink on white paper
        Image.fromarray(image.astype(np.uint8)).save(tmp_path / f"d{i}.png")
        paths.append(str(tmp_path / f"d{i}.png"))
    result = nnscratch("predict", str(conv_run / "model.npz"), *paths)
    assert result.returncode == 0, result.stderr
    predicted = [int(line.split("class ")[1].split()[0]) for line in result.stdout.splitlines()]
    assert len(predicted) == 8
    assert sum(p == e for p, e in zip(predicted, expected, strict=True)) >= 7
    assert sum(p == y for p, y in zip(predicted, digits.y_test[:8], strict=True)) >= 5

    rows = tmp_path / "rows.npz"
    np.savez(rows, x=digits.x_test[:3].astype(np.float32) / 255)
    result = nnscratch("predict", str(conv_run / "model.npz"), str(rows))
    assert result.returncode == 0, result.stderr
    assert [int(line.split("class ")[1].split()[0]) for line in result.stdout.splitlines()] == list(
        expected[:3]
    )


def test_a_resumed_conv_run_with_augmentation_is_bitwise_identical(tmp_path):
    common = ["--layers", SPEC, "--augment", "shift:1,rotate:10", "--no-plots", "--quiet"]
    straight = nnscratch("train", *common, "--epochs", "2", "--out", str(tmp_path / "a"))
    assert straight.returncode == 0, straight.stderr
    first = nnscratch("train", *common, "--epochs", "1", "--out", str(tmp_path / "b"))
    assert first.returncode == 0, first.stderr
    # the recorded settings rebuild the network and the transforms; equal spellings are accepted
    resumed = nnscratch(
        "train",
        "--resume",
        str(tmp_path / "b"),
        "--epochs",
        "2",
        "--layers",
        "CONV:4x5, relu, maxpool:2, flatten, dense:10",
        "--augment",
        "shift, rotate:10",
    )
    assert resumed.returncode == 0, resumed.stderr
    a = nn.Model.load(tmp_path / "a" / "model.npz")
    b = nn.Model.load(tmp_path / "b" / "model.npz")
    assert a.epoch == b.epoch == 2
    wa, wb = a.network.get_weights(), b.network.get_weights()
    assert wa.keys() == wb.keys()
    for key in wa:
        np.testing.assert_array_equal(wa[key], wb[key])
    assert a.history["loss"] == b.history["loss"]

    changed = nnscratch(
        "train", "--resume", str(tmp_path / "b"), "--epochs", "3", "--augment", "shift:2"
    )
    line = one_line_error(changed)
    assert "--augment shift:2 conflicts with the run's own --augment shift:1,rotate:10" in line


def test_augmentation_changes_training_and_is_seeded(tmp_path):
    runs = {}
    for name, extra in (
        ("plain", []),
        ("aug", ["--augment", "affine"]),
        ("aug2", ["--augment", "affine"]),
    ):
        result = nnscratch(
            "train", "--layers", SPEC, "--epochs", "1", "--no-plots", "--quiet",
            "--out", str(tmp_path / name), *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[name] = nn.Model.load(tmp_path / name / "model.npz").network.get_weights()["0.W"]
    assert not np.array_equal(runs["plain"], runs["aug"])
    np.testing.assert_array_equal(runs["aug"], runs["aug2"])
    record = json.loads((tmp_path / "aug" / "run.json").read_text())
    assert record["settings"]["augment"] == "affine:degrees=10:shift=2:scale=0.1:shear=10"


def test_augment_also_trains_a_dense_network_on_flat_rows(tmp_path):
    common = ["--hidden", "16", "--epochs", "1", "--no-plots", "--quiet"]
    plain = nnscratch("train", *common, "--out", str(tmp_path / "plain"))
    shifted = nnscratch("train", *common, "--augment", "shift:1", "--out", str(tmp_path / "aug"))
    assert plain.returncode == 0 and shifted.returncode == 0, shifted.stderr
    a = nn.Model.load(tmp_path / "plain" / "model.npz").network.get_weights()["0.W"]
    b = nn.Model.load(tmp_path / "aug" / "model.npz").network.get_weights()["0.W"]
    assert a.shape == b.shape == (784, 16) and not np.array_equal(a, b)


def test_the_loss_head_is_fused_into_the_output_layer(tmp_path):
    result = nnscratch(
        "train", "--layers", "conv:2x5,relu,maxpool:4,flatten,dense:10", "--loss",
        "categorical-cross-entropy", "--epochs", "1", "--no-plots", "--quiet",
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    net = nn.Model.load(tmp_path / "r" / "model.npz").network
    assert len(net.layers) == 4 and net.layers[-1].activation.name == "softmax"


def test_image_layers_after_shape_free_ones_still_read_1x28x28_images(tmp_path):
    result = nnscratch(
        "train", "--layers", "dropout:0.1,conv:2x5,relu,maxpool:4,flatten,dense:10",
        "--epochs", "1", "--no-plots", "--quiet", "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    net = nn.Model.load(tmp_path / "r" / "model.npz").network
    assert net.input_shape == (1, 28, 28) and net.layers[2].output_shape == (2, 6, 6)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["--layers", "conv:4x5,relu,dense:10"],
            1,
            "nnscratch: error: --layers: token 3 'dense:10' (input 4x24x24): Dense(10) takes "
            "flat rows of features, but the previous layer produces samples of shape 4x24x24",
        ),
        (
            ["--layers", "conv:4x30,flatten,dense:10"],
            1,
            "nnscratch: error: --layers: token 1 'conv:4x30' (input 1x28x28): Conv2D(4, 30x30): "
            "the 30x30 window is larger than its 28x28 input",
        ),
        (
            ["--layers", "conv:4x5,maxpool:2,conv:4x13,flatten,dense:10"],
            1,
            "token 3 'conv:4x13' (input 4x12x12): Conv2D(4, 13x13): the 13x13 window is larger "
            "than its 12x12 input",
        ),
        (
            ["--layers", "conv:4y5,flatten,dense:10"],
            2,
            "nnscratch train: error: argument --layers: token 1 'conv:4y5': expected conv:CxK "
            "such as conv:32x5",
        ),
        (
            ["--layers", "conv:4x5,flatten,dense:5"],
            1,
            "--layers: the output layer 'dense:5' gives 5 outputs but mnist-sample has 10 "
            "classes; end the spec with dense:10",
        ),
        (
            ["--layers", "conv:4x5,flatten"],
            1,
            "--layers: the spec must end with the output layer dense:10 (mnist-sample has 10 "
            "classes), but it ends with 'flatten'",
        ),
        (
            ["--layers", "conv:4x5,flatten,dense:10,relu"],
            1,
            "the output layer dense:10 is followed by relu, but the loss softmax-cross-entropy "
            "takes the layer's raw outputs",
        ),
        (
            ["--layers", SPEC, "--hidden", "30"],
            1,
            "--layers describes the whole network, so --hidden cannot be given with it",
        ),
        (
            ["--layers", SPEC, "--activation", "tanh", "--batch-norm"],
            1,
            "so --activation and --batch-norm cannot be given with it",
        ),
        (
            ["--data", "spirals", "--layers", "conv:2x3,flatten,dense:3"],
            1,
            "--layers: token 1 'conv:2x3': Conv2D(2, 3x3) takes images (C, H, W), but the input "
            "is flat rows of 2 features",
        ),
        (
            ["--data", "noisy-sine", "--layers", "dense:16,tanh,dense:2"],
            1,
            "--layers: the output layer 'dense:2' gives 2 outputs but noisy-sine has 1 "
            "regression target; end the spec with dense:1",
        ),
        (
            ["--data", "spirals", "--augment", "shift:1"],
            1,
            "--augment shift:1: spirals is not a set of images",
        ),
        (
            ["--layers", "conv:65536x5,flatten,dense:10", "--batch-size", "4500"],
            1,
            "training the --layers network needs about",
        ),
        (["--layers", SPEC, "--init", "foo"], 1, "nnscratch: error: unknown initializer 'foo'"),
        (
            ["--augment", "spin:3"],
            2,
            "argument --augment: transform 1 'spin:3': unknown transform 'spin'",
        ),
        (
            ["--augment", "shift:1,rotate:400"],
            2,
            "argument --augment: transform 2 'rotate:400': the angle must be in (0, 180] degrees",
        ),
        (
            ["--augment", "affine:shear=70"],
            2,
            "transform 1 'affine:shear=70': RandomAffine: max_shear must be between 0 and 60",
        ),
    ],
)
def test_bad_layers_and_augment_are_one_line_errors_that_write_nothing(
    tmp_path, argv, code, message
):
    out = tmp_path / "run"
    result = nnscratch("train", *argv, "--epochs", "1", "--no-plots", "--out", str(out))
    assert message in one_line_error(result, code)
    assert not out.exists()


def test_gradcheck_covers_convolutional_networks():
    result = nnscratch(
        "gradcheck", "--layers", "conv:3x3:pad=1,tanh,maxpool:2,conv:2x2,gap,dense:3",
        "--input-shape", "2x6x6", "--loss", "softmax-cross-entropy",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "--layers     softmax_cross_entropy" in result.stdout
    assert "1 passed, 0 failed" in result.stdout

    result = nnscratch("gradcheck", "--loss", "mse")
    assert result.returncode == 0, result.stderr
    assert "conv 1       mse" in result.stdout and "conv 2       mse" in result.stdout
    assert "maxpool:2" in result.stdout and "gap" in result.stdout
    assert "11 passed, 0 failed" in result.stdout  # 9 activations + 2 conv networks

    bad = nnscratch("gradcheck", "--layers", "conv:2x3,dense:3", "--input-shape", "1x8x8")
    assert "token 2 'dense:3' (input 2x6x6)" in one_line_error(bad)
    bad = nnscratch("gradcheck", "--layers", "conv:2x9,flatten,dense:3", "--input-shape", "1x8x8")
    assert "9x9 window is larger than its 8x8 input" in one_line_error(bad)


def test_augment_text_canonical_forms_and_transforms():
    from nnscratch.cli.augmentation import build_augment, canonical_augment
    from nnscratch.data.augment import Compose, RandomAffine, RandomRotation, RandomShift

    assert canonical_augment(" Shift , ROTATE:7.5 ") == "shift:1,rotate:7.5"
    assert canonical_augment("affine:scale=0.2") == "affine:degrees=10:shift=2:scale=0.2:shear=10"
    assert canonical_augment("none") is None
    shift = build_augment("shift:2", (1, 28, 28))
    assert isinstance(shift, RandomShift) and shift.max_pixels == 2
    assert shift.image_shape == (1, 28, 28)
    both = build_augment("shift:1,affine:degrees=5:shift=1:scale=0:shear=0", (1, 28, 28))
    assert isinstance(both, Compose)
    assert [type(t) for t in both.transforms] == [RandomShift, RandomAffine]
    assert both.transforms[1].max_degrees == 5 and both.transforms[1].max_shift == 1
    rotate = build_augment("rotate:10", (1, 4, 4))
    assert isinstance(rotate, RandomRotation) and (rotate.low, rotate.high) == (-10, 10)
    assert build_augment(None, (1, 4, 4)) is None
    for bad, message in [
        ("shift:0", "transform 1 'shift:0': the shift must be a whole number of pixels >= 1"),
        ("shift:1,,rotate", "transform 2 of 'shift:1,,rotate' is empty"),
        ("rotate:x", "transform 1 'rotate:x': the angle must be a number"),
        ("affine:spin=3", "transform 1 'affine:spin=3': unexpected 'spin=3'"),
        ("affine:scale=1", "max_scale must be in [0, 1)"),
        ("", "--augment is empty"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            canonical_augment(bad)


# -- found while running tests/cli: an interrupt lost inside a finalizer -------------------------
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_swallowed_by_a_finalizer_still_stops_at_the_epoch_end(tmp_path):
    """A signal whose handler runs inside ``__del__`` (say a ZipFile collected while the
    checkpoint is written) raises KeyboardInterrupt where Python ignores it; the run must still
    stop, at the end of the epoch, rather than train all its epochs and exit 0."""
    import signal

    from nnscratch.cli import train as train_command

    class Finalizer:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs here, inside __del__
                pass

    model = nn.Model(nn.mlp([2, 2], seed=0))
    saver = train_command._RunCheckpoint(tmp_path, 0, None)
    with train_command._signals_as_interrupt():
        Finalizer()
        saver.on_epoch_begin(model, 1)
        with pytest.raises(KeyboardInterrupt):
            saver.on_epoch_end(model, 1, {})
    assert (tmp_path / "checkpoint.npz").exists()  # the finished epoch is saved first
    assert saver.saved_epoch == model.epoch and saver.at_boundary
