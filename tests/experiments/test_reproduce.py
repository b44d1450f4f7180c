"""`nnscratch reproduce --fast` passes every row: the articles' figures, reproduced."""

import json

import pytest
from tests.conftest import mnist_dir, shared_data_dir

from nnscratch.cli.main import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_reproduce_fast_passes_every_row(tmp_path, capsys, monkeypatch):
    folder, shared = mnist_dir(), shared_data_dir()
    if folder is None or shared is None or not (shared / "saito-sample-weight.npz").exists():
        pytest.skip("needs full MNIST and the chapter-3 weights (../shared/data)")
    monkeypatch.setenv("NNSCRATCH_DATA", str(folder))
    code = main(["reproduce", "--fast", "--out", str(tmp_path), "--data-dir", str(folder)])
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["rows"]
    assert code == 0, out
    assert len(rows) == 20 and all(r["verdict"] == "pass" for r in rows), out
    articles = " ".join(r["experiment"] for r in rows)
    for seed in ("seed 000", "seed 002", "seed 003", "seed 004", "Nielsen ch. 6", "Saito ch. 7"):
        assert seed in articles
    assert "20 passed, 0 failed, 0 skipped" in out
    table = (tmp_path / "results.md").read_text()
    assert "| experiment | article | ours | verdict |" in table and "93.52%" in table
    for figure in results["figures"]:
        assert (tmp_path / figure).read_bytes()[:8] == PNG_MAGIC
    assert {
        "seed000_decision_regions.png",
        "seed002_learning_slowdown.png",
        "seed003_loss.png",
        "activations.png",
    } <= set(results["figures"])


def test_unknown_experiment_is_a_clear_error(capsys, tmp_path):
    assert main(["reproduce", "--only", "seed999", "--out", str(tmp_path)]) == 1
    assert "unknown experiment(s) ['seed999']" in capsys.readouterr().err
