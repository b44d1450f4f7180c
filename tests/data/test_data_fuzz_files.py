"""10,000 mutated IDX files and 10,000 mutated CSV files: only the project's errors come out.

The loop runs in a subprocess (``fuzz_files_worker.py``) whose address space may grow by
only 200 MB past its size after the imports, so a loader that allocates what a forged
header claims dies of ``MemoryError`` there -- reported as a failure, like any exception
that is not a :class:`~nnscratch.data.errors.DataError`, and like any case slower than 2 s.
Mutations: bit flips, overwritten, inserted and deleted bytes, truncation, trailing data,
garbage, header dimensions up to 2**31 x 2**31, bad type codes, corrupted gzip streams and
valid gzip around bad files; for CSV, huge numbers, NaN/inf, ragged rows, binary garbage,
very long lines and fields, absurd labels, other line endings. The seeds are fixed, so a
failure names the case seed that replays it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("fuzz_files_worker.py")
REPO = Path(__file__).resolve().parents[2]
CASES = 10_000
EXTRA_BYTES = 200 * 1024 * 1024
MAX_CASE_SECONDS = 2.0


def fuzz(kind: str, seed: int, cases: int = CASES) -> dict:
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",  # thread pools reserve address space of their own
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    command = [sys.executable, str(WORKER), kind, str(seed), str(cases), str(EXTRA_BYTES)]
    result = subprocess.run(
        [*command, str(MAX_CASE_SECONDS)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["idx", "csv"])
def test_mutated_files_raise_only_data_errors(kind: str) -> None:
    report = fuzz(kind, seed=15)
    assert report["failures"] == [], json.dumps(report["failures"], indent=1)
    outcomes = report["outcomes"]
    assert sum(outcomes.values()) == CASES
    # The mutations reach both ends: some files still load, most are refused.
    assert outcomes["loaded"] >= CASES // 50
    assert sum(n for name, n in outcomes.items() if name != "loaded") >= CASES // 2
    if kind == "idx":
        # Headers declaring more than the 200 MB cap are refused before reading the data.
        assert outcomes["InsufficientMemoryError"] >= CASES // 100


def test_mutated_npz_archives_raise_only_data_errors() -> None:
    """Damaged .npz archives (the command line's other file format), 2,000 of them."""
    report = fuzz("npz", seed=15, cases=2000)
    assert report["failures"] == [], json.dumps(report["failures"], indent=1)
    assert report["outcomes"]["loaded"] >= 20
    assert report["outcomes"]["InvalidDatasetError"] >= 1000
