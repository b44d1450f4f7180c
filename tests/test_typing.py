"""The package ships ``py.typed``, so its annotations are a promise to every user's type checker:
``mypy --strict`` (configured in pyproject.toml) must find nothing wrong in ``src/``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_strict_is_clean_on_src() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "src/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, (
        f"mypy --strict src/ exited with {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    assert "Success: no issues found" in result.stdout, result.stdout
