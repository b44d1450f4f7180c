"""Files: a safe, portable archive format for models (JSON metadata + arrays, no pickle)."""

from .archive import FORMAT_VERSION, ModelFileError, read_archive, write_archive

__all__ = ["FORMAT_VERSION", "ModelFileError", "read_archive", "write_archive"]
