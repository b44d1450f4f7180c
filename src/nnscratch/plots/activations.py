"""The activation functions with their derivatives, one small panel each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..core.activations import ACTIVATIONS, Activation, Softmax, get_activation
from ._base import check_positive_int, grid_shape, new_figure

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

N_POINTS = 801


def _curves(activation: Activation, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(f(z), f'(z)) on the grid; f' is None when the function has no usable derivative."""
    if isinstance(activation, Softmax):
        # softmax acts on a vector: draw its first output on the slice (z, 0), which is sigmoid(z)
        pair = np.column_stack([z, np.zeros_like(z)])
        return activation.forward(pair)[:, 0], activation.derivative(pair)[:, 0]
    value = np.asarray(activation.forward(z.copy()), dtype=np.float64)
    if not activation.differentiable:
        return value, None
    return value, np.asarray(activation.derivative(z.copy()), dtype=np.float64)


def plot_activations(
    names: Sequence[str | Activation] | None = None,
    z_range: tuple[float, float] = (-5.0, 5.0),
    *,
    ncols: int = 4,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure:
    """Each activation function f(z) (solid) and its derivative f'(z) (dashed), side by side.

    The picture of seeds 000 and 004: the step function of the perceptron, whose derivative is
    0 almost everywhere so it has no dashed line (the panel says "no gradient"); sigmoid and
    tanh, whose derivatives vanish for large |z| (saturation, the cause of the learning
    slowdown); ReLU and its relatives, whose derivative stays 1 for z > 0. ``names`` picks
    activations by name (``"relu"``, aliases such as ``"linear"`` too) or instance; by default
    all of ``ACTIVATIONS`` in their registry order.

    Softmax acts on a whole vector, not on a number, so it is drawn on a 1-D slice: its first
    output for the input vector (z, 0) -- which equals sigmoid(z) -- with the diagonal of its
    Jacobian, s (1 - s), as the derivative; the panel title says so.
    """
    chosen = list(ACTIVATIONS) if names is None else names
    if isinstance(chosen, (str, Activation)):
        chosen = [chosen]
    activations = []
    for spec in chosen:
        if not isinstance(spec, (str, Activation)):
            raise TypeError(f"activations are named by a string or an Activation, got {spec!r}")
        activations.append(get_activation(spec))  # ValueError naming the known ones
    if not activations:
        raise ValueError("names must name at least one activation")
    try:
        lo, hi = (float(v) for v in z_range)
    except (TypeError, ValueError):
        raise ValueError(f"z_range must be a pair (low, high), got {z_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"z_range must be two finite numbers with low < high, got {z_range!r}")
    ncols = check_positive_int(ncols, "ncols")

    z = np.linspace(lo, hi, N_POINTS)
    rows, cols = grid_shape(len(activations), ncols)
    fig = new_figure(figsize, dpi, (2.6 * cols, 2.2 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, activation in zip(axes, activations, strict=False):
        value, slope = _curves(activation, z)
        ax.axhline(0.0, color="0.6", linewidth=0.6)
        ax.axvline(0.0, color="0.6", linewidth=0.6)
        ax.plot(z, value, color="C0")
        title = activation.name
        if isinstance(activation, Softmax):
            title = "softmax (first output of (z, 0))"
        if slope is None:
            ax.text(
                0.04,
                0.92,
                "no gradient (f' = 0 a.e.)",
                transform=ax.transAxes,
                fontsize="x-small",
                va="top",
            )
        else:
            ax.plot(z, slope, linestyle="--", color="C1")
        ax.set_title(title, fontsize="medium")
        ax.set_xlim(lo, hi)
        ax.tick_params(labelsize="x-small")
        ax.grid(True, alpha=0.25)
    for ax in axes[len(activations) :]:
        ax.set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="C0"), Line2D([], [], color="C1", linestyle="--")]
    fig.legend(handles, ["f(z)", "f'(z)"], loc="outside upper right", ncols=2, fontsize="small")
    return fig
