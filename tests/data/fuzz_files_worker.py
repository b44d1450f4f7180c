"""Feed mutated IDX or CSV files to their loaders; run by test_data_fuzz_files.py.

Usage: ``python fuzz_files_worker.py {idx|csv} SEED COUNT MAX_EXTRA_BYTES MAX_CASE_SECONDS``

The process caps its own address space at its size after the imports plus
``MAX_EXTRA_BYTES`` (``RLIMIT_AS``), so a loader that allocates from a forged header gets a
``MemoryError`` -- which counts as a failure, like every exception that is not one of the
project's :class:`~nnscratch.data.errors.DataError` types. Each case is timed; one slower
than ``MAX_CASE_SECONDS`` is a failure too. Prints one JSON object: the number of cases,
how they ended, and the failures (at most 20, each with the seed of its case so it can be
replayed alone).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import resource
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nnscratch.cli import sources
from nnscratch.data import DataError, read_idx, read_idx_header

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
             np.float32: 0x0D, np.float64: 0x0E}  # fmt: skip


def _cap_memory(extra: int) -> None:
    with open("/proc/self/status", encoding="ascii") as handle:
        size = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, size + extra))


# ------------------------------------------------------------------------------------ IDX


def _idx_bytes(array: np.ndarray) -> bytes:
    code = IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _idx_base(rng: random.Random) -> bytes:
    dtype = rng.choice(list(IDX_CODES))
    ndim = rng.randint(1, 4)
    shape = tuple(rng.randint(0 if rng.random() < 0.05 else 1, 6) for _ in range(ndim))
    values = np.random.default_rng(rng.randrange(2**32)).integers(-100, 100, size=shape)
    return _idx_bytes(values.astype(dtype))


def _edit_dims(data: bytearray, rng: random.Random) -> None:
    """Declare absurd (or merely wrong) dimensions in the header."""
    if len(data) < 8:
        return
    ndim = data[3]
    huge = [0, 1, 2**31, 2**32 - 1, 2**16, rng.randrange(2**32), 2**31 - 1]
    if rng.random() < 0.3:
        for i in range(min(ndim, (len(data) - 4) // 4)):
            data[4 + 4 * i : 8 + 4 * i] = struct.pack(">I", rng.choice([2**31, 2**32 - 1]))
    else:
        i = rng.randrange(max(1, min(ndim, (len(data) - 4) // 4)))
        data[4 + 4 * i : 8 + 4 * i] = struct.pack(">I", rng.choice(huge))


def _mutate_bytes(data: bytearray, rng: random.Random, header_edits: bool) -> bytearray:
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(9 if header_edits else 7)
        if kind == 0 and data:  # flip a bit
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:  # overwrite a byte
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:  # truncate
            del data[rng.randint(0, len(data)) :]
        elif kind == 3:  # append trailing bytes
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind == 4:  # insert bytes
            i = rng.randint(0, len(data))
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif kind == 5 and data:  # delete a range
            i = rng.randrange(len(data))
            del data[i : i + rng.randint(1, 16)]
        elif kind == 6:  # garbage instead of the file
            data[:] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        elif kind == 7:
            _edit_dims(data, rng)
        elif kind == 8 and len(data) >= 4:  # type code or number of dimensions
            data[rng.choice([2, 3])] = rng.randrange(256)
    return data


def _idx_case(rng: random.Random) -> tuple[str, bytes]:
    raw = bytearray(_idx_base(rng))
    mode = rng.randrange(4)
    if mode == 0:  # mutate the plain file
        return "plain", bytes(_mutate_bytes(raw, rng, header_edits=True))
    if mode == 1:  # mutate, then compress: a valid gzip stream around a bad IDX file
        data = _mutate_bytes(raw, rng, header_edits=True)
        return "gzip-of-mutated", gzip.compress(bytes(data), mtime=0)
    if mode == 2:  # corrupt the gzip stream itself
        data = bytearray(gzip.compress(bytes(raw), mtime=0))
        return "mutated-gzip", bytes(_mutate_bytes(data, rng, header_edits=False))
    # the header claims 2**31 x 2**31 (or near it), behind gzip or not
    data = bytearray(raw)
    data[3] = 2
    data[4:12] = struct.pack(">II", 2**31, rng.choice([2**31, 2**32 - 1, 1]))
    blob = bytes(data[:12]) + bytes(rng.randint(0, 64))
    return "huge-dims", gzip.compress(blob, mtime=0) if rng.random() < 0.5 else blob


def _run_idx(data: bytes, path: Path) -> str:
    if len(data) % 3 == 0:
        path.write_bytes(data)
        array = read_idx(path)
    else:
        array = read_idx(io.BytesIO(data))
    header = read_idx_header(io.BytesIO(data))
    if array.shape != header.shape:
        raise AssertionError(f"read_idx gave shape {array.shape}, header says {header.shape}")
    return "loaded"


# ------------------------------------------------------------------------------------ CSV

SPECIAL_CELLS = ["1e308", "-1e309", "9" * 400, "nan", "inf", "-inf", "NaN", "", "abc",
                 "0x1F", "1_000", "  ", '"', '"1,2"', "\x00", "\uff11", "1e-400", "1000000",
                 "-3", "2.5", "4e38", "1e300", "-0", "+7", "\u00a0", "1.5e10"]  # fmt: skip


def _csv_base(rng: random.Random) -> list[list[str]]:
    columns = rng.randint(2, 6)
    rows = rng.choice([rng.randint(0, 8), rng.randint(3, 40), rng.randint(100, 300)])
    regression = rng.random() < 0.25
    classes = rng.randint(1, 5)
    table = []
    for _ in range(rows):
        features = [f"{rng.uniform(-5, 5):.4g}" for _ in range(columns - 1)]
        label = f"{rng.uniform(0, 3):.3f}" if regression else str(rng.randrange(classes))
        table.append([*features, label])
    return table


def _csv_case(rng: random.Random) -> tuple[str, bytes]:
    table = _csv_base(rng)
    applied = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(11)
        applied.append(kind)
        if kind == 0 and table:  # a special value in a random cell
            row = rng.choice(table)
            row[rng.randrange(len(row))] = rng.choice(SPECIAL_CELLS)
        elif kind == 1 and table:  # ragged: a cell more or less
            row = rng.choice(table)
            if rng.random() < 0.5 and len(row) > 1:
                row.pop()
            else:
                row.append("1")
        elif kind == 2 and table:  # a very long line
            wide = rng.choice([50_000, 200])
            table.insert(rng.randrange(len(table) + 1), ["0"] * wide)
        elif kind == 3 and table:  # one huge field
            table[rng.randrange(len(table))][0] = "1" * rng.choice([200_000, 5_000])
        elif kind == 4 and table:  # an absurd label
            table[rng.randrange(len(table))][-1] = rng.choice(
                ["1000000", "99999", "1e300", "-1", "2147483648", "18446744073709551616", "500"]
            )
        elif kind == 5 and table:  # delete or duplicate rows
            i = rng.randrange(len(table))
            if rng.random() < 0.5:
                del table[i:]
            else:
                table[i:i] = [list(table[i])] * rng.randint(1, 5)
        elif kind == 6:  # every label the same
            for row in table:
                row[-1] = "0"
    header = ",".join(f"c{i}" for i in range(len(table[0]) if table else 3))
    text = "\n".join([header] * (rng.random() < 0.6) + [",".join(row) for row in table]) + "\n"
    data = bytearray(text.encode("utf-8"))
    for kind in applied:
        if kind == 7:  # binary garbage somewhere
            i = rng.randint(0, len(data))
            data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        elif kind == 8:  # truncation
            del data[rng.randint(0, len(data)) :]
        elif kind == 9:  # other line endings or a byte-order mark
            data = bytearray(
                rng.choice(
                    [
                        data.replace(b"\n", b"\r\n"),
                        data.replace(b"\n", b"\r"),
                        b"\xef\xbb\xbf" + data,
                    ]
                )  # fmt: skip
            )
        elif kind == 10:  # flip bits
            for _ in range(rng.randint(1, 5)):
                if data:
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return ",".join(map(str, applied)), bytes(data)


def _run_csv(data: bytes, path: Path) -> str:
    path.write_bytes(data)
    with contextlib.redirect_stderr(io.StringIO()):  # single-class warnings
        loaded = sources.load(str(path))
    for part in (loaded.x_train, loaded.x_test):
        if not np.isfinite(part).all():
            raise AssertionError("loaded features hold NaN or inf")
    if loaded.y_train.dtype.kind in "iu" and loaded.n_classes > sources.MAX_CLASSES:
        raise AssertionError(f"{loaded.n_classes} classes got through")
    return "loaded"


# ------------------------------------------------------------------------------------ NPZ


def _npz_case(rng: random.Random) -> tuple[str, bytes]:
    data_rng = np.random.default_rng(rng.randrange(2**32))
    n, features = rng.randint(3, 30), rng.randint(1, 5)
    arrays = {"x": data_rng.normal(size=(n, features)), "y": data_rng.integers(0, 3, n)}
    if rng.random() < 0.5:
        arrays = {"x_train": arrays["x"], "y_train": arrays["y"],
                  "x_test": arrays["x"][:2], "y_test": arrays["y"][:2]}  # fmt: skip
    buffer = io.BytesIO()
    (np.savez_compressed if rng.random() < 0.5 else np.savez)(buffer, **arrays)
    return "npz", bytes(_mutate_bytes(bytearray(buffer.getvalue()), rng, header_edits=False))


def _run_npz(data: bytes, path: Path) -> str:
    path.write_bytes(data)
    with contextlib.redirect_stderr(io.StringIO()):
        sources.load(str(path))
    return "loaded"


# ------------------------------------------------------------------------------------ loop


def main() -> None:
    kind, seed, count, extra, max_seconds = sys.argv[1:6]
    make: Callable[[random.Random], tuple[str, bytes]]
    make, run, suffix = {
        "idx": (_idx_case, _run_idx, ".idx"),
        "csv": (_csv_case, _run_csv, ".csv"),
        "npz": (_npz_case, _run_npz, ".npz"),
    }[kind]
    outcomes: Counter[str] = Counter()
    failures: list[dict] = []
    slowest = 0.0
    # A RAM-backed folder where there is one: the cases are written to disk 10,000 times.
    shm = Path("/dev/shm")
    scratch = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=scratch) as folder:
        path = Path(folder) / f"case{suffix}"
        _cap_memory(int(extra))
        for case in range(int(count)):
            case_seed = int(seed) * 1_000_003 + case
            mutation, data = make(random.Random(case_seed))
            started = time.perf_counter()
            try:
                outcomes[run(data, path)] += 1
            except DataError as exc:
                outcomes[type(exc).__name__] += 1
            except BaseException as exc:  # noqa: BLE001 - anything else is the finding
                outcomes["FAILED"] += 1
                if len(failures) < 20:
                    failures.append(
                        {
                            "case_seed": case_seed,
                            "mutation": mutation,
                            "error": f"{type(exc).__name__}: {str(exc)[:300]}",
                            "where": traceback.format_exc().splitlines()[-3:],
                        }
                    )
            elapsed = time.perf_counter() - started
            slowest = max(slowest, elapsed)
            if elapsed > float(max_seconds) and len(failures) < 20:
                outcomes["SLOW"] += 1
                failures.append(
                    {"case_seed": case_seed, "mutation": mutation, "error": f"took {elapsed:.2f} s"}
                )
    print(json.dumps({"cases": int(count), "outcomes": outcomes, "failures": failures,
                      "slowest_s": slowest}))  # fmt: skip


if __name__ == "__main__":
    main()
