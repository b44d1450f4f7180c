"""Image pictures of an MNIST-style model: first-layer weights and its most confident errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import (
    check_axes,
    check_image_shape,
    check_labels,
    check_positive_int,
    grid_shape,
    new_figure,
    require_matplotlib,
    root_figure,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..model import Model


def _first_layer_weights(source: Any) -> np.ndarray:
    """W (n_in, n_units) of the first layer that has weights, from a Model, Sequential or array."""
    if isinstance(source, np.ndarray) or isinstance(source, (list, tuple)):
        return np.asarray(source)
    network = getattr(source, "network", source)
    layers = getattr(network, "layers", None)
    if layers is None:
        raise TypeError(
            "expected a Model, a Sequential or a weight matrix W of shape (n_inputs, n_units), "
            f"got {type(source).__name__}"
        )
    for layer in layers:
        if hasattr(layer, "W"):
            if layer.W is None:
                raise ValueError("the network is not built yet: it has no weights to draw")
            if layer.W.value.ndim != 2:
                raise ValueError(
                    f"the first layer with weights is {layer.describe()}, a convolution: draw "
                    "its kernels with plot_conv_kernels (and plot_feature_maps)"
                )
            return np.asarray(layer.W.value)
    raise ValueError("the network has no layer with weights (no Dense layer)")


def _tile(images: np.ndarray, rows: int, cols: int, gap: int = 1) -> np.ndarray:
    """Images (n, h, w) laid out in a rows x cols mosaic, separated by NaN gaps."""
    n, h, w = images.shape
    mosaic = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        mosaic[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[i]
    return mosaic


def plot_first_layer_weights(
    model: Model | np.ndarray,
    n: int | None = None,
    shape: tuple[int, int] = (28, 28),
    *,
    ax: Axes | None = None,
    ncols: int | None = None,
    normalize: bool = True,
    title: str | None = None,
    cmap: str = "RdBu_r",
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Each first-layer hidden unit's incoming weights, drawn as an image, in a grid.

    Unit j's weights W[:, j] are reshaped to ``shape`` (28 x 28 for MNIST), so the picture
    shows which pixels excite (red) or inhibit (blue) that unit -- the "what does a hidden
    neuron look for" figure of the MNIST articles (Nielsen, chapter 1; seed 003's 784-50-100-10
    network). The colour map is diverging and symmetric about 0 (white = weight 0). With
    ``normalize=True`` each unit is scaled by its own largest |weight| (the shapes stand out
    even when units differ in size); with False all share one scale, the largest |weight|.

    ``model`` is a ``Model``, a ``Sequential`` or the matrix W itself, of shape
    (n_inputs, n_units); a matrix given the other way round, (n_units, n_inputs) as PyTorch
    stores it, is accepted too. ``n`` draws only the first n units. All the tiles go into one
    image on one Axes, ``ax`` when given.
    """
    weights = _first_layer_weights(model)
    if weights.dtype.kind not in "iuf" or weights.ndim != 2:
        raise ValueError(
            f"W must be a 2-D numeric matrix (n_inputs, n_units), got shape {weights.shape}"
        )
    h, w = check_image_shape(shape)
    if weights.shape[0] != h * w:
        if weights.shape[1] == h * w:
            weights = weights.T  # (n_units, n_inputs): PyTorch's layout
        else:
            raise ValueError(
                f"the weights cannot be drawn as {h}x{w} images: each unit has "
                f"{weights.shape[0]} incoming weights (W has shape {weights.shape}), but "
                f"{h}x{w} needs {h * w}; pass shape= matching the input size"
            )
    if not np.all(np.isfinite(weights)):
        raise ValueError("W contains NaN or infinite values")
    units = weights.shape[1]
    if n is not None:
        n = check_positive_int(n, "n")
        if n > units:
            raise ValueError(f"n={n} but the layer has only {units} units")
        units = n
    images = weights[:, :units].T.reshape(units, h, w).astype(np.float64)
    if normalize:
        peak = np.abs(images).reshape(units, -1).max(axis=1)
        images = images / np.where(peak > 0, peak, 1.0)[:, None, None]
        limit = 1.0
    else:
        limit = float(np.abs(images).max()) or 1.0
    rows, cols = grid_shape(units, ncols)
    mosaic = _tile(images, rows, cols, gap=max(1, round(min(h, w) / 14)))

    matplotlib = require_matplotlib()
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="white")
    if ax is None:
        fig = new_figure(figsize, dpi, (min(1.0 * cols, 14.0) + 1.0, min(1.0 * rows, 14.0) + 0.5))
        ax = fig.add_subplot()
    else:
        check_axes(ax)
        fig = root_figure(ax)
    image = ax.imshow(mosaic, cmap=colormap, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title if title is not None else f"first-layer weights of {units} hidden units")
    fig.colorbar(
        image,
        ax=ax,
        shrink=0.8,
        label="weight / largest |weight| of the unit" if normalize else "weight",
    )
    return fig


def _class_scores(model: Any, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(scores (n, k), are_probabilities): predict_proba when the model has it, else raw.

    Flat rows go to a network of images as N x C x H x W (a view)."""
    shape = getattr(getattr(model, "network", None), "input_shape", None)
    if shape is not None and len(shape) > 1 and x.ndim == 2 and x.shape[1] == np.prod(shape):
        x = x.reshape(len(x), *shape)
    if hasattr(model, "predict_proba"):
        try:
            scores, is_prob = np.asarray(model.predict_proba(x)), True
        except ValueError:  # a regression loss (e.g. MSE) trained on class labels
            scores, is_prob = np.asarray(model.predict_raw(x)), False
    elif hasattr(model, "predict_raw"):
        scores, is_prob = np.asarray(model.predict_raw(x)), False
    else:
        raise TypeError(
            f"model must have predict_proba(x) or predict_raw(x), got {type(model).__name__}"
        )
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or len(scores) != len(x):
        raise ValueError(
            f"the model's scores must have shape (n_samples, n_classes), got {scores.shape}"
        )
    if scores.shape[1] == 1:  # one sigmoid output: P(class 1)
        scores = (
            np.column_stack([1.0 - scores[:, 0], scores[:, 0]])
            if is_prob
            else np.column_stack([-scores[:, 0], scores[:, 0]])
        )
    return scores.astype(np.float64, copy=False), is_prob


def plot_most_confident_errors(
    model: Model,
    x: np.ndarray,
    y: np.ndarray,
    k: int = 16,
    shape: tuple[int, int] = (28, 28),
    *,
    ncols: int | None = None,
    cmap: str = "gray_r",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """The k misclassified images the model was most sure about, worst first.

    Among the samples whose predicted class (the argmax of ``predict_proba``) differs from
    the label, takes the k with the highest probability on the wrong class and shows each as
    an image titled "true t, pred p (prob)" -- the MNIST articles' gallery of digits the
    network gets confidently wrong (often ones a person would hesitate over too). For a model
    without probabilities (a regression loss on class labels) the raw output is shown as
    "score". When there are no errors the figure says so. ``x`` holds flattened images
    (n, h*w) or images (n, h, w).
    """
    images = np.asarray(x)
    h, w = check_image_shape(shape)
    if images.ndim == 3 and images.shape[1:] == (h, w):
        images = images.reshape(len(images), h * w)
    if images.ndim != 2 or images.shape[1] != h * w:
        raise ValueError(
            f"x must hold flattened {h}x{w} images, shape (n_samples, {h * w}) (or "
            f"(n_samples, {h}, {w})), got {images.shape}; pass shape= matching the images"
        )
    if len(images) == 0:
        raise ValueError("x is empty")
    labels = check_labels(y, len(images))
    k = check_positive_int(k, "k")
    scores, is_prob = _class_scores(model, images)
    predicted = scores.argmax(axis=1)
    confidence = scores[np.arange(len(scores)), predicted]
    wrong = np.flatnonzero(predicted != labels)
    chosen = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]

    if chosen.size == 0:
        fig = new_figure(figsize, dpi, (4.0, 2.0))
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            f"no misclassified samples among {len(images)}",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return fig
    rows, cols = grid_shape(chosen.size, ncols if ncols is not None else min(chosen.size, 8))
    fig = new_figure(figsize, dpi, (1.45 * cols, 1.6 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for panel, index in zip(axes, chosen, strict=False):
        panel.imshow(images[index].reshape(h, w), cmap=cmap, interpolation="nearest")
        value = f"{confidence[index]:.2f}" if is_prob else f"score {confidence[index]:.2g}"
        panel.set_title(
            f"true {labels[index]}, pred {predicted[index]} ({value})", fontsize="x-small"
        )
        panel.set_axis_off()
    for panel in axes[chosen.size :]:
        panel.set_visible(False)
    fig.suptitle(
        title
        if title is not None
        else f"{chosen.size} most confident errors ({wrong.size} of {len(images)} wrong)"
    )
    return fig
