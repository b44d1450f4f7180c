"""The package as a user gets it: the sdist and the wheel that ``python -m build`` makes.

Both are built once per run from this source tree (``--no-isolation``: the test environment
already holds setuptools and needs no network), then opened as archives. The wheel must
carry the licence metadata of PEP 639 (the code is MIT, the bundled MNIST sample is
CC BY-SA 3.0 and its notice travels with it), the PEP 561 ``py.typed`` marker and the
package data; the sdist must hold everything needed to run the tests and read the guide
without a git checkout. Last, the wheel is installed into a clean virtual environment and
its metadata read back there, as a user's tools would read it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest
from tests.conftest import REPO_ROOT

import nnscratch

SRC = REPO_ROOT / "src" / "nnscratch"
NOTICE = "src/nnscratch/data/sample/NOTICE"
LICENSE_FILES = {"LICENSE", NOTICE}
# An sdist of a few MB at most: the MNIST sample (~1 MB) and the guide's images dominate.
MAX_SDIST_BYTES = 5_000_000


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the 'build' package is not installed; pip install -e '.[test]' brings it")
    out = tmp_path_factory.mktemp("dist")
    # No --sdist/--wheel: build makes the sdist, then the wheel from the unpacked sdist, so a
    # file missing from the sdist is missing from the wheel too.
    done = _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO_ROOT)], out
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"python -m build failed:\n{log[-4000:]}"
    # A deprecated setting (the old `license = {text = ...}` table, a "License ::"
    # classifier) still builds today and stops building with a later setuptools; build
    # prints setuptools' warnings as "WARNING ... is deprecated", without their class.
    assert "deprecated" not in log.lower(), log[-4000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def _wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return HeaderParser().parsestr(zf.read(name).decode("utf-8"))


def _sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as tf:
        names = tf.getnames()
    prefix = f"nnscratch-{nnscratch.__version__}/"
    assert all(n.startswith(prefix) or n + "/" == prefix for n in names), names[:5]
    return {n[len(prefix) :] for n in names if n.startswith(prefix)}


def _files_under(folder: Path) -> set[str]:
    """Every file below ``folder``, as a path relative to the repository root."""
    return {
        p.relative_to(REPO_ROOT).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_version_is_one_string_everywhere(dists: dict[str, Path]) -> None:
    version = nnscratch.__version__
    assert isinstance(version, str) and version.count(".") >= 2
    meta = _wheel_metadata(dists["wheel"])
    assert meta["Name"] == "nnscratch"
    assert meta["Version"] == version
    assert dists["wheel"].name == f"nnscratch-{version}-py3-none-any.whl"
    assert dists["sdist"].name == f"nnscratch-{version}.tar.gz"


def test_wheel_metadata_states_the_licences(dists: dict[str, Path]) -> None:
    meta = _wheel_metadata(dists["wheel"])
    assert meta["Metadata-Version"] in ("2.4", "2.5")
    assert meta["License-Expression"] == "MIT"
    assert set(meta.get_all("License-File") or []) == LICENSE_FILES
    # PEP 639: no licence classifier beside an SPDX expression, and no free-text License.
    classifiers = meta.get_all("Classifier") or []
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert meta["License"] is None
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    assert meta["Requires-Python"] == ">=3.10"


def test_wheel_carries_licences_marker_and_data(dists: dict[str, Path]) -> None:
    version = nnscratch.__version__
    with zipfile.ZipFile(dists["wheel"]) as zf:
        names = set(zf.namelist())
        licences = f"nnscratch-{version}.dist-info/licenses/"
        for path in LICENSE_FILES:
            assert zf.read(licences + path) == (REPO_ROOT / path).read_bytes(), path
        assert zf.read("nnscratch/py.typed") == (SRC / "py.typed").read_bytes()
        npz = zf.read("nnscratch/data/sample/mnist-sample.npz")
        assert npz == (SRC / "data" / "sample" / "mnist-sample.npz").read_bytes()
    assert {"nnscratch/data/sample/NOTICE", "nnscratch/data/sample/README.md"} <= names
    # Every module and every web page of the source tree, no more and no less.
    in_src = {
        "nnscratch/" + Path(p).relative_to("src/nnscratch").as_posix()
        for p in _files_under(SRC)
        if p.endswith(".py") or "/web/static/" in p
    }
    in_wheel = {n for n in names if n.endswith(".py") or "/web/static/" in n}
    assert in_wheel == in_src
    assert "nnscratch/web/static/playground.html" in in_wheel


def test_sample_notice_names_what_who_and_licence() -> None:
    text = (REPO_ROOT / NOTICE).read_text(encoding="utf-8")
    for needle in (
        "mnist-sample.npz",
        "Yann LeCun",
        "Corinna Cortes",
        "Burges",
        "CC BY-SA 3.0",
        "https://creativecommons.org/licenses/by-sa/3.0/",
    ):
        assert needle in text, needle
    code_licence = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert code_licence.startswith("MIT License\n")
    assert "Copyright (c) 2026 the nnscratch developers" in code_licence


def test_sdist_holds_what_the_tests_and_the_guide_need(dists: dict[str, Path]) -> None:
    names = _sdist_names(dists["sdist"])
    expected = {"CHANGELOG.md", "LICENSE", "README.md", "pyproject.toml", "MANIFEST.in", "PKG-INFO"}
    expected |= {NOTICE, "src/nnscratch/py.typed", "src/nnscratch/data/sample/mnist-sample.npz"}
    for folder in ("docs", "benchmarks", "examples", "scripts"):
        expected |= _files_under(REPO_ROOT / folder)
    expected |= {p for p in _files_under(REPO_ROOT / "tests") if "/screenshots/" not in p}
    missing = sorted(expected - names)
    assert not missing, missing
    assert "tests/packaging/test_package.py" in names and "tests/conftest.py" in names
    assert {"docs/img/playground-2d.png", "tests/training/fixtures/dense-0.1.0.npz"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    # The playground's screenshots are outputs of a test run, not sources.
    assert not [n for n in names if n.startswith("tests/web/screenshots/")]
    assert dists["sdist"].stat().st_size < MAX_SDIST_BYTES
    with tarfile.open(dists["sdist"]) as tf:
        pkg_info = tf.extractfile(f"nnscratch-{nnscratch.__version__}/PKG-INFO")
        assert pkg_info is not None
        meta = HeaderParser().parsestr(pkg_info.read().decode("utf-8"))
    assert meta["License-Expression"] == "MIT"
    assert set(meta.get_all("License-File") or []) == LICENSE_FILES


def test_installed_wheel_reports_its_licences(dists: dict[str, Path], tmp_path: Path) -> None:
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in this environment; it installs the wheel")
    venv = tmp_path / "venv"
    # A bare environment, and this environment's pip installing into it (--python): much
    # faster than bootstrapping a pip of its own there.
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    done = _run([*pip, "--no-index", "--quiet", str(dists["wheel"])], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # -I: the clean environment alone, whatever PYTHONPATH this test run has. nnscratch is
    # not imported (its dependencies are not installed there): metadata and files only.
    probe = """
import importlib.metadata as md, json, sys
dist = md.distribution("nnscratch")
present = {str(f): f for f in dist.files or [] if f.locate().is_file()}
print(json.dumps({
    "version": dist.version,
    "expression": dist.metadata["License-Expression"],
    "license_files": dist.metadata.get_all("License-File"),
    "licences": sorted(name for name in present if "/licenses/" in name),
    "notice": present[sys.argv[1]].read_text(encoding="utf-8"),
    "py_typed": "nnscratch/py.typed" in present,
}))
"""
    notice = f"nnscratch-{nnscratch.__version__}.dist-info/licenses/{NOTICE}"
    read = _run([str(python), "-I", "-c", probe, notice], tmp_path)
    assert read.returncode == 0, read.stderr
    found = json.loads(read.stdout)
    version = nnscratch.__version__
    assert found["version"] == version
    assert found["expression"] == "MIT"
    assert set(found["license_files"]) == LICENSE_FILES
    assert found["licences"] == sorted(
        f"nnscratch-{version}.dist-info/licenses/{p}" for p in LICENSE_FILES
    )
    assert found["notice"] == (REPO_ROOT / NOTICE).read_text(encoding="utf-8")
    assert found["py_typed"] is True
