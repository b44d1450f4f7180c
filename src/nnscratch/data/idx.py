"""Reading and writing the IDX format (the container of MNIST and Fashion-MNIST).

An IDX file is a 4-byte magic number -- two zero bytes, a data-type code and the number of
dimensions -- followed by one big-endian uint32 per dimension and then the elements in
row-major order, big-endian. The files are usually distributed gzip-compressed; the reader
recognises gzip by its magic bytes rather than by the file name, because downloaded files
are often renamed or decompressed by browsers without the name changing.

The reader is strict: it checks every header field, and requires the amount of data to
match the declared shape exactly (neither truncated nor followed by trailing bytes). Any
problem is reported as :class:`~nnscratch.data.errors.IDXFormatError` naming the file, so
a corrupt download never surfaces as a cryptic reshape error deep inside NumPy. Memory is
never allocated from the header's claims alone: data is accumulated as it is actually read,
so a forged header cannot make the reader reserve gigabytes for a 100-byte file.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

import numpy as np
import numpy.typing as npt

from ._fileutil import atomic_write, describe_source
from ._memory import check_fits
from .errors import ChecksumError, IDXFormatError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "IDX_DTYPES",
    "IDXHeader",
    "idx_sha256",
    "read_idx",
    "read_idx_header",
    "write_idx",
]

#: Type codes of the IDX format and the NumPy types they denote (big-endian on disk).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(np.int16),
    0x0C: np.dtype(np.int32),
    0x0D: np.dtype(np.float32),
    0x0E: np.dtype(np.float64),
}

#: Default upper bound on the data size a header may declare (16 GiB). Far above any real
#: dataset in this format, far below what a forged header can claim (about 2**8000 bytes).
DEFAULT_MAX_BYTES = 1 << 34

#: The most dimensions a NumPy array can have (IDX allows up to 255).
_NUMPY_MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 22  # 4 MiB: large enough to amortise call overhead, small enough to not matter
_TRAILING_PROBE = 1 << 20  # how far past the end we look when reporting trailing data


def _code_list() -> str:
    return ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class IDXHeader:
    """The parsed header of an IDX file.

    ``dtype`` is the native-byte-order NumPy type of the elements; ``data_size`` is the
    number of bytes the elements occupy, computed with Python integers so that absurd
    dimensions cannot overflow.
    """

    dtype_code: int
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def header_size(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def data_size(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def describe(self) -> str:
        """Return e.g. ``shape (60000, 28, 28) of uint8``, for messages."""
        return f"shape {self.shape} of {self.dtype.name}"


class _Prefixed:
    """A read-only stream that returns ``head`` and then the rest of ``stream``.

    Used after peeking at the first bytes of a caller's file object, so that unseekable
    streams (pipes, sockets, HTTP responses) can be sniffed for gzip just like files.
    """

    def __init__(self, head: bytes, stream: _Readable, name: str) -> None:
        self._head = head
        self._stream = stream
        self.name = name

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data, self._head = self._head + _read_all(self._stream), b""
            return data
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += _read_upto(self._stream, size - len(data))
            return data
        return _read_upto(self._stream, size)


def _checked(chunk: object) -> bytes:
    if chunk is None:
        return b""
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"read_idx needs a binary file object, but read() returned {type(chunk).__name__}; "
            "open the file in binary mode ('rb')"
        )
    return bytes(chunk)


def _read_upto(stream: _Readable, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of stream (``read`` may return short)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = _checked(stream.read(remaining))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _read_all(stream: _Readable) -> bytes:
    parts: list[bytes] = []
    while chunk := _checked(stream.read(_CHUNK)):
        parts.append(chunk)
    return b"".join(parts)


def _parse_header(stream: _Readable, name: str, hasher: hashlib._Hash | None) -> IDXHeader:
    magic = _read_upto(stream, 4)
    if hasher is not None:
        hasher.update(magic)
    if len(magic) < 4:
        raise IDXFormatError(
            f"{name}: not an IDX file: it holds {len(magic)} byte(s), but an IDX file starts "
            "with a 4-byte magic number"
        )
    if magic[0] != 0 or magic[1] != 0:
        raise IDXFormatError(
            f"{name}: not an IDX file: the magic number must start with two zero bytes, "
            f"found 0x{magic[0]:02X} 0x{magic[1]:02X}"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        raise IDXFormatError(
            f"{name}: unknown IDX data type code 0x{code:02X}; expected one of {_code_list()}"
        )
    if ndim == 0:
        raise IDXFormatError(
            f"{name}: the IDX header declares 0 dimensions; expected between 1 and 255"
        )
    raw_dims = _read_upto(stream, 4 * ndim)
    if hasher is not None:
        hasher.update(raw_dims)
    if len(raw_dims) < 4 * ndim:
        raise IDXFormatError(
            f"{name}: truncated IDX header: it declares {ndim} dimension(s), which need "
            f"{4 * ndim} bytes of sizes after the magic number, but only {len(raw_dims)} "
            "byte(s) follow"
        )
    shape = struct.unpack(f">{ndim}I", raw_dims)
    return IDXHeader(dtype_code=code, dtype=IDX_DTYPES[code], shape=shape)


def _check_representable(header: IDXHeader, name: str) -> None:
    """Reject valid-looking headers that no NumPy array can take (before reading data)."""
    if header.ndim > _NUMPY_MAX_NDIM:
        raise IDXFormatError(
            f"{name}: the IDX header declares {header.ndim} dimensions, but NumPy arrays "
            f"have at most {_NUMPY_MAX_NDIM}; the header is probably corrupt"
        )
    # With a zero-length dimension the data is empty whatever the other sizes are, but
    # NumPy still refuses shapes whose other sizes multiply past its index range.
    nonzero = math.prod(size for size in header.shape if size) * header.dtype.itemsize
    if nonzero > np.iinfo(np.intp).max:
        raise IDXFormatError(
            f"{name}: the IDX header declares {header.describe()}, too large for a NumPy "
            "array even though it holds no elements; the header is probably corrupt"
        )


class _Source:
    """Opens a path or wraps a file object, transparently decompressing gzip."""

    def __init__(self, source: str | os.PathLike[str] | BinaryIO) -> None:
        self.name = describe_source(source)
        self._owned: BinaryIO | None = None
        if isinstance(source, (str, bytes, os.PathLike)):
            self._owned = open(source, "rb")  # noqa: SIM115 - closed in close()
            raw: _Readable = self._owned
        elif callable(getattr(source, "read", None)):
            raw = source
        else:
            raise TypeError(
                f"read_idx expects a path or a binary file object, got {type(source).__name__}"
            )
        try:
            head = _read_upto(raw, 2)
        except BaseException:
            self.close()
            raise
        self.compressed = head == _GZIP_MAGIC
        stream: _Readable = _Prefixed(head, raw, self.name)
        if self.compressed:
            # GzipFile's stub asks for a seekable file; reading never seeks (only a rewind
            # does), and that is what lets a pipe be decompressed here
            stream = gzip.GzipFile(fileobj=cast(BinaryIO, stream), mode="rb")
        self.stream = stream

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _gzip_error(name: str, exc: BaseException) -> IDXFormatError:
    if isinstance(exc, EOFError):
        problem = "the gzip stream is truncated (it ends before its end-of-stream marker)"
    else:
        problem = f"the gzip stream is corrupt ({exc})"
    return IDXFormatError(f"{name}: {problem}")


# Errors that the gzip module raises for damaged compressed data (BadGzipFile is an
# OSError, but so are genuine I/O errors, which must not be disguised as format errors).
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def _read(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    max_bytes: int,
    want_digest: bool,
    header_only: bool = False,
) -> tuple[IDXHeader, np.ndarray | None, str | None]:
    hasher = hashlib.sha256() if want_digest else None
    with _Source(source) as src:
        name = src.name
        try:
            header = _parse_header(src.stream, name, hasher)
            if header_only:
                return header, None, None
            expected = header.data_size
            if expected > max_bytes:
                raise IDXFormatError(
                    f"{name}: the IDX header declares {header.describe()}, i.e. {expected} "
                    f"bytes of data, more than the max_bytes limit of {max_bytes}; the header "
                    "is probably corrupt (pass a larger max_bytes if the file is genuine)"
                )
            _check_representable(header, name)
            check_fits(expected, f"{name}: the IDX header declares {header.describe()}, which")
            # Grow the buffer as data actually arrives instead of allocating `expected`
            # bytes up front: a forged header must not be able to reserve memory.
            buffer = bytearray()
            while len(buffer) < expected:
                chunk = _checked(src.stream.read(min(_CHUNK, expected - len(buffer))))
                if not chunk:
                    break
                buffer += chunk
            if len(buffer) < expected:
                kind = "decompressed data" if src.compressed else "file"
                raise IDXFormatError(
                    f"{name}: truncated IDX {kind}: the header declares {header.describe()}, "
                    f"which needs {expected} bytes of data, but only {len(buffer)} byte(s) "
                    "follow the header"
                )
            extra = len(_read_upto(src.stream, _TRAILING_PROBE + 1))
            if extra:
                amount = (
                    f"more than {_TRAILING_PROBE} bytes"
                    if extra > _TRAILING_PROBE
                    else f"{extra} byte(s)"
                )
                raise IDXFormatError(
                    f"{name}: unexpected trailing data: the header declares "
                    f"{header.describe()} ({expected} bytes of data), but {amount} more follow; "
                    "the file is corrupt or its header is wrong"
                )
        except _GZIP_ERRORS as exc:
            raise _gzip_error(name, exc) from exc
    digest = None
    if hasher is not None:
        hasher.update(buffer)
        digest = hasher.hexdigest()
    array = np.frombuffer(buffer, dtype=header.dtype.newbyteorder(">"))
    if header.dtype.itemsize > 1:
        # Convert to native byte order once here, so that arithmetic later is not slowed
        # down (or confused) by non-native arrays.
        array = array.astype(header.dtype)
    return header, array.reshape(header.shape), digest


def read_idx(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    expected_sha256: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed, into a NumPy array.

    ``source`` is a path or a binary file object (read from its current position). The
    result has the shape declared in the header and the corresponding NumPy type in native
    byte order; for uint8 data it shares memory with nothing else and is writeable.

    If ``expected_sha256`` is given, the SHA-256 of the *decompressed* file content is
    computed while reading and compared with it, so the check does not depend on how the
    file was compressed and costs no second pass.

    Raises:
        IDXFormatError: the content is not a well-formed IDX file (bad magic, unknown type
            code, truncated or oversized data, corrupt gzip stream, header over
            ``max_bytes``). The message names the file and the problem.
        ChecksumError: the content is well-formed but its digest differs.
        InsufficientMemoryError: the declared data is larger than the memory available
            (checked before any of it is read).
        OSError: the file cannot be opened or read.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    want = expected_sha256 is not None
    _, array, digest = _read(source, max_bytes=max_bytes, want_digest=want)
    assert array is not None
    if expected_sha256 is not None and digest != expected_sha256.strip().lower():
        raise ChecksumError(
            f"{describe_source(source)}: SHA-256 of the decompressed content is {digest}, "
            f"expected {expected_sha256.strip().lower()}; the file is corrupt or not the "
            "expected one",
            expected=expected_sha256.strip().lower(),
            actual=digest,
        )
    return array


def idx_sha256(source: str | os.PathLike[str] | BinaryIO) -> str:
    """Return the SHA-256 (hex) of an IDX file's decompressed content, validating it.

    This is the digest the dataset loaders compare against: it does not depend on how (or
    whether) the file was compressed.
    """
    _, _, digest = _read(source, max_bytes=DEFAULT_MAX_BYTES, want_digest=True)
    assert digest is not None
    return digest


def read_idx_header(source: str | os.PathLike[str] | BinaryIO) -> IDXHeader:
    """Read and validate only the header of an IDX file (cheap: no data is read).

    Useful to inspect a file's shape and type; it does not check that the data is complete.
    """
    header, _, _ = _read(source, max_bytes=DEFAULT_MAX_BYTES, want_digest=False, header_only=True)
    return header


def _dtype_code(dtype: np.dtype) -> int:
    for code, candidate in IDX_DTYPES.items():
        if dtype.kind == candidate.kind and dtype.itemsize == candidate.itemsize:
            return code
    raise TypeError(
        f"IDX cannot store arrays of type {dtype}; supported types are "
        f"{', '.join(d.name for d in IDX_DTYPES.values())} -- cast first, e.g. "
        "array.astype(np.int32) for integer labels"
    )


def write_idx(
    path: str | os.PathLike[str],
    array: npt.ArrayLike,
    *,
    compress: bool | None = None,
    compresslevel: int = 6,
) -> None:
    """Write ``array`` to ``path`` in IDX format, atomically.

    The file is gzip-compressed when ``compress`` is true, or, when it is ``None``, when
    the path ends in ``.gz``. The data goes to a temporary file in the same directory that
    is fsynced and then renamed over ``path``, so a crash or an error never leaves a
    half-written file behind, and concurrent readers see the old file or the new one.
    The gzip header carries no timestamp, so equal arrays give byte-identical files.

    Raises:
        TypeError: the array's type has no IDX code (e.g. int64, bool, complex).
        ValueError: the array has no dimensions, more than 255, or one over 2**32 - 1.
    """
    data = np.asarray(array)
    code = _dtype_code(data.dtype)
    if not 1 <= data.ndim <= 255:
        raise ValueError(
            f"IDX stores arrays with 1 to 255 dimensions, got a {data.ndim}-dimensional array"
        )
    if any(size > 0xFFFFFFFF for size in data.shape):
        raise ValueError(
            f"IDX stores dimension sizes as 32-bit unsigned integers; shape {data.shape} "
            "has a larger one"
        )
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    big_endian = np.ascontiguousarray(data, dtype=IDX_DTYPES[code].newbyteorder(">"))
    header = bytes([0, 0, code, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape)
    flat = big_endian.reshape(-1).view(np.uint8)

    def write_payload(out: BinaryIO) -> None:
        out.write(header)
        for start in range(0, flat.size, _CHUNK):
            out.write(flat[start : start + _CHUNK].tobytes())

    def writer(handle: BinaryIO) -> None:
        if compress:
            with gzip.GzipFile(
                fileobj=handle, mode="wb", compresslevel=compresslevel, mtime=0, filename=""
            ) as gz:
                write_payload(gz)  # type: ignore[arg-type]
        else:
            write_payload(handle)

    atomic_write(path, writer)
