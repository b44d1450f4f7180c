"""Property-based fuzzing of the IDX reader.

Whatever the bytes, read_idx may only succeed with an array matching its header, or raise
IDXFormatError naming the file. Any other exception (IndexError from a reshape, MemoryError
from a forged size, struct.error, zlib.error leaking out, ...) is a bug.
"""

from __future__ import annotations

import gzip
import io
import math
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnscratch.data import IDXFormatError, read_idx
from nnscratch.data.idx import IDX_DTYPES

NAME = "fuzzed-sample.idx"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def named(payload: bytes) -> io.BytesIO:
    stream = io.BytesIO(payload)
    stream.name = NAME  # type: ignore[misc]
    return stream


def plain_content(payload: bytes) -> bytes | None:
    """The IDX bytes behind ``payload`` (gunzipped if it is valid gzip), if recoverable."""
    if payload[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(payload)
        except Exception:
            return None
    return payload


def check(payload: bytes) -> None:
    """The fuzzing oracle."""
    try:
        array = read_idx(named(payload))
    except IDXFormatError as exc:
        assert NAME in str(exc), f"message does not name the file: {exc}"
        return
    content = plain_content(payload)
    assert content is not None, "read_idx accepted a gzip stream that gzip itself rejects"
    code, ndim = content[2], content[3]
    shape = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
    dtype = IDX_DTYPES[code]
    assert array.shape == shape
    assert array.dtype == dtype
    assert len(content) == 4 + 4 * ndim + math.prod(shape) * dtype.itemsize
    expected = np.frombuffer(content[4 + 4 * ndim :], dtype=dtype.newbyteorder(">"))
    np.testing.assert_array_equal(array.reshape(-1), expected)


@st.composite
def valid_idx(draw: st.DrawFn) -> bytes:
    code = draw(st.sampled_from(sorted(IDX_DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=4)))
    dtype = IDX_DTYPES[code]
    count = math.prod(shape) * dtype.itemsize
    data = draw(st.binary(min_size=count, max_size=count))
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + data


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    payload = bytearray(draw(valid_idx()))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "extend", "dims", "dtype", "ndim", "set"]))
        if kind == "flip" and payload:
            i = draw(st.integers(0, len(payload) - 1))
            payload[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del payload[draw(st.integers(0, len(payload))) :]
        elif kind == "extend":
            payload += draw(st.binary(min_size=1, max_size=20))
        elif kind == "dims" and len(payload) > 4 and min(len(payload), 4 + 4 * payload[3]) > 4:
            i = draw(st.integers(4, min(len(payload), 4 + 4 * payload[3]) - 1))
            payload[i] = draw(st.integers(0, 255))
        elif kind == "dtype" and len(payload) >= 3:
            payload[2] = draw(st.integers(0, 255))
        elif kind == "ndim" and len(payload) >= 4:
            payload[3] = draw(st.integers(0, 255))
        elif kind == "set" and payload:
            i = draw(st.integers(0, len(payload) - 1))
            payload[i] = draw(st.integers(0, 255))
    result = bytes(payload)
    if draw(st.booleans()):
        result = gzip.compress(result, compresslevel=draw(st.integers(0, 9)))
        if draw(st.booleans()) and result:
            # Damage the compressed stream too: header, deflate data or trailer.
            damaged = bytearray(result)
            i = draw(st.integers(0, len(damaged) - 1))
            damaged[i] = draw(st.integers(0, 255))
            if draw(st.booleans()):
                del damaged[draw(st.integers(0, len(damaged))) :]
            result = bytes(damaged)
    return result


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(payload: bytes) -> None:
    check(payload)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_behind_idx_magic(payload: bytes) -> None:
    check(b"\x00\x00" + payload)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_behind_gzip_magic(payload: bytes) -> None:
    check(b"\x1f\x8b" + payload)


@FUZZ
@given(valid_idx())
def test_valid_files_always_read(payload: bytes) -> None:
    array = read_idx(named(payload))
    assert array.size * array.dtype.itemsize == len(payload) - 4 - 4 * payload[3]
    assert read_idx(named(gzip.compress(payload))).shape == array.shape


@FUZZ
@given(mutated())
def test_mutated_files(payload: bytes) -> None:
    check(payload)
