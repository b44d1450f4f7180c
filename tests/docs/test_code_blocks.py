"""Run the Python examples of the documentation, as a reader would.

Every fenced block opened with ```python in docs/**/*.md and in the top-level README.md is
collected (except the Chinese edition's, docs/guide/zh/, which test_zh_edition.py proves to be
the English blocks, byte for byte). The blocks of one page run in order in one namespace (a later block may use what an
earlier one defined, exactly as when the reader types them into one session); each page starts
from a fresh namespace. Each block is its own test case, named ``<file>:<line of the fence>``.

A block whose first lines are comments of the form ``# requires: <what>[, <what>...]`` needs
data that is not shipped with the package; it is skipped, with the reason, where that data is
absent (and, like every skip, fails under ``CI=true`` through tests/conftest.py):

* ``mnist``          the four MNIST IDX files: in ``$NNSCRATCH_DATA`` (or its ``mnist/``
                     subfolder), else in ``<repo>/../shared/data/mnist``;
* ``saito-weights``  ``saito-sample-weight.npz``: in ``$NNSCRATCH_DATA`` or its parent folder,
                     else in ``<repo>/../shared/data``;
* ``package:<name>`` an optional package (an extra such as scikit-learn or onnxruntime) that
                     must be importable.

While such a block runs, ``NNSCRATCH_DATA`` names the one folder that holds what it needs, so
the block can load the data the way a reader does (``load_mnist()``,
``Path(os.environ["NNSCRATCH_DATA"]) / "saito-sample-weight.npz"``).
``NNSCRATCH_DOCS_NO_DATA=1`` pretends both are absent, to check that the guide still runs for a
reader who has neither.

A second test checks that every relative link in docs/guide/*.md points to an existing file.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
GUIDE = DOCS / "guide"
ZH = GUIDE / "zh"
SHARED_DATA = REPO.parent / "shared" / "data"
WEIGHTS_FILE = "saito-sample-weight.npz"
KNOWN_REQUIREMENTS = ("mnist", "saito-weights")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*)$")
_REQUIRES = re.compile(r"^#\s*requires:\s*(?P<what>.+?)\s*$", re.IGNORECASE)


# -- collecting blocks ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    page: Path  # absolute path of the Markdown file
    line: int  # 1-based line of the opening fence
    code: str
    requires: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO).as_posix()}:{self.line}"


def markdown_pages() -> list[Path]:
    # The Chinese edition repeats the English pages' blocks byte for byte (test_zh_edition.py
    # checks that), so running them here again would only double the time.
    pages = sorted(p for p in DOCS.rglob("*.md") if ZH not in p.parents) if DOCS.exists() else []
    readme = REPO / "README.md"
    return ([readme] if readme.exists() else []) + pages


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        info = match["info"].strip().split()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1  # past the closing fence
        if info and info[0].lower() in ("python", "py", "python3"):
            code = "\n".join(body) + "\n"
            blocks.append(Block(page, start + 1, code, requirements(code)))
    return blocks


def requirements(code: str) -> tuple[str, ...]:
    """What the leading ``# requires:`` comments of a block ask for."""
    needs: list[str] = []
    for line in code.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("#"):
            break
        match = _REQUIRES.match(line)
        if match:
            needs += [w.strip().lower() for w in match["what"].split(",") if w.strip()]
    return tuple(needs)


ALL_BLOCKS = [block for page in markdown_pages() for block in python_blocks(page)]


# -- finding the optional data ---------------------------------------------------------------------
def _no_data() -> bool:
    return os.environ.get("NNSCRATCH_DOCS_NO_DATA", "").lower() in ("1", "true", "yes")


def _has_mnist(folder: Path) -> bool:
    return any((folder / f"t10k-images-idx3-ubyte{ext}").exists() for ext in (".gz", ""))


def mnist_folder() -> Path | None:
    """A folder from which ``load_mnist()`` (through NNSCRATCH_DATA) finds MNIST."""
    from tests.conftest import mnist_dir

    return None if _no_data() else mnist_dir()


def weights_folder() -> Path | None:
    """The folder holding Saito's pretrained weights."""
    from tests.conftest import shared_data_dir

    return None if _no_data() else shared_data_dir()


def data_folder_for(block: Block) -> tuple[Path | None, str | None]:
    """(the NNSCRATCH_DATA to run ``block`` with, None) or (None, the reason to skip it)."""
    missing = [
        r.split(":", 1)[1]
        for r in block.requires
        if r.startswith("package:") and importlib.util.find_spec(r.split(":", 1)[1]) is None
    ]
    if missing:
        return None, f"optional package(s) not installed: {', '.join(missing)}"
    packages = [r for r in block.requires if r.startswith("package:")]
    block = dataclasses.replace(
        block, requires=tuple(r for r in block.requires if r not in packages)
    )
    unknown = [r for r in block.requires if r not in KNOWN_REQUIREMENTS]
    if unknown:
        pytest.fail(
            f"{block.id}: unknown requirement(s) {unknown}; known: {list(KNOWN_REQUIREMENTS)}"
        )
    if not block.requires:
        return None, None
    if _no_data():
        return (
            None,
            f"NNSCRATCH_DOCS_NO_DATA is set: acting as if {', '.join(block.requires)} were absent",
        )
    folder: Path | None = None
    if "saito-weights" in block.requires:
        folder = weights_folder()
        if folder is None:
            return None, (
                f"{WEIGHTS_FILE} not found (looked in $NNSCRATCH_DATA, its parent and "
                f"{SHARED_DATA})"
            )
    if "mnist" in block.requires:
        if folder is not None:  # both: the weights' folder must lead to MNIST as well
            if not (_has_mnist(folder) or _has_mnist(folder / "mnist")):
                return None, f"MNIST not found beside {folder / WEIGHTS_FILE}"
        else:
            folder = mnist_folder()
            if folder is None:
                return None, (
                    "full MNIST not found (set NNSCRATCH_DATA to a folder holding the four "
                    f"IDX files, or put them in {SHARED_DATA / 'mnist'})"
                )
    return folder, None


# -- running them -----------------------------------------------------------------------------------
_namespaces: dict[Path, dict] = {}
_next_block: dict[Path, int] = {}  # per page: index of the first block not run yet
_broken: dict[Path, str] = {}
_BLOCKS_OF: dict[Path, list[Block]] = {}
for _block in ALL_BLOCKS:
    _BLOCKS_OF.setdefault(_block.page, []).append(_block)


@pytest.fixture(autouse=True)
def _quiet_plots(monkeypatch):
    """Examples that plot draw off-screen, and pyplot windows never block the run."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if "matplotlib" in sys.modules:
        import matplotlib

        matplotlib.use("Agg", force=True)


def _run(block: Block, monkeypatch, workdir: Path) -> None:
    """Execute one block in its page's namespace, or skip it for missing data."""
    folder, reason = data_folder_for(block)
    if reason:
        pytest.skip(reason)
    with monkeypatch.context() as patch:
        if folder is not None:
            patch.setenv("NNSCRATCH_DATA", str(folder))
        patch.chdir(workdir)  # files an example writes land in a temporary folder
        namespace = _namespaces.setdefault(block.page, {"__name__": "__main__"})
        # Pad with blank lines so that tracebacks give the line numbers of the Markdown file,
        # and show its lines: the code sits at the same place in the page.
        code = compile("\n" * block.line + block.code, str(block.page), "exec")
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # overflow or NaN in an example
            exec(code, namespace)


def _with_time(block: Block) -> Any:
    """A block that trains on full MNIST gets 15 minutes instead of the suite's 5: about a
    minute on a quiet 2-core machine, it must not fail on a busy one that runs it 10x slower."""
    return pytest.param(
        block, id=block.id, marks=[pytest.mark.timeout(900)] if "mnist" in block.requires else []
    )


@pytest.mark.parametrize("block", [_with_time(b) for b in ALL_BLOCKS])
def test_code_block(block: Block, monkeypatch, tmp_path):
    page_blocks = _BLOCKS_OF[block.page]
    index = page_blocks.index(block)
    # Run the earlier blocks of the page first if this one was selected on its own (-k).
    while block.page not in _broken and _next_block.get(block.page, 0) < index:
        earlier = page_blocks[_next_block.get(block.page, 0)]
        _next_block[block.page] = page_blocks.index(earlier) + 1
        try:
            _run(earlier, monkeypatch, tmp_path)
        except pytest.skip.Exception:
            pass
        except BaseException as exc:
            _broken[block.page] = f"{earlier.id}: {type(exc).__name__}"
    if block.page in _broken:
        pytest.skip(f"an earlier block of this page failed ({_broken[block.page]})")
    _next_block[block.page] = index + 1
    try:
        _run(block, monkeypatch, tmp_path)
    except pytest.skip.Exception:
        raise
    except BaseException as exc:
        _broken[block.page] = f"{block.id}: {type(exc).__name__}"
        raise


def test_examples_were_found():
    assert GUIDE.exists(), "docs/guide is missing"
    pages = {b.page for b in ALL_BLOCKS}
    for page in sorted(GUIDE.glob("*.md")):
        if page.name != "README.md":
            assert page in pages, f"{page.relative_to(REPO)} has no runnable ```python example"


# -- links ------------------------------------------------------------------------------------------
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\((?P<target>[^)\s]+)\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(?P<target>\S+)", re.MULTILINE)


def relative_links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every relative link or image outside code blocks and code spans."""
    found: list[tuple[int, str]] = []
    in_code = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        text = re.sub(r"`[^`]*`", "", line)
        for pattern in (_LINK, _IMAGE, _REFERENCE):
            for match in pattern.finditer(text):
                target = match["target"].strip("<>")
                if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # http:, https:, mailto: and in-page anchors
                found.append((number, target))
    return found


GUIDE_PAGES = sorted(GUIDE.glob("*.md")) if GUIDE.exists() else []


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=[p.name for p in GUIDE_PAGES])
def test_relative_links_resolve(page: Path):
    broken = []
    for line, target in relative_links(page):
        path = target.split("#", 1)[0]
        if path and not (page.parent / path).exists():
            broken.append(f"{page.name}:{line}: {target}")
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_guide_links_into_the_source():
    """Every step of the guide points the reader at the code that implements it."""
    for page in GUIDE_PAGES:
        if page.name == "README.md":
            continue
        targets = [t for _, t in relative_links(page)]
        assert any("src/nnscratch/" in t for t in targets), f"{page.name} links to no source file"
