"""The guide's notebooks: generated from the pages, current, and runnable end to end.

``docs/make_notebooks.py`` turns every numbered page of ``docs/guide/`` into a notebook in
``docs/guide/notebooks/``. These tests check
that the committed notebooks are exactly what the pages produce now (one source of truth, no
stale copy) and execute each one in a fresh Jupyter kernel with nbclient, cell by cell, as a
reader who opens it and runs everything would. A notebook whose page needs data that is absent
(``# requires: mnist`` and the like, see test_code_blocks.py) is skipped with the reason, which
fails under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from tests.docs.test_code_blocks import Block, data_folder_for, python_blocks

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "make_notebooks.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_notebooks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_notebooks = _load_script()
PAGES = make_notebooks.pages()
_needs_jupytext = pytest.mark.skipif(
    importlib.util.find_spec("jupytext") is None, reason="jupytext is not installed"
)


def _id(page: Path) -> str:
    return page.name


def test_every_page_has_a_notebook():
    assert len(PAGES) >= 12, f"expected the guide's pages, found {len(PAGES)}"
    for page in PAGES:
        notebook = make_notebooks.notebook_path(page)
        assert notebook.exists(), f"{_id(page)} has no notebook; run python docs/make_notebooks.py"


@_needs_jupytext
def test_notebooks_are_current():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        "the notebooks differ from their pages; run python docs/make_notebooks.py\n"
        + result.stdout
        + result.stderr
    )


@_needs_jupytext
def test_check_reports_a_stale_a_missing_and_an_orphan_notebook(tmp_path, monkeypatch):
    monkeypatch.setattr(make_notebooks, "NOTEBOOKS", tmp_path)
    page = PAGES[0]
    text = make_notebooks.render(page)
    wanted = {tmp_path / "a.ipynb": text, tmp_path / "b.ipynb": text}
    (tmp_path / "a.ipynb").write_text(text.replace("perceptron", "perceptrons", 1))
    (tmp_path / "orphan.ipynb").write_text(text)
    problems = make_notebooks.stale(wanted)
    assert len(problems) == 3, problems
    assert problems[0].startswith("out of date:") and problems[0].endswith("a.ipynb")
    assert problems[1].startswith("missing:") and problems[1].endswith("b.ipynb")
    assert problems[2].startswith("no page for:") and problems[2].endswith("orphan.ipynb")


@_needs_jupytext
def test_links_and_math_are_rewritten_for_the_notebook_folder():
    page = make_notebooks.GUIDE / "01-perceptron.md"
    notebook = make_notebooks.render(page)
    assert "](../../../src/nnscratch/core/perceptron.py)" in notebook
    assert "](02-multiclass-perceptron.ipynb)" in notebook
    assert "```math" not in notebook and "$$" in notebook


@pytest.mark.parametrize("page", PAGES, ids=[_id(p) for p in PAGES])
def test_the_code_cells_are_the_pages_python_blocks(page: Path):
    """What a notebook runs is exactly what the page's tests run: its ```python blocks, in
    order; a shell command (an install, a training of several minutes) stays Markdown."""
    import json

    notebook = json.loads(make_notebooks.notebook_path(page).read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    blocks = [b.code.rstrip("\n") for b in python_blocks(page)]
    assert [c.rstrip("\n") for c in cells] == blocks


@pytest.mark.timeout(1200)  # page 13 trains on full MNIST: a minute quiet, 10x that when busy
@pytest.mark.parametrize("page", PAGES, ids=[_id(p) for p in PAGES])
def test_notebook_runs(page: Path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed")
    needs = tuple(dict.fromkeys(r for b in python_blocks(page) for r in b.requires))
    folder, reason = data_folder_for(Block(page, 0, "", needs))
    if reason:
        pytest.skip(reason)
    if folder is not None:
        monkeypatch.setenv("NNSCRATCH_DATA", str(folder))  # the kernel inherits it
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The pure-NumPy pages (09 trains its own network) run their products on OpenBLAS's own
    # threads; on a shared 2-core machine two spinning BLAS threads measured 70x slower than
    # one (page 09: 275 s against 4 s), so the kernel gets one, as the library's "auto" would.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")
    notebook = nbformat.read(str(make_notebooks.notebook_path(page)), as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # files a cell writes land here
    )
    client.execute()
    ran = [c for c in notebook.cells if c.cell_type == "code"]
    assert ran and all(c.get("execution_count") for c in ran), "a code cell did not run"
    errors = [o for c in ran for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
