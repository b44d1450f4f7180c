"""Exceptions raised by the dataset layer.

Every error derives from :class:`DataError`, so callers can catch "anything that went
wrong with the data" in one place. Each also derives from the closest built-in exception
(``ValueError``, ``OSError``, ``FileNotFoundError``), so code written against the
standard library's conventions keeps working without knowing about this module.
"""

from __future__ import annotations

__all__ = [
    "ChecksumError",
    "DataError",
    "DatasetNotFoundError",
    "DownloadError",
    "IDXFormatError",
    "InsufficientMemoryError",
    "InvalidDatasetError",
    "NotFittedError",
]


class DataError(Exception):
    """Base class of every error raised by :mod:`nnscratch.data`."""


class IDXFormatError(DataError, ValueError):
    """A file or stream is not a well-formed IDX file (or its gzip wrapper is broken)."""


class ChecksumError(DataError, ValueError):
    """Data was read successfully but its SHA-256 digest is not the one expected.

    ``expected`` and ``actual`` hold the two hex digests so that callers can tell, for
    example, which known file was found instead of the one wanted.
    """

    def __init__(
        self, message: str, *, expected: str | None = None, actual: str | None = None
    ) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class InvalidDatasetError(DataError, ValueError):
    """A file is readable but does not hold what the dataset needs (e.g. wrong image size)."""


class DownloadError(DataError, OSError):
    """Every mirror failed for a file; the message lists what went wrong with each.

    ``failures`` holds one ``(url, reason)`` pair per failed attempt, for callers that
    summarise them (e.g. "failed from 2 mirrors (connection refused)").
    """

    def __init__(self, message: str, *, failures: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.failures = tuple(failures)


class DatasetNotFoundError(DataError, FileNotFoundError):
    """A dataset is not available locally and could not (or may not) be downloaded."""


class InsufficientMemoryError(DataError, MemoryError):
    """Data would need more memory than is available; refused before allocating it.

    ``needed`` and ``available`` hold the two figures in bytes (``available`` is ``None``
    when the limit is a fixed one rather than what the machine has free).
    """

    def __init__(self, message: str, *, needed: int, available: int | None) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available


class NotFittedError(DataError, RuntimeError):
    """A preprocessing transform was used before ``fit`` was called."""
