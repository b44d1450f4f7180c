"""IDX reader/writer: round trips, every validation error, atomic writes."""

from __future__ import annotations

import gzip
import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from nnscratch.data import (
    ChecksumError,
    DataError,
    IDXFormatError,
    idx_sha256,
    read_idx,
    read_idx_header,
    write_idx,
)
from nnscratch.data.idx import IDX_DTYPES

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def encode(array: np.ndarray, code: int | None = None) -> bytes:
    """Reference IDX encoder, independent of write_idx."""
    codes = {np.dtype(v).name: k for k, v in IDX_DTYPES.items()}
    code = codes[array.dtype.name] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def put(tmp_path: Path, name: str, payload: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_type(tmp_path: Path, dtype: type, compress: bool) -> None:
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") is compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    raw = path.read_bytes()
    assert (gzip.decompress(raw) if compress else raw) == encode(array)


def test_writer_matches_reference_encoding(tmp_path: Path) -> None:
    array = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    write_idx(tmp_path / "x.idx", array)
    assert (tmp_path / "x.idx").read_bytes() == encode(array)


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_named_plain = put(tmp_path, "plain.gz", encode(array))
    plain_named_gz = put(tmp_path, "compressed.idx", gzip.compress(encode(array)))
    np.testing.assert_array_equal(read_idx(gz_named_plain), array)
    np.testing.assert_array_equal(read_idx(plain_named_gz), array)


def test_compress_flag_overrides_suffix(tmp_path: Path) -> None:
    array = np.zeros(4, np.uint8)
    write_idx(tmp_path / "a.gz", array, compress=False)
    write_idx(tmp_path / "b.idx", array, compress=True)
    assert (tmp_path / "a.gz").read_bytes() == encode(array)
    assert gzip.decompress((tmp_path / "b.idx").read_bytes()) == encode(array)


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    array = np.arange(1000, dtype=np.int32)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_file_objects_seekable_and_not(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.float32)
    payload = gzip.compress(encode(array))
    np.testing.assert_array_equal(read_idx(io.BytesIO(payload)), array)

    class Pipe(io.RawIOBase):  # unseekable, returns short reads like a socket
        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            n = min(3, len(buffer), len(self.data))
            buffer[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    np.testing.assert_array_equal(read_idx(Pipe(payload)), array)
    np.testing.assert_array_equal(read_idx(Pipe(encode(array))), array)
    with open(put(tmp_path, "f.idx", encode(array)), "rb") as handle:
        np.testing.assert_array_equal(read_idx(handle), array)


def test_text_mode_and_wrong_source_type(tmp_path: Path) -> None:
    path = put(tmp_path, "t.idx", encode(np.zeros(2, np.uint8)))
    with open(path, encoding="latin-1") as handle, pytest.raises(TypeError, match="binary"):
        read_idx(handle)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path or a binary file object"):
        read_idx(42)  # type: ignore[arg-type]


def test_result_is_writeable_and_native(tmp_path: Path) -> None:
    out = read_idx(put(tmp_path, "a", encode(np.arange(6, dtype=np.int32))))
    out[0] = 99  # must not raise: callers normalise in place
    assert out.dtype.isnative


def test_empty_dimension_is_valid(tmp_path: Path) -> None:
    out = read_idx(put(tmp_path, "e", encode(np.zeros((0, 28, 28), np.uint8))))
    assert out.shape == (0, 28, 28)


# ----------------------------------------------------------------------------- rejections


def good(shape: tuple[int, ...] = (2, 3), dtype: type = np.uint8) -> bytes:
    return encode(np.arange(np.prod(shape), dtype=dtype).reshape(shape))


CASES = {
    "empty": (b"", "not an IDX file"),
    "short magic": (b"\x00\x00", "4-byte magic"),
    "bad magic": (b"\x01\x00\x08\x01" + b"\x00" * 8, "two zero bytes"),
    "pickle": (b"\x80\x04\x95" + b"\x00" * 20, "two zero bytes"),
    "npy file": (b"\x93NUMPY" + b"\x00" * 20, "two zero bytes"),
    "type code": (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX data type code 0x07"),
    "zero dims": (b"\x00\x00\x08\x00", "0 dimensions"),
    "header cut": (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00", "truncated IDX header"),
    "data cut": (good()[:-1], "truncated IDX file"),
    "data missing": (good()[:12], "only 0 byte"),
    "trailing": (good() + b"\x00", "trailing data"),
    "much trailing": (good() + b"\x00" * (2 << 20), "more than 1048576 bytes"),
    "int32 cut": (good(dtype=np.int32)[:-2], "needs 24 bytes"),
    "too many dims": (b"\x00\x00\x08\x41" + b"\x00\x00\x00\x01" * 65 + b"\x07", "at most"),
    "empty but huge": (
        b"\x00\x00\x08\x04" + b"\x01\x00\x00\x00" * 3 + b"\x00" * 4,
        "too large for a NumPy array",
    ),
}


@pytest.mark.parametrize("payload,message", list(CASES.values()), ids=list(CASES))
@pytest.mark.parametrize("compress", [False, True])
def test_malformed_files_rejected(
    tmp_path: Path, payload: bytes, message: str, compress: bool
) -> None:
    if compress:
        payload = gzip.compress(payload)
        message = message.replace("truncated IDX file", "truncated IDX decompressed data")
    path = put(tmp_path, "broken.idx", payload)
    with pytest.raises(IDXFormatError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DataError)


def test_absurd_header_rejected_before_allocating(tmp_path: Path) -> None:
    # 8 dimensions of 2**32 - 1: a reader that trusted the header would try to allocate
    # about 2**259 bytes.
    path = put(tmp_path, "huge.idx", b"\x00\x00\x0e\x08" + b"\xff" * 4 * 8)
    with pytest.raises(IDXFormatError, match="max_bytes"):
        read_idx(path)
    # Under the limit, a big claim with little data is reported as truncation, quickly.
    path = put(tmp_path, "big.idx", b"\x00\x00\x08\x01\x7f\xff\xff\xff" + b"\x00" * 10)
    with pytest.raises(IDXFormatError, match="2147483647 bytes of data, but only 10"):
        read_idx(path)
    with pytest.raises(IDXFormatError, match="max_bytes limit of 5"):
        read_idx(put(tmp_path, "ok.idx", good()), max_bytes=5)


def test_corrupt_gzip(tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(good((50, 50))))
    truncated = put(tmp_path, "cut.gz", bytes(compressed[: len(compressed) // 2]))
    with pytest.raises(IDXFormatError, match="gzip stream is truncated") as info:
        read_idx(truncated)
    assert "cut.gz" in str(info.value)
    compressed[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(IDXFormatError, match="gzip stream is corrupt"):
        read_idx(put(tmp_path, "crc.gz", bytes(compressed)))
    with pytest.raises(IDXFormatError, match="gzip"):
        read_idx(put(tmp_path, "junk.gz", b"\x1f\x8b" + b"\x00" * 30))


def test_missing_file_is_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


def test_stream_name_in_message() -> None:
    stream = io.BytesIO(b"junk")
    stream.name = "uploaded.idx"  # type: ignore[misc]
    with pytest.raises(IDXFormatError, match="uploaded.idx"):
        read_idx(stream)
    with pytest.raises(IDXFormatError, match="<BytesIO stream>"):
        read_idx(io.BytesIO(b"junk"))


# ----------------------------------------------------------------------------- checksums


def test_checksum_of_decompressed_content(tmp_path: Path) -> None:
    import hashlib

    payload = good((4, 4))
    digest = hashlib.sha256(payload).hexdigest()
    plain = put(tmp_path, "p.idx", payload)
    packed = put(tmp_path, "p.idx.gz", gzip.compress(payload, compresslevel=1))
    assert idx_sha256(plain) == idx_sha256(packed) == digest
    read_idx(packed, expected_sha256=digest.upper())  # case-insensitive
    with pytest.raises(ChecksumError, match="expected 0+") as info:
        read_idx(packed, expected_sha256="0" * 64)
    assert info.value.actual == digest and info.value.expected == "0" * 64
    assert "p.idx.gz" in str(info.value)


def test_header_only(tmp_path: Path) -> None:
    header = read_idx_header(put(tmp_path, "h.idx", good((2, 3), np.float64)[:30]))
    assert header.shape == (2, 3) and header.dtype == np.float64
    assert header.data_size == 48 and header.header_size == 12


# ----------------------------------------------------------------------------- writing


def test_write_rejects_unsupported(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="int64.*astype"):
        write_idx(tmp_path / "a.idx", np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="bool"):
        write_idx(tmp_path / "a.idx", np.zeros(3, bool))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "a.idx", np.uint8(3))
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data.idx"
    write_idx(path, np.arange(5, dtype=np.uint8))
    before = path.read_bytes()

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(50, dtype=np.uint8))
    assert path.read_bytes() == before  # old content intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.idx"]  # no temp left
    monkeypatch.undo()
    write_idx(path, np.arange(7, dtype=np.uint8))
    assert read_idx(path).size == 7
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
