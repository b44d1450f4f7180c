"""The 2-D playground's input features, as in TensorFlow Playground.

The network of the 2-D playground does not have to see the point (x1, x2) itself: it sees the
features the user switches on, computed from the point:

=========  ===============  ==========================================================
name       value            why
=========  ===============  ==========================================================
``x1``     x1               the first coordinate
``x2``     x2               the second coordinate
``x1sq``   x1^2             circles: x1^2 + x2^2 is a linear function of two features
``x2sq``   x2^2
``x1x2``   x1 * x2          XOR: the sign of x1 * x2 is the class
``sin_x1`` sin(pi * x1)     stripes: 1.5 periods across [-1.5, 1.5]
``sin_x2`` sin(pi * x2)
=========  ===============  ==========================================================

The sines are of pi * x: the playground's plane is about [-1.5, 1.5]^2 where TensorFlow
Playground's is [-6, 6]^2, and sin(x1) over [-1.5, 1.5] is almost the line x1; with the pi a
sine feature shows stripes, as TF's does over its plane.

This module is the one home of the feature map: the session computes the training and test
inputs, the heat map's grid and the neuron thumbnails' grid with :func:`feature_matrix`, and
the page's feature tiles with :func:`feature_maps`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core._types import Array
from .validation import ParamError, _describe

_FEATURES: dict[str, tuple[str, Callable[[Array, Array], Array]]] = {
    "x1": ("x₁", lambda a, b: a),
    "x2": ("x₂", lambda a, b: b),
    "x1sq": ("x₁²", lambda a, b: a * a),
    "x2sq": ("x₂²", lambda a, b: b * b),
    "x1x2": ("x₁x₂", lambda a, b: a * b),
    "sin_x1": ("sin(πx₁)", lambda a, b: np.sin(np.pi * a)),
    "sin_x2": ("sin(πx₂)", lambda a, b: np.sin(np.pi * b)),
}

#: Every feature's name, in the order the page draws them (and the network receives them).
FEATURES: tuple[str, ...] = tuple(_FEATURES)
#: How the page writes each feature.
FEATURE_LABELS: dict[str, str] = {name: label for name, (label, _) in _FEATURES.items()}


def as_features(value: Any, name: str = "features") -> list[str]:
    """A validated feature list: known names, each once, at least one; in :data:`FEATURES`
    order (the order the network's inputs have, whatever order the client sent)."""
    known = ", ".join(FEATURES)
    if not isinstance(value, list):
        raise ParamError(
            f"{name} must be a list of feature names ({known}), got {_describe(value)}", name
        )
    if not value:
        raise ParamError(
            f"{name} must switch on at least one input feature (one of {known}); got none",
            name,
        )
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str) or item not in _FEATURES:
            raise ParamError(f"{name}[{i}] must be one of {known}; got {_describe(item)}", name)
        if item in seen:
            raise ParamError(f"{name} lists {item!r} twice; give each feature once", name)
        seen.add(item)
    return [f for f in FEATURES if f in seen]


def feature_matrix(points: Array, features: list[str] | tuple[str, ...]) -> Array:
    """The network's inputs for ``points`` (N x 2): one column per feature, float32.

    Column j is feature ``features[j]`` of each point, e.g. ``["x1", "x1x2"]`` gives
    ``[[x1, x1 * x2], ...]``.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points must be an N x 2 array, got shape {p.shape}")
    a, b = p[:, 0], p[:, 1]
    columns = [_FEATURES[f][1](a, b) for f in features]
    out: Array = (
        np.column_stack(columns).astype(np.float32)
        if columns
        else np.empty((len(p), 0), dtype=np.float32)
    )
    return out


def feature_maps(grid: Array) -> dict[str, tuple[Array, float]]:
    """Every feature over ``grid`` (N x 2) and the largest |value| there (its colour scale)."""
    values = feature_matrix(grid, FEATURES)
    return {
        f: (values[:, j], float(np.abs(values[:, j]).max()) if len(values) else 0.0)
        for j, f in enumerate(FEATURES)
    }
