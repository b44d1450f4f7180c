"""The nnscratch model file: one ``.npz`` holding named arrays and a JSON metadata record.

Safety: arrays are read with ``allow_pickle=False`` and metadata is plain JSON, so opening a
model file can never run code. Integrity: the metadata carries a SHA-256 over every array's
name, dtype, shape and bytes, checked on load, so truncated, corrupted or foreign files are
rejected with a clear error. Durability: the file is written to a temporary name in the same
folder, flushed and fsync'ed, then renamed over the target; a crash or kill at any moment leaves
either the old file or the new one, never a mixture.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT_NAME = "nnscratch-model"
FORMAT_VERSION = 1
_METADATA_KEY = "__metadata__"


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, truncated, corrupted, foreign or too new."""


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        digest.update(arr.data if arr.size else b"")
    return digest.hexdigest()


def write_archive(path: str | os.PathLike, metadata: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Atomically write ``arrays`` and JSON-serialisable ``metadata`` to ``path``."""
    path = Path(path)
    for name, arr in arrays.items():
        if name == _METADATA_KEY or not isinstance(arr, np.ndarray) or arr.dtype == object:
            raise ValueError(f"array {name!r} cannot be stored: it must be a numeric ndarray")
    record = {
        **metadata,
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "checksum": _checksum(arrays),
    }
    try:
        text = json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model metadata is not plain JSON: {exc}") from None
    payload = dict(arrays)
    payload[_METADATA_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the data itself is already synced
    return path


def read_archive(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and verify a model file; return (metadata, arrays)."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if _METADATA_KEY not in names:
                raise ModelFileError(
                    f"{path} is not an nnscratch model file (no metadata record; found arrays "
                    f"{names[:5]})"
                )
            arrays = {name: archive[name] for name in names}
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"{path} is not a readable model file (truncated or corrupted?): {exc}"
        ) from None
    raw = arrays.pop(_METADATA_KEY)
    try:
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: the metadata record is corrupted ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(
            f"{path} is not an nnscratch model file (format is {metadata.get('format')!r})"
            if isinstance(metadata, dict)
            else f"{path}: malformed metadata"
        )
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this nnscratch reads versions 1 to "
            f"{FORMAT_VERSION} (upgrade nnscratch to open newer files)"
        )
    if metadata.get("checksum") != _checksum(arrays):
        raise ModelFileError(f"{path} is corrupted: its arrays do not match the stored checksum")
    return metadata, arrays
