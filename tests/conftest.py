"""Shared test configuration.

Tests that need data or optional packages skip with a reason on a user's machine, but under CI
(``CI=true``) every skip is turned into a failure: CI provides everything, so a skip there means
something is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def mnist_dir() -> Path | None:
    """The full-MNIST folder: $NNSCRATCH_DATA (or its mnist/ subfolder), else ../shared/data/mnist."""
    candidates = []
    if os.environ.get("NNSCRATCH_DATA"):
        env = Path(os.environ["NNSCRATCH_DATA"])
        candidates += [env, env / "mnist"]
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "mnist")
    for folder in candidates:
        if (folder / "t10k-images-idx3-ubyte.gz").exists() or (
            folder / "t10k-images-idx3-ubyte"
        ).exists():
            return folder
    return None


def shared_data_dir() -> Path | None:
    folder = REPO_ROOT.parent / "shared" / "data"
    return folder if folder.exists() else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CI=true, which must provide everything: {reason}"
