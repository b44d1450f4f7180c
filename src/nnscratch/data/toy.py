"""Small synthetic datasets for experiments that need to run in a second.

Every generator is deterministic for a given ``seed`` (an int, or a
``numpy.random.Generator`` that is used and advanced; ``None`` draws fresh entropy) and
returns ``(X, y)`` with ``X`` float32 of shape ``(n, 2)`` and ``y`` int64 class labels of
shape ``(n,)`` -- except :func:`noisy_sine`, a 1-D regression set, and :func:`truth_table`.

Classification sets built class by class have balanced classes (sizes differ by at most
one) and are shuffled, so taking the first k samples or contiguous minibatches does not
give a single class. The exception is :func:`five_clusters`, whose classes are regions of a
Gaussian cloud and so come in the proportions the geometry gives.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._memory import check_fits
from ._validate import as_rng, check_count, check_nonnegative, check_positive

__all__ = [
    "blobs",
    "circles",
    "five_clusters",
    "moons",
    "noisy_sine",
    "spirals",
    "truth_table",
    "xor",
]

Seed = int | np.random.Generator | None
Arrays = tuple[np.ndarray, np.ndarray]


#: Bytes per sample and column while a set is generated: float64 draws, the float32 copy,
#: the shuffled copy and the int64 labels and permutation, with room to spare.
_BYTES_PER_VALUE = 32


def _count(n: object, name: str, columns: int = 2) -> int:
    """``n`` checked as a sample count, and refused if generating it would not fit in memory."""
    count = check_count(n, "n")
    check_fits(
        count * (columns + 1) * _BYTES_PER_VALUE,
        f"{name}(n={count:,}): {count:,} samples of {columns} feature(s)",
    )
    return count


def _split(n: int, k: int) -> list[int]:
    """Split n into k sizes that differ by at most one."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _class_sizes(n: int, k: int) -> list[int]:
    if n < k:
        raise ValueError(
            f"n must be at least the number of classes ({k}) so that every "
            f"class has a sample, got n={n}"
        )
    return _split(n, k)


def _finish(rng: np.random.Generator, xs: list[np.ndarray], labels: list[int]) -> Arrays:
    """Stack per-class blocks, label them, and shuffle rows together."""
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(
        [
            np.full(len(block), label, dtype=np.int64)
            for block, label in zip(xs, labels, strict=True)
        ]
    )
    order = rng.permutation(len(x))
    return x[order], y[order]


def five_clusters(n: int = 500, seed: Seed = 0) -> Arrays:
    """Points of a 2-D Gaussian cloud labelled by five regions cut by two diagonal bands.

    ``x`` and ``y`` are drawn independently from N(0, 2^2). With ``s = x + y`` and
    ``d = x - y``: class 0 where ``s >= 1 and d < -1``; class 1 where ``s >= 1 and
    d >= 1``; class 2 where ``s < -1 and d >= 1``; class 3 where ``s < -1 and d < -1``;
    class 4 everywhere else (the cross-shaped band through the origin). The classes are not
    linearly separable from each other, which is the point of the exercise; expect about
    13% of the points in each of classes 0-3 and about 48% in class 4.
    """
    count = _count(n, "five_clusters")
    rng = as_rng(seed)
    points = rng.normal(0.0, 2.0, size=(count, 2)).astype(np.float32)
    # Label the float32 points actually returned (summed in float64), so the rule holds
    # exactly for the data the caller sees, even for points right on a boundary.
    wide = points.astype(np.float64)
    s = wide[:, 0] + wide[:, 1]
    d = wide[:, 0] - wide[:, 1]
    labels = np.full(count, 4, dtype=np.int64)
    labels[(s >= 1) & (d < -1)] = 0
    labels[(s >= 1) & (d >= 1)] = 1
    labels[(s < -1) & (d >= 1)] = 2
    labels[(s < -1) & (d < -1)] = 3
    return points, labels


def spirals(n: int = 300, arms: int = 3, noise: float = 0.2, seed: Seed = 0) -> Arrays:
    """Interleaved spiral arms, one class per arm (the CS231n toy problem).

    Each arm's points run from the centre outwards (radius 0 to 1) while their angle sweeps
    4 radians; arms start at evenly spaced angles. ``noise`` is the standard deviation,
    in radians, of Gaussian noise added to each point's angle.
    """
    count = _count(n, "spirals")
    k = check_count(arms, "arms")
    sigma = check_nonnegative(noise, "noise")
    rng = as_rng(seed)
    blocks = []
    for arm, size in enumerate(_class_sizes(count, k)):
        radius = np.linspace(0.0, 1.0, size)
        theta = 2 * math.pi * arm / k + np.linspace(0.0, 4.0, size) + rng.normal(0, sigma, size)
        blocks.append(np.column_stack([radius * np.sin(theta), radius * np.cos(theta)]))
    return _finish(rng, blocks, list(range(k)))


def xor(n: int = 200, noise: float = 0.0, seed: Seed = 0) -> Arrays:
    """The XOR problem: class 1 where the signs of the two coordinates differ.

    Points are uniform in the four open unit quadrants of [-1, 1]^2 (class 0 in the first
    and third, class 1 in the second and fourth; quadrants equally filled). Labels are
    assigned from the clean position; ``noise`` then adds Gaussian jitter of that standard
    deviation, so with noise some points cross into a neighbouring quadrant.
    """
    count = _count(n, "xor")
    sigma = check_nonnegative(noise, "noise")
    rng = as_rng(seed)
    quadrant_signs = {0: [(1, 1), (-1, -1)], 1: [(-1, 1), (1, -1)]}
    blocks = []
    for label, size in enumerate(_class_sizes(count, 2)):
        parts = []
        for (sx, sy), part in zip(quadrant_signs[label], _split(size, 2), strict=True):
            magnitude = 1.0 - rng.random((part, 2))  # in (0, 1]: never exactly on an axis
            parts.append(magnitude * np.array([sx, sy], dtype=np.float64))
        blocks.append(np.concatenate(parts))
    x, y = _finish(rng, blocks, [0, 1])
    if sigma:
        x = (x + rng.normal(0.0, sigma, size=x.shape)).astype(np.float32)
    return x, y


def circles(n: int = 200, noise: float = 0.0, factor: float = 0.5, seed: Seed = 0) -> Arrays:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor``.

    Angles are uniform; ``noise`` adds Gaussian jitter of that standard deviation to both
    coordinates. ``factor`` must be in (0, 1).
    """
    count = _count(n, "circles")
    sigma = check_nonnegative(noise, "noise")
    ratio = check_positive(factor, "factor")
    if ratio >= 1:
        raise ValueError(f"factor must be in (0, 1) (inner radius / outer radius), got {ratio}")
    rng = as_rng(seed)
    blocks = []
    for radius, size in zip((1.0, ratio), _class_sizes(count, 2), strict=True):
        angle = rng.uniform(0.0, 2 * math.pi, size)
        blocks.append(radius * np.column_stack([np.cos(angle), np.sin(angle)]))
    x, y = _finish(rng, blocks, [0, 1])
    if sigma:
        x = (x + rng.normal(0.0, sigma, size=x.shape)).astype(np.float32)
    return x, y


def moons(n: int = 200, noise: float = 0.0, seed: Seed = 0) -> Arrays:
    """Two interleaving half circles of radius 1.

    Class 0 is the upper half circle centred at (0, 0); class 1 the lower half circle
    centred at (1, 0.5). Positions along each arc are uniform; ``noise`` adds Gaussian
    jitter of that standard deviation to both coordinates.
    """
    count = _count(n, "moons")
    sigma = check_nonnegative(noise, "noise")
    rng = as_rng(seed)
    upper_n, lower_n = _class_sizes(count, 2)
    t_upper = rng.uniform(0.0, math.pi, upper_n)
    t_lower = rng.uniform(0.0, math.pi, lower_n)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    x, y = _finish(rng, [upper, lower], [0, 1])
    if sigma:
        x = (x + rng.normal(0.0, sigma, size=x.shape)).astype(np.float32)
    return x, y


def blobs(
    n: int = 300,
    centers: int | npt.ArrayLike = 3,
    std: float | npt.ArrayLike = 1.0,
    seed: Seed = 0,
    *,
    box: tuple[float, float] = (-10.0, 10.0),
) -> Arrays:
    """Isotropic Gaussian blobs, one class per centre.

    ``centers`` is either a count (centres drawn uniformly in ``box`` in 2-D) or an array
    of shape ``(k, d)`` giving them, in which case ``X`` has ``d`` columns. ``std`` is one
    standard deviation for all blobs or one per blob.
    """
    count = check_count(n, "n")
    rng = as_rng(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = check_count(centers, "centers")
        low, high = (float(v) for v in box)
        if not low < high:
            raise ValueError(f"box must be (low, high) with low < high, got {box!r}")
        points = rng.uniform(low, high, size=(k, 2))
    else:
        points = np.asarray(centers, dtype=np.float64)
        if points.ndim != 2 or points.shape[0] < 1 or points.shape[1] < 1:
            raise ValueError(
                f"centers must be a positive count or an array of shape (k, d), got shape "
                f"{points.shape}"
            )
        if not np.isfinite(points).all():
            raise ValueError("centers must be finite")
        k = points.shape[0]
    count = _count(count, "blobs", columns=points.shape[1])
    stds = np.asarray(std, dtype=np.float64)
    if stds.ndim == 0:
        stds = np.full(k, float(stds))
    if stds.shape != (k,) or not np.isfinite(stds).all() or (stds <= 0).any():
        raise ValueError(
            f"std must be a positive number or {k} positive numbers (one per centre), got {std!r}"
        )
    blocks = [
        rng.normal(points[i], stds[i], size=(size, points.shape[1]))
        for i, size in enumerate(_class_sizes(count, k))
    ]
    return _finish(rng, blocks, list(range(k)))


def truth_table() -> Arrays:
    """The XOR truth table with a constant bias input as third column.

    ``X = [[0,0,1], [0,1,1], [1,0,1], [1,1,1]]`` (float32) and ``y = [0, 1, 1, 0]``
    (int64): the classic four-row problem a single-layer perceptron cannot solve.
    """
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return x, y


def noisy_sine(
    n: int = 100,
    noise: float = 0.1,
    seed: Seed = 0,
    *,
    low: float = 0.0,
    high: float = 2 * math.pi,
) -> Arrays:
    """A 1-D regression set: ``y = sin(x) + noise``, with ``x`` uniform in [low, high].

    Returns ``X`` and ``y`` as float32 column vectors of shape ``(n, 1)``; ``noise`` is the
    standard deviation of the Gaussian noise added to the targets.
    """
    count = _count(n, "noisy_sine", columns=1)
    sigma = check_nonnegative(noise, "noise")
    lo, hi = float(low), float(high)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite low < high, got low={low!r}, high={high!r}")
    rng = as_rng(seed)
    x = rng.uniform(lo, hi, size=(count, 1))
    y = np.sin(x) + rng.normal(0.0, sigma, size=(count, 1))
    return x.astype(np.float32), y.astype(np.float32)
