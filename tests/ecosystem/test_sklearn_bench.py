"""benchmarks/sklearn_table.py: nnscratch's estimators and scikit-learn's MLP side by side.

The smoke runs (tiny sizes, one seed, a few seconds) check the plumbing and the table, not the
speed: the same keyword dict and arrays reach both estimators, every cell is filled from the
recorded numbers, and the files hold what was printed.
"""

from __future__ import annotations

import json
import math
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the table compares with scikit-learn")
pytest.importorskip("scipy", reason="the text set is a SciPy sparse matrix")

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "benchmarks" / "sklearn_table.py"
SMOKE_PARAMS = {
    "hidden_layer_sizes": [16],
    "activation": "relu",
    "solver": "adam",
    "alpha": 1e-4,
    "batch_size": "auto",
    "learning_rate_init": 1e-3,
    "max_iter": 3,
    "tol": 1e-4,
    "n_iter_no_change": 10,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "shuffle": True,
}
HEADER = (
    "| data set | nnscratch fit (s) | MLP fit (s) | MLP/nnscratch | nnscratch score "
    "| MLP score | nnscratch n_iter_ | MLP n_iter_ | score no worse | 2x faster |"
)


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def table():
    return runpy.run_path(str(SCRIPT), run_name="sklearn_table")


def test_smoke_run_prints_and_writes_the_table(tmp_path):
    result = run_script("--smoke", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "sklearn.json").read_text())
    markdown = (tmp_path / "sklearn.md").read_text()
    assert result.stdout.endswith(markdown)  # the printed table is the written one
    assert results["smoke"] is True and results["dtype"] == "float64" and results["seeds"] == [0]
    m = results["machine"]
    assert m["numpy"] == np.__version__ and m["processor"] and m["cpus"] >= 1
    assert m["sklearn"] and m["nnscratch"] and m["blas"]
    assert "OPENBLAS_NUM_THREADS=1" in markdown and "SMOKE RUN" in markdown

    assert list(results["datasets"]) == ["digits", "text", "regression"]
    lines = markdown.splitlines()
    assert HEADER in lines
    for name, row in results["datasets"].items():
        classify = name != "regression"
        assert row["params"] == SMOKE_PARAMS  # one dict for both, MLP's meaning, no extras
        assert row["classes"] == (
            {"nnscratch": "NetClassifier", "mlp": "MLPClassifier"}
            if classify
            else {"nnscratch": "NetRegressor", "mlp": "MLPRegressor"}
        )
        assert row["sparse"] is (name == "text") and row["x_dtype"] == "float64"
        for est in ("nnscratch", "mlp"):
            r = row[est]
            assert "error" not in r, r
            (seconds,) = r["seconds"]["times"]
            assert seconds > 0 and r["seconds"]["median"] == seconds
            (run,) = row["runs"][est]
            assert run["seed"] == 0 and run["score"] == r["score_mean"] and r["score_std"] == 0
            assert r["n_iter"] == [3]  # max_iter 3 is below n_iter_no_change: the cap stops both
            assert r["dtype"] == "float64"
            if classify:
                # accuracy on the test part: a multiple of 1/n_test in [0, 1]
                assert 0 <= r["score_mean"] <= 1
                assert r["score_mean"] * row["n_test"] == pytest.approx(
                    round(r["score_mean"] * row["n_test"])
                )
            else:
                assert math.isfinite(r["score_mean"]) and r["score_mean"] <= 1
        # one seed: the paired ratio is the quotient of the two fit times
        ours, mlp = row["nnscratch"]["seconds"]["median"], row["mlp"]["seconds"]["median"]
        assert row["ratio"]["median"] == pytest.approx(mlp / ours)
        assert row["speed_ok"] is (mlp / ours >= 2.0)
        ours_epoch, mlp_epoch = ours / 3 * 1000, mlp / 3 * 1000
        assert (
            f"- {name}, per epoch (median over seeds of fit seconds / n_iter_): nnscratch "
            f"{ours_epoch:.1f} ms, MLP {mlp_epoch:.1f} ms, MLP/nnscratch "
            f"{mlp_epoch / ours_epoch:.2f}x." in lines
        )
        line = next(x for x in lines if x.startswith(f"| {name} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 10
        assert cells[1] == f"{ours:.2f} ({ours:.2f}-{ours:.2f})"
        assert cells[3] == f"{mlp / ours:.2f}x ({mlp / ours:.2f}-{mlp / ours:.2f})"
        assert cells[4] == f"{row['nnscratch']['score_mean']:.4f} +- 0.0000"
        assert cells[5] == f"{row['mlp']['score_mean']:.4f} +- 0.0000"
        assert cells[6:8] == ["3", "3"]
        assert cells[8] == {True: "yes", False: "NO"}[row["score_ok"]]
        assert cells[9] == (
            "n/a (sparse)" if name == "text" else {True: "yes", False: "NO"}[row["speed_ok"]]
        )
    density = float(next(x for x in lines if "- text:" in x).split("CSR density ")[1].split("%")[0])
    assert 0 < density < 5  # tiny vocabulary in the smoke run; 0.45 % in the full one


def test_float32_arrays_reach_both_estimators_as_float32(tmp_path):
    result = run_script(
        "--smoke", "--dtype", "float32", "--datasets", "digits,text", "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sklearn-float32.json",
        "sklearn-float32.md",
    ]
    results = json.loads((tmp_path / "sklearn-float32.json").read_text())
    assert list(results["datasets"]) == ["digits", "text"]
    for row in results["datasets"].values():
        assert row["x_dtype"] == "float32"
        assert row["nnscratch"]["dtype"] == row["mlp"]["dtype"] == "float32"
    assert "same float32 arrays" in (tmp_path / "sklearn-float32.md").read_text()


def test_bad_arguments_are_refused_in_one_line_before_running(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    for args, message in [
        (["--out", str(target)], f"--out {target} is a file; expected a folder"),
        (
            ["--datasets", "digits,mnist"],
            "unknown data set(s) mnist; expected a comma-separated subset",
        ),
        (["--seeds", "0"], "--seeds must be at least 1, got 0"),
    ]:
        result = run_script("--smoke", *args)
        assert result.returncode == 2 and message in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert target.read_text() == "keep me"


def test_summary_pairs_ratios_and_judges_scores_within_noise(table):
    def runs(seconds, scores):
        return [
            {"seed": i, "seconds": s, "score": c, "n_iter": 10 + i, "dtype": "float64"}
            for i, (s, c) in enumerate(zip(seconds, scores, strict=True))
        ]

    # MLP/nnscratch within each seed: 2.5, 1.5, 3.0 -> median 2.5; the ratio of the medians
    # would be 2.5 / 1.0 here too, but the min-max come from the pairs
    row = table["summarise"](
        {
            "nnscratch": runs([1.0, 2.0, 1.0], [0.96, 0.95, 0.97]),
            "mlp": runs([2.5, 3.0, 3.0], [0.98, 0.97, 0.99]),
        }
    )
    assert row["ratio"] == {"median": 2.5, "min": 1.5, "max": 3.0}
    assert row["speed_ok"] is True
    assert row["nnscratch"]["score_mean"] == pytest.approx(0.96)
    assert row["nnscratch"]["score_std"] == pytest.approx(0.01)
    assert row["nnscratch"]["n_iter"] == [10, 11, 12]
    # 0.96 against 0.98 less 2 sqrt((0.01^2 + 0.01^2) / 3) = 0.9637: worse beyond the noise
    assert row["score_ok"] is False
    row = table["summarise"](
        {
            "nnscratch": runs([1.0, 1.0, 1.0], [0.96, 0.95, 0.97]),
            "mlp": runs([1.9, 1.9, 2.5], [0.97, 0.96, 0.98]),
        }
    )
    # 0.96 against 0.97 - 0.0163: within the noise; 1.9x is short of the 2x target
    assert row["score_ok"] is True and row["speed_ok"] is False


def test_a_failed_fit_is_reported_and_the_other_estimator_keeps_its_numbers(table):
    from sklearn.neural_network import MLPClassifier

    class NoSparse(MLPClassifier):
        def fit(self, X, y):
            raise TypeError("sparse X is not supported\n(second line)")

    data = table["load_datasets"](["text"], True, np.float64)[0]
    messages = []
    row = table["run_dataset"](
        data, (0, 1), {"nnscratch": NoSparse, "mlp": MLPClassifier}, messages.append
    )
    assert row["nnscratch"] == {"error": "TypeError: sparse X is not supported"}
    assert [r["seed"] for r in row["runs"]["mlp"]] == [0, 1]
    assert len(row["mlp"]["n_iter"]) == 2 and row["ratio"] is None and row["score_ok"] is None
    assert "text seed 0 nnscratch: FAILED TypeError: sparse X is not supported" in messages
    results = {
        "machine": table["machine"](),
        "load": {"start": 2.5, "end": 0.2},
        "smoke": True,
        "dtype": "float64",
        "seeds": [0, 1],
        "datasets": {"text": row},
    }
    md = table["markdown"](results)
    line = next(x for x in md.splitlines() if x.startswith("| text |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:2] == ["text", "failed"] and cells[3:5] == ["-", "-"]
    assert cells[6] == "-" and cells[8:] == ["-", "n/a (sparse)"]
    mlp = row["mlp"]
    assert (
        cells[2]
        == f"{mlp['seconds']['median']:.2f} ({mlp['seconds']['min']:.2f}-{mlp['seconds']['max']:.2f})"
    )
    assert cells[5] == f"{mlp['score_mean']:.4f} +- {mlp['score_std']:.4f}"
    assert cells[7] == ", ".join(map(str, mlp["n_iter"]))
    assert "- text: nnscratch could not fit: TypeError: sparse X is not supported" in md
    assert "The machine was BUSY" in md  # a load average of 2.5 at the start
    results["load"] = {"start": 0.3, "end": 1.8}  # the end counts the run itself
    assert "BUSY" not in table["markdown"](results)
