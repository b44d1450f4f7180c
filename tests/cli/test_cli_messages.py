"""What the command line says when it is given something it cannot use.

Every case runs the real ``nnscratch`` command in a subprocess and checks the exit code and the
message: one line that names what was wrong and what was expected, never a NumPy internal.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO_ROOT

import nnscratch as nn

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
    ),
    "MPLBACKEND": "Agg",
}


def cli(*argv, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nnscratch", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd or REPO_ROOT,
        env=ENV,
        timeout=300,
    )


def one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    """The single stderr line of a failed command, after checking the exit code."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    """A 4-input, 3-class classifier saved as a model file (trained for one epoch)."""
    folder = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)
    model = nn.Model(nn.mlp([4, 5, 3], "tanh", seed=0))
    model.fit(x, y, epochs=1, batch_size=16, seed=0, verbose=0)
    model.save(folder / "model.npz")
    return folder / "model.npz"


# -- 1. predict on .npz archives it cannot use ---------------------------------------------------
def _archive(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({}, r"holds no arrays; expected an array x of shape \(n, 4\)"),
        ({"x": np.zeros((0, 4), np.float32)}, r"x has no rows \(shape \(0, 4\)\)"),
        (
            {"x": np.float32(3.0)},
            r"x is a single value \(shape \(\)\); expected rows of shape \(n, 4\)",
        ),
        ({"x": np.zeros(4, np.float32)}, r"x has shape \(4,\); expected rows of shape \(n, 4\)"),
        ({"x": np.array([["a", "b", "c", "d"]])}, r"x holds <U1 values, not numbers"),
        ({"x": np.zeros((2, 4), complex)}, r"x holds complex128 values, not numbers"),
        ({"x": np.array([[0.0, np.nan, 0, 0]])}, r"x holds 1 NaN or infinite value\(s\)"),
        ({"a": np.zeros((2, 4)), "b": np.zeros(3)}, r"holds arrays \['a', 'b'\] but none named x"),
        ({"x": np.zeros((2, 5), np.float32)}, r"x has 5 features per row; the model takes 4"),
    ],
    ids=["no-arrays", "zero-rows", "0-d", "1-d", "strings", "complex", "nan", "no-x", "width"],
)
def test_predict_names_what_is_wrong_with_an_npz(small_model, tmp_path, arrays, message):
    path = _archive(tmp_path / "rows.npz", **arrays)
    line = one_line_error(cli("predict", small_model, path))
    assert re.search(message, line) and "rows.npz" in line, line


def test_predict_reads_images_stacked_in_an_npz_and_a_lone_array(small_model, tmp_path):
    path = _archive(tmp_path / "grid.npz", images=np.ones((3, 2, 2), np.float32))
    result = cli("predict", small_model, path, "--top", str(10**30))
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "grid.npz[0]",
        "grid.npz[1]",
        "grid.npz[2]",
    ]
    assert result.stdout.splitlines()[0].count(": 0.") == 3  # every class shown, no more


def test_predict_on_unreadable_or_missing_files(small_model, tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    line = one_line_error(cli("predict", small_model, tmp_path / "empty.npz"))
    assert "empty.npz is not a readable .npz archive" in line
    good = _archive(tmp_path / "good.npz", x=np.zeros((2, 4), np.float32))
    result = cli("predict", small_model, good, tmp_path / "absent.csv")
    line = one_line_error(result)
    assert line == f"nnscratch: error: data file not found: {tmp_path / 'absent.csv'}"
    assert result.stdout == ""  # every input is checked before anything is printed
    (tmp_path / "folder.npz").mkdir()
    line = one_line_error(cli("predict", small_model, tmp_path / "folder.npz"))
    assert "folder.npz is a folder, not a data file or image" in line


# -- 2. --seed is range-checked and named, for every command that has one -----------------------
@pytest.mark.parametrize(
    "command", [["train", "--data", "xor"], ["evaluate", "model.npz"], ["gradcheck"]]
)
@pytest.mark.parametrize("seed", ["-1", str(2**32), "1.5"])
def test_seed_out_of_range_is_refused_naming_the_flag(tmp_path, command, seed):
    out = ["--out", tmp_path / "o"] if command[0] == "train" else []
    line = one_line_error(cli(*command, "--seed", seed, *out), code=2)
    assert "argument --seed: expected an integer from 0 to 4294967295" in line, line
    assert not (tmp_path / "o").exists()


# -- 3. --hidden refuses empty elements ------------------------------------------------------------
@pytest.mark.parametrize(
    "text, position",
    [("10,,20", 2), ("10,", 2), (",10", 1), ("8, ,4", 2)],
)
@pytest.mark.parametrize("command", ["train", "gradcheck"])
def test_hidden_with_an_empty_element_is_refused(tmp_path, command, text, position):
    extra = ["--out", tmp_path / "o"] if command == "train" else []
    line = one_line_error(cli(command, "--hidden", text, *extra), code=2)
    assert f"argument --hidden: layer size {position} of {text!r} is empty" in line, line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text", ["none", "-", ""])
def test_hidden_none_still_means_no_hidden_layer(text):
    result = cli("gradcheck", "--hidden", text, "--activation", "tanh", "--loss", "mse")
    assert result.returncode == 0 and "1 passed, 0 failed" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["gradcheck", "--hidden", str(10**23)],
            "argument --hidden: layer sizes must be from 1 to 1000",
        ),
        (
            ["gradcheck", "--batch-size", str(10**12)],
            "argument --batch-size: expected an integer from 1 to 10000",
        ),
        (
            ["gradcheck", "--inputs", str(10**12)],
            "argument --inputs: expected an integer from 1 to 1000",
        ),
        (
            ["gradcheck", "--outputs", str(10**24)],
            "argument --outputs: expected an integer from 1 to 1000",
        ),
        (
            ["train", "--hidden", f"8,{10**23}"],
            "argument --hidden: layer sizes must be from 1 to 1000000",
        ),
    ],
)
def test_huge_sizes_are_refused_naming_the_flag(argv, message):
    line = one_line_error(cli(*argv), code=2)
    assert message in line, line


# -- 4. plot finds the data of a run trained on a CSV ---------------------------------------------
def _write_csv(path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    rows = ["a,b,c,label"] + [
        f"{a:.4f},{b:.4f},{c:.4f},{k}" for (a, b, c), k in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")


def test_plot_redraws_a_csv_run_from_another_folder_and_says_when_the_data_is_gone(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _write_csv(work / "mine.csv")
    result = cli(
        "train",
        "--data",
        "mine.csv",
        "--epochs",
        "2",
        "--out",
        "run",
        "--no-plots",
        "--quiet",
        cwd=work,
    )
    assert result.returncode == 0, result.stderr
    run = work / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"] == "mine" and metrics["data"] == str(work / "mine.csv")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = cli("plot", run, "--out", "pictures", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (elsewhere / "pictures").iterdir()} == {
        "history.png",
        "confusion_matrix.png",
    }

    (work / "mine.csv").rename(work / "moved.csv")
    line = one_line_error(cli("plot", run, "--out", "p2", cwd=elsewhere))
    assert f"the run's data {work / 'mine.csv'} is not there any more" in line, line
    assert "--data PATH" in line
    result = cli("plot", run, "--out", "p3", "--data", work / "moved.csv", cwd=elsewhere)
    assert result.returncode == 0 and (elsewhere / "p3" / "confusion_matrix.png").exists()

    # a run folder from before the data path was recorded: only the file's stem is known
    del metrics["data"]
    (run / "metrics.json").write_text(json.dumps(metrics))
    for stale in ("run.json", "args.json"):
        (run / stale).unlink(missing_ok=True)
    line = one_line_error(cli("plot", run, "--out", "p4", cwd=elsewhere))
    assert "the run was trained on 'mine', which is not a dataset name" in line, line
    assert "--data PATH" in line


# -- 5. a closed pipe ends the command quietly --------------------------------------------------
def test_output_into_a_pipe_closed_early_exits_quietly(small_model, tmp_path):
    rows = _archive(tmp_path / "many.npz", x=np.zeros((20000, 4), np.float32))
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnscratch", "predict", str(small_model), str(rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
        env=ENV,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`: the reader goes away with most output unread
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=300) == 141
    assert first.startswith(b"many.npz[0]: class ") and err == ""


# -- 6. plot fails when it drew nothing -------------------------------------------------------------
def test_plot_that_draws_nothing_fails_and_says_why(tmp_path):
    model = nn.Model(nn.mlp([3, 4, 1], "tanh", seed=0), loss="mse")
    model.save(tmp_path / "untrained.npz")
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.normal(size=(30, 3)), rng.normal(size=30)])
    np.savetxt(tmp_path / "reg.csv", table, delimiter=",", fmt="%.5f")
    result = cli(
        "plot", tmp_path / "untrained.npz", "--data", tmp_path / "reg.csv", "--out", tmp_path / "p"
    )
    line = one_line_error(result)
    assert line == (
        "nnscratch: error: nothing to draw: the model has no training history, and the other "
        "pictures (confusion matrix, weights, errors, decision regions) need a classifier; "
        "this model is a regressor (loss mse)"
    )
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())


# -- 7. gradcheck shows the real relative error and the tolerance ------------------------------------
def test_gradcheck_prints_the_measured_relative_error_and_the_tolerance():
    result = cli("gradcheck", "--activation", "tanh")
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^tanh +(\w+) +max rel err (\S+) \(tol 1e-06\) ok$", result.stdout, re.M)
    assert [loss for loss, _ in rows] == list(nn.core.losses.LOSSES), result.stdout
    errors = [float(value) for _, value in rows]
    assert all(1e-14 < e < 1e-6 for e in errors), errors  # measured in float64: tiny, never 0
    worst = max(rows, key=lambda row: float(row[1]))[1]
    summary = result.stdout.strip().splitlines()[-1]
    assert summary == f"{len(rows)} passed, 0 failed; worst relative error {worst}"


def test_gradient_check_reports_the_measured_errors_and_refuses_a_zero_tolerance():
    net = nn.mlp([3, 4, 2], "tanh", seed=0, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(5, 3))
    y = np.array([0, 1, 0, 1, 1])
    result = nn.gradient_check(net, x, y, "softmax_cross_entropy")
    assert result.passed and all(0 < e < 1e-8 for e in result.errors.values()), result.errors
    with pytest.raises(ValueError, match="eps and tolerance must be finite numbers > 0"):
        nn.gradient_check(net, x, y, "softmax_cross_entropy", tolerance=0.0)


# -- 8. more hostile inputs ---------------------------------------------------------------------
@pytest.mark.parametrize("command", ["evaluate", "plot"])
def test_out_that_is_a_file_is_refused_before_any_work(small_model, tmp_path, command):
    target = tmp_path / "taken.txt"
    target.write_text("keep me")
    result = cli(command, small_model, "--out", target, "--data", "xor")
    line = one_line_error(result)
    assert line == f"nnscratch: error: --out {target} is a file, not a folder", line
    result = cli(command, small_model, "--out", target / "sub", "--data", "xor")
    line = one_line_error(result)
    assert line == f"nnscratch: error: --out {target / 'sub'}: {target} is a file, not a folder"
    assert target.read_text() == "keep me" and result.stdout == ""


def test_bench_out_that_is_a_file_is_refused_before_running(tmp_path):
    target = tmp_path / "taken.txt"
    target.write_text("keep me")
    result = cli("bench", "--fast", "--out", target)
    line = one_line_error(result)
    assert line == f"nnscratch: error: --out {target} is a file, not a folder"
    assert result.stdout == "" and target.read_text() == "keep me"


def test_a_multi_line_message_is_kept_whole(tmp_path):
    result = cli("datasets", "verify", "mnist", "--data-dir", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.rstrip().splitlines()
    assert lines[0].startswith("nnscratch: error: MNIST was not found locally")
    assert any(str(tmp_path) in line for line in lines[1:]) and "Needed files" in result.stderr


@pytest.mark.parametrize(
    "argv", [["playground", "--port", "70000"], ["playground", "--port", "-1"]]
)
def test_port_out_of_range_is_a_usage_error(argv):
    line = one_line_error(cli(*argv), code=2)
    assert "argument --port: expected an integer from 0 to 65535" in line


def test_plot_without_matplotlib_fails_and_says_what_to_install(small_model, tmp_path):
    blocked = (
        "import runpy, sys; sys.modules['matplotlib'] = None; "  # as if it were not installed
        "runpy.run_module('nnscratch', run_name='__main__')"
    )
    rows = np.column_stack([np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 3])
    np.savetxt(tmp_path / "four.csv", rows, delimiter=",", fmt="%.4f")
    argv = ["plot", small_model, "--data", tmp_path / "four.csv", "--out", tmp_path / "p"]
    result = subprocess.run(
        [sys.executable, "-c", blocked, *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=ENV,
        timeout=300,
    )
    line = one_line_error(result)
    assert line == (
        "nnscratch: error: nothing drawn: the pictures need matplotlib; install it with "
        "pip install 'nnscratch[plot]'"
    )
    assert not (tmp_path / "p").exists()


def test_plot_of_an_unfinished_run_points_at_its_checkpoint(tmp_path):
    result = cli("train", "--data", "xor", "--epochs", "2", "--out", "run", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (tmp_path / "run" / "model.npz").unlink()  # as a run stopped before its last epoch leaves it
    line = one_line_error(cli("plot", "run", cwd=tmp_path))
    assert line == (
        "nnscratch: error: no model found at run/model.npz: the run has not finished; plot its "
        "last epoch with 'nnscratch plot run/checkpoint.npz', or finish it with "
        "'nnscratch train --resume run'"
    )
    result = cli("plot", "run/checkpoint.npz", "--out", "p", cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "p" / "decision_regions.png").exists()


def test_evaluate_uses_the_runs_own_data_and_test_split(tmp_path):
    argv = ["--data", "spirals", "--seed", "3", "--epochs", "20", "--out", "run", "--no-plots"]
    result = cli("train", *argv, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())
    expected = [f"test metrics on spirals ({recorded['n_test']} samples)"]
    expected.append(f"  loss             {recorded['loss']:.4f}")
    for extra in ([], ["--data", "spirals"]):  # the run's data and seed unless told otherwise
        result = cli("evaluate", "run/model.npz", *extra, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[:2] == expected
    result = cli("evaluate", "run/model.npz", "--seed", "0", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.splitlines()[1] != expected[1]


@pytest.mark.parametrize("action", ["verify", "download"])
def test_datasets_without_a_name_says_which_names_it_takes(action):
    line = one_line_error(cli("datasets", action))
    assert line == (
        f"nnscratch: error: '{action}' needs a dataset name: nnscratch datasets {action} mnist "
        "(or fashion-mnist)"
    )


@pytest.mark.parametrize("names, position", [("", 1), ("seed000,", 2), ("seed000,,seed003", 2)])
def test_reproduce_only_with_an_empty_name_is_refused(tmp_path, names, position):
    line = one_line_error(cli("reproduce", "--only", names, "--out", tmp_path / "r"), code=2)
    assert f"argument --only: name {position} of {names!r} is empty" in line, line
    assert not (tmp_path / "r").exists()


def test_predict_on_a_csv_with_a_label_column_says_so(small_model, tmp_path):
    (tmp_path / "labelled.csv").write_text("a,b,c,d,label\n0.1,0.2,0.3,0.4,1\n")
    line = one_line_error(cli("predict", small_model, tmp_path / "labelled.csv"))
    assert line == (
        f"nnscratch: error: {tmp_path / 'labelled.csv'} has 5 features per row; the model "
        "takes 4; if its last column is a label, remove it"
    )
