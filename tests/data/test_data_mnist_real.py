"""Checks against the real, full MNIST (skipped without it, failing under CI=true).

The full set is loaded once per session (``mnist_full``); tests that need other options
load it again, which costs well under a second each.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import (
    DatasetNotFoundError,
    load_fashion_mnist,
    load_mnist,
    load_mnist_sample,
)
from nnscratch.data import mnist as mnist_module
from nnscratch.data.mnist import KINDS

REPO = Path(__file__).resolve().parents[2]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MB = 1_000_000


@pytest.fixture(scope="module")
def mnist_normalized(mnist_dir: Path):
    return load_mnist(
        mnist_dir, normalize=True, validation_size=10000, download=False, progress=False
    )


def test_shapes_and_types(mnist_full) -> None:
    assert mnist_full.x_train.shape == (60000, 784) and mnist_full.x_train.dtype == np.uint8
    assert mnist_full.x_test.shape == (10000, 784) and mnist_full.x_test.dtype == np.uint8
    assert mnist_full.y_train.shape == (60000,) and mnist_full.y_train.dtype == np.int64
    assert mnist_full.x_val.shape == (0, 784)


def test_published_class_counts(mnist_full) -> None:
    assert np.bincount(mnist_full.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist_full.y_test, minlength=10).tolist() == TEST_COUNTS


def test_known_first_labels(mnist_full) -> None:
    # The famous first training digits (5 0 4 1 9 ...) and test digits (7 2 1 0 4 ...).
    assert mnist_full.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist_full.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_uint8_memory(mnist_full) -> None:
    assert mnist_full.nbytes < 60 * MB
    total = sum(a.nbytes for a in (mnist_full.x_train, mnist_full.y_train, mnist_full.x_test))
    assert total < 60 * MB


def test_normalized_split(mnist_normalized, mnist_full) -> None:
    ds = mnist_normalized
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.shape == (50000, 784) and ds.x_val.shape == (10000, 784)
    assert ds.x_test.shape == (10000, 784)
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    # Nielsen's split: the validation set is the last 10,000 training images.
    np.testing.assert_array_equal(ds.y_val, mnist_full.y_train[50000:])
    np.testing.assert_allclose(ds.x_val[:100], mnist_full.x_train[50000:50100] / 255.0, rtol=1e-6)
    assert ds.nbytes < 250 * MB


def test_unflattened(mnist_dir: Path) -> None:
    ds = load_mnist(mnist_dir, flatten=False, verify=False, download=False)
    assert ds.x_train.shape == (60000, 28, 28)


def test_found_through_env_var(mnist_dir: Path, isolated: Path, monkeypatch) -> None:
    monkeypatch.setenv("NNSCRATCH_DATA", str(mnist_dir))
    ds = load_mnist(download=False, progress=False)
    assert "NNSCRATCH_DATA" in ds.source and ds.x_train.shape == (60000, 784)


def test_mnist_folder_not_taken_for_fashion(mnist_dir: Path, isolated: Path, monkeypatch) -> None:
    patched = dataclasses.replace(KINDS["fashion-mnist"], system_dirs=())
    monkeypatch.setitem(mnist_module.KINDS, "fashion-mnist", patched)
    monkeypatch.setenv("NNSCRATCH_DATA", str(mnist_dir))
    with pytest.raises(DatasetNotFoundError):
        load_fashion_mnist(download=False)


def test_bundled_sample_is_a_faithful_subset(mnist_full) -> None:
    sample = load_mnist_sample()

    path = importlib.resources.files("nnscratch.data").joinpath("sample/mnist-sample.npz")
    with path.open("rb") as handle, np.load(handle) as archive:
        train_idx, test_idx = archive["train_indices"], archive["test_indices"]
    np.testing.assert_array_equal(sample.x_train, mnist_full.x_train[train_idx])
    np.testing.assert_array_equal(sample.y_train, mnist_full.y_train[train_idx])
    np.testing.assert_array_equal(sample.x_test, mnist_full.x_test[test_idx])
    np.testing.assert_array_equal(sample.y_test, mnist_full.y_test[test_idx])


def test_sample_script_reproduces_sample(mnist_dir: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_mnist_sample", REPO / "scripts" / "make_mnist_sample.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "sample.npz"
    script.make_sample(str(mnist_dir), out, script.DEFAULT_SEED)
    bundled = importlib.resources.files("nnscratch.data").joinpath("sample/mnist-sample.npz")
    with np.load(out) as fresh, bundled.open("rb") as handle, np.load(handle) as shipped:
        assert sorted(fresh.files) == sorted(shipped.files)
        for key in fresh.files:
            np.testing.assert_array_equal(fresh[key], shipped[key], err_msg=key)


def test_real_files_download_and_verify_with_builtin_checksums(
    mnist_dir: Path, isolated: Path, local_server, listing
) -> None:
    """The whole download path with the shipped checksums, from a local mirror."""
    for path in mnist_dir.glob("*-ubyte.gz"):
        local_server.files[path.name] = path.read_bytes()
    ds = load_mnist(mirrors=[local_server.base("ok")], retries=0, progress=False)
    assert ds.source == f"{isolated / 'mnist'} (downloaded)"
    assert np.bincount(ds.y_train).tolist() == TRAIN_COUNTS
    assert len(listing(isolated / "mnist")) == 4
