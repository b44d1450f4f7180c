"""load_mnist's lookup order, verification and download, on tiny synthetic MNIST files.

The real MNIST is covered in test_data_mnist_real.py; here every case runs in milliseconds
and with the network and the user's cache out of reach (the ``isolated`` fixture).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import (
    DATASET_NAMES,
    ChecksumError,
    DataError,
    Dataset,
    DatasetNotFoundError,
    DownloadError,
    InvalidDatasetError,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    load_mnist_sample,
    write_idx,
)
from nnscratch.data import mnist as mnist_module
from nnscratch.data.mnist import FILES, KINDS, data_cache_dir

OFFLINE = {"download": False, "progress": False}


def load_fake(fake, where: Path | None = None, **options):
    """load_mnist with the fake files' checksums."""
    return load_mnist(where, checksums=fake.checksums, progress=False, **options)


def assert_is_fake(ds: Dataset, fake) -> None:
    np.testing.assert_array_equal(
        ds.x_train.reshape(-1, 28, 28), fake.arrays["train-images-idx3-ubyte"]
    )
    np.testing.assert_array_equal(ds.y_test, fake.arrays["t10k-labels-idx1-ubyte"])


# ----------------------------------------------------------------------------- lookup


def test_explicit_folder(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    folder = fake_mnist.write_to(tmp_path / "data")
    ds = load_fake(fake_mnist, folder, download=False)
    assert_is_fake(ds, fake_mnist)
    assert ds.source == f"{folder} (path argument)"
    assert ds.name == "mnist" and ds.num_classes == 10


def test_explicit_folder_with_kind_subfolder(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    fake_mnist.write_to(tmp_path / "root" / "mnist")
    ds = load_fake(fake_mnist, tmp_path / "root", download=False)
    assert ds.source.startswith(str(tmp_path / "root" / "mnist"))


@pytest.mark.parametrize("gzip_files", [True, False])
@pytest.mark.parametrize("dotted", [True, False])
def test_file_name_variants(
    isolated: Path, fake_mnist, tmp_path: Path, gzip_files: bool, dotted: bool
) -> None:
    folder = fake_mnist.write_to(tmp_path / "d", gzip_files=gzip_files, dotted=dotted)
    assert_is_fake(load_fake(fake_mnist, folder, download=False), fake_mnist)


def test_explicit_folder_is_exclusive(
    isolated: Path, fake_mnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NNSCRATCH_DATA", str(fake_mnist.write_to(tmp_path / "env")))
    empty = tmp_path / "empty"
    with pytest.raises(DatasetNotFoundError, match="empty"):
        load_fake(fake_mnist, empty, download=False)


def test_not_found_message(isolated: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    write_idx(partial / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(partial, **OFFLINE)
    message = str(info.value)
    assert "download=False" in message and "load_mnist_sample" in message
    assert "has only train-labels-idx1-ubyte" in message
    assert "NNSCRATCH_DATA" in message
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataError)


@pytest.mark.parametrize("layout", ["direct", "subfolder"])
def test_env_var(
    isolated: Path, fake_mnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    root = tmp_path / "datasets"
    fake_mnist.write_to(root if layout == "direct" else root / "mnist")
    monkeypatch.setenv("NNSCRATCH_DATA", str(root))
    ds = load_fake(fake_mnist, download=False)
    assert_is_fake(ds, fake_mnist)
    assert "NNSCRATCH_DATA" in ds.source


def test_env_var_several_folders(
    isolated: Path, fake_mnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = fake_mnist.write_to(tmp_path / "second")
    monkeypatch.setenv("NNSCRATCH_DATA", os.pathsep.join([str(tmp_path / "first"), str(folder)]))
    assert load_fake(fake_mnist, download=False).source.startswith(str(folder))


def test_env_folder_of_other_kind_is_skipped(
    isolated: Path, fake_mnist_factory: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same file names for both datasets: a direct folder of MNIST is not Fashion-MNIST."""
    mnist, fashion = fake_mnist_factory(seed=1, n_test=10), fake_mnist_factory(seed=2, n_test=11)
    monkeypatch.setitem(
        mnist_module.KINDS, "mnist", dataclasses.replace(KINDS["mnist"], checksums=mnist.checksums)
    )
    monkeypatch.setitem(
        mnist_module.KINDS,
        "fashion-mnist",
        dataclasses.replace(KINDS["fashion-mnist"], checksums=fashion.checksums, system_dirs=()),
    )
    monkeypatch.setenv("NNSCRATCH_DATA", str(mnist.write_to(tmp_path / "mnist-direct")))
    fashion.write_to(isolated / "fashion-mnist")  # the cache
    ds = load_fashion_mnist(download=False, progress=False)
    assert ds.source == f"{isolated / 'fashion-mnist'} (cache)"
    assert ds.class_names[0] == "T-shirt/top"
    assert load_mnist(download=False, progress=False).source.endswith("(NNSCRATCH_DATA, direct)")

    # Named explicitly, the wrong folder is an error that says what it holds.
    with pytest.raises(ChecksumError, match="It is the MNIST file of the same name"):
        load_fashion_mnist(tmp_path / "mnist-direct", download=False, progress=False)


def test_cache_folder(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    assert data_cache_dir() == isolated
    fake_mnist.write_to(isolated / "mnist")
    assert load_fake(fake_mnist, download=False).source == f"{isolated / 'mnist'} (cache)"
    custom = tmp_path / "custom-cache"
    fake_mnist.write_to(custom / "mnist")
    ds = load_fake(fake_mnist, download=False, cache_dir=custom)
    assert ds.source.startswith(str(custom))


def test_cache_default_without_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_cache_dir() == tmp_path / ".cache" / "nnscratch"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid per the XDG spec
    assert data_cache_dir() == tmp_path / ".cache" / "nnscratch"


def test_debian_fashion_location(
    isolated: Path, fake_mnist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert KINDS["fashion-mnist"].system_dirs == ("/usr/share/datasets/fashion-mnist",)
    debian = fake_mnist.write_to(tmp_path / "usr-share-datasets-fashion-mnist")
    patched = dataclasses.replace(KINDS["fashion-mnist"], system_dirs=(str(debian),))
    monkeypatch.setitem(mnist_module.KINDS, "fashion-mnist", patched)
    ds = load_fake(fake_mnist, kind="fashion-mnist", download=False)
    assert ds.source == f"{debian} (system package)"


# ----------------------------------------------------------------------------- verification


def test_checksum_mismatch(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    folder = fake_mnist.write_to(tmp_path / "d")
    wrong = dict(fake_mnist.checksums, **{"t10k-images-idx3-ubyte": "ab" * 32})
    with pytest.raises(ChecksumError, match="delete it") as info:
        load_mnist(folder, checksums=wrong, **OFFLINE)
    assert "t10k-images-idx3-ubyte" in str(info.value) and str(folder) in str(info.value)
    # verify=False is the documented escape hatch.
    assert_is_fake(load_mnist(folder, checksums=wrong, verify=False, **OFFLINE), fake_mnist)


def test_builtin_checksums_reject_fake_data(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    folder = fake_mnist.write_to(tmp_path / "d")
    with pytest.raises(ChecksumError, match="not the official MNIST"):
        load_mnist(folder, **OFFLINE)


def _write_set(folder: Path, **overrides: np.ndarray) -> Path:
    arrays = {
        "train-images-idx3-ubyte": np.zeros((4, 28, 28), np.uint8),
        "train-labels-idx1-ubyte": np.arange(4, dtype=np.uint8),
        "t10k-images-idx3-ubyte": np.zeros((2, 28, 28), np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(2, dtype=np.uint8),
    }
    arrays.update({k.replace("_", "-"): v for k, v in overrides.items()})
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / f"{name}.gz", array)
    return folder


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"train_images_idx3_ubyte": np.zeros((4, 27, 27), np.uint8)}, r"shape \(n, 28, 28\)"),
        ({"train_images_idx3_ubyte": np.zeros((4, 28, 28), np.float32)}, "uint8"),
        ({"t10k_labels_idx1_ubyte": np.array([3, 10], np.uint8)}, "labels must be 0-9"),
        ({"t10k_labels_idx1_ubyte": np.zeros((2, 1), np.uint8)}, r"shape \(n,\)"),
        ({"train_labels_idx1_ubyte": np.arange(5, dtype=np.uint8)}, "4 images but 5 labels"),
    ],
)
def test_wrong_structure(isolated: Path, tmp_path: Path, overrides: dict, message: str) -> None:
    folder = _write_set(tmp_path / "d", **overrides)
    with pytest.raises(InvalidDatasetError, match=message):
        load_mnist(folder, checksums={}, **OFFLINE)


def test_damaged_file_names_file(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    folder = fake_mnist.write_to(tmp_path / "d")
    victim = folder / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: the gzip stream"):
        load_mnist(folder, checksums={}, **OFFLINE)


# ----------------------------------------------------------------------------- download


def serve_fake(server, fake) -> None:
    server.files.update({f"{name}.gz": payload for name, payload in fake.files.items()})


def test_download_into_cache(isolated: Path, fake_mnist, local_server, listing: Callable) -> None:
    serve_fake(local_server, fake_mnist)
    ds = load_fake(fake_mnist, mirrors=[local_server.base("ok")], retries=0)
    assert_is_fake(ds, fake_mnist)
    assert ds.source == f"{isolated / 'mnist'} (downloaded)"
    assert listing(isolated / "mnist") == sorted(f"{n}.gz" for n in FILES)
    requests = sum(local_server.requests.values())
    assert requests == 4
    # The next load is served from the cache, without touching the network.
    assert load_fake(fake_mnist, mirrors=[local_server.base("ok")]).source.endswith("(cache)")
    assert sum(local_server.requests.values()) == requests


def test_download_mirror_from_env(
    isolated: Path, fake_mnist, local_server, monkeypatch: pytest.MonkeyPatch, dead_url: str
) -> None:
    serve_fake(local_server, fake_mnist)
    monkeypatch.setenv("NNSCRATCH_MNIST_MIRROR", f"{dead_url} , {local_server.base('ok')}")
    assert_is_fake(load_fake(fake_mnist, retries=0), fake_mnist)


def test_download_only_missing_files(
    isolated: Path, fake_mnist, local_server, tmp_path: Path
) -> None:
    serve_fake(local_server, fake_mnist)
    target = tmp_path / "mine"
    target.mkdir()
    (target / "train-images-idx3-ubyte.gz").write_bytes(fake_mnist.files["train-images-idx3-ubyte"])
    ds = load_fake(fake_mnist, target, mirrors=local_server.base("ok"), retries=0)
    assert_is_fake(ds, fake_mnist)
    assert local_server.requests["/ok/train-images-idx3-ubyte.gz"] == 0
    assert sum(local_server.requests.values()) == 3


@pytest.mark.parametrize("mode", ["corrupt", "truncate", "missing"])
def test_failed_download_leaves_cache_clean(
    isolated: Path, fake_mnist, local_server, listing: Callable, mode: str
) -> None:
    serve_fake(local_server, fake_mnist)
    local_server.corrupt_files.update(
        {name: payload[:-8] + b"\x00" * 8 for name, payload in local_server.files.items()}
    )
    with pytest.raises(DownloadError):
        load_fake(fake_mnist, mirrors=[local_server.base(mode)], retries=1)
    assert listing(isolated / "mnist") == []


def test_download_of_wrong_content_rejected(
    isolated: Path, fake_mnist_factory: Callable, local_server, listing: Callable
) -> None:
    """A mirror serving well-formed but different data fails the decompressed checksum."""
    expected, other = fake_mnist_factory(seed=1), fake_mnist_factory(seed=2)
    serve_fake(local_server, other)
    with pytest.raises(DownloadError, match="SHA-256 of its decompressed content"):
        load_fake(expected, mirrors=[local_server.base("ok")], retries=0)
    assert listing(isolated / "mnist") == []


def test_offline_without_data(isolated: Path, listing: Callable) -> None:
    """No data anywhere and no network: clear errors, and the bundled sample still works."""
    with pytest.raises(DatasetNotFoundError, match="load_mnist_sample"):
        load_mnist(**OFFLINE)
    with pytest.raises(DownloadError, match="(?s)cannot connect.*load_mnist_sample"):
        load_mnist(retries=0, progress=False)  # mirrors point at a closed port
    assert listing(isolated) in ([], ["mnist"])
    sample = load_mnist_sample()
    assert sample.x_train.shape == (5000, 784)


# ----------------------------------------------------------------------------- options


def test_output_options(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    folder = fake_mnist.write_to(tmp_path / "d")
    raw = load_fake(fake_mnist, folder, download=False)
    assert raw.x_train.dtype == np.uint8 and raw.x_train.shape == (30, 784)
    assert raw.y_train.dtype == np.int64 and raw.y_train.shape == (30,)
    assert raw.x_val.shape == (0, 784) and raw.y_val.shape == (0,)

    norm = load_fake(fake_mnist, folder, download=False, normalize=True, flatten=False)
    assert norm.x_train.dtype == np.float32 and norm.x_train.shape == (30, 28, 28)
    np.testing.assert_allclose(norm.x_train.reshape(30, -1), raw.x_train / 255.0, rtol=1e-6)

    wide = load_fake(
        fake_mnist,
        folder,
        download=False,
        normalize=True,
        one_hot=True,
        dtype=np.float64,
        validation_size=10,
    )
    assert wide.x_train.dtype == np.float64 and wide.y_train.dtype == np.float64
    assert wide.x_train.shape == (20, 784) and wide.x_val.shape == (10, 784)
    assert wide.y_val.shape == (10, 10)
    np.testing.assert_array_equal(wide.y_val.argmax(axis=1), raw.y_train[20:])
    np.testing.assert_array_equal(wide.x_val, raw.x_train[20:] / 255.0)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"kind": "emnist"}, "unknown kind 'emnist'"),
        ({"validation_size": -1}, "validation_size"),
        ({"validation_size": 1.5}, "validation_size must be an integer"),
        ({"dtype": np.int32}, "floating type"),
    ],
)
def test_bad_arguments_fail_before_io(isolated: Path, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_mnist(Path("/nonexistent"), **OFFLINE, **options)


def test_path_must_be_a_folder(isolated: Path, tmp_path: Path) -> None:
    (tmp_path / "file.gz").write_bytes(b"x")
    with pytest.raises(ValueError, match="must be a folder"):
        load_mnist(tmp_path / "file.gz", **OFFLINE)


def test_validation_size_too_large(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    folder = fake_mnist.write_to(tmp_path / "d")
    with pytest.raises(ValueError, match="smaller than the 30 training samples"):
        load_fake(fake_mnist, folder, download=False, validation_size=30)


def test_load_fashion_mnist_rejects_kind() -> None:
    with pytest.raises(TypeError, match="kind"):
        load_fashion_mnist(kind="mnist")


# ----------------------------------------------------------------------------- Dataset


def test_dataset_access_patterns() -> None:
    ds = load_mnist_sample(validation_size=1000)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = ds
    assert x_train is ds.x_train and ds.val == (x_val, y_val) and ds.test[1] is y_test
    assert "mnist-sample" in repr(ds) and "x(4000, 784) uint8" in repr(ds)
    assert len(y_train) == 4000 and len(y_val) == 1000
    assert ds.nbytes == 6000 * 784 + 6000 * 8  # the validation view is not double-counted
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "x"  # type: ignore[misc]


# ----------------------------------------------------------------------------- sample


def test_sample(isolated: Path) -> None:
    ds = load_mnist_sample()
    assert ds.x_train.shape == (5000, 784) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (1000, 784)
    assert np.bincount(ds.y_train).tolist() == [500] * 10
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    assert ds.y_train.dtype == np.int64
    assert ds.source.startswith("bundled sample")
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0


def test_sample_options() -> None:
    ds = load_mnist_sample(normalize=True, flatten=False, one_hot=True, validation_size=500)
    assert ds.x_train.shape == (4500, 28, 28) and ds.x_train.dtype == np.float32
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    assert ds.y_train.shape == (4500, 10) and (ds.y_train.sum(axis=1) == 1).all()
    assert ds.x_val.shape == (500, 28, 28)


def test_sample_resource_files_present() -> None:
    import importlib.resources

    folder = importlib.resources.files("nnscratch.data").joinpath("sample")
    readme = folder.joinpath("README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in readme and "Yann LeCun" in readme and "Burges" in readme
    size = len(folder.joinpath("mnist-sample.npz").read_bytes())
    assert size <= 1_500_000


# ----------------------------------------------------------------------------- registry


def test_load_dataset() -> None:
    assert load_dataset("mnist-sample").name == "mnist-sample"
    toy = load_dataset("five_clusters", n=50, seed=3)
    assert toy.x_train.shape == (50, 2) and toy.x_test.shape == (0, 2)
    assert toy.num_classes == 5 and toy.name == "five-clusters"
    assert load_dataset("truth-table").y_train.tolist() == [0, 1, 1, 0]
    assert load_dataset("noisy-sine", n=7).y_train.shape == (7, 1)
    assert {"mnist", "fashion-mnist", "spirals", "noisy-sine"} <= set(DATASET_NAMES)
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*mnist-sample"):
        load_dataset("imagenet")


def test_load_dataset_forwards_mnist_options(isolated: Path, fake_mnist, tmp_path: Path) -> None:
    folder = fake_mnist.write_to(tmp_path / "d")
    ds = load_dataset("MNIST", path=folder, checksums=fake_mnist.checksums, **OFFLINE)
    assert_is_fake(ds, fake_mnist)
