"""Where the command line's data comes from: a dataset name or a file of the user's own."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DATASET_NAMES, load_dataset, train_val_split
from ..data.errors import InvalidDatasetError

IMAGE_DATASETS = ("mnist-sample", "mnist", "fashion-mnist")


@dataclass
class Data:
    """Training and test arrays plus what the pictures and tables need to know."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int] | None = None
    class_names: tuple[str, ...] | None = None
    source: str = ""

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

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
        options: dict = {"normalize": True}
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
        options = {"seed": seed}
        if n_samples is not None and key != "truth-table":
            options["n"] = n_samples
        if noise is not None and key not in ("truth-table", "five-clusters"):
            options["noise"] = noise
        ds = load_dataset(key, **options)
        x, y = ds.x_train, ds.y_train
        if key in ("truth-table",):
            return Data(key, x, y, x, y, source="seed 003's table (train = test)")
        regression = y.dtype.kind == "f"
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
    if path.suffix.lower() == ".npz":
        x_tr, y_tr, x_te, y_te = _read_npz(path)
    elif path.suffix.lower() == ".csv":
        x, y = read_csv(path, labelled=True)
        x_tr, y_tr, x_te, y_te = _split(x, y, seed, test_fraction)
    else:
        raise ValueError(f"{path}: unsupported data file type {path.suffix!r}; use .csv or .npz")
    if x_tr.dtype.kind not in "biuf" or not np.isfinite(x_tr.astype(np.float64)).all():
        raise InvalidDatasetError(f"{path}: features must be finite numbers")
    side = int(round(np.sqrt(x_tr.shape[1])))
    image_shape = (side, side) if side * side == x_tr.shape[1] and side >= 8 else None
    return Data(
        path.stem,
        x_tr.astype(np.float32),
        y_tr,
        x_te.astype(np.float32),
        y_te,
        image_shape,
        source=str(path),
    )


def _split(x, y, seed, test_fraction):
    return train_val_split(
        x, y, val_fraction=test_fraction, stratify=y.dtype.kind in "iu", seed=seed
    )


def _read_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError) as exc:
        raise InvalidDatasetError(f"{path} is not a readable .npz archive: {exc}") from None
    if {"x_train", "y_train", "x_test", "y_test"} <= set(arrays):
        parts = [arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    elif {"x", "y"} <= set(arrays):
        parts = list(_split(*_labelled(arrays["x"], arrays["y"], path), 0, 0.2))
    else:
        raise InvalidDatasetError(
            f"{path} must hold arrays x and y (or x_train, y_train, x_test, y_test); found {sorted(arrays)}"
        )
    x_tr, y_tr = _labelled(parts[0], parts[1], path)
    x_te, y_te = _labelled(parts[2], parts[3], path)
    if x_tr.shape[1] != x_te.shape[1]:
        raise InvalidDatasetError(
            f"{path}: x_train has {x_tr.shape[1]} features but x_test {x_te.shape[1]}"
        )
    return x_tr, y_tr, x_te, y_te


def _labelled(x, y, path):
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim > 2:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise InvalidDatasetError(
            f"{path}: need x of shape (n, features) and y of shape (n,), got {x.shape} and {y.shape}"
        )
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind in "iu" and y.min() < 0:
        raise InvalidDatasetError(f"{path}: class labels must be >= 0, got {y.min()}")
    return x, y.astype(np.int64) if y.dtype.kind in "iu" else y


def read_csv(path: str | os.PathLike, labelled: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A numeric CSV (an optional header row is skipped); with ``labelled`` the last column is
    the class label."""
    rows: list[list[float]] = []
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            try:
                rows.append([float(cell) for cell in row])
            except ValueError:
                if number == 1 and not rows:
                    continue  # a header
                raise InvalidDatasetError(
                    f"{path}, line {number}: non-numeric value in {row}"
                ) from None
    if not rows:
        raise InvalidDatasetError(f"{path} holds no data rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise InvalidDatasetError(
            f"{path}: rows have different numbers of columns {sorted(widths)}"
        )
    table = np.array(rows)
    if not labelled:
        return table.astype(np.float32), None
    if table.shape[1] < 2:
        raise InvalidDatasetError(f"{path}: need feature columns and a last label column")
    x, y = table[:, :-1].astype(np.float32), table[:, -1]
    return _labelled(x, y, path)
