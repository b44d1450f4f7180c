"""Where the command line's data comes from: a dataset name or a file of the user's own."""

from __future__ import annotations

import array
import csv
import math
import os
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from ..core._types import Array
from ..data import DATASET_NAMES, load_dataset, train_val_split
from ..data._memory import check_fits
from ..data.errors import DataError, InvalidDatasetError

#: The most classes a labelled file may imply (largest label + 1). Far above any table a
#: person writes by hand, far below the million-output network a stray label would build.
MAX_CLASSES = 10_000
#: Up to this many classes, labels may skip values freely (e.g. only digits 3 and 8).
_SPARSE_FLOOR = 100
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Memory per parsed value: the float64 parse buffer plus the float32 copy handed out.
_BYTES_PER_VALUE = 8 + 4


def warn(text: str) -> None:
    """Tell the user on stderr, as the other commands do, that the data looks wrong but loads."""
    print(f"nnscratch: warning: {text}", file=sys.stderr, flush=True)


IMAGE_DATASETS = ("mnist-sample", "mnist", "fashion-mnist")


@dataclass
class Data:
    """Training and test arrays plus what the pictures and tables need to know."""

    name: str
    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    image_shape: tuple[int, int] | None = None
    class_names: tuple[str, ...] | None = None
    source: str = ""

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load(
    spec: str,
    data_dir: str | None = None,
    *,
    seed: int = 0,
    n_samples: int | None = None,
    noise: float | None = None,
    test_fraction: float = 0.2,
) -> Data:
    """``spec`` is a dataset name (see ``nnscratch datasets list``) or a .csv/.npz path."""
    key = spec.strip().lower().replace("_", "-")
    if key in IMAGE_DATASETS:
        options: dict[str, Any] = {"normalize": True}
        if key != "mnist-sample":
            options.update(path=data_dir, progress=True)
        ds = load_dataset(key, **options)
        return Data(
            key,
            ds.x_train,
            ds.y_train.astype(np.int64),
            ds.x_test,
            ds.y_test.astype(np.int64),
            (28, 28),
            tuple(ds.class_names),
            ds.source,
        )
    if key in DATASET_NAMES:
        options = {} if key == "truth-table" else {"seed": seed}  # the table has no randomness
        if n_samples is not None and key != "truth-table":
            options["n"] = n_samples
        if noise is not None and key not in ("truth-table", "five-clusters"):
            options["noise"] = noise
        ds = load_dataset(key, **options)
        # a huge --noise makes points that overflow the float32 features: say so, not train
        x, y = _features(ds.x_train, f"the generated {key} set", "x"), ds.y_train
        if key in ("truth-table",):
            return Data(key, x, y, x, y, source="seed 003's table (train = test)")
        regression = y.dtype.kind == "f"
        _check_split_size(f"the generated {key} set", len(x), test_fraction, "samples")
        x_tr, y_tr, x_te, y_te = train_val_split(
            x, y, val_fraction=test_fraction, stratify=not regression, seed=seed
        )
        return Data(key, x_tr, y_tr, x_te, y_te, source=f"generated (seed {seed})")
    path = Path(spec)
    if path.suffix.lower() in (".csv", ".npz") or path.exists():
        return _from_file(path, seed=seed, test_fraction=test_fraction)
    raise ValueError(
        f"unknown dataset {spec!r}: use one of {', '.join(DATASET_NAMES)}, or a .csv/.npz file"
    )


def _from_file(path: Path, *, seed: int, test_fraction: float) -> Data:
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.is_dir():
        raise InvalidDatasetError(f"{path} is a folder; give a .csv or .npz file")
    if path.suffix.lower() == ".npz":
        x_tr, y_tr, x_te, y_te = _read_npz(path)
    elif path.suffix.lower() == ".csv":
        x, y = read_csv(path, labelled=True)
        _check_split_size(path, len(x), test_fraction)
        x_tr, y_tr, x_te, y_te = _split(x, y, seed, test_fraction)
    else:
        raise ValueError(f"{path}: unsupported data file type {path.suffix!r}; use .csv or .npz")
    rows = len(x_tr) + len(x_te)
    if y_tr.dtype.kind in "iu":
        classes = np.unique(np.concatenate([y_tr, y_te]))
        count = int(max(y_tr.max(), y_te.max())) + 1
        summary = f"{rows:,} rows, {count} classes"
        if len(classes) < 2:
            warn(
                f"{path}: every one of the {rows:,} rows has label {int(classes[0])}; a model "
                "trained on a single class learns nothing (it always predicts that class)"
            )
    else:
        summary = f"{rows:,} rows, regression target"
    side = int(round(np.sqrt(x_tr.shape[1])))
    image_shape = (side, side) if side * side == x_tr.shape[1] and side >= 8 else None
    return Data(
        path.stem,
        x_tr.astype(np.float32),
        y_tr,
        x_te.astype(np.float32),
        y_te,
        image_shape,
        source=f"{path}: {summary}",
    )


def _min_rows(test_fraction: float) -> int:
    """The fewest rows for which ``round(n * f)`` test rows leaves at least one to train on."""
    n = 2
    while int(round(n * test_fraction)) < 1 or int(round(n * test_fraction)) >= n:
        n += 1
        if n > 1_000_000:  # a test fraction too small to ever take one row
            break
    return n


def _check_split_size(
    what: Path | str, rows: int, test_fraction: float, unit: str = "data rows"
) -> None:
    """Refuse data whose test split (``round(rows * test_fraction)``) would be empty or all."""
    n_test = int(round(rows * test_fraction))
    if 1 <= n_test < rows:
        return
    needed = _min_rows(test_fraction)
    held = f"{rows} {unit[:-1] if rows == 1 else unit}"
    raise InvalidDatasetError(
        f"{what} holds {held}, too few to split into training and test sets "
        f"(test fraction {test_fraction:g} gives {n_test} test row(s)); at least {needed} "
        f"{unit} are needed"
    )


def _split(
    x: Array, y: Array, seed: int, test_fraction: float
) -> tuple[Array, Array, Array, Array]:
    return train_val_split(
        x, y, val_fraction=test_fraction, stratify=y.dtype.kind in "iu", seed=seed
    )


def _read_npz(path: Path) -> tuple[Array, Array, Array, Array]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            # The arrays' headers give their sizes; check them before reading the data.
            wanted = [n for n in names if n in ("x", "y", "x_train", "y_train", "x_test", "y_test")]
            _check_npz_size(path, archive, wanted)
            arrays = {k: archive[k] for k in wanted}
    except DataError:
        raise
    # NotImplementedError: zipfile's answer to an unknown compression method or version.
    except (
        OSError, ValueError, EOFError, KeyError, NotImplementedError, zipfile.BadZipFile,
        zlib.error,
    ) as exc:  # fmt: skip
        raise InvalidDatasetError(
            f"{path} is not a readable .npz archive: {type(exc).__name__}: {exc}"
        ) from None
    if {"x_train", "y_train", "x_test", "y_test"} <= set(arrays):
        x_tr, x_te = (
            _features(arrays["x_train"], path, "x_train"),
            _features(arrays["x_test"], path, "x_test"),
        )
        y_tr, y_te = _targets(
            [(arrays["y_train"], "y_train"), (arrays["y_test"], "y_test")],
            lambda name, i: f"{name}[{i}]",
            path,
        )
        _same_length(path, x_tr, y_tr, "x_train", "y_train")
        _same_length(path, x_te, y_te, "x_test", "y_test")
    elif {"x", "y"} <= set(arrays):
        x = _features(arrays["x"], path, "x")
        (y,) = _targets([(arrays["y"], "y")], lambda name, i: f"{name}[{i}]", path)
        _same_length(path, x, y, "x", "y")
        _check_split_size(path, len(x), 0.2)
        x_tr, y_tr, x_te, y_te = _split(x, y, 0, 0.2)
    else:
        raise InvalidDatasetError(
            f"{path} must hold arrays x and y (or x_train, y_train, x_test, y_test); "
            f"found {sorted(names)}"
        )
    if x_tr.shape[1] != x_te.shape[1]:
        raise InvalidDatasetError(
            f"{path}: x_train has {x_tr.shape[1]} features but x_test {x_te.shape[1]}"
        )
    return x_tr, y_tr, x_te, y_te


def _check_npz_size(path: Path, archive: np.lib.npyio.NpzFile, names: list[str]) -> None:
    """Refuse an archive whose arrays, as declared in their headers, do not fit in memory."""
    total = 0
    zipped = getattr(archive, "zip", None)  # NumPy sets it to None once the archive is closed
    if not isinstance(zipped, zipfile.ZipFile):
        return
    entries = set(zipped.namelist())
    for name in names:
        entry = name + ".npy" if name + ".npy" in entries else name
        if entry in entries:
            total += zipped.getinfo(entry).file_size
    if total:
        check_fits(total, f"{path}: its arrays, {total:,} bytes uncompressed,")


def _same_length(path: Path, x: Array, y: Array, xname: str, yname: str) -> None:
    if len(x) != len(y) or len(x) == 0:
        raise InvalidDatasetError(
            f"{path}: need {xname} of shape (n, features) and {yname} of shape (n,) with "
            f"n >= 1, got {x.shape} and {y.shape}"
        )


def _features(values: object, path: Path | str, name: str) -> Array:
    x = np.asarray(values)
    if x.dtype.kind not in "biuf":
        raise InvalidDatasetError(f"{path}: {name} must hold numbers, got {x.dtype}")
    if x.ndim > 2 and len(x):
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[1] == 0:
        raise InvalidDatasetError(
            f"{path}: {name} must have shape (n, features) with at least one feature, got {x.shape}"
        )
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x) | (np.abs(x) > _FLOAT32_MAX)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise InvalidDatasetError(
                f"{path}: {name}[{row}, {col}] is {float(x[row, col])}; features must be "
                f"finite numbers within float32 range (|x| <= {_FLOAT32_MAX:.4g})"
            )
    return x


def _targets(
    parts: list[tuple[Array, str]],
    where: Callable[[str, int], str],
    path: Path,
) -> list[Array]:
    """Check labels and decide between classification and regression for all parts at once.

    Numbers that are all integers are class labels 0..K-1 (returned as int64); anything
    else is a regression target (float64). ``where(name, i)`` names element ``i`` of part
    ``name`` in messages (a CSV line number, an array index).

    With K = largest label + 1 and D = the number of distinct labels, a label set is
    refused when K > MAX_CLASSES, or when K > 100 and K > 2 D: the network would have K
    outputs, most of them for classes that never occur (typically a typo, or years or
    prices that were meant as regression targets or need renumbering).
    """
    arrays = []
    for y, name in parts:
        y = np.asarray(y)
        if y.ndim != 1:
            raise InvalidDatasetError(f"{path}: {name} must be 1-D (n,), got shape {y.shape}")
        if y.dtype.kind not in "biuf":
            raise InvalidDatasetError(f"{path}: {name} must hold numbers, got {y.dtype}")
        if y.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(y))
            if bad.size:
                i = int(bad[0])
                raise InvalidDatasetError(
                    f"{path}, {where(name, i)}: label/target {float(y[i])} is not a finite number"
                )
        arrays.append((y, name))
    integral = all(y.dtype.kind in "biu" or bool(np.all(y == np.round(y))) for y, _ in arrays)
    if not integral:
        return [y.astype(np.float64) for y, _ in arrays]
    # Class labels: index them as floats first, so a label like 1e300 is reported, not
    # wrapped around by a cast to int64.
    values = [(y.astype(np.float64), name) for y, name in arrays]
    for y, name in values:
        if y.size and y.min() < 0:
            i = int(np.argmin(y))
            raise InvalidDatasetError(
                f"{path}, {where(name, i)}: class label {_label_text(y[i])} is negative; "
                "class labels must be the integers 0..K-1"
            )
    maxima = [(name, int(np.argmax(y)), float(y.max())) for y, name in values if y.size]
    if not maxima:  # no labels at all: the caller reports the empty arrays
        return [y.astype(np.int64) for y, _ in values]
    top_name, top_i, top = max(maxima, key=lambda item: item[2])
    implied = top + 1
    rows = sum(y.size for y, _ in values)
    if implied > MAX_CLASSES:
        raise InvalidDatasetError(
            f"{path}, {where(top_name, top_i)}: class label {_label_text(top)} implies "
            f"{implied:,.0f} classes (labels are the integers 0..K-1), more than the limit of "
            f"{MAX_CLASSES:,}; renumber the classes from 0"
        )
    distinct = np.unique(np.concatenate([y for y, _ in values])).size
    if implied > _SPARSE_FLOOR and implied > 2 * distinct:
        raise InvalidDatasetError(
            f"{path}, {where(top_name, top_i)}: class label {_label_text(top)} implies "
            f"{implied:,.0f} classes (labels are the integers 0..K-1), but only {distinct} "
            f"distinct label(s) occur in {rows:,} rows; renumber the classes 0..{distinct - 1}"
        )
    return [y.astype(np.int64) for y, _ in values]


def _label_text(value: float) -> str:
    """A label as the user wrote it: ``1000000`` rather than ``1e+06``."""
    return str(int(value)) if abs(value) < 2**53 else f"{value:g}"


def _estimate_csv_bytes(path: Path, size: int) -> int:
    """Memory for the parsed table, estimated from the first 64 kB: values per byte x size."""
    with open(path, "rb") as handle:
        sample = handle.read(1 << 16)
    lines = [line for line in sample.splitlines()[:-1] or sample.splitlines() if line.strip()]
    if not lines:
        return 0
    values = sum(line.count(b",") + 1 for line in lines)
    sampled = sum(len(line) + 1 for line in lines)
    return int(size * values / max(sampled, 1)) * _BYTES_PER_VALUE


@overload
def read_csv(path: str | os.PathLike[str], labelled: Literal[True]) -> tuple[Array, Array]: ...
@overload
def read_csv(path: str | os.PathLike[str], labelled: Literal[False]) -> tuple[Array, None]: ...
@overload
def read_csv(path: str | os.PathLike[str], labelled: bool) -> tuple[Array, Array | None]: ...
def read_csv(path: str | os.PathLike[str], labelled: bool) -> tuple[Array, Array | None]:
    """A numeric CSV (an optional header row is skipped); with ``labelled`` the last column is
    the class label (integers 0..K-1) or, when any value is not an integer, a regression
    target.

    Every value must be a finite number (features within float32 range) and every row as
    wide as the first; each refusal names the line. The table's memory is estimated from
    the file size and checked against the memory available before it is read.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FileNotFoundError(f"cannot read {path}: {exc.strerror or exc}") from None
    check_fits(_estimate_csv_bytes(path, size), f"{path}, {size:,} bytes of CSV,")
    available_values = None
    values = array.array("d")
    lines: list[int] = []
    width = 0
    first_line = 0
    number = 0
    reader = None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            for row in reader:
                number = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                try:
                    parsed = [float(cell) for cell in row]
                except ValueError:
                    if not lines and not first_line:
                        first_line = number  # a header
                        continue
                    bad = next(c for c in row if not _is_number(c))
                    raise InvalidDatasetError(
                        f"{path}, line {number}: {bad[:40]!r} is not a number"
                    ) from None
                if not width:
                    width = len(parsed)
                    first_line = number
                elif len(parsed) != width:
                    raise InvalidDatasetError(
                        f"{path}, line {number}: {len(parsed)} column(s), but line {first_line} "
                        f"has {width}; every row needs the same number of columns"
                    )
                for column, value in enumerate(parsed):
                    if not math.isfinite(value) or (
                        abs(value) > _FLOAT32_MAX and not (labelled and column == width - 1)
                    ):
                        raise InvalidDatasetError(
                            f"{path}, line {number}, column {column + 1}: {row[column][:40]!r} "
                            f"is not a finite number within float32 range (|x| <= "
                            f"{_FLOAT32_MAX:.4g})"
                        )
                values.extend(parsed)
                lines.append(number)
                if available_values is None or len(values) > available_values:
                    # The estimate from the file's start can be beaten by a file whose
                    # later lines pack more values per byte; check again as it grows.
                    check_fits(
                        len(values) * _BYTES_PER_VALUE * 2,
                        f"{path} (at line {number}: {len(values):,} values so far)",
                    )
                    available_values = len(values) * 2
    except csv.Error as exc:
        line = reader.line_num if reader is not None else number + 1
        raise InvalidDatasetError(f"{path}, line {line}: not a valid CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidDatasetError(
            f"{path}: not a UTF-8 text CSV file (undecodable byte "
            f"0x{exc.object[exc.start]:02X} near line {number + 1})"
        ) from None
    if not lines:
        raise InvalidDatasetError(f"{path} holds no data rows")
    table = np.frombuffer(values, dtype=np.float64).reshape(len(lines), width)
    if not labelled:
        return table.astype(np.float32), None
    if width < 2:
        raise InvalidDatasetError(f"{path}: need feature columns and a last label column")
    x = table[:, :-1].astype(np.float32)
    (y,) = _targets([(table[:, -1].copy(), "label")], lambda _, i: f"line {lines[i]}", path)
    return x, y


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
