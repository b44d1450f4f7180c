"""Pictures of a convolutional network: its first-layer kernels and the feature maps of one image.

The kernels of the first convolution are what the network looks for in the raw pixels (edge and
stroke detectors, Nielsen's chapter 6 figure of the 20 5x5 filters); the feature maps show where
each filter of each convolution responds on one image, layer after layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._base import check_positive_int, new_figure, require_matplotlib
from .images import _tile

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..model import Model


def _network(source: Any) -> Any:
    network = getattr(source, "network", source)
    if not hasattr(network, "layers"):
        raise TypeError(
            f"expected a Model or a Sequential with a Conv2D layer, got {type(source).__name__}"
        )
    if not getattr(network, "built", True):
        raise ValueError("the network is not built yet: it has no kernels to draw")
    return network


def _conv_layers(network: Any) -> list[tuple[int, Any]]:
    from ..core.layers import Conv2D

    found = [(i, layer) for i, layer in enumerate(network.layers) if isinstance(layer, Conv2D)]
    if not found:
        raise ValueError(
            "the network has no Conv2D layer; for a dense network draw the first layer's "
            "weights with plot_first_layer_weights"
        )
    return found


def plot_conv_kernels(
    model: Model | Any,
    *,
    max_filters: int = 64,
    max_channels: int = 8,
    normalize: bool = True,
    cmap: str = "RdBu_r",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """The kernels of the network's first ``Conv2D``, one tile per (filter, input channel).

    W has shape (F, C, kh, kw). With one input channel (MNIST) the F kernels fill a near-square
    grid, filter 0 top left, row by row; with C channels each filter is a row of its C kernels
    (at most ``max_channels``). Colours are diverging and symmetric about 0: red weights excite
    the filter, blue ones inhibit it, white is 0. ``normalize=True`` scales each filter by its
    own largest |weight| (shapes stand out even when filters differ in size); False shares one
    scale, the largest |weight| of the layer. At most ``max_filters`` filters are drawn.
    """
    network = _network(model)
    index, layer = _conv_layers(network)[0]
    weights = np.asarray(layer.W.value, dtype=np.float64)
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"layer {index} ({layer.describe()}) has NaN or infinite weights")
    max_filters = check_positive_int(max_filters, "max_filters")
    max_channels = check_positive_int(max_channels, "max_channels")
    f_all, c_all, kh, kw = weights.shape
    f, c = min(f_all, max_filters), min(c_all, max_channels)
    w = weights[:f, :c]
    if normalize:
        peak = np.abs(w).reshape(f, -1).max(axis=1)
        w = w / np.where(peak > 0, peak, 1.0)[:, None, None, None]
        limit = 1.0
    else:
        limit = float(np.abs(w).max()) or 1.0
    if c == 1:
        cols = int(np.ceil(np.sqrt(f)))
        rows = int(np.ceil(f / cols))
        tiles = w[:, 0]
    else:
        rows, cols = f, c
        tiles = w.reshape(f * c, kh, kw)
    gap = max(1, round(min(kh, kw) / 5))
    mosaic = _tile(tiles, rows, cols, gap)

    matplotlib = require_matplotlib()
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="white")
    # about 0.12 inch per kernel pixel, so a 5x5 kernel is a tile of 0.6 inch
    scale = 0.12 if max(kh, kw) <= 7 else 0.6 / max(kh, kw)
    width = min(max(cols * (kw + gap) * scale, 3.0), 14.0) + 1.6
    height = min(max(rows * (kh + gap) * scale, 1.2), 14.0) + 0.9
    fig = new_figure(figsize, dpi, (width, height))
    ax = fig.add_subplot()
    image = ax.imshow(mosaic, cmap=colormap, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if c > 1:
        ax.set_xticks([i * (kw + gap) + (kw - 1) / 2 for i in range(c)], [str(i) for i in range(c)])
        ax.set_yticks([i * (kh + gap) + (kh - 1) / 2 for i in range(f)], [str(i) for i in range(f)])
        ax.tick_params(length=0, labelsize="x-small")
        ax.set_xlabel("input channel")
        ax.set_ylabel("filter")
    shown = f"{f} of {f_all}" if f < f_all else f"{f_all}"
    ax.set_title(
        title
        if title is not None
        else f"first-layer kernels: {shown} filters of {kh}x{kw}\n(layer {index}, "
        f"{layer.describe()})",
        fontsize="medium",
    )
    fig.colorbar(
        image,
        ax=ax,
        shrink=0.8,
        label="weight / largest |weight| of the filter" if normalize else "weight",
    )
    return fig


def _as_sample(network: Any, image: Any) -> np.ndarray:
    """One image as a batch of one sample of the network's input shape."""
    x = np.asarray(image)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"image must hold numbers, got dtype {x.dtype}")
    shape = tuple(network.input_shape)
    size = int(np.prod(shape))
    if x.size != size:
        raise ValueError(
            f"image has shape {x.shape} ({x.size} values) but the network takes samples of "
            f"shape {shape} ({size} values)"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("image contains NaN or infinite values")
    return x.reshape(1, *shape).astype(network.dtype)


def plot_feature_maps(
    model: Model | Any,
    image: Any,
    *,
    label: Any = None,
    max_channels: int = 16,
    cmap: str = "viridis",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """The input image and, one row per ``Conv2D`` layer, that layer's output for it.

    Each tile is one output channel A[c] = f(W[c] * x + b[c]) of the convolution (after its
    activation, when the layer has one fused in), at most ``max_channels`` per layer, each on
    its own colour scale (bright = strong response). ``image`` is one sample: flat (784 values),
    H x W, or C x H x W; it is read as the network's input shape. ``label`` names the image in
    the title.
    """
    network = _network(model)
    convs = _conv_layers(network)
    max_channels = check_positive_int(max_channels, "max_channels")
    sample = _as_sample(network, image)
    x = sample
    maps: list[tuple[int, Any, np.ndarray]] = []
    last = convs[-1][0]
    conv_indices = {i for i, _ in convs}
    for i, layer in enumerate(network.layers[: last + 1]):
        x = layer.forward(x, training=False)
        if i in conv_indices:
            maps.append((i, layer, np.array(x[0], dtype=np.float64)))
    cols = min(max(m.shape[0] for _, _, m in maps), max_channels)
    rows = len(maps) + 1

    require_matplotlib()
    tile = 0.8
    fig = new_figure(figsize, dpi, (max(cols, 5) * tile + 0.3, rows * (tile + 0.45) + 0.4))
    # one subfigure per row, so that each row's caption is laid out above that row alone
    parts = fig.subfigures(rows, 1, squeeze=False)[:, 0]
    ax = parts[0].subplots(1, max(cols, 1), squeeze=False)[0]
    sample = sample[0]
    if sample.ndim == 3:
        picture = sample[0]
    else:  # flat rows: drawn as a square when they make one
        side = int(round(np.sqrt(sample.size)))
        picture = sample.reshape(side, side) if side * side == sample.size else sample[None, :]
    ax[0].imshow(picture, cmap="gray_r", interpolation="nearest")
    for panel in ax:
        panel.set_axis_off()
    parts[0].suptitle(
        "input image" if label is None else f"input image (label {label})",
        fontsize="small",
        x=0.01,
        ha="left",
    )
    for part, (index, layer, values) in zip(parts[1:], maps, strict=True):
        n = min(values.shape[0], max_channels)
        panels = part.subplots(1, max(cols, 1), squeeze=False)[0]
        for channel, panel in enumerate(panels):
            panel.set_xticks([])
            panel.set_yticks([])
            if channel >= n:
                panel.set_axis_off()
                continue
            panel.imshow(values[channel], cmap=cmap, interpolation="nearest")
            panel.set_title(str(channel), fontsize="x-small", pad=2)
        more = f", first {n} of {values.shape[0]} channels" if n < values.shape[0] else ""
        part.suptitle(
            f"layer {index} {layer.describe()}: output {'x'.join(map(str, values.shape))}{more}",
            fontsize="small",
            x=0.01,
            ha="left",
        )
    fig.suptitle(
        title
        if title is not None
        else "feature maps of one image (each map on its own colour scale; bright = strong)",
        fontsize="medium",
    )
    return fig
