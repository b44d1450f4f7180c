"""Small filesystem helpers shared by the IDX writer and the downloader."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "commit_temp", "describe_source", "fsync_dir", "temp_file_in"]


def describe_source(source: object) -> str:
    """Return a human-readable name for a path or file object, for error messages."""
    if isinstance(source, (str, bytes, os.PathLike)):
        return os.fsdecode(source)
    name = getattr(source, "name", None)
    if isinstance(name, (str, bytes, os.PathLike)) and os.fsdecode(name):
        return os.fsdecode(name)
    return f"<{type(source).__name__} stream>"


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry to disk so a completed ``os.replace`` survives a crash.

    Best effort: Windows and some filesystems cannot open directories, and a failure here
    never means the data itself is wrong.
    """
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def temp_file_in(directory: Path, final_name: str) -> Iterator[tuple[BinaryIO, Path]]:
    """Open a fresh hidden temporary file in ``directory`` and always remove it on exit.

    The temporary lives in the destination directory so that the final ``os.replace`` is a
    same-filesystem rename, which is atomic. The caller moves the file into place inside
    the ``with`` block; whatever is still there afterwards (because of an error, a
    ``KeyboardInterrupt`` or a failed check) is deleted, so no partial file ever remains.
    """
    if not directory.is_dir():
        # Creating it is the caller's decision; without this check the error would name the
        # hidden temporary file rather than the folder that is missing.
        raise FileNotFoundError(
            f"cannot write {directory / final_name}: the folder {directory} does not exist"
        )
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{final_name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle, tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def commit_temp(handle: BinaryIO, tmp: Path, dest: Path) -> None:
    """Flush and fsync ``handle`` and atomically move ``tmp`` to ``dest``."""
    handle.flush()
    os.fsync(handle.fileno())
    # mkstemp creates files readable by the owner only; a data file should be as readable
    # as any other file the user creates.
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def atomic_write(path: str | os.PathLike[str], writer: Callable[[BinaryIO], None]) -> Path:
    """Write a file through ``writer`` so that readers only ever see it complete or absent."""
    dest = Path(path)
    directory = dest.parent
    with temp_file_in(directory, dest.name) as (handle, tmp):
        writer(handle)
        commit_temp(handle, tmp, dest)
    return dest
