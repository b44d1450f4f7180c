"""The command line, driven through its entry point: output, files written, exit codes."""

import json
import runpy
import subprocess
import sys

import numpy as np
import pytest
from tests.conftest import REPO_ROOT

import nnscratch as nn
from nnscratch.cli.main import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--epochs", "3", "--out", str(out), "--quiet"]) == 0
    return out


def test_train_defaults_write_model_history_metrics_and_plots(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"model.npz", "history.json", "metrics.json"} <= names
    history = json.loads((trained_run / "history.json").read_text())
    assert history["epochs"] == [1, 2, 3]
    assert len(history["loss"]) == 3 and len(history["val_accuracy"]) == 3
    assert all(s > 0 for s in history["seconds"])
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["dataset"] == "mnist-sample" and metrics["n_test"] == 1000
    assert metrics["accuracy"] > 0.85
    assert np.array(metrics["confusion_matrix"]).sum() == 1000
    for picture in ("history.png", "confusion_matrix.png", "first_layer_weights.png"):
        assert (trained_run / picture).read_bytes()[:8] == PNG_MAGIC
    model = nn.Model.load(trained_run / "model.npz")
    assert model.epoch == 3 and model.network.input_dim == 784


def test_train_prints_table_metrics_and_where_it_wrote(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "train",
        "--data",
        "spirals",
        "--hidden",
        "16,16",
        "--epochs",
        "5",
        "--lr",
        "0.01",
        "--out",
        str(tmp_path / "s"),
        "--seed",
        "3",
    )
    assert code == 0
    assert "epoch   5/5" in out and "test metrics on spirals" in out
    assert "confusion matrix" in out and "model.npz" in out and str(tmp_path / "s") in out
    assert (tmp_path / "s" / "decision_regions.png").exists()


def test_train_flags_from_the_issue(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "train",
        "--data",
        "five-clusters",
        "--hidden",
        "32",
        "--activation",
        "tanh",
        "--loss",
        "mse",
        "--optimizer",
        "momentum",
        "--lr",
        "0.05",
        "--batch-size",
        "16",
        "--epochs",
        "3",
        "--l2",
        "0.1",
        "--dropout",
        "0.1",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "r"),
        "--quiet",
        "--no-plots",
    )
    assert code == 0
    model = nn.Model.load(tmp_path / "r" / "model.npz")
    assert model.loss.name == "mse" and model.optimizer.name == "momentum"
    assert model.regularizers[0].lam == 0.1
    assert any(isinstance(layer, nn.Dropout) for layer in model.network.layers)


def test_train_on_a_users_csv(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    path = tmp_path / "mine.csv"
    lines = ["a,b,c,label"] + [
        f"{a:.4f},{b:.4f},{c:.4f},{label}" for (a, b, c), label in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines))
    code, out, _ = run(
        capsys,
        "train",
        "--data",
        str(path),
        "--epochs",
        "20",
        "--lr",
        "0.01",
        "--out",
        str(tmp_path / "o"),
        "--quiet",
        "--no-plots",
    )
    assert code == 0 and json.loads((tmp_path / "o" / "metrics.json").read_text())["accuracy"] > 0.8


def test_evaluate_summary_and_predict(capsys, trained_run, tmp_path):
    model = str(trained_run / "model.npz")
    code, out, _ = run(capsys, "evaluate", model, "--out", str(tmp_path / "e"))
    assert code == 0 and "accuracy" in out and "confusion matrix" in out
    assert (tmp_path / "e" / "metrics.json").exists()
    code, out, _ = run(capsys, "summary", model)
    assert code == 0 and "Dense(128, relu)" in out and "trained epochs: 3" in out

    from nnscratch.data import load_mnist_sample

    pytest.importorskip("PIL", reason="Pillow reads the digit images")
    from PIL import Image

    digits = load_mnist_sample()
    correct = 0
    for i in range(20):
        image = 255 - digits.x_test[i].reshape(28, 28)  # dark ink on white paper, like a scan
        big = Image.fromarray(image.astype(np.uint8)).resize((112, 112))
        big.save(tmp_path / f"digit{i}.png")
        code, out, _ = run(capsys, "predict", model, str(tmp_path / f"digit{i}.png"))
        assert code == 0 and out.startswith(f"digit{i}.png: class ")
        correct += int(out.split("class ")[1].split()[0]) == int(digits.y_test[i])
    assert correct >= 15

    rows = tmp_path / "rows.npz"
    np.savez(rows, x=digits.x_test[:3].astype(np.float32) / 255)
    code, out, _ = run(capsys, "predict", model, str(rows), "--top", "2")
    assert code == 0 and out.count("rows.npz[") == 3


def test_gradcheck_command(capsys):
    code, out, _ = run(
        capsys, "gradcheck", "--activation", "tanh", "--loss", "softmax-cross-entropy"
    )
    assert code == 0 and "1 passed, 0 failed" in out
    code, out, _ = run(capsys, "gradcheck")
    assert code == 0 and " 0 failed" in out


def test_datasets_list_and_verify(capsys):
    code, out, _ = run(capsys, "datasets", "list")
    assert code == 0 and "mnist-sample" in out and "fashion-mnist" in out and "spirals" in out
    from tests.conftest import mnist_dir

    folder = mnist_dir()
    if folder is None:
        pytest.skip("full MNIST not available for 'datasets verify'")
    code, out, _ = run(capsys, "datasets", "verify", "mnist", "--data-dir", str(folder))
    assert code == 0 and "verified, 60,000 training and 10,000 test" in out
    assert "5923 6742 5958 6131 5842 5421 5918 6265 5851 5949" in out


def test_plot_command_redraws_a_run(capsys, trained_run, tmp_path):
    code, out, _ = run(
        capsys, "plot", str(trained_run), "--out", str(tmp_path / "p"), "--format", "svg"
    )
    assert code == 0
    assert (tmp_path / "p" / "history.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--lr", "-0.1"], "expected a finite number > 0"),
        (["train", "--hidden", "12,abc"], "comma-separated layer sizes"),
        (["train", "--epochs", "0"], "expected a positive integer"),
        (["train", "--dropout", "1.5"], r"expected a number in \[0, 1\)"),
        (["train", "--optimizer", "lbfgs"], "invalid choice"),
    ],
)
def test_bad_train_arguments_exit_nonzero_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code != 0
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    import re

    assert re.search(message, err)


def test_runtime_errors_are_one_line(capsys, tmp_path, trained_run):
    model = str(trained_run / "model.npz")
    cases = []
    code, _, err = run(capsys, "train", "--data", "cifar", "--out", str(tmp_path / "x"))
    cases.append((code, err, "unknown dataset 'cifar'"))
    code, _, err = run(capsys, "evaluate", model, "--data", "five-clusters")
    cases.append((code, err, "takes 784 features but the data 'five-clusters' has 2"))
    code, _, err = run(capsys, "summary", str(tmp_path / "missing.npz"))
    cases.append((code, err, "model file not found"))
    broken = tmp_path / "broken.npz"
    broken.write_bytes((trained_run / "model.npz").read_bytes()[:5000])
    code, _, err = run(capsys, "summary", str(broken))
    cases.append((code, err, "truncated or corrupted"))
    not_image = tmp_path / "photo.png"
    not_image.write_text("this is not a picture")
    code, _, err = run(capsys, "predict", model, str(not_image))
    cases.append((code, err, "not a readable image"))
    for code, err, message in cases:
        assert code == 1, err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_verbose_shows_the_traceback(capsys, tmp_path):
    code, _, err = run(capsys, "--verbose", "summary", str(tmp_path / "missing.npz"))
    assert code == 1 and "Traceback" in err and "model file not found" in err


def test_python_dash_m_and_help_for_every_command():
    import os

    # the package may be used from the source tree without being installed
    paths = [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    import os

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    commands = [
        "train",
        "evaluate",
        "predict",
        "summary",
        "gradcheck",
        "datasets",
        "plot",
        "reproduce",
        "export",
        "playground",
        "bench",
    ]
    for command in commands:
        result = subprocess.run(
            [sys.executable, "-m", "nnscratch", command, "--help"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
            env=env,
        )
        assert result.returncode == 0 and "usage: nnscratch " + command in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "nnscratch", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.stdout.strip() == f"nnscratch {nn.__version__}"


def test_export_writes_an_onnx_file_that_predicts_the_same(capsys, trained_run, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="ONNX export is checked with onnxruntime")
    target = tmp_path / "model.onnx"
    code, out, _ = run(capsys, "export", str(trained_run / "model.npz"), str(target))
    assert code == 0 and out.strip() == f"wrote {target}"
    from nnscratch.data import load_mnist_sample

    x = load_mnist_sample(normalize=True).x_test[:200]
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    onnx_proba = session.run(None, {session.get_inputs()[0].name: x})[0]
    model = nn.Model.load(trained_run / "model.npz")
    np.testing.assert_allclose(onnx_proba, model.predict_proba(x), atol=1e-5)
    code, _, err = run(capsys, "export", str(tmp_path / "nothing.npz"), str(tmp_path / "x.onnx"))
    assert code == 1 and "model file not found" in err


def test_bench_smoke_run_reports_ratios(capsys, tmp_path):
    pytest.importorskip("torch", reason="the benchmark compares with PyTorch")
    code, out, _ = run(capsys, "bench", "--fast", "--out", str(tmp_path))
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["training"]) == {"32", "128", "512"}
    for row in results["training"].values():
        assert row["nnscratch"]["median"] > 0 and row["floor"]["median"] > 0
        assert row["pytorch"]["median"] > 0
        # ratios pair the rounds: with one repeat, each is exactly the quotient of the times
        ours, floor = row["nnscratch"]["times"][0], row["floor"]["times"][0]
        assert row["ratios"]["nnscratch/floor"]["median"] == pytest.approx(ours / floor)
    row128 = results["training"]["128"]
    assert row128["sklearn"]["median"] > 0
    assert row128["ratios"]["sklearn/nnscratch"]["median"] == pytest.approx(
        row128["sklearn"]["median"] / row128["nnscratch"]["median"]
    )
    assert results["training"]["32"]["ratios"]["sklearn/nnscratch"] is None
    assert results["nielsen"]["ratios"]["nnscratch/pytorch"]["median"] > 0
    assert results["machine"]["blas"] and results["memory_mb"] > 0
    table = (tmp_path / "results.md").read_text()
    assert "nnscratch/PyTorch" in table and "FAST SMOKE RUN" in table
    assert "The machine was" not in table  # one round cannot tell noise from work
    bench_markdown = runpy.run_path(str(REPO_ROOT / "benchmarks" / "bench.py"))["markdown"]
    results["repeats"] = 3
    for row in results["training"].values():
        row["floor"]["min"], row["floor"]["max"] = 1.0, 1.1
    assert "The machine was quiet" in bench_markdown(results)
    results["training"]["512"]["floor"]["max"] = 1.5
    assert "varied by up to 50%" in bench_markdown(results)
    conv = results["conv"]
    assert conv["train_images"] == 1000 and isinstance(conv["mkldnn"], bool)
    for name in ("SimpleConvNet", "LeNet-5"):
        rows = conv["nets"][name]
        assert set(rows["training"]) == {"32", "128"}
        for row in [*rows["training"].values(), rows["inference"]]:
            ours, floor, torch_s = (row[k]["times"][0] for k in ("nnscratch", "floor", "pytorch"))
            assert min(ours, floor, torch_s) > 0
            assert row["ratios"]["nnscratch/floor"]["median"] == pytest.approx(ours / floor)
            assert row["ratios"]["nnscratch/pytorch"]["median"] == pytest.approx(ours / torch_s)
        profile = rows["profile"]
        # the parts, "rest of step" included, add up to the measured step
        assert sum(profile["parts"].values()) == pytest.approx(profile["step_seconds"])
        assert profile["parts"]["Conv2D im2col copy"] > 0
        assert profile["parts"]["MaxPool2D forward"] > 0
        assert f"Where nnscratch's {name} training step goes (batch 128" in table
    assert "| Conv2D col2im copy |" in table  # LeNet-5's second convolution needs dL/dX
    assert "first 1,000 training images" in table
    assert f"oneDNN (mkldnn) {'enabled' if conv['mkldnn'] else 'NOT available'}" in table
    at128 = [
        rows["training"]["128"]["ratios"]["nnscratch/pytorch"] for rows in conv["nets"].values()
    ]
    met = all(r["median"] <= 1 for r in at128)
    assert conv["target_met"] is met
    assert ("batch 128) holds" if met else "batch 128) is NOT met") in table
    at128[0]["median"] = 1.25  # the first network 25% slower than PyTorch: missed
    assert "batch 128) is NOT met: nnscratch/PyTorch SimpleConvNet 1.25x" in bench_markdown(results)
    for r in at128:
        r["median"] = 0.8
    assert "batch 128) holds" in bench_markdown(results)


def test_playground_serves_on_loopback_and_stops_on_ctrl_c():
    import os
    import re
    import signal
    import urllib.request

    pytest.importorskip("starlette", reason="the playground needs the web extra")
    pytest.importorskip("uvicorn", reason="the playground needs the web extra")
    paths = [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnscratch", "playground", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url = None
        for _ in range(50):  # the address line comes first; bounded wait
            line = proc.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if match:
                url = match.group(0)
                break
        assert url is not None, "no address printed"
        with urllib.request.urlopen(url, timeout=10) as response:
            page = response.read().decode()
        assert response.status == 200 and "<html" in page.lower()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "playground stopped" in out and "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
