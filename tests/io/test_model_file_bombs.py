"""Archive bombs: small model files that would expand to gigabytes are refused before anything
is decompressed, naming the member at fault, in bounded memory.

Each bomb is a real model file with one member that deflates 3 GiB of zeros into about 3 MB
(or a member whose zip entry merely declares 3 GiB). The load runs in a subprocess whose
address space is capped at what it had after importing nnscratch plus 200 MB, so a loader that
decompressed (or allocated) the member would die with MemoryError instead of answering.
"""

from __future__ import annotations

import functools
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REPO_ROOT

import nnscratch as nn

GIB = 2**30
BOMB_BYTES = 3 * GIB
CHUNK = 64 * 2**20

LOADER = """
import json, resource, sys, time
sys.path.insert(0, {src!r})
import nnscratch as nn
from nnscratch.io.archive import inspect_archive

size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 200 * 2**20, resource.RLIM_INFINITY))
results = []
for path in sys.argv[1:]:
    for what in ("load", "inspect"):
        start = time.perf_counter()
        try:
            nn.Model.load(path) if what == "load" else inspect_archive(path)
            outcome = ("loaded", "")
        except Exception as exc:
            outcome = (type(exc).__name__, str(exc))
        results.append([what, *outcome, time.perf_counter() - start])
print(json.dumps(results))
"""


def npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def filling_header(total: int, dtype: str) -> bytes:
    """The header of a 1-D ``dtype`` array that, header included, takes ``total`` bytes."""
    itemsize = np.dtype(dtype).itemsize
    header = npy_header(((total - 128) // itemsize,), dtype)
    return npy_header(((total - len(header)) // itemsize,), dtype)


def deflated_zeros_npy(header: bytes, total: int) -> tuple[bytes, int]:
    """(raw deflate stream, CRC-32) of ``header`` followed by zeros up to ``total`` bytes.

    After a full flush a deflate stream restarts with an empty history, so compressing a
    64 MiB block of zeros always yields the same bytes: the stream is built by repeating one
    compressed block instead of compressing 3 GiB.
    """
    zeros = bytes(CHUNK)
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [head.compress(header) + head.flush(zlib.Z_FULL_FLUSH)]
    block_bytes = compressed_zero_block()
    remaining = total - len(header)
    crc = zlib.crc32(header)
    while remaining >= CHUNK:
        parts.append(block_bytes)
        crc = zlib.crc32(zeros, crc)
        remaining -= CHUNK
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts.append(tail.compress(bytes(remaining)) + tail.flush())
    crc = zlib.crc32(bytes(remaining), crc)
    return b"".join(parts), crc


@functools.cache
def compressed_zero_block() -> bytes:
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    return block.compress(bytes(CHUNK)) + block.flush(zlib.Z_FULL_FLUSH)


def write_zip(path: Path, members: list[tuple[str, int, bytes, int, int]]) -> None:
    """A zip of (name, method, raw data, crc, declared uncompressed size) entries."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, method, data, crc, size in members:
        encoded = name.encode()
        offset = out.tell()
        common = (method, 0, 0x21, crc, len(data), size, len(encoded), 0)
        out.write(struct.pack("<IHH" + "HHHIIIHH", 0x04034B50, 20, 0, *common) + encoded + data)
        central.write(
            struct.pack(
                "<IHHH" + "HHHIIIHH" + "HHHII", 0x02014B50, 20, 20, 0, *common, 0, 0, 0, 0, offset
            )
        )
        central.write(encoded)
    start = out.tell()
    out.write(central.getvalue())
    n = len(members)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central.getvalue()), start, 0))
    path.write_bytes(out.getvalue())


def model_members(path: Path) -> list[tuple[str, int, bytes, int, int]]:
    with zipfile.ZipFile(path) as zf:
        return [
            (i.filename, zipfile.ZIP_STORED, zf.read(i), i.CRC, i.file_size) for i in zf.infolist()
        ]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """name -> (file, the member its refusal must name)."""
    folder = tmp_path_factory.mktemp("bombs")
    good = folder / "good.npz"
    model = nn.Model(nn.mlp([4, 8, 3], seed=0), optimizer="adam")
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    model.fit(x, np.arange(16) % 3, epochs=1, verbose=0)  # so it has optimizer state
    model.save(good)
    members = model_members(good)
    out: dict[str, tuple[Path, str]] = {}

    header = filling_header(BOMB_BYTES, "|u1")
    data, crc = deflated_zeros_npy(header, BOMB_BYTES)
    extra = ("extra.npy", zipfile.ZIP_DEFLATED, data, crc, BOMB_BYTES)
    write_zip(folder / "extra.npz", [*members, extra])
    out["an extra member"] = (folder / "extra.npz", "extra.npy")

    header = filling_header(BOMB_BYTES, "<f4")
    data, crc = deflated_zeros_npy(header, BOMB_BYTES)
    weight = ("weights/0.W.npy", zipfile.ZIP_DEFLATED, data, crc, BOMB_BYTES)
    swapped = [weight if m[0] == "weights/0.W.npy" else m for m in members]
    write_zip(folder / "weight.npz", swapped)
    out["a weight member"] = (folder / "weight.npz", "weights/0.W.npy")

    header = filling_header(BOMB_BYTES, "|u1")
    data, crc = deflated_zeros_npy(header, BOMB_BYTES)
    meta = ("__metadata__.npy", zipfile.ZIP_DEFLATED, data, crc, BOMB_BYTES)
    swapped = [meta if m[0] == "__metadata__.npy" else m for m in members]
    write_zip(folder / "metadata.npz", swapped)
    out["the metadata member"] = (folder / "metadata.npz", "__metadata__.npy")

    # a stored member whose zip entry lies: 3 GiB declared for a few hundred bytes
    name, method, raw, crc, _ = next(m for m in members if m[0] == "optimizer/0.m.npy")
    lying = [(name, method, raw, crc, BOMB_BYTES) if m[0] == name else m for m in members]
    write_zip(folder / "lying.npz", lying)
    out["a lying size"] = (folder / "lying.npz", "optimizer/0.m.npy")

    # a member whose .npy header claims far more than the architecture implies
    name = "optimizer/0.v.npy"
    header = npy_header((BOMB_BYTES // 4,), "<f4")
    data, crc = deflated_zeros_npy(header, len(header) + BOMB_BYTES // 4 * 4)
    state = (name, zipfile.ZIP_DEFLATED, data, crc, len(header) + BOMB_BYTES // 4 * 4)
    write_zip(folder / "state.npz", [state if m[0] == name else m for m in members])
    out["an optimizer member"] = (folder / "state.npz", name)
    return out


def test_archive_bombs_are_refused_quickly_naming_the_member_in_bounded_memory(
    bombs: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    for path, _ in bombs.values():
        assert path.stat().st_size < 8 * 2**20  # small files...
        with zipfile.ZipFile(path) as zf:
            assert sum(i.file_size for i in zf.infolist()) >= BOMB_BYTES  # ...that claim 3 GiB
    script = tmp_path / "loader.py"
    script.write_text(LOADER.format(src=str(REPO_ROOT / "src")))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    paths = [str(path) for path, _ in bombs.values()]
    done = subprocess.run(
        [sys.executable, str(script), *paths], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert len(results) == 2 * len(bombs)
    expected = [(kind, member) for kind, (_, member) in bombs.items() for _ in range(2)]
    for (kind, member), (what, error, message, seconds) in zip(expected, results, strict=True):
        assert error in ("ModelFileError", "ModelFileTooLargeError"), (kind, what, error, message)
        assert repr(member) in message, (kind, message)
        assert "\n" not in message
        assert seconds < 2.0, (kind, what, seconds)


def test_the_cap_is_a_parameter_and_the_web_limit_uses_it(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    model = nn.Model(nn.mlp([50, 100, 10], seed=0), optimizer="adam")
    model.save(path)
    total = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    assert nn.Model.load(path, max_bytes=total + 10_000).epoch == 0
    with pytest.raises(nn.ModelFileError, match="more than the limit of 1,000 bytes"):
        nn.Model.load(path, max_bytes=1000)
    from nnscratch.io.archive import inspect_archive

    info = inspect_archive(path)
    assert info.n_parameters == 50 * 100 + 100 + 100 * 10 + 10
    assert info.total_bytes == total
    assert info.metadata["architecture"]["input_dim"] == 50


MEASURE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
import nnscratch as nn

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    nn.Model.load(sys.argv[1])
    outcome = ["loaded", ""]
except Exception as exc:
    outcome = [type(exc).__name__, str(exc)]
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps([*outcome, time.perf_counter() - start, grown]))
"""


def test_a_directory_of_many_entries_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """200,000 entries fit in a 12 MB central directory and take about 90 MB and two seconds
    to parse into zipfile's objects; the end record says how many there are."""
    n = 200_000
    central = io.BytesIO()
    for i in range(n):
        name = b"w%07d.npy" % i
        fields = (0x02014B50, 20, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", *fields) + name)
    directory = central.getvalue()
    zip64_end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(directory), 0)
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(directory), 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path = tmp_path / "directory.npz"
    path.write_bytes(directory + zip64_end + locator + end)
    script = tmp_path / "measure.py"
    script.write_text(MEASURE)
    done = subprocess.run(
        [sys.executable, str(script), str(path), str(REPO_ROOT / "src")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    error, message, seconds, grown = json.loads(done.stdout)
    assert error == "ModelFileTooLargeError" and "200,000 members" in message, message
    assert grown < 20 * 2**20, grown  # the directory (12 MB) was not even read whole
    assert seconds < 2.0
