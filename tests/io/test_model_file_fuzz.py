"""Fuzzing ``Model.load``: 10,000 mutated model files, and only ModelFileError comes out.

A small valid model (Dense, BatchNorm, Dropout, Adam state, a history) is saved once; each case
applies one to three seeded mutations to it in memory:
byte-level (bit flips, truncation, inserted, removed, overwritten or duplicated bytes) and
member-level, rebuilt as a valid zip so that the CRC-32 passes and the loader's own checks are
reached (renamed, dropped, duplicated or added members, edited ``.npy`` headers, edited array
bytes, edited or replaced JSON metadata, other compression methods). Every eighth case is
loaded from a file, the others from memory (``Model.load`` takes an open binary file; the
checks are the same, and opening 20,000 files would dominate the run). The loop runs in a
subprocess whose address space is capped at 200 MB above what it had after importing, so a case
that allocated more would surface as a MemoryError, and each case's time is recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

CASES = 10_000

FUZZER = r"""
import io, json, os, resource, sys, time, warnings, zipfile
import numpy as np
sys.path.insert(0, sys.argv[4])
import nnscratch as nn

warnings.simplefilter("ignore")  # duplicate zip names, Python-2 style .npy headers
folder, cases, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
net = nn.Sequential(
    [nn.Dense(5, "relu"), nn.BatchNorm(), nn.Dropout(0.2), nn.Dense(3)], input_dim=4, seed=0
)
model = nn.Model(net, optimizer="adam", l2=0.01)
x = np.random.default_rng(0).normal(size=(24, 4)).astype(np.float32)
model.fit(x, np.arange(24) % 3, epochs=2, batch_size=8, verbose=0, validation_split=0.25)
good_path = os.path.join(folder, "good.npz")
model.save(good_path)
GOOD = open(good_path, "rb").read()
with zipfile.ZipFile(good_path) as zf:
    MEMBERS = [(i.filename, zf.read(i)) for i in zf.infolist()]
META = json.loads(np.load(good_path)["__metadata__"].tobytes())
assert nn.Model.load(good_path).epoch == 2

size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + 200 * 2**20, resource.RLIM_INFINITY))
rng = np.random.default_rng(seed)

def pick(seq):
    return seq[int(rng.integers(len(seq)))]

def random_bytes(n):
    return rng.integers(0, 256, n, dtype=np.uint8).tobytes()

# -- byte-level mutations --------------------------------------------------------------------
def flip(data):
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        if data:
            data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
    return bytes(data)

def truncate(data):
    return data[: int(rng.integers(len(data) + 1))]

def insert(data):
    at = int(rng.integers(len(data) + 1))
    return data[:at] + random_bytes(int(rng.integers(1, 64))) + data[at:]

def remove(data):
    at = int(rng.integers(len(data) + 1))
    return data[:at] + data[at + int(rng.integers(1, 64)):]

def overwrite(data):
    at = int(rng.integers(len(data) + 1))
    n = int(rng.integers(1, 32))
    fill = pick([random_bytes(n), b"\xff" * n, b"\x00" * n])
    return data[:at] + fill + data[at + n:]

def duplicate(data):
    at = int(rng.integers(len(data) + 1))
    return data[:at] + data[at: at + int(rng.integers(1, 256))] + data[at:]

BYTE_LEVEL = [flip, truncate, insert, remove, overwrite, duplicate]

# -- member-level mutations (a valid zip is rebuilt afterwards) ------------------------------
NAMES = ["weights/0.W.npy", "weights/9.W.npy", "optimizer/0.m.npy", "optimizer/7.v.npy",
         "__metadata__.npy", "../evil.npy", "weights/0.W", "weights/x.W.npy", "a.npy", "",
         "weights/01.W.npy", "optimizer/0.tmp.npy", "WEIGHTS/0.W.npy", "weights/1.b.npy"]

def rename(members):
    i = int(rng.integers(len(members)))
    members[i] = (pick(NAMES + [members[int(rng.integers(len(members)))][0]]), members[i][1])

def drop(members):
    members.pop(int(rng.integers(len(members))))

def add(members):
    members.append((pick(NAMES), pick(members)[1]))

def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()

def header_edit(members):
    i = int(rng.integers(len(members)))
    name, data = members[i]
    end = data.find(b"\n") + 1 if b"\n" in data[:512] else 128
    header = data[10:end].decode("latin1")
    edits = [
        lambda h: h.replace("'shape': (", "'shape': (" + str(int(rng.integers(0, 10**9))) + ", "),
        lambda h: h.replace("'shape': (", "'shape': (-1, "),
        lambda h: h.replace("'shape': (", "'shape': (10**12, "),
        lambda h: h.replace("<f4", pick(["<f8", "|O", "<i4", ">f4", "<f2", "[('a','<f4')]",
                                          "('<f4', (3,))", "<U9", "|V4", "<c8"])),
        lambda h: h.replace("|u1", pick(["<f4", "|O", "|i1", "<u2"])),
        lambda h: h.replace("False", "True"),
        lambda h: h.replace("False", "1"),
        lambda h: h.replace("{", "{'extra': 1, "),
        lambda h: h.replace("}", "" ),
        lambda h: "(" * 5000 + h,
    ]
    header = pick(edits)(header)
    raw = header.encode("latin1")
    version = pick([data[6:8], b"\x02\x00", b"\x03\x00", b"\x09\x00"])
    length = len(raw).to_bytes(2 if version == b"\x01\x00" else 4, "little")
    members[i] = (name, data[:6] + version + length + raw + data[end:])

def data_edit(members):
    i = int(rng.integers(len(members)))
    name, data = members[i]
    members[i] = (name, flip(data) if data else data)

def resize(members):
    i = int(rng.integers(len(members)))
    name, data = members[i]
    members[i] = (name, pick([data + random_bytes(int(rng.integers(1, 64))), data[:-4], data[:64]]))

def random_json(depth=0):
    choice = int(rng.integers(12))
    if choice == 0 or depth > 3:
        return pick([None, True, False, -1, 0, 1, 2**70, -(2**70), 1e308, -0.5, "", "relu",
                     "Dense", "adam", "float64", "x" * 300])
    if choice == 1:
        return [random_json(depth + 1) for _ in range(int(rng.integers(4)))]
    if choice == 2:
        return {pick(["units", "type", "name", "rate", "input_dim", "0", "1"]):
                random_json(depth + 1) for _ in range(int(rng.integers(4)))}
    return pick([None, -1, 0, 3, 2**40, 1e300, float("nan"), "", "sigmoid", [], {}, [3, 4]])

def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from paths(v, (*prefix, k))

def metadata_edit(members):
    meta = json.loads(json.dumps(META))
    for _ in range(int(rng.integers(1, 4))):
        where = pick(list(paths(meta))[1:])
        parent = meta
        for key in where[:-1]:
            parent = parent[key]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = random_json()
    text = json.dumps(meta)
    if rng.random() < 0.05:
        text = "[" * int(rng.integers(1000, 200_000))
    elif rng.random() < 0.05:
        text = text[: int(rng.integers(len(text)))]
    record = npy(np.frombuffer(text.encode(), dtype=np.uint8))
    members[:] = [(n, record if n == "__metadata__.npy" else d) for n, d in members]

MEMBER_LEVEL = [rename, drop, add, header_edit, data_edit, resize, metadata_edit]

def rebuild(members):
    method = pick([zipfile.ZIP_STORED] * 6 + [zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                               zipfile.ZIP_LZMA])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name, data in members:
            zf.writestr(name or "x", data)
    return buffer.getvalue()

def mutate():
    steps = []
    if rng.random() < 0.6:
        members = list(MEMBERS)
        for _ in range(int(rng.integers(1, 4))):
            if not members:
                break
            op = pick(MEMBER_LEVEL)
            op(members)
            steps.append(op.__name__)
        data = rebuild(members)
        if rng.random() < 0.2:
            op = pick(BYTE_LEVEL)
            data = op(data)
            steps.append(op.__name__)
    else:
        data = GOOD
        for _ in range(int(rng.integers(1, 4))):
            op = pick(BYTE_LEVEL)
            data = op(data)
            steps.append(op.__name__)
    return data, steps

outcomes, failures, slowest = {}, [], (0.0, None)
path = os.path.join(folder, "case.npz")
for case in range(cases):
    data, steps = mutate()
    if case % 8 == 0:  # through a file; the others in memory (opening files is slow here)
        with open(path, "wb") as handle:
            handle.write(data)
        source = path
    else:
        source = io.BytesIO(data)
    start = time.perf_counter()
    try:
        nn.Model.load(source)
        outcome = "loaded"
    except nn.ModelFileError as exc:
        outcome = "refused"
        text = str(exc)
        if "\n" in text or not text:
            failures.append([case, steps, "message", text[:300]])
    except BaseException as exc:
        outcome = type(exc).__name__
        failures.append([case, steps, outcome, str(exc)[:300]])
    seconds = time.perf_counter() - start
    if seconds > slowest[0]:
        slowest = (seconds, [case, steps])
    outcomes[outcome] = outcomes.get(outcome, 0) + 1
print(json.dumps({"outcomes": outcomes, "failures": failures[:20],
                  "n_failures": len(failures), "slowest": slowest}))
"""


def test_ten_thousand_mutated_model_files_raise_only_model_file_errors(tmp_path: Path) -> None:
    script = tmp_path / "fuzz.py"
    script.write_text(FUZZER)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path),
            str(CASES),
            "20261130",
            str(REPO_ROOT / "src"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["n_failures"] == 0, report["failures"]
    outcomes = report["outcomes"]
    assert sum(outcomes.values()) == CASES
    assert set(outcomes) <= {"loaded", "refused"}
    assert outcomes["refused"] > CASES // 2  # most mutations really do break the file
    seconds, case = report["slowest"]
    assert seconds < 2.0, case
