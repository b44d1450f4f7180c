"""``nnscratch train`` never loses or silently replaces work: run folders, locks, interrupts,
resume, checks before the first epoch, divergence. Every case runs the real command."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO_ROOT

import nnscratch as nn

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    "MPLBACKEND": "Agg",
}
#: a quick run: 2-D moons, ~20 ms an epoch, with dropout so that resuming must continue two
#: random streams (batch order and dropout masks)
QUICK = ["--data", "moons", "--samples", "600", "--hidden", "16,16", "--dropout", "0.1"]
#: the same, slow enough (about 2 s an epoch) to be caught in the middle of training
SLOW = ["--data", "moons", "--samples", "30000", "--hidden", "64,64", "--batch-size", "4"]


def nnscratch(*argv, cwd=None, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "nnscratch", "train", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        timeout=timeout,
    )


def start(*argv, cwd=None):
    return subprocess.Popen(
        [sys.executable, "-m", "nnscratch", "train", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=ENV,
    )


def wait_for(path: Path, proc, seconds: float = 90.0) -> None:
    """Until ``path`` exists (the run got that far), or fail if the run ends or never gets there."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (exit {proc.returncode}) before {path.name}: {err}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"{path} did not appear within {seconds} s")
        time.sleep(0.02)


def same_model(a: Path, b: Path) -> None:
    """Bitwise the same weights, optimizer state and history (wall-clock seconds aside)."""
    ma, mb = nn.Model.load(a), nn.Model.load(b)
    assert ma.epoch == mb.epoch
    np.testing.assert_array_equal(ma.network.flat_parameter.value, mb.network.flat_parameter.value)
    sa, sb = ma.optimizer.state_dict(), mb.optimizer.state_dict()
    assert sa["iterations"] == sb["iterations"] and sorted(sa["arrays"]) == sorted(sb["arrays"])
    for key in sa["arrays"]:
        np.testing.assert_array_equal(sa["arrays"][key], sb["arrays"][key])
    assert ma.history.epochs == mb.history.epochs
    for key in ma.history.history:
        if key != "seconds":
            assert ma.history[key] == mb.history[key], key


def test_a_run_folder_in_use_is_refused_and_overwrite_removes_only_a_runs_files(tmp_path):
    out = tmp_path / "run"
    first = nnscratch(*QUICK, "--epochs", 2, "--no-plots", "--quiet", "--out", out)
    assert first.returncode == 0, first.stderr
    (out / "history.png").write_bytes(b"an old run's picture")
    (out / "notes.txt").write_text("the user's own notes")
    before = (out / "model.npz").read_bytes()

    again = nnscratch(*QUICK, "--epochs", 3, "--no-plots", "--quiet", "--out", out)
    assert again.returncode == 1
    assert f"{out} already holds a run" in again.stderr and "--overwrite" in again.stderr
    assert "--resume" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert (out / "model.npz").read_bytes() == before  # nothing replaced

    replaced = nnscratch(
        *QUICK, "--epochs", 3, "--no-plots", "--quiet", "--out", out, "--overwrite"
    )
    assert replaced.returncode == 0, replaced.stderr
    assert re.search(r"--overwrite: removed .*history\.png.*model\.npz", replaced.stdout)
    assert "kept notes.txt" in replaced.stdout
    names = {p.name for p in out.iterdir()}
    assert "history.png" not in names  # the old run's picture does not sit beside the new model
    assert (out / "notes.txt").read_text() == "the user's own notes"
    assert nn.Model.load(out / "model.npz").epoch == 3


def test_two_runs_cannot_share_a_folder_and_a_killed_run_does_not_block_it(tmp_path):
    out = tmp_path / "run"
    proc = start(*SLOW, "--epochs", 50, "--no-plots", "--quiet", "--out", out)
    wait_for(out / "run.json", proc)
    second = nnscratch(*QUICK, "--epochs", 1, "--no-plots", "--out", out, "--overwrite")
    assert second.returncode == 1
    assert f"{out} is in use by another 'nnscratch train' (pid {proc.pid})" in second.stderr
    assert json.loads((out / "run.json").read_text())["settings"]["samples"] == 30000
    resumed = nnscratch("--resume", out)
    assert resumed.returncode == 1 and "is in use" in resumed.stderr
    proc.kill()  # SIGKILL: no clean-up runs, the lock file stays behind
    proc.communicate()
    assert (out / ".nnscratch-train.lock").exists()
    fresh = nnscratch(*QUICK, "--epochs", 1, "--no-plots", "--quiet", "--out", out, "--overwrite")
    assert fresh.returncode == 0, fresh.stderr  # the dead run's lock died with it
    assert not (out / ".nnscratch-train.lock").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_keeps_its_epochs_and_resumes_bitwise(tmp_path, signum):
    settings = [*QUICK, "--samples", "6000", "--epochs", 40, "--early-stopping", 30, "--seed", 3]
    out = tmp_path / "run"
    proc = start(*settings, "--no-plots", "--out", out)
    wait_for(out / "checkpoint.npz", proc)
    time.sleep(0.1)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    done = int(re.search(r"interrupted \((\d+) of 40 epochs done\)", stderr).group(1))
    assert f"continue with: nnscratch train --resume {out}" in stderr
    printed = [int(n) for n in re.findall(r"^epoch +(\d+)/40", stdout, re.M)]
    assert 1 <= done and max(printed) - 1 <= done <= max(printed)
    assert nn.Model.load(out / "checkpoint.npz").epoch == done
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert not (out / "model.npz").exists() or nn.Model.load(out / "model.npz").epoch <= done

    resumed = nnscratch("--resume", out, "--no-plots")  # no settings repeated
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {out} after epoch {done} of 40" in resumed.stdout
    assert f"epoch {done + 1:>3}/40" in resumed.stdout and "epoch  40/40" in resumed.stdout

    reference = tmp_path / "reference"
    whole = nnscratch(*settings, "--no-plots", "--quiet", "--out", reference)
    assert whole.returncode == 0, whole.stderr
    same_model(out / "model.npz", reference / "model.npz")
    same_model(out / "checkpoint.npz", reference / "checkpoint.npz")
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_resume_takes_the_recorded_settings_refuses_others_and_extends_a_finished_run(tmp_path):
    out = tmp_path / "run"
    assert nnscratch(*QUICK, "--epochs", 3, "--no-plots", "--quiet", "--out", out).returncode == 0
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["hidden"] == [16, 16] and record["settings"]["epochs"] == 3
    assert record["command"].startswith("nnscratch train --data moons --hidden 16,16")

    done = nnscratch("--resume", out)
    assert done.returncode == 0
    assert "nothing to resume" in done.stdout and "finished all 3 epochs" in done.stdout

    for flags, message in [
        (["--lr", "0.5"], "--lr 0.5 conflicts with the run's own --lr 0.001"),
        (["--hidden", "8"], "--hidden 8 conflicts with the run's own --hidden 16,16"),
        (["--out", tmp_path / "elsewhere"], "--resume names the run folder; leave out --out"),
        (["--overwrite"], "give one of them"),
        (["--epochs", "2"], "has already trained 3"),
    ]:
        refused = nnscratch("--resume", out, *flags)
        assert refused.returncode == 1 and message in refused.stderr, (flags, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1
    assert nnscratch("--resume", tmp_path / "nothing").returncode == 1

    longer = nnscratch("--resume", out, "--epochs", 5, "--quiet", "--no-plots")
    assert longer.returncode == 0, longer.stderr
    straight = tmp_path / "straight"
    assert (
        nnscratch(*QUICK, "--epochs", 5, "--quiet", "--no-plots", "--out", straight).returncode == 0
    )
    same_model(out / "model.npz", straight / "model.npz")
    assert json.loads((out / "run.json").read_text())["settings"]["epochs"] == 5


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder that exists but where no file can be created, even by root."""
    if os.geteuid() == 0:
        return Path("/proc/self")  # procfs refuses new files to everyone
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def test_what_can_be_checked_is_checked_before_the_first_epoch(tmp_path):
    cases = [
        (
            ["--early-stopping", 2, "--validation-split", 0, "--out", tmp_path / "a"],
            "--early-stopping watches the validation loss, but --validation-split is 0",
        ),
        (
            ["--out", unwritable_folder(tmp_path)],
            "is not writable",
        ),
        (
            ["--hidden", "200000,200000", "--out", tmp_path / "b"],
            r"784-200000-200000-10 network needs about \d+\.\d GB of memory but only "
            r"\d+\.\d GB is available",
        ),
    ]
    for flags, message in cases:
        result = nnscratch(*flags, "--epochs", 2, "--no-plots")
        assert result.returncode == 1, result.stderr
        assert re.search(message, result.stderr), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert "epoch " not in result.stdout  # no training happened
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_diverged_run_fails_and_keeps_only_good_work(tmp_path):
    out = tmp_path / "run"
    result = nnscratch(*QUICK, "--lr", "1e9", "--epochs", 3, "--no-plots", "--out", out)
    assert result.returncode == 1
    assert "training diverged at epoch 1" in result.stderr
    assert "over 1000 times the first batch's" in result.stderr
    assert "No epoch had finished, so nothing was saved but run.json" in result.stderr
    assert "test metrics" not in result.stdout
    assert not (out / "model.npz").exists() and not (out / "checkpoint.npz").exists()
    assert json.loads((out / "run.json").read_text())["status"] == "diverged"
    again = nnscratch("--resume", out)
    assert again.returncode == 1 and "diverged; resuming it would diverge again" in again.stderr


def test_a_model_worse_than_its_initial_weights_is_reported(tmp_path):
    out = tmp_path / "run"
    flags = ["--data", "moons", "--activation", "tanh", "--lr", "3", "--epochs", 3]
    result = nnscratch(*flags, "--no-plots", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    initial = json.loads((out / "run.json").read_text())["initial_test_loss"]
    final = json.loads((out / "metrics.json").read_text())["loss"]
    assert final > initial
    assert "warning: training made the model worse" in result.stderr
    assert f"{final:.4g}" in result.stderr and f"{initial:.4g}" in result.stderr

    fine = nnscratch(*QUICK, "--epochs", 3, "--no-plots", "--quiet", "--out", tmp_path / "ok")
    assert fine.returncode == 0 and "warning" not in fine.stderr


def test_the_default_run_folder_is_new_for_every_run(tmp_path):
    for _ in range(2):
        result = nnscratch("--data", "xor", "--epochs", 2, "--no-plots", "--quiet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2 and all(f.name.startswith("xor-") for f in folders)
    for folder in folders:
        assert {"run.json", "checkpoint.npz", "model.npz"} <= {p.name for p in folder.iterdir()}
