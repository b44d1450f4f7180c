"""Curves over epochs: a training run's history and the learning-slowdown comparison."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeGuard

import numpy as np
import numpy.typing as npt

from ._base import as_sequence_of_axes, check_axes, new_figure, root_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..training.history import History

_LABELS = {"loss": "loss", "accuracy": "accuracy", "lr": "learning rate", "seconds": "seconds"}


def _history_columns(history: object) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(epochs, {key: values}) from a ``History`` or a plain dict of lists."""
    if hasattr(history, "history") and hasattr(history, "epochs"):
        columns, epochs = history.history, history.epochs
    elif isinstance(history, Mapping):
        columns, epochs = {k: v for k, v in history.items() if k != "epochs"}, history.get("epochs")
    else:
        raise TypeError(
            f"history must be a History or a dict of per-epoch lists, got {type(history).__name__}"
        )
    data: dict[str, np.ndarray] = {}
    for key, values in columns.items():
        try:
            # None (a JSON-saved NaN) becomes NaN, which matplotlib leaves as a gap
            column = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"history[{key!r}] must be a list of numbers") from None
        if column.ndim != 1:
            raise ValueError(f"history[{key!r}] must be a 1-D list of numbers")
        data[str(key)] = column
    n = max((len(v) for v in data.values()), default=0)
    if n == 0:
        raise ValueError("the history is empty: train for at least one epoch first")
    if any(len(v) != n for v in data.values()):
        raise ValueError("every history column must have one value per epoch")
    x = np.arange(1, n + 1) if epochs is None or len(epochs) == 0 else np.asarray(epochs)
    if len(x) != n:
        raise ValueError(f"history has {len(x)} epochs but its columns have {n} values")
    return x, data


def _present(column: np.ndarray | None) -> TypeGuard[np.ndarray]:
    """Whether ``column`` exists and holds at least one finite value (a curve to draw)."""
    return column is not None and bool(np.any(np.isfinite(column)))


def plot_history(
    history: History | Mapping[str, Sequence[float]],
    metrics: Sequence[str] | None = None,
    *,
    ax: Axes | Sequence[Axes] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Training and validation curves per epoch, one subplot per metric.

    Each panel shows a metric on the training set (solid) and, when the run logged it, on the
    validation data (``val_<metric>``, dashed), against the epoch number -- the learning curves
    of seed 002 (Nielsen's overfitting plots: training loss still falling while validation
    accuracy stalls). ``history`` is a ``History`` or its ``history.history``-style dict.
    ``metrics`` defaults to ``("loss", "accuracy")``, dropping accuracy when it was not logged
    (a regression run); a metric asked for explicitly must be in the history (as itself or as
    ``val_<metric>``), else ValueError. A missing ``val_*`` column simply draws no validation
    curve. ``ax`` may give one Axes per metric to draw into.
    """
    epochs, data = _history_columns(history)
    if metrics is None:
        metrics = [
            m
            for m in ("loss", "accuracy")
            if _present(data.get(m)) or _present(data.get(f"val_{m}"))
        ]
        if not metrics:
            raise ValueError(f"the history logs neither loss nor accuracy; it has {sorted(data)}")
    else:
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        if not metrics:
            raise ValueError("metrics must name at least one logged quantity")
        for m in metrics:
            if not (_present(data.get(m)) or _present(data.get(f"val_{m}"))):
                raise ValueError(
                    f"the history has no {m!r} (nor 'val_{m}'); it logs {sorted(data)}"
                )
    if ax is None:
        fig = new_figure(figsize, dpi, (4.2 * len(metrics), 3.4))
        axes: Sequence[Axes] = list(fig.subplots(1, len(metrics), squeeze=False)[0])
    else:
        axes = as_sequence_of_axes(ax, len(metrics))
        fig = root_figure(axes[0])
    marker = "o" if len(epochs) <= 25 else None
    for panel, metric in zip(axes, metrics, strict=True):
        train, val = data.get(metric), data.get(f"val_{metric}")
        if _present(train):
            panel.plot(epochs, train, marker=marker, markersize=3, label="training")
        if _present(val):
            panel.plot(epochs, val, linestyle="--", marker=marker, markersize=3, label="validation")
        panel.set_xlabel("epoch")
        panel.set_ylabel(_LABELS.get(metric, metric))
        panel.set_title(_LABELS.get(metric, metric))
        panel.grid(True, alpha=0.3)
        panel.legend(fontsize="small")
        if len(epochs) and np.all(np.equal(np.mod(epochs, 1), 0)):
            from matplotlib.ticker import MaxNLocator

            panel.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_learning_slowdown(
    curves: Mapping[str, npt.ArrayLike],
    *,
    ax: Axes | None = None,
    log: bool | None = None,
    title: str | None = None,
    xlabel: str = "epoch",
    ylabel: str = "cost",
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Cost per epoch of several runs on one axes, epoch 1 first.

    Reproduces seed 002's (Nielsen, chapter 3) learning-slowdown figure: a sigmoid neuron
    trained with the quadratic cost from a good start learns at once, the same neuron started
    saturated (w = b = 2) sits on a long plateau, and with the cross-entropy cost it learns
    fastest exactly when it is most wrong. Also used for any "cost per epoch" comparison
    (Nielsen's validation-error curves, seed 003's loss). ``log`` picks a logarithmic y axis;
    by default it is used when the positive values span more than two decades. NaN values
    (diverged epochs) are left as gaps.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict {label: costs per epoch}")
    series: dict[str, np.ndarray] = {}
    for label, values in curves.items():
        try:
            column = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"curves[{label!r}] must be a sequence of numbers") from None
        if column.ndim != 1 or column.size == 0:
            raise ValueError(
                f"curves[{label!r}] must be a non-empty 1-D sequence, got shape {column.shape}"
            )
        series[str(label)] = column
    finite = np.concatenate([c[np.isfinite(c)] for c in series.values()])
    if finite.size == 0:
        raise ValueError("curves hold no finite values to plot")
    if log is None:
        positive = finite[finite > 0]
        log = bool(positive.size == finite.size and positive.max() / positive.min() > 100.0)
    elif log and np.any(finite <= 0):
        raise ValueError("a logarithmic y axis needs positive costs; pass log=False")
    if ax is None:
        fig = new_figure(figsize, dpi, (6.0, 4.0))
        ax = fig.add_subplot()
    else:
        check_axes(ax)
        fig = root_figure(ax)
    for label, column in series.items():
        ax.plot(np.arange(1, len(column) + 1), column, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, which="both" if log else "major", alpha=0.3)
    ax.legend(fontsize="small")
    return fig
