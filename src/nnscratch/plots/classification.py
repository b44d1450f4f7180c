"""Pictures of classifiers: decision regions of 2-D models and confusion matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ._base import (
    as_int_labels,
    check_axes,
    check_labels,
    check_positive_int,
    class_colors,
    grid_shape,
    new_figure,
    require_matplotlib,
    root_figure,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_RESOLUTION = 2000


class Predictor(Protocol):
    """Anything with ``predict(x) -> class labels``: a ``Model``, a ``Perceptron``..."""

    def predict(self, x: np.ndarray) -> np.ndarray: ...


def _check_points(x: object) -> np.ndarray:
    points = np.asarray(x)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"decision regions need 2-D inputs: x must have shape (n_samples, 2), got {points.shape}"
        )
    if len(points) == 0:
        raise ValueError("x is empty: decision regions need at least one sample")
    if points.dtype.kind not in "iuf":
        raise ValueError(f"x must be numeric, got dtype {points.dtype}")
    if not np.all(np.isfinite(points)):
        raise ValueError("x contains NaN or infinite values")
    return points.astype(np.float64, copy=False)


def _bounds(points: np.ndarray, margin: float = 0.1) -> tuple[float, float, float, float]:
    """The data's bounding box grown by ``margin`` of its size on each side (1 when flat)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _grid_predictions(
    model: Predictor, bounds: tuple[float, float, float, float], resolution: int, name: str
) -> np.ndarray:
    """The model's class for every cell centre of a resolution x resolution grid."""
    x0, x1, y0, y1 = bounds
    gx = np.linspace(x0, x1, resolution)
    gy = np.linspace(y0, y1, resolution)
    xx, yy = np.meshgrid(gx, gy)
    grid = np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float32)
    if not hasattr(model, "predict"):
        raise TypeError(f"{name} must have a predict(x) method, got {type(model).__name__}")
    predicted = np.asarray(model.predict(grid))
    if predicted.ndim == 2 and predicted.shape[1] == 1:
        predicted = predicted[:, 0]
    if predicted.shape != (len(grid),):
        raise ValueError(
            f"{name}.predict must return one class label per sample (shape ({len(grid)},)), got "
            f"shape {predicted.shape}; is it a classifier?"
        )
    try:
        labels = as_int_labels(predicted, f"{name}.predict(x)")
    except ValueError:
        raise ValueError(
            f"{name}.predict must return integer class labels, got dtype {predicted.dtype}; "
            "is it a classifier?"
        ) from None
    return labels.reshape(resolution, resolution)


def _draw_regions(
    ax: Axes,
    regions: np.ndarray,
    bounds: tuple[float, float, float, float],
    points: np.ndarray,
    labels: np.ndarray,
    classes: np.ndarray,
    class_names: Sequence[str] | None,
    title: str | None,
    legend: bool,
) -> None:
    require_matplotlib()
    from matplotlib.colors import BoundaryNorm, ListedColormap

    colors = class_colors(len(classes))
    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, len(classes))
    index = np.searchsorted(classes, regions)
    x0, x1, y0, y1 = bounds
    ax.imshow(
        index,
        origin="lower",
        extent=(x0, x1, y0, y1),
        cmap=cmap,
        norm=norm,
        alpha=0.35,
        interpolation="nearest",
        aspect="auto",
    )
    point_index = np.searchsorted(classes, labels)
    for i, cls in enumerate(classes):
        chosen = point_index == i
        if not chosen.any():
            continue
        name = class_names[cls] if class_names is not None else f"class {cls}"
        ax.scatter(
            points[chosen, 0],
            points[chosen, 1],
            s=14,
            color=colors[i],
            edgecolors="black",
            linewidths=0.4,
            label=name,
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(loc="best", fontsize="small", framealpha=0.8, markerscale=1.2)


def _check_resolution(resolution: object) -> int:
    value = check_positive_int(resolution, "resolution")
    if not 2 <= value <= MAX_RESOLUTION:
        raise ValueError(f"resolution must be between 2 and {MAX_RESOLUTION}, got {value}")
    return value


def _check_class_names(class_names: Sequence[str] | None, classes: np.ndarray) -> list[str] | None:
    if class_names is None:
        return None
    names = [str(n) for n in class_names]
    if classes.size and (classes.min() < 0 or classes.max() >= len(names)):
        raise ValueError(
            f"class_names has {len(names)} names but the labels run from {classes.min()} to "
            f"{classes.max()}"
        )
    return names


def plot_decision_regions(
    model: Predictor,
    x: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    resolution: int = 200,
    title: str | None = None,
    *,
    class_names: Sequence[str] | None = None,
    legend: bool = True,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """The class a 2-D classifier predicts at every point of the plane, with the data on top.

    The background is a ``resolution`` x ``resolution`` grid covering the data plus a 10%
    margin, each cell filled (lightly) with the colour of its predicted class; the points are
    the samples ``x`` coloured by their true class ``y`` in the same colours, so a point on a
    background of another colour is misclassified. This is seed 000's picture of what the
    linear perceptron, the hidden ReLU layer and softmax + cross-entropy each learn on the
    five-cluster data (see :func:`plot_decision_regions_grid` for the three side by side).

    ``model`` is anything with ``predict(x) -> labels`` (a ``Model``, a ``Perceptron``).
    Draws into ``ax`` when given, else into a new figure (``figsize`` in inches, ``dpi``);
    returns the figure.
    """
    points = _check_points(x)
    labels = check_labels(y, len(points))
    resolution = _check_resolution(resolution)
    bounds = _bounds(points)
    regions = _grid_predictions(model, bounds, resolution, "model")
    classes = np.union1d(labels, regions)
    names = _check_class_names(class_names, classes)
    if ax is None:
        fig = new_figure(figsize, dpi, (5.0, 4.5))
        ax = fig.add_subplot()
    else:
        check_axes(ax)
        fig = root_figure(ax)
    _draw_regions(ax, regions, bounds, points, labels, classes, names, title, legend)
    return fig


def plot_decision_regions_grid(
    models: Mapping[str, Predictor],
    x: np.ndarray,
    y: np.ndarray,
    *,
    resolution: int = 200,
    ncols: int | None = None,
    class_names: Sequence[str] | None = None,
    suptitle: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Several classifiers' decision regions side by side, on the same grid and colours.

    Reproduces seed 000's comparison on the five-cluster data: the linear multi-class
    perceptron (straight boundaries, about 50%), one hidden ReLU layer trained with the
    quadratic cost (about 70%), and the same network with softmax + cross-entropy (which
    carves out the cross-shaped middle class). Each panel is titled with its key in
    ``models``; every panel covers the same region and a class has the same colour in all.
    One row of panels unless ``ncols`` is given.
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict {title: model}")
    points = _check_points(x)
    labels = check_labels(y, len(points))
    resolution = _check_resolution(resolution)
    bounds = _bounds(points)
    regions = {
        str(title): _grid_predictions(model, bounds, resolution, f"models[{title!r}]")
        for title, model in models.items()
    }
    classes = np.union1d(labels, np.concatenate([r.ravel() for r in regions.values()]))
    names = _check_class_names(class_names, classes)
    n = len(regions)
    rows, cols = grid_shape(n, ncols if ncols is not None else n)
    fig = new_figure(figsize, dpi, (4.0 * cols, 3.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, (ax, (title, grid)) in enumerate(zip(axes, regions.items(), strict=False)):
        _draw_regions(ax, grid, bounds, points, labels, classes, names, title, legend=i == 0)
    for ax in axes[n:]:
        ax.set_visible(False)
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str] | None = None,
    normalize: bool = False,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    annotate: bool | None = None,
    cmap: str = "Blues",
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """A confusion matrix as a heatmap: row = true class, column = predicted class.

    Each cell is annotated with its count (or, with ``normalize=True``, the fraction of its
    row, i.e. of that true class; the colour scale is then 0..1), and the diagonal holds the
    correct predictions -- the usual picture of where an MNIST classifier goes wrong (4 vs 9,
    3 vs 5, ...). Annotations are on by default up to 20 classes. Text is white on dark cells.
    """
    matrix = np.asarray(cm)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"cm must be a square 2-D matrix, got shape {matrix.shape}")
    if matrix.dtype.kind not in "iuf" or not np.all(np.isfinite(matrix)):
        raise ValueError("cm must hold finite numbers")
    if np.any(matrix < 0):
        raise ValueError("cm must hold non-negative counts")
    k = matrix.shape[0]
    if class_names is not None:
        names = [str(n) for n in class_names]
        if len(names) != k:
            raise ValueError(f"class_names has {len(names)} names but cm has {k} classes")
    else:
        names = [str(i) for i in range(k)]
    counts = matrix
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True).astype(np.float64)
        shown = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    else:
        shown = matrix.astype(np.float64)
    annotate = k <= 20 if annotate is None else bool(annotate)

    if ax is None:
        fig = new_figure(figsize, dpi, (1.2 + 0.45 * max(k, 4), 0.8 + 0.45 * max(k, 4)))
        ax = fig.add_subplot()
    else:
        check_axes(ax)
        fig = root_figure(ax)
    vmax = 1.0 if normalize else max(float(shown.max()), 1.0)
    image = ax.imshow(shown, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "count")
    long_names = max(map(len, names)) > 3  # e.g. Fashion-MNIST's "T-shirt/top": slant them
    ax.set_xticks(
        range(k), names, rotation=45 if long_names else 0, ha="right" if long_names else "center"
    )
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(
        title if title is not None else "confusion matrix" + (" (normalized)" if normalize else "")
    )
    if annotate:
        size = "small" if k <= 12 else "x-small"
        for i in range(k):
            for j in range(k):
                value = shown[i, j]
                if normalize:
                    text = f"{value:.2f}"
                elif counts.dtype.kind == "f" and counts[i, j] != np.round(counts[i, j]):
                    text = f"{counts[i, j]:.3g}"
                else:
                    text = f"{int(round(float(counts[i, j])))}"
                color = "white" if value > 0.6 * vmax else "black"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize=size)
    return fig
