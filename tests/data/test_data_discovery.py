"""The test helpers that find the real data work from NNSCRATCH_DATA alone.

CI checks the repository out somewhere without a ``../shared/data`` beside it and sets
``NNSCRATCH_DATA=<root>/shared/data/mnist``; MNIST is that folder and the chapter-3 weights
lie one level up. The helpers are pointed at a fake repository here, so the only way to
the (placeholder) data files is through the environment variable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tests.conftest as root_conftest
from tests.conftest import MNIST_FILES, WEIGHTS_FILE, mnist_dir, shared_data_dir


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shared-data tree under tmp_path, with the repository moved away from it."""
    shared = tmp_path / "ci" / "shared" / "data"
    (shared / "mnist").mkdir(parents=True)
    for name in MNIST_FILES:
        (shared / "mnist" / f"{name}.gz").write_bytes(b"placeholder")
    (shared / WEIGHTS_FILE).write_bytes(b"placeholder")
    monkeypatch.setattr(root_conftest, "REPO_ROOT", tmp_path / "checkout" / "nnscratch")
    monkeypatch.delenv("NNSCRATCH_DATA", raising=False)
    return shared


def test_nothing_found_without_the_variable(elsewhere: Path) -> None:
    assert mnist_dir() is None
    assert shared_data_dir() is None


def test_found_through_the_mnist_folder_as_on_ci(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NNSCRATCH_DATA", str(elsewhere / "mnist"))
    assert mnist_dir() == elsewhere / "mnist"
    assert shared_data_dir() == elsewhere  # the weights are one level up


def test_found_through_the_shared_folder(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNSCRATCH_DATA", str(elsewhere))
    assert mnist_dir() == elsewhere / "mnist"
    assert shared_data_dir() == elsewhere


def test_an_incomplete_mnist_folder_is_not_taken(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (elsewhere / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("NNSCRATCH_DATA", str(elsewhere / "mnist"))
    assert mnist_dir() is None
    assert shared_data_dir() == elsewhere


def test_default_location_beside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path
) -> None:
    """Without the variable, ``<repo>/../shared/data`` is the fallback."""
    monkeypatch.setattr(root_conftest, "REPO_ROOT", elsewhere.parent.parent / "nnscratch")
    assert mnist_dir() == elsewhere / "mnist"
    assert shared_data_dir() == elsewhere
