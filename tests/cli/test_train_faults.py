"""Fault injection: ``nnscratch train`` killed with SIGINT, SIGTERM and SIGKILL at seeded random
moments, then resumed, again and again. Whatever the moment: every file in the run folder is
readable, at most the epoch under way is lost, and the run that is finally completed matches an
uninterrupted one bitwise."""

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
from tests.cli.test_train_runs import ENV, same_model

import nnscratch as nn

#: about 40 ms an epoch, 45 epochs: a run is cut several times before it ends. Dropout and
#: early stopping (too patient to stop) give the resumed run every state it must carry over.
SETTINGS = [
    "--data", "moons", "--samples", "2500", "--hidden", "16,16", "--batch-size", "16",
    "--dropout", "0.1", "--early-stopping", "60", "--epochs", "45", "--seed", "5", "--no-plots",
]  # fmt: skip
KILLS = 33  # 11 per chain, each signal 11 times in all
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


def command(folder):
    """Resume the run in ``folder``, or start it if no run was recorded there yet (a process
    killed before it had checked its settings leaves nothing to resume)."""
    argv = (
        ["--resume", str(folder)]
        if (folder / "run.json").exists()
        else [*SETTINGS, "--out", str(folder)]
    )
    return [sys.executable, "-m", "nnscratch", "train", *argv]


def wait_for_training(proc, log, seconds: float = 60.0) -> None:
    """Until the run prints its data line (its checks are done and the epochs begin)."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        if "data: moons" in log.read_text():
            return
        time.sleep(0.01)


def check_folder(folder, previous_epoch: int, printed: int) -> int:
    """Every file readable; the checkpoint no older than the last epoch printed, less one."""
    epoch = 0
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue  # the lock, and temporary files a killed write left (never read)
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            model = nn.Model.load(path)
            assert np.isfinite(model.network.flat_parameter.value).all()
            if path.name == "checkpoint.npz":
                epoch = model.epoch
    assert epoch >= previous_epoch, "a checkpoint went back in time"
    assert epoch >= printed - 1, f"epoch {printed} was printed but the checkpoint holds {epoch}"
    return epoch


def test_runs_killed_at_random_moments_resume_to_the_uninterrupted_result(tmp_path):
    reference = tmp_path / "reference"
    whole = subprocess.run(
        [sys.executable, "-m", "nnscratch", "train", *SETTINGS, "--quiet", "--out", str(reference)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert whole.returncode == 0, whole.stderr

    rng = np.random.default_rng(20261130)
    plan = rng.permutation(np.repeat(np.arange(len(SIGNALS)), KILLS // len(SIGNALS)))
    chains = [tmp_path / f"chain{i}" for i in range(3)]
    epochs = dict.fromkeys(chains, 0)
    seen = set()
    for step, which in enumerate(plan):
        folder, signum = chains[step % len(chains)], SIGNALS[which]
        log = tmp_path / "log.txt"
        with open(log, "w") as out, open(tmp_path / "err.txt", "w") as err:
            proc = subprocess.Popen(command(folder), stdout=out, stderr=err, env=ENV)
            if step % 4 == 0:  # any moment, start-up included
                time.sleep(rng.uniform(0.0, 1.0))
            else:  # a moment of training, whatever the machine's load makes start-up cost
                wait_for_training(proc, log)
                time.sleep(rng.uniform(0.0, 0.4))
            if proc.poll() is None:
                proc.send_signal(signum)
            code = proc.wait(timeout=60)
        stderr = (tmp_path / "err.txt").read_text()
        assert code in (0, 130, -signum), (signum, code, stderr)
        if code == 130:
            assert "nnscratch: interrupted" in stderr, stderr
        if "epochs done" in stderr or "epoch done" in stderr:
            assert f"continue with: nnscratch train --resume {folder}" in stderr
        seen.add((signum, code))
        printed = [int(n) for n in re.findall(r"^epoch +(\d+)/", log.read_text(), re.M)]
        if folder.exists():
            epochs[folder] = check_folder(folder, epochs[folder], max(printed, default=0))

    for folder in chains:  # the last resume runs to the end
        result = subprocess.run(
            command(folder), capture_output=True, text=True, env=ENV, timeout=120
        )
        assert result.returncode == 0, result.stderr
        same_model(folder / "model.npz", reference / "model.npz")
        assert json.loads((folder / "run.json").read_text())["status"] == "finished"
    # the signals did land while training ran, not only before or after it
    assert (signal.SIGINT, 130) in seen and (signal.SIGTERM, 130) in seen
    assert (signal.SIGKILL, -signal.SIGKILL) in seen
