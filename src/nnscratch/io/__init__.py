"""Files: a safe, portable archive format for models (JSON metadata + arrays, no pickle)."""

from .archive import (
    DEFAULT_MAX_BYTES,
    FORMAT_VERSION,
    ArchiveInfo,
    ModelFileError,
    ModelFileTooLargeError,
    inspect_archive,
    read_archive,
    write_archive,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMAT_VERSION",
    "ArchiveInfo",
    "ModelFileError",
    "ModelFileTooLargeError",
    "inspect_archive",
    "read_archive",
    "write_archive",
]
