"""Draw every figure of the guide with nnscratch and write it to docs/guide/img.

    python docs/make_figures.py                 # all figures, full size: the committed PNGs
    python docs/make_figures.py --fast --out /tmp/figs    # small data, few epochs (the tests)
    python docs/make_figures.py --only 03-activations.png  # one figure
    python docs/make_figures.py --list          # what is registered, page by page

The figures are registered in ``docs/figures/pNN_<short>.py`` (see ``docs/figures/registry.py``);
this script imports those modules in sorted order, draws each figure and writes it atomically
(a temporary file in the target folder, then ``os.replace``), so a failed or interrupted run
never leaves a half-written PNG. It is the only producer of ``docs/guide/img/*.png``.
Full mode uses the MNIST sample bundled with nnscratch, like fast mode, so that the committed
pictures do not depend on what data a machine has.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
FIGURES_DIR = ROOT / "docs" / "figures"
DEFAULT_OUT = ROOT / "docs" / "guide" / "img"
DPI = 100
# One BLAS thread, set before NumPy loads: the figures' products are small, so extra threads
# only fight the machine's other work (the page-9 network's epoch takes 40 times longer on a
# busy machine with them), and one thread gives the same sums, hence the same PNGs, everywhere.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


class UsageError(Exception):
    """Bad input on the command line: reported in one line, exit status 2."""


class LoadError(Exception):
    """A figure module that does not import: reported in one line, exit status 1."""


def load_registry() -> list:
    """Import every docs/figures/p*.py and return the registered FigureSpecs, in page order."""
    # the working tree's nnscratch and the figure modules, whatever is installed
    for path in (str(FIGURES_DIR), str(ROOT / "src")):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("MPLBACKEND", "Agg")
    registry = importlib.import_module("registry")
    for module in sorted(FIGURES_DIR.glob("p*.py")):
        try:
            importlib.import_module(module.stem)
        except Exception as exc:
            raise LoadError(
                f"cannot load docs/figures/{module.name} (at {where(exc)}): "
                f"{type(exc).__name__}: {first_line(exc)}"
            ) from exc
    return sorted(registry.FIGURES, key=lambda spec: spec.filename)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make_figures.py", description="Draw the guide's figures with nnscratch."
    )
    parser.add_argument("--fast", action="store_true", help="small data and few epochs")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--only", nargs="+", action="extend", metavar="FILENAME", help="draw only these figures"
    )
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    return parser.parse_args(argv)


def check_out(out: Path) -> Path:
    """Create ``out`` if needed and make sure a file can be written there, or raise UsageError."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; expected a folder for the PNGs")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-", suffix=".tmp"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to --out {out}: {exc.strerror or exc}") from None
    return out


def write_png(fig: Figure, path: Path) -> int:
    """Save ``fig`` as ``path`` through a temporary file in the same folder; return its size."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".png.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            # no "Software" entry: the bytes then depend on the picture, not on the version
            fig.savefig(handle, format="png", dpi=DPI, metadata={"Software": None})
        # mkstemp creates the file private (0600); a picture is as readable as any new file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path.stat().st_size


def where(exc: BaseException) -> str:
    """file:line of the innermost frame in docs/figures (else the innermost), for the message."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if Path(f.filename).resolve().parent == FIGURES_DIR.resolve()]
    frame = (ours or frames or [None])[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "(no message)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        figures = load_registry()
        if args.list:
            for spec in figures:
                print(f"{spec.filename:<40} {spec.page}")
            return 0
        if args.only:
            known = {spec.filename for spec in figures}
            unknown = [name for name in args.only if name not in known]
            if unknown:
                raise UsageError(
                    f"unknown figure {', '.join(map(repr, unknown))}; known figures: "
                    f"{', '.join(sorted(known))} (see --list)"
                )
            figures = [spec for spec in figures if spec.filename in set(args.only)]
        out = check_out(args.out)
    except UsageError as exc:
        print(f"make_figures.py: error: {exc}", file=sys.stderr)
        return 2
    except LoadError as exc:
        print(f"make_figures.py: error: {exc}", file=sys.stderr)
        return 1

    from matplotlib.figure import Figure as FigureClass

    failed = []
    start = time.perf_counter()
    for spec in figures:
        began = time.perf_counter()
        try:
            fig = spec.draw(args.fast)
            if not isinstance(fig, FigureClass):
                raise TypeError(f"draw returned {type(fig).__name__}, expected a Figure")
            size = write_png(fig, out / spec.filename)
        except Exception as exc:  # report it, draw the others, fail at the end
            failed.append(spec.filename)
            print(
                f"make_figures.py: error: {spec.filename} failed at {where(exc)}: "
                f"{type(exc).__name__}: {first_line(exc)}",
                file=sys.stderr,
            )
            continue
        print(
            f"wrote {out / spec.filename} ({size / 1024:.0f} KB, "
            f"{time.perf_counter() - began:.1f} s)",
            flush=True,
        )
    mode = "fast" if args.fast else "full"
    print(
        f"{len(figures) - len(failed)} of {len(figures)} figures ({mode} mode) in "
        f"{time.perf_counter() - start:.1f} s"
    )
    if failed:
        print(f"make_figures.py: error: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
