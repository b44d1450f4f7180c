"""What every plot shares: loading matplotlib lazily, headless figures, checks, saving.

matplotlib is an optional extra (``pip install 'nnscratch[plot]'``), so nothing here imports it
at module level: ``import nnscratch.plots`` works without it, and only drawing needs it.
Figures are ``matplotlib.figure.Figure`` objects with an Agg canvas attached -- no pyplot, no
global figure registry, no display -- so they are headless, safe to build from several threads
at once, and garbage-collected like any other object once the caller drops them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsFloat, cast

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - for type hints only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

MISSING_MESSAGE = "plots need matplotlib: pip install 'nnscratch[plot]'"
SAVE_FORMATS = {".png": "png", ".svg": "svg"}
DEFAULT_DPI = 100.0


def require_matplotlib() -> Any:
    """Import and return ``matplotlib``, or raise ImportError saying how to install it."""
    try:
        import matplotlib  # the parent first: a cached submodule would hide its absence
        import matplotlib.figure  # noqa: F401
        from matplotlib.backends import backend_agg  # noqa: F401
    except ImportError as exc:
        raise ImportError(MISSING_MESSAGE) from exc
    return matplotlib


def new_figure(
    figsize: tuple[float, float] | None,
    dpi: float | None,
    default_size: tuple[float, float],
) -> Figure:
    """A fresh headless Figure (Agg canvas, constrained layout) of a deterministic size."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = check_figsize(figsize if figsize is not None else default_size)
    fig = Figure(figsize=size, dpi=check_dpi(dpi), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def root_figure(artist: Axes | Figure | SubFigure) -> Figure:
    """The top-level Figure of an Axes or SubFigure (what ``save_figure`` can write)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    try:
        root = artist.get_figure(root=True)  # matplotlib >= 3.10
    except TypeError:
        root = None
    if root is not None:
        return root
    fig = artist
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def check_axes(ax: object, name: str = "ax") -> Axes:
    require_matplotlib()
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"{name} must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def check_figsize(figsize: object) -> tuple[float, float]:
    try:
        # any object: what is not a pair of numbers raises TypeError or ValueError here
        w, h = (float(v) for v in cast("Iterable[SupportsFloat]", figsize))
    except (TypeError, ValueError):
        raise ValueError(
            f"figsize must be a pair (width, height) in inches, got {figsize!r}"
        ) from None
    if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
        raise ValueError(f"figsize must be two positive finite numbers, got {figsize!r}")
    return w, h


def check_dpi(dpi: object) -> float:
    if dpi is None:
        return DEFAULT_DPI
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float, np.integer, np.floating)):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    if not (np.isfinite(dpi) and dpi > 0):
        raise ValueError(f"dpi must be a positive finite number, got {dpi!r}")
    return float(dpi)


def check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_labels(y: object, n: int, name: str = "y") -> np.ndarray:
    """Integer class labels, 1-D, one per sample (floats holding whole numbers are accepted)."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {labels.shape}")
    if len(labels) != n:
        raise ValueError(f"x has {n} samples but {name} has {len(labels)}: they must match")
    return as_int_labels(labels, name)


def as_int_labels(labels: np.ndarray, name: str) -> np.ndarray:
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64, copy=False)
    if labels.dtype.kind == "b":
        return labels.astype(np.int64)
    if (
        labels.dtype.kind == "f"
        and np.all(np.isfinite(labels))
        and np.all(labels == np.round(labels))
    ):
        return labels.astype(np.int64)
    raise ValueError(f"{name} must hold integer class labels, got dtype {labels.dtype}")


def check_image_shape(shape: object) -> tuple[int, int]:
    try:
        h, w = cast("Iterable[object]", shape)  # not a pair: TypeError or ValueError here
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (height, width), got {shape!r}") from None
    return check_positive_int(h, "shape[0]"), check_positive_int(w, "shape[1]")


def grid_shape(n: int, ncols: int | None) -> tuple[int, int]:
    """(rows, columns) for n panels: about square unless ncols is given."""
    cols = check_positive_int(ncols, "ncols") if ncols is not None else int(np.ceil(np.sqrt(n)))
    cols = min(cols, n)
    return int(np.ceil(n / cols)), cols


def class_colors(n: int) -> list[tuple[float, ...]]:
    """n distinct colours, the same class always getting the same colour across panels."""
    matplotlib = require_matplotlib()
    if n <= 10:
        return list(matplotlib.colormaps["tab10"].colors[:n])
    if n <= 20:
        return list(matplotlib.colormaps["tab20"].colors[:n])
    return [matplotlib.colormaps["turbo"](i / (n - 1)) for i in range(n)]


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: float | None = None) -> Path:
    """Write ``fig`` to ``path`` as PNG or SVG, chosen by the suffix; return the path.

    The write is atomic: the picture goes to a temporary file in the same folder, which then
    replaces ``path`` in one step, so a reader never sees half a file and an error leaves any
    earlier picture intact. Missing parent folders are created. The figure is left open and
    unchanged (the caller may still draw on it or save it again); its pixel size is
    ``figsize * dpi`` (the figure's own dpi unless ``dpi`` is given).
    """
    target = Path(path)
    fmt = SAVE_FORMATS.get(target.suffix.lower())
    if fmt is None:
        allowed = ", ".join(SAVE_FORMATS)
        raise ValueError(
            f"cannot save a figure as {target.name!r}: the suffix must be one of {allowed}"
        )
    require_matplotlib()
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    fig = root_figure(fig)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    metadata = {"Date": None} if fmt == "svg" else None  # reproducible SVG: no timestamp
    try:
        with open(temporary, "xb") as handle:
            fig.savefig(
                handle,
                format=fmt,
                dpi=fig.dpi if dpi is None else check_dpi(dpi),
                metadata=metadata,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def as_sequence_of_axes(ax: object, n: int) -> Sequence[Axes]:
    """``ax`` as n Axes: one Axes when n == 1, else a sequence (or array) of n Axes."""
    items = [ax] if n == 1 and not isinstance(ax, (list, tuple, np.ndarray)) else ax
    try:
        axes = list(np.ravel(np.asarray(items, dtype=object)))
    except TypeError:
        raise TypeError("ax must be a matplotlib Axes or a sequence of them") from None
    if len(axes) != n:
        raise ValueError(f"ax must give one Axes per panel: {n} needed, got {len(axes)}")
    return [check_axes(a, f"ax[{i}]") for i, a in enumerate(axes)]
