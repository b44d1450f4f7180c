"""``LivePlot``: learning curves redrawn in a notebook cell while ``Model.fit`` runs.

The callback draws with :func:`~nnscratch.plots.plot_history`, so a live curve looks exactly like
the one drawn after training. In a Jupyter (IPython kernel) cell it shows one picture and
replaces it in place every ``every`` epochs. Anywhere else -- a plain ``python`` script, the
tests, the ``nnscratch`` command -- it does nothing: it imports neither matplotlib nor IPython
and builds no figure, unless ``force=True`` asks for the figure anyway or ``path`` asks for the
final picture on disk. Neither IPython nor matplotlib is required by nnscratch; IPython is only
looked for among the modules already imported, which it always is inside a kernel.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..training.callbacks import Callback
from ._base import SAVE_FORMATS, check_dpi, check_figsize, require_matplotlib, save_figure
from .curves import plot_history

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..model import Model


def in_notebook() -> bool:
    """Whether this code runs in an IPython kernel (Jupyter, VS Code, Colab), which can show
    pictures in a cell: IPython is imported and its shell has a ``kernel`` (a terminal
    ``ipython`` has none, so it counts as "not a notebook"). Imports nothing."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if not callable(get_ipython):
        return False
    try:
        shell = get_ipython()
    except Exception:  # a broken or half-initialised IPython: behave as outside a notebook
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


class LivePlot(Callback):
    """Learning curves that redraw in the notebook cell while ``fit`` runs.

    ``model.fit(x, y, ..., callbacks=[nn.LivePlot()])`` shows the loss (and the accuracy, when
    the model logs one) per epoch, training solid and validation dashed, one panel per metric --
    the picture of :func:`~nnscratch.plots.plot_history` -- and replaces it every ``every``
    epochs of the run and once more when training ends, so the last picture holds every epoch.

    Parameters
    ----------
    metrics:
        The quantities to plot, one panel each, named as in ``model.history`` without the
        ``val_`` prefix (the validation curve is added when the run logs ``val_<metric>``).
        Default: ``loss``, plus ``accuracy`` when logged. A name that training does not log
        (neither as itself nor as ``val_<metric>``) is a ValueError at the end of the first
        epoch, in a notebook or not, so a typo shows up in a script's test run too.
    every:
        Redraw after every ``every``-th epoch of the run (a positive integer, default 1).
    figsize, dpi:
        Size of the figure in inches (default 4.2 wide per panel, 3.4 high) and its
        resolution in dots per inch (default 100).
    path:
        Also write the final picture to this ``.png`` (or ``.svg``) file when training ends,
        in a notebook or not (atomically, with :func:`~nnscratch.plots.save_figure`).
    force:
        Draw even outside a notebook: the figure is then kept in ``figure`` (and displayed
        if a kernel is there), for tests and for saving.

    Outside a notebook, without ``force`` or ``path``, the callback costs nothing. Where it
    does draw (a notebook, ``force`` or ``path``), matplotlib is needed, and its absence is an
    ImportError with the install command before the first epoch, so no training is lost.
    ``figure`` holds the latest Figure drawn (None until the first drawing; with ``path``, the
    saved one) and ``redraws`` counts the live drawings of the current run.
    """

    def __init__(
        self,
        metrics: str | Sequence[str] | None = None,
        *,
        every: int = 1,
        figsize: tuple[float, float] | None = None,
        dpi: float | None = None,
        path: str | os.PathLike[str] | None = None,
        force: bool = False,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive whole number of epochs, got {every!r}")
        self.metrics = _check_metrics(metrics)
        self.every = every
        self.figsize = None if figsize is None else check_figsize(figsize)
        self.dpi = None if dpi is None else check_dpi(dpi)
        self.path = None if path is None else _check_path(path)
        self.force = bool(force)
        self.figure: Figure | None = None
        self.redraws = 0
        self._notebook = False
        self._draw = False
        self._handle: Any = None
        self._checked = False
        self._epochs_run = 0
        self._drawn_at = 0

    def on_train_begin(self, model: Model) -> None:
        self._notebook = in_notebook()
        self._draw = self._notebook or self.force
        self._handle, self._checked = None, False
        self._epochs_run = self._drawn_at = self.redraws = 0
        if self._draw or self.path is not None:
            require_matplotlib()  # before the first epoch: a missing extra loses no training

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        if not self._checked:
            self._check_logged(logs)
            self._checked = True
        self._epochs_run += 1
        if self._draw and self._epochs_run % self.every == 0:
            self._redraw(model)

    def on_train_end(self, model: Model) -> None:
        if not len(model.history):
            return
        if self._draw and self._drawn_at != self._epochs_run:
            self._redraw(model)  # the epochs since the last drawing
        if self.path is not None:
            figure = self.figure  # when drawing live, the redraw above is of the last epoch
            if figure is None or not self._draw or not self._epochs_run:
                figure = self.figure = self._plot(model)
            save_figure(figure, self.path)

    def _check_logged(self, logs: dict[str, float]) -> None:
        for metric in self.metrics or ():
            if metric not in logs and f"val_{metric}" not in logs:
                raise ValueError(
                    f"LivePlot plots {metric!r}, which training does not log (nor "
                    f"'val_{metric}'); logged: {sorted(logs)}"
                )

    def _plot(self, model: Model) -> Figure:
        return plot_history(model.history, self.metrics, figsize=self.figsize, dpi=self.dpi)

    def _redraw(self, model: Model) -> None:
        self.figure = self._plot(model)
        self._drawn_at = self._epochs_run
        self.redraws += 1
        if self._notebook:
            self._show(self.figure)

    def _show(self, figure: Figure) -> None:
        """Put ``figure`` in the cell: the first time as a new output with a display id, then
        by replacing that output. The picture goes as PNG bytes, which every front end shows,
        rather than as the Figure, which needs the inline backend's formatter (registered only
        once pyplot is imported, and LivePlot never imports pyplot)."""
        display = importlib.import_module("IPython.display")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=figure.dpi)
        picture = display.Image(data=buffer.getvalue(), format="png")
        if self._handle is None:
            self._handle = display.display(picture, display_id=True)
        else:
            self._handle.update(picture)

    def __repr__(self) -> str:
        return f"LivePlot(metrics={self.metrics!r}, every={self.every})"


def _check_metrics(metrics: object) -> list[str] | None:
    if metrics is None:
        return None
    names = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(names, Sequence) or not names:
        raise ValueError(
            f"metrics must be a logged quantity's name or a non-empty list of names, "
            f"got {metrics!r}"
        )
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"metrics must hold names such as 'loss' or 'accuracy', got {name!r}")
    return list(names)


def _check_path(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if target.suffix.lower() not in SAVE_FORMATS:
        allowed = ", ".join(SAVE_FORMATS)
        raise ValueError(
            f"cannot save the live plot as {target.name!r}: the suffix must be one of {allowed}"
        )
    return target
