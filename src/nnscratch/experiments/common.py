"""What every experiment module shares: the result ``Row``, the run ``Context`` and ``verdict``,
plus the look-ups for the data several articles use.

Imports run one way: ``runner`` imports the per-article modules, and those import only this
module (never the runner, never each other), so a new article is one new module and one line
in the runner's registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..data.dataset import Dataset


@dataclass
class Row:
    """One line of the table: the experiment, the article's figure, ours, and the verdict."""

    experiment: str
    article: str
    ours: str
    verdict: str  # "pass", "FAIL" or "skipped"
    note: str = ""


@dataclass
class Context:
    """Where figures go, whether this is the fast run, and where the data is."""

    out: Path
    fast: bool
    data_dir: str | None
    figures: list[Path] = field(default_factory=list)

    def save(self, fig: Figure, name: str) -> None:
        from ..plots import save_figure

        path = self.out / f"{name}.png"
        save_figure(fig, path)
        self.figures.append(path)


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def saito_weights(data_dir: str | None) -> Path | None:
    """Where the pretrained chapter-3 weights are: beside the MNIST folder or in ../shared/data."""
    candidates = []
    for base in (data_dir, os.environ.get("NNSCRATCH_DATA")):
        if base:
            candidates += [
                Path(base) / "saito-sample-weight.npz",
                Path(base).parent / "saito-sample-weight.npz",
            ]
    candidates += [
        Path("../shared/data/saito-sample-weight.npz"),
        Path(__file__).resolve().parents[4] / "shared" / "data" / "saito-sample-weight.npz",
    ]
    return next((p for p in candidates if p.exists()), None)


def mnist_with_validation(ctx: Context) -> Dataset | Exception:
    """Full MNIST with the last 10,000 training images held out for validation (Nielsen's
    split), or the error that says why it could not be loaded."""
    from ..data import load_mnist
    from ..data.errors import DataError

    try:
        return load_mnist(ctx.data_dir, normalize=True, validation_size=10_000, progress=True)
    except (DataError, OSError) as exc:
        return exc
