"""``nnscratch train`` on sets too small for the default validation split (seed 003's
four-row truth table): it trains without one, says so, and refuses early stopping up front."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    "MPLBACKEND": "Agg",
}


def train(*argv):
    return subprocess.run(
        [sys.executable, "-m", "nnscratch", "train", *map(str, argv)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )


def test_the_truth_table_trains_without_a_validation_set(tmp_path):
    out = tmp_path / "run"
    done = train("--data", "truth-table", "--out", out, "--no-plots", "--epochs", "400",
                 "--lr", "0.05")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "too few to hold out a validation set" in done.stdout
    history = json.loads((out / "history.json").read_text())
    assert "val_loss" not in history and len(history["loss"]) == 400
    assert json.loads((out / "run.json").read_text())["settings"]["validation_split"] == 0.0
    # the XOR-like table is learnt: every one of the four rows right
    assert json.loads((out / "metrics.json").read_text())["accuracy"] == 1.0


def test_early_stopping_on_a_set_too_small_to_validate_is_refused_before_training(tmp_path):
    out = tmp_path / "run"
    done = train("--data", "truth-table", "--out", out, "--early-stopping", "3")
    assert done.returncode == 1
    assert "--early-stopping watches the validation loss" in done.stderr
    assert "only 4 training samples" in done.stderr
    assert not out.exists()  # nothing written, not even the folder


def test_an_explicit_validation_split_is_kept(tmp_path):
    out = tmp_path / "run"
    done = train("--data", "truth-table", "--out", out, "--validation-split", "0.1")
    assert done.returncode == 1
    assert "leaves 0 validation samples out of 4" in done.stderr


def test_a_run_keeps_its_thread_count_so_that_resuming_is_bitwise(tmp_path):
    """Different BLAS thread counts round differently: the count a run chose is recorded and
    a resumed run takes it again, whatever the machine's load is then."""
    from types import SimpleNamespace

    import nnscratch as nn
    from nnscratch.cli.train import _run_threads

    out = tmp_path / "run"
    done = train("--data", "xor", "--out", out, "--no-plots", "--epochs", "2", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "run.json").read_text())["threads"] == 1

    model = nn.Model(nn.mlp([784, 512, 10], seed=0))
    record = {"threads": 2}  # what an earlier start of the run chose
    assert _run_threads(SimpleNamespace(threads="auto"), record, model, 512, 60_000) == 2
    assert _run_threads(SimpleNamespace(threads=1), record, model, 512, 60_000) == 1
    assert record["threads"] == 1  # an explicit --threads on resume is the new record
    fresh: dict = {}
    assert _run_threads(SimpleNamespace(threads="auto"), fresh, model, 8, 100) == 1  # small
    assert fresh["threads"] == 1
