"""The guide's figures: one script draws them all, every page shows at least one, none is stale.

``docs/make_figures.py`` imports the figure modules ``docs/figures/pNN_*.py``, whose drawing
functions register themselves in ``docs/figures/registry.py``. These tests run the script in
fast mode (as a reader or CI would, in a subprocess), and check the committed pictures and the
pages against the registry in both directions. They iterate over the registry and the pages,
so a page or figure module added later is covered without changing this file.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docs" / "make_figures.py"
FIGURES_DIR = REPO / "docs" / "figures"
GUIDE = REPO / "docs" / "guide"
IMG = GUIDE / "img"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_REF = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def run_script(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def registry() -> list:
    """The registered FigureSpecs, imported the way make_figures.py imports them."""
    added = [p for p in (str(FIGURES_DIR), str(REPO / "src")) if p not in sys.path]
    sys.path[:0] = added
    modules = ["registry"] + [m.stem for m in sorted(FIGURES_DIR.glob("p*.py"))]
    try:
        registry = importlib.import_module("registry")
        for name in modules[1:]:
            importlib.import_module(name)
        specs = list(registry.FIGURES)
    finally:
        for name in modules:  # leave no top-level "registry" behind for other tests
            sys.modules.pop(name, None)
        for path in added:
            sys.path.remove(path)
    return specs


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, which must come first."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    assert data[12:16] == b"IHDR", "the first chunk of a PNG must be IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def english_pages() -> list[Path]:
    return sorted(GUIDE.glob("[0-9][0-9]-*.md"))


def test_registry_covers_every_page(registry: list) -> None:
    assert len(registry) >= len(english_pages()) >= 12
    pages = {spec.page for spec in registry}
    assert {p.name for p in english_pages()} <= pages, "a page without a registered figure"
    for spec in registry:
        assert spec.alt.strip() and len(spec.alt.split()) >= 8, spec.filename
        assert spec.filename.startswith(spec.page[:3]), spec.filename


def test_fast_run_writes_every_figure(registry: list, tmp_path: Path) -> None:
    out = tmp_path / "figures"
    result = run_script("--fast", "--out", str(out))
    assert result.returncode == 0, result.stderr
    written = [line for line in result.stdout.splitlines() if line.startswith("wrote ")]
    assert len(written) == len(registry), result.stdout
    for spec in registry:
        path = out / spec.filename
        assert path.is_file(), f"{spec.filename} was not written"
        data = path.read_bytes()
        width, height = png_size(data)
        # a real picture: several hundred pixels each way and more than a blank canvas
        assert width >= 400 and height >= 250, (spec.filename, width, height)
        assert 10_000 < len(data) < 400_000, (spec.filename, len(data))
        assert any(spec.filename in line for line in written)
    umask = os.umask(0)
    os.umask(umask)
    assert all((out / s.filename).stat().st_mode & 0o777 == 0o666 & ~umask for s in registry)
    # atomic writes leave no temporary file behind
    assert sorted(p.name for p in out.iterdir()) == sorted(s.filename for s in registry)


def test_committed_pictures_are_exactly_the_registered_ones(registry: list) -> None:
    registered = {spec.filename for spec in registry}
    committed = {p.name for p in IMG.glob("*") if p.is_file()}
    stale = sorted(committed - registered)
    missing = sorted(registered - committed)
    assert not stale, f"docs/guide/img holds pictures no figure module draws: {stale}"
    assert not missing, f"run python docs/make_figures.py to draw: {missing}"
    for name in registered:
        data = (IMG / name).read_bytes()
        width, height = png_size(data)
        assert width >= 400 and height >= 250, name
        assert len(data) < 300_000, f"{name} is {len(data):,} bytes; keep figures small"


def test_every_page_shows_a_registered_figure_with_alt_text(registry: list) -> None:
    by_name = {spec.filename: spec for spec in registry}
    referenced: dict[str, set[str]] = {}
    for page in english_pages():
        refs = IMAGE_REF.findall(page.read_text(encoding="utf-8"))
        pictures = [(alt, target) for alt, target in refs if target.startswith("img/")]
        assert pictures, f"{page.name} shows no figure"
        for alt, target in refs:
            assert alt.strip(), f"{page.name}: ![]({target}) has no alt text"
            assert target.startswith("img/"), f"{page.name}: {target} is not in docs/guide/img"
            name = target.removeprefix("img/")
            assert name in by_name, f"{page.name}: {target} is drawn by no figure module"
            referenced.setdefault(name, set()).add(page.name)
    for spec in registry:
        assert spec.page in referenced.get(spec.filename, set()), (
            f"{spec.filename} is registered for {spec.page}, which does not show it"
        )


def test_translated_pages_show_registered_figures(registry: list) -> None:
    names = {spec.filename for spec in registry}
    for page in sorted(GUIDE.glob("*/[0-9][0-9]-*.md")):
        for alt, target in IMAGE_REF.findall(page.read_text(encoding="utf-8")):
            assert alt.strip(), f"{page}: ![]({target}) has no alt text"
            assert target.startswith("../img/"), f"{page}: {target} is not in docs/guide/img"
            assert target.removeprefix("../img/") in names, f"{page}: {target} is not registered"


def test_unknown_figure_is_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_script("--fast", "--out", str(out), "--only", "99-no-such-figure.png")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown figure '99-no-such-figure.png'" in lines[0], lines
    assert "--list" in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_unwritable_out_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_script("--fast", "--out", str(blocker), "--only", "11-graph-2-2-2.png")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a file" in lines[0], lines
    assert blocker.read_text() == "not a folder"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_figures_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_failed_save_leaves_neither_a_partial_file_nor_the_old_one_damaged(
    tmp_path: Path,
) -> None:
    make_figures = load_script()
    target = tmp_path / "01-x.png"
    target.write_bytes(b"the previous picture")

    class Breaks:
        def savefig(self, handle: object, **kwargs: object) -> None:
            handle.write(b"\x89PNG half a picture")  # type: ignore[attr-defined]
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        make_figures.write_png(Breaks(), target)
    assert target.read_bytes() == b"the previous picture"
    assert [p.name for p in tmp_path.iterdir()] == ["01-x.png"]


def test_a_failing_figure_is_reported_in_one_line_and_the_others_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from matplotlib.figure import Figure

    make_figures = load_script()

    def broken(fast: bool) -> Figure:
        raise ValueError("no data for this figure\nsecond line of detail")

    def fine(fast: bool) -> Figure:
        fig = Figure(figsize=(5, 3))
        fig.add_subplot().plot([0, 1], [1, 0])
        return fig

    specs = [
        SimpleNamespace(filename="01-broken.png", page="01-perceptron.md", alt="x", draw=broken),
        SimpleNamespace(filename="01-fine.png", page="01-perceptron.md", alt="x", draw=fine),
    ]
    monkeypatch.setattr(make_figures, "load_registry", lambda: specs)
    assert make_figures.main(["--fast", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert "01-broken.png failed at" in err[0] and "ValueError: no data for this figure" in err[0]
    assert err[1] == "make_figures.py: error: failed: 01-broken.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01-fine.png"]
    assert png_size((tmp_path / "01-fine.png").read_bytes()) == (500, 300)
