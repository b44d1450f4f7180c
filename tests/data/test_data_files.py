"""The user's own data files (CSV, NPZ) and data folders: refused early, clearly, in one line.

Label sets that would build absurd networks, files too small to split, single-class tables,
mistyped ``--data-dir`` folders, incomplete MNIST folders and data too large for memory.
CLI cases run the real ``nnscratch`` command in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nnscratch.cli import sources
from nnscratch.cli.sources import MAX_CLASSES, read_csv
from nnscratch.data import InsufficientMemoryError, InvalidDatasetError, load_mnist, one_hot
from nnscratch.data.errors import DatasetNotFoundError, DownloadError

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run ``python -m nnscratch ARGS``; the 120 s timeout only guards against a hang."""
    base = {**os.environ, **(env or {})}
    base["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p
    )
    base.setdefault("MPLBACKEND", "Agg")
    return subprocess.run(
        [sys.executable, "-m", "nnscratch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=base,
        cwd=cwd,
    )


def train_cli(data: Path, out: Path, *extra: str, env: dict[str, str] | None = None):
    return cli(
        "train", "--data", str(data), "--epochs", "1", "--no-plots", "--out", str(out), *extra,
        env=env,
    )  # fmt: skip


def write_rows(path: Path, rows: list[list[object]], header: str | None = "a,b,label") -> Path:
    lines = ([header] if header else []) + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def blob_rows(labels: list[int]) -> list[list[object]]:
    return [[i * 0.5, (i % 3) - 1.0, label] for i, label in enumerate(labels)]


# ------------------------------------------------------------------------ label sets


def test_cli_refuses_a_label_of_a_million_with_its_line(tmp_path: Path) -> None:
    labels = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    labels[6] = 1_000_000
    data = write_rows(tmp_path / "typo.csv", blob_rows(labels))
    result = train_cli(data, tmp_path / "run")
    assert result.returncode == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    # header is line 1, so the seventh data row is line 8
    assert "line 8: class label 1000000 implies 1,000,001 classes" in err
    assert f"limit of {MAX_CLASSES:,}" in err
    assert not (tmp_path / "run" / "model.npz").exists()


def test_sparse_label_set_refused_with_counts(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "years.csv", blob_rows([1990, 2020, 1990, 2020, 2020]))
    with pytest.raises(InvalidDatasetError) as info:
        sources.load(str(data))
    message = str(info.value)
    assert "line 3: class label 2020 implies 2,021 classes" in message
    assert "only 2 distinct label(s) occur in 5 rows" in message
    assert "renumber the classes 0..1" in message


def test_a_few_skipped_labels_are_fine(tmp_path: Path) -> None:
    """Digits 3 and 8 only: 9 outputs, 2 used -- small, so allowed."""
    data = write_rows(tmp_path / "three_eight.csv", blob_rows([3, 8] * 10))
    loaded = sources.load(str(data))
    assert loaded.n_classes == 9
    assert loaded.y_train.dtype == np.int64
    assert set(np.unique(np.concatenate([loaded.y_train, loaded.y_test]))) == {3, 8}
    assert loaded.source.endswith("20 rows, 9 classes")


def test_cli_reports_the_number_of_classes(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "three.csv", blob_rows([0, 1, 2] * 10))
    result = train_cli(data, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "30 rows, 3 classes" in result.stdout


def test_negative_label_named_with_its_line(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "neg.csv", blob_rows([0, 1, -2, 1, 0]), header=None)
    with pytest.raises(InvalidDatasetError, match=r"neg\.csv, line 3: class label -2 is negative"):
        sources.load(str(data))


def test_huge_integral_label_is_not_wrapped_around(tmp_path: Path) -> None:
    """1e300 is an integer-valued float; casting it to int64 would give garbage."""
    data = write_rows(tmp_path / "huge.csv", blob_rows([0, 1, 0, 1]) + [[1.0, 2.0, "1e300"]])
    with pytest.raises(InvalidDatasetError, match=r"line 6: class label 1e\+300 implies"):
        sources.load(str(data))


def test_non_integer_labels_stay_regression_targets(tmp_path: Path) -> None:
    rows = [[i, i * 2.0, i * 0.25 + 1000.0] for i in range(12)]
    loaded = sources.load(str(write_rows(tmp_path / "reg.csv", rows)))
    assert loaded.y_train.dtype == np.float64
    assert sorted(np.concatenate([loaded.y_train, loaded.y_test]).tolist()) == [
        i * 0.25 + 1000.0 for i in range(12)
    ]
    assert loaded.source.endswith("12 rows, regression target")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e39"])
def test_non_finite_or_float32_overflow_features_named(tmp_path: Path, value: str) -> None:
    rows = blob_rows([0, 1, 0, 1, 0])
    rows[3][1] = value
    with pytest.raises(InvalidDatasetError, match=r"line 5, column 2: '.*' is not a finite number"):
        read_csv(write_rows(tmp_path / "bad.csv", rows), labelled=True)


def test_nan_label_named(tmp_path: Path) -> None:
    rows = blob_rows([0, 1, 0, 1, 0])
    rows[1][2] = "nan"
    with pytest.raises(InvalidDatasetError, match=r"line 3, column 3: 'nan' is not a finite"):
        read_csv(write_rows(tmp_path / "bad.csv", rows), labelled=True)


def test_npz_label_refused_with_its_index(tmp_path: Path) -> None:
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    y[5] = 1_000_000
    path = tmp_path / "xy.npz"
    np.savez(path, x=np.ones((8, 3)), y=y)
    with pytest.raises(InvalidDatasetError, match=r"y\[5\]: class label 1000000 implies 1,000,001"):
        sources.load(str(path))


def test_npz_split_labels_checked_together(tmp_path: Path) -> None:
    path = tmp_path / "split.npz"
    np.savez(
        path,
        x_train=np.ones((6, 2)),
        y_train=np.array([0, 1, 0, 1, 0, 1]),
        x_test=np.ones((3, 2)),
        y_test=np.array([1, 0, 700]),
    )
    with pytest.raises(InvalidDatasetError, match=r"y_test\[2\]: class label 700 implies 701"):
        sources.load(str(path))


def test_npz_mixed_integer_and_fractional_targets_are_one_regression_set(tmp_path: Path) -> None:
    path = tmp_path / "mixed.npz"
    np.savez(
        path,
        x_train=np.ones((4, 2)),
        y_train=np.array([0.5, 1.5, 2.5, 3.5]),
        x_test=np.ones((2, 2)),
        y_test=np.array([1.0, 2.0]),
    )
    loaded = sources.load(str(path))
    assert loaded.y_train.dtype == loaded.y_test.dtype == np.float64
    assert loaded.y_test.tolist() == [1.0, 2.0]


def test_npz_non_finite_feature_named(tmp_path: Path) -> None:
    x = np.ones((6, 3))
    x[4, 2] = np.inf
    path = tmp_path / "inf.npz"
    np.savez(path, x=x, y=np.array([0, 1, 0, 1, 0, 1]))
    with pytest.raises(InvalidDatasetError, match=r"x\[4, 2\] is inf"):
        sources.load(str(path))


# ------------------------------------------------------------------------ tiny files


@pytest.mark.parametrize("rows", [1, 2])
def test_cli_too_few_rows_for_a_split(tmp_path: Path, rows: int) -> None:
    data = write_rows(tmp_path / "tiny.csv", blob_rows([0, 1][:rows]))
    result = train_cli(data, tmp_path / "run")
    assert result.returncode == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "zero-size array" not in err
    assert f"holds {rows} data row{'s' if rows > 1 else ''}, too few to split" in err
    assert "at least 3 data rows are needed" in err


def test_generated_set_too_small_to_split() -> None:
    with pytest.raises(InvalidDatasetError) as info:
        sources.load("xor", n_samples=2)
    assert str(info.value) == (
        "the generated xor set holds 2 samples, too few to split into training and test sets "
        "(test fraction 0.2 gives 0 test row(s)); at least 3 samples are needed"
    )
    assert len(sources.load("xor", n_samples=3).x_test) == 1


def test_minimum_rows_follow_the_test_fraction(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "four.csv", blob_rows([0, 1, 0, 1]))
    with pytest.raises(InvalidDatasetError, match="at least 11 data rows are needed"):
        sources.load(str(data), test_fraction=0.05)
    assert len(sources.load(str(data), test_fraction=0.25).x_test) == 1


def test_npz_with_too_few_rows(tmp_path: Path) -> None:
    path = tmp_path / "two.npz"
    np.savez(path, x=np.ones((2, 3)), y=np.array([0, 1]))
    with pytest.raises(InvalidDatasetError, match="holds 2 data rows"):
        sources.load(str(path))


def test_cli_warns_about_a_single_class(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "one_class.csv", blob_rows([4] * 30))
    result = train_cli(data, tmp_path / "run", "--validation-split", "0")
    assert f"nnscratch: warning: {data}: every one of the 30 rows has label 4" in result.stderr
    assert "learns nothing" in result.stderr


def test_single_class_warning_only_for_one_class(tmp_path: Path, capsys) -> None:
    data = write_rows(tmp_path / "one_class.csv", blob_rows([0] * 10))
    sources.load(str(data))
    assert capsys.readouterr().err == (
        f"nnscratch: warning: {data}: every one of the 10 rows has label 0; a model trained "
        "on a single class learns nothing (it always predicts that class)\n"
    )
    sources.load(str(write_rows(tmp_path / "two_classes.csv", blob_rows([0, 1] * 5))))
    sources.load(str(write_rows(tmp_path / "reg.csv", [[i, i, 0.5] for i in range(5)])))
    assert capsys.readouterr().err == ""


def test_more_classes_than_test_rows_still_splits(tmp_path: Path) -> None:
    """Five classes, one row each: the split works and nothing crashes downstream."""
    data = write_rows(tmp_path / "five.csv", blob_rows([0, 1, 2, 3, 4]))
    loaded = sources.load(str(data))
    assert (len(loaded.x_train), len(loaded.x_test)) == (4, 1)
    assert loaded.n_classes == 5


# ------------------------------------------------------------------------ --data-dir


def test_cli_mistyped_data_dir_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "dta" / "mnist"
    result = train_cli(Path("mnist"), tmp_path / "run", "--data-dir", str(typo))
    assert result.returncode == 1
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1
    assert f"the folder {typo} (path argument) does not exist" in err
    assert "nothing was created" in err
    assert not (tmp_path / "dta").exists()


def test_library_mistyped_path_creates_nothing(isolated: Path, tmp_path: Path) -> None:
    typo = tmp_path / "no" / "such"
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_mnist(typo, progress=False)
    assert not (tmp_path / "no").exists()


def test_explicit_download_may_create_the_folder(
    isolated: Path, fake_mnist, local_server, tmp_path: Path
) -> None:
    local_server.files = {f"{name}.gz": body for name, body in fake_mnist.files.items()}
    target = tmp_path / "new" / "mnist"
    ds = load_mnist(
        target,
        download=True,
        checksums=fake_mnist.checksums,
        mirrors=[local_server.base("ok")],
        progress=False,
        retries=0,
    )
    assert len(ds.x_train) == 30
    assert sorted(p.name for p in target.iterdir()) == sorted(
        f"{name}.gz" for name in fake_mnist.files
    )


def test_cli_incomplete_folder_names_the_missing_file(
    tmp_path: Path, fake_mnist, local_server
) -> None:
    folder = fake_mnist.write_to(tmp_path / "partial")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    local_server.files = {f"{name}.gz": body for name, body in fake_mnist.files.items()}
    mirrors = f"{local_server.base('missing')} {local_server.url}/gone/"
    result = train_cli(
        Path("mnist"),
        tmp_path / "run",
        "--data-dir",
        str(folder),
        env={"NNSCRATCH_MNIST_MIRROR": mirrors, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"nnscratch: error: MNIST file t10k-labels-idx1-ubyte(.gz) not found in {folder}; "
        "downloading it failed from 2 mirror(s) (HTTP 404 Not Found). Offline? "
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]


def test_download_error_summary_and_details(isolated: Path, fake_mnist, local_server) -> None:
    local_server.files = {f"{name}.gz": body for name, body in fake_mnist.files.items()}
    with pytest.raises(DownloadError) as info:
        load_mnist(
            checksums=fake_mnist.checksums,
            mirrors=[local_server.base("missing")],
            progress=False,
            retries=0,
        )
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"MNIST file train-images-idx3-ubyte(.gz) not found in {isolated / 'mnist'}; "
        "downloading it failed from 1 mirror(s) (HTTP 404 Not Found). Offline? "
    )
    assert local_server.base("missing") in str(info.value.__cause__)
    assert info.value.failures == (
        (local_server.base("missing") + "train-images-idx3-ubyte.gz", "HTTP 404 Not Found"),
    )


# ------------------------------------------------------------------------ memory

_LIMITED = textwrap.dedent(
    """
    import resource, sys
    from nnscratch.data import InsufficientMemoryError
    {imports}
    # The room this process may still take: its current size plus 64 MiB.
    with open("/proc/self/status") as handle:
        size = next(int(l.split()[1]) * 1024 for l in handle if l.startswith("VmSize:"))
    limit = size + (64 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        {call}
    except InsufficientMemoryError as exc:
        print("REFUSED", exc.needed, exc)
    else:
        print("LOADED")
    """
)


def run_limited(imports: str, call: str) -> str:
    """Run ``call`` in a Python whose address space may grow by only 64 MiB."""
    script = _LIMITED.format(imports=imports, call=call)
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_idx_larger_than_memory_refused_before_reading(tmp_path: Path) -> None:
    """A 200-byte file whose header declares 1 GiB of images: refused with the figure."""
    path = tmp_path / "big.idx"
    header = bytes([0, 0, 0x08, 3]) + (1 << 20).to_bytes(4, "big") + (32).to_bytes(4, "big") * 2
    path.write_bytes(header + bytes(200))
    out = run_limited("from nnscratch.data import read_idx", f"read_idx({str(path)!r})")
    assert out.startswith("REFUSED 1073741824 ")
    assert "declares shape (1048576, 32, 32) of uint8, which needs 1,073,741,824 bytes" in out


def test_csv_larger_than_memory_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    row = ",".join(["0"] * 999) + ",1\n"
    path.write_text(row * 6000)  # 12 MB of text, 6 million values
    out = run_limited(
        "from nnscratch.cli.sources import read_csv", f"read_csv({str(path)!r}, labelled=True)"
    )
    assert out.startswith("REFUSED 72000000 "), out
    assert "wide.csv, 12,000,000 bytes of CSV, needs 72,000,000 bytes (68.7 MiB) of memory" in out


def test_one_hot_of_absurd_class_count_refused() -> None:
    with pytest.raises(
        InsufficientMemoryError, match=r"needs 8,000,000,000,000 bytes \(7.28 TiB\)"
    ):
        one_hot(np.array([0, 1]), num_classes=10**12)


def test_not_found_headline_names_the_missing_file(tmp_path: Path, fake_mnist) -> None:
    folder = fake_mnist.write_to(tmp_path / "partial")
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    result = cli("datasets", "verify", "mnist", "--data-dir", str(folder))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first == (
        f"nnscratch: error: MNIST was not found locally (train-labels-idx1-ubyte(.gz) not found "
        f"in {folder}) and downloading is disabled (download=False). Looked in:"
    )


def test_download_summary_counts_the_other_folders(
    isolated: Path, fake_mnist, local_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "elsewhere"))
    local_server.files = {f"{name}.gz": body for name, body in fake_mnist.files.items()}
    with pytest.raises(DownloadError) as info:
        load_mnist(mirrors=[local_server.base("missing")], progress=False, retries=0)
    assert str(info.value).startswith(
        f"MNIST file train-images-idx3-ubyte(.gz) not found in {isolated / 'mnist'} (nor in the "
        "2 other folder(s) searched); downloading it failed from 1 mirror(s)"
    )


def test_toy_set_too_large_for_memory_refused() -> None:
    from nnscratch.data import spirals

    with pytest.raises(InsufficientMemoryError, match=r"spirals\(n=10,000,000,000\): .* needs "):
        spirals(10**10)
    x, y = spirals(30)
    assert x.shape == (30, 2) and np.bincount(y).tolist() == [10, 10, 10]


def test_image_declaring_billions_of_pixels_refused(tmp_path: Path) -> None:
    pytest.importorskip("PIL", reason="Pillow reads the digit images")
    import struct
    import zlib

    from nnscratch.data.images import load_digit_image

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    path = tmp_path / "bomb.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(100)))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(
        InvalidDatasetError, match=r"bomb\.png is not a readable image: .*10000000000"
    ):
        load_digit_image(path)


def test_npz_larger_than_memory_refused_before_reading(tmp_path: Path) -> None:
    """100 MB of zeros compress to a 100 kB archive; the headers give the real size."""
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, x=np.zeros((12_500, 1000)), y=np.zeros(12_500, dtype=np.int64))
    assert path.stat().st_size < 1_000_000
    out = run_limited("from nnscratch.cli.sources import load", f"load({str(path)!r})")
    assert out.startswith("REFUSED 100100"), out
    assert "zeros.npz: its arrays, 100,100,256 bytes uncompressed, needs 100,100,256 bytes" in out


def test_write_idx_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    from nnscratch.data import write_idx

    target = tmp_path / "nope" / "labels.idx"
    with pytest.raises(FileNotFoundError) as info:
        write_idx(target, np.zeros(3, np.uint8))
    assert str(info.value) == (
        f"cannot write {target}: the folder {tmp_path / 'nope'} does not exist"
    )
    assert not (tmp_path / "nope").exists()


def test_expand_mnist_too_large_for_memory_refused() -> None:
    """A broadcast view declares 10**8 images without holding them; expanding would not."""
    from nnscratch.data import expand_mnist

    images = np.broadcast_to(np.zeros((1, 28, 28), np.float32), (10**8, 28, 28))
    with pytest.raises(
        InsufficientMemoryError, match=r"expand_mnist: 100,000,000 images of float32 \(five-fold\)"
    ):
        expand_mnist(images, np.zeros(10**8, np.uint8))
    small, labels = expand_mnist(np.ones((2, 28, 28), np.float32), np.array([3, 4]))
    assert small.shape == (10, 28, 28) and labels.tolist() == [3, 4] * 5
