#!/usr/bin/env python3
"""Regenerate the MNIST sample bundled with nnscratch (src/nnscratch/data/sample/).

The sample is 500 training and 100 test images per digit, drawn without replacement with
a fixed seed from the official MNIST training and test sets (verified by checksum), kept
in their original relative order. Running this script again on the same data gives a
byte-identical file: the zip entries carry a fixed timestamp, so a changed sample shows up
in version control only when its content changed.

Usage:
    python scripts/make_mnist_sample.py [--source DIR] [--out FILE] [--seed N]

``--source`` defaults to $NNSCRATCH_DATA, then ../shared/data/mnist next to the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
try:
    from nnscratch.data import load_mnist
except ImportError:  # running from a checkout without installing the package
    sys.path.insert(0, str(REPO / "src"))
    from nnscratch.data import load_mnist

DEFAULT_OUT = REPO / "src" / "nnscratch" / "data" / "sample" / "mnist-sample.npz"
DEFAULT_SEED = 1998  # the year of LeCun et al.'s "Gradient-based learning..." paper
TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def choose(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``per_class`` indices of every class at random; return them sorted."""
    picks = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        if len(members) < per_class:
            raise SystemExit(f"only {len(members)} samples of digit {digit}, need {per_class}")
        picks.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an .npz that numpy.load reads, deterministically (fixed zip timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(info, payload.getvalue(), compresslevel=9)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def make_sample(source: str | os.PathLike[str] | None, out: Path, seed: int) -> str:
    """Build the sample from the full MNIST in ``source``; return the file's SHA-256."""
    full = load_mnist(source, flatten=False, download=False, verify=True)
    rng = np.random.default_rng(seed)
    train_idx = choose(full.y_train, TRAIN_PER_CLASS, rng)
    test_idx = choose(full.y_test, TEST_PER_CLASS, rng)
    arrays = {
        "x_train": full.x_train[train_idx],
        "y_train": full.y_train[train_idx].astype(np.uint8),
        "x_test": full.x_test[test_idx],
        "y_test": full.y_test[test_idx].astype(np.uint8),
        "train_indices": train_idx.astype(np.int32),
        "test_indices": test_idx.astype(np.int32),
        "seed": np.array(seed, dtype=np.int64),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(out, arrays)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def default_source() -> str | None:
    if os.environ.get("NNSCRATCH_DATA"):
        return None  # load_mnist searches NNSCRATCH_DATA itself
    candidate = REPO.parent / "shared" / "data" / "mnist"
    return str(candidate) if candidate.is_dir() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=default_source(), help="folder with full MNIST")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz path")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    digest = make_sample(args.source, args.out, args.seed)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size / 1e6:.2f} MB, sha256 {digest})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
