"""Preprocessing: feature scaling, one-hot labels, splits, minibatches and MNIST augmentation.

Everything here is NumPy only and avoids hidden full-dataset copies where it matters:
statistics are accumulated in chunks, minibatches are drawn by index, and the image
transforms work on whole batches at a time (chunked to bound memory) rather than looping
over samples in Python.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from ._memory import check_fits
from ._validate import as_rng, check_count, check_nonnegative
from .augment import rotate, shift
from .errors import NotFittedError

__all__ = [
    "MinMaxScaler",
    "Standardizer",
    "augment_mnist",
    "expand_mnist",
    "iterate_minibatches",
    "one_hot",
    "rotate_images",
    "shift_images",
    "train_val_split",
]

_STAT_CHUNK = 8192  # rows per chunk when accumulating statistics
_IMAGE_CHUNK = 2048  # images per chunk in the bilinear rotation


# ----------------------------------------------------------------------------- scaling


def _as_samples(x: npt.ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(x)
    if array.ndim < 1:
        raise ValueError(f"{what} needs an array of samples (at least 1-D), got a scalar")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} needs numeric data, got an array of {array.dtype}")
    return array


def _output_dtype(array: np.ndarray) -> np.dtype:
    # Keep the caller's float precision (float32 stays float32: doubling memory silently
    # would be a bad surprise on MNIST-sized data); integers become float32.
    return array.dtype if array.dtype.kind == "f" else np.dtype(np.float32)


class _FeatureTransform:
    """Shared plumbing: per-feature statistics over axis 0, fit/transform protocol."""

    _feature_shape: tuple[int, ...] | None = None

    def fit(self, x: npt.ArrayLike) -> _FeatureTransform:
        """Learn the statistics of ``x``; returns the transform itself."""
        raise NotImplementedError

    def transform(self, x: npt.ArrayLike) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, x: npt.ArrayLike) -> np.ndarray:
        """Fit on ``x`` and return ``x`` transformed (fit on training data only)."""
        return self.fit(x).transform(x)

    @property
    def is_fitted(self) -> bool:
        return self._feature_shape is not None

    def _check_input(self, x: npt.ArrayLike, what: str) -> np.ndarray:
        array = _as_samples(x, f"{type(self).__name__}.{what}")
        if self._feature_shape is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit() on the training "
                f"data before {what}()"
            )
        if array.shape[1:] != self._feature_shape:
            raise ValueError(
                f"{type(self).__name__}.{what}: samples have feature shape {array.shape[1:]}, "
                f"but the scaler was fitted on feature shape {self._feature_shape}"
            )
        return array

    @staticmethod
    def _check_fit_input(x: npt.ArrayLike, name: str) -> np.ndarray:
        array = _as_samples(x, f"{name}.fit")
        if array.shape[0] == 0:
            raise ValueError(f"{name}.fit needs at least one sample, got 0")
        # Chunked so that a non-finite check on MNIST does not allocate a boolean copy of it.
        if array.dtype.kind == "f":
            for start in range(0, array.shape[0], _STAT_CHUNK):
                if not np.isfinite(array[start : start + _STAT_CHUNK]).all():
                    raise ValueError(f"{name}.fit: the data contains NaN or infinite values")
        return array


def _safe_scale(spread: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Replace spreads that are zero up to rounding by 1, so constant features map to a
    constant instead of dividing by (almost) zero and amplifying rounding noise."""
    tiny = 1e3 * np.finfo(np.float64).eps * np.maximum(np.abs(level), 1.0)
    return np.where(spread > tiny, spread, 1.0)


class Standardizer(_FeatureTransform):
    """Scale each feature to zero mean and unit variance, using training-set statistics.

    Fit on the training data only and apply the same transform to validation and test
    data, so no information from them leaks into training. Statistics are computed in
    float64 (in chunks, without a float64 copy of the data); outputs keep a floating
    input's precision and are float32 for integer input. A feature that is constant in the
    training data is only centred (scale 1), never divided by zero.

    Attributes after ``fit``: ``mean_`` and ``scale_`` (float64, shape of one sample).
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x: npt.ArrayLike) -> Standardizer:
        array = self._check_fit_input(x, "Standardizer")
        mean = array.mean(axis=0, dtype=np.float64)
        squares = np.zeros(array.shape[1:], dtype=np.float64)
        for start in range(0, array.shape[0], _STAT_CHUNK):
            deviation = array[start : start + _STAT_CHUNK].astype(np.float64) - mean
            squares += np.einsum("i...,i...->...", deviation, deviation)
        std = np.sqrt(squares / array.shape[0])
        self.mean_ = mean
        self.scale_ = _safe_scale(std, mean)
        self._feature_shape = array.shape[1:]
        return self

    def transform(self, x: npt.ArrayLike) -> np.ndarray:
        array = self._check_input(x, "transform")
        assert self.mean_ is not None and self.scale_ is not None
        dtype = _output_dtype(array)
        out = array.astype(dtype, copy=True)
        out -= self.mean_.astype(dtype)
        out /= self.scale_.astype(dtype)
        return out

    def inverse_transform(self, x: npt.ArrayLike) -> np.ndarray:
        """Map standardized data back to the original units."""
        array = self._check_input(x, "inverse_transform")
        assert self.mean_ is not None and self.scale_ is not None
        dtype = _output_dtype(array)
        out = array.astype(dtype, copy=True)
        out *= self.scale_.astype(dtype)
        out += self.mean_.astype(dtype)
        return out


class MinMaxScaler(_FeatureTransform):
    """Scale each feature linearly so the training data spans ``feature_range``.

    Test data outside the training range maps outside ``feature_range`` (it is not
    clipped: clipping would hide a distribution shift). A feature that is constant in the
    training data maps to the lower end of the range.

    Attributes after ``fit``: ``data_min_``, ``data_max_`` (float64, shape of one sample).
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        try:
            low, high = (float(v) for v in feature_range)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"feature_range must be a pair of numbers (low, high), got {feature_range!r}"
            ) from exc
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"feature_range must be finite with low < high, got {feature_range!r}")
        self.feature_range = (low, high)
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None
        self._span: np.ndarray | None = None

    def fit(self, x: npt.ArrayLike) -> MinMaxScaler:
        array = self._check_fit_input(x, "MinMaxScaler")
        self.data_min_ = array.min(axis=0).astype(np.float64)
        self.data_max_ = array.max(axis=0).astype(np.float64)
        self._span = _safe_scale(self.data_max_ - self.data_min_, self.data_min_)
        self._feature_shape = array.shape[1:]
        return self

    def transform(self, x: npt.ArrayLike) -> np.ndarray:
        array = self._check_input(x, "transform")
        assert self.data_min_ is not None and self._span is not None
        low, high = self.feature_range
        dtype = _output_dtype(array)
        out = array.astype(dtype, copy=True)
        out -= self.data_min_.astype(dtype)
        out *= ((high - low) / self._span).astype(dtype)
        out += dtype.type(low)
        return out

    def inverse_transform(self, x: npt.ArrayLike) -> np.ndarray:
        """Map scaled data back to the original units."""
        array = self._check_input(x, "inverse_transform")
        assert self.data_min_ is not None and self._span is not None
        low, high = self.feature_range
        dtype = _output_dtype(array)
        out = array.astype(dtype, copy=True)
        out -= dtype.type(low)
        out *= (self._span / (high - low)).astype(dtype)
        out += self.data_min_.astype(dtype)
        return out


# ----------------------------------------------------------------------------- labels


def _integer_labels(labels: npt.ArrayLike, what: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.size == 0 and array.dtype.kind in "fb":
        return array.astype(np.int64)  # np.asarray([]) is float64; an empty list is fine
    if array.dtype.kind not in "iu":
        hint = ""
        if array.dtype.kind == "f":
            hint = " (if they are whole numbers, convert with .astype(np.int64) first)"
        raise ValueError(f"{what} needs integer class labels, got an array of {array.dtype}{hint}")
    return array


def one_hot(
    labels: npt.ArrayLike,
    num_classes: int | None = None,
    *,
    dtype: npt.DTypeLike = np.float32,
) -> np.ndarray:
    """Encode integer class labels as one-hot rows: shape ``labels.shape + (num_classes,)``.

    ``num_classes`` defaults to ``max(labels) + 1``; pass it explicitly whenever a split
    might miss the highest class, or the encodings of train and test would disagree.
    Labels outside ``[0, num_classes)`` are an error rather than silently dropped, and an
    encoding larger than the available memory (``labels.size * num_classes * itemsize``
    bytes) is refused with that figure before it is allocated.
    """
    array = _integer_labels(labels, "one_hot")
    if num_classes is None:
        if array.size == 0:
            raise ValueError("one_hot cannot infer num_classes from empty labels; pass it")
        num_classes = int(array.max()) + 1
    classes = check_count(num_classes, "num_classes")
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            position = int(np.flatnonzero(array.reshape(-1) == bad)[0])
            raise ValueError(
                f"one_hot: label {bad} (at flat index {position}) is outside the valid "
                f"range 0..{classes - 1} for num_classes={classes}"
            )
    out_type = np.dtype(dtype)
    check_fits(
        array.size * classes * out_type.itemsize,
        f"one_hot: {array.size:,} labels x {classes:,} classes of {out_type}",
    )
    out = np.zeros((array.size, classes), dtype=out_type)
    out[np.arange(array.size), array.reshape(-1)] = 1
    return out.reshape(array.shape + (classes,))


# ----------------------------------------------------------------------------- splits


def _check_pair(x: npt.ArrayLike, y: npt.ArrayLike | None, what: str) -> tuple[Any, Any]:
    xa = np.asarray(x)
    if xa.ndim < 1:
        raise ValueError(f"{what}: x must be an array of samples (at least 1-D), got a scalar")
    if y is None:
        return xa, None
    ya = np.asarray(y)
    if ya.ndim < 1 or ya.shape[0] != xa.shape[0]:
        raise ValueError(
            f"{what}: x and y must have the same number of samples, got {xa.shape[0]} and "
            f"{ya.shape[0] if ya.ndim else 'a scalar'}"
        )
    return xa, ya


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over groups proportionally to ``counts`` (largest remainder)."""
    exact = counts * (total / counts.sum())
    alloc = np.floor(exact).astype(np.int64)
    shortfall = total - int(alloc.sum())
    if shortfall:
        order = np.argsort(-(exact - alloc), kind="stable")
        alloc[order[:shortfall]] += 1
    capped: np.ndarray = np.minimum(alloc, counts)
    return capped


def train_val_split(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    val_fraction: float | None = None,
    val_size: int | None = None,
    stratify: bool = True,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split ``(x, y)`` into ``(x_train, y_train, x_val, y_val)``.

    Give exactly one of ``val_fraction`` (in ``[0, 1)``) or ``val_size`` (a count). With
    ``stratify`` (the default) every class is represented in the validation set in the
    same proportion as in the data -- important for small or imbalanced sets, where a plain
    random split can leave a class out. Stratification needs 1-D integer (or other
    discrete) labels; for regression targets pass ``stratify=False``.

    Both parts keep the samples' original relative order, so the split is a pure selection
    and can be reproduced from the seed; shuffle for training with
    :func:`iterate_minibatches`.
    """
    xa, ya = _check_pair(x, y, "train_val_split")
    n = xa.shape[0]
    if (val_fraction is None) == (val_size is None):
        raise ValueError("train_val_split needs exactly one of val_fraction or val_size")
    if val_fraction is not None:
        fraction = check_nonnegative(val_fraction, "val_fraction")
        if fraction >= 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {fraction}")
        count = int(round(n * fraction))
    else:
        count = check_count(val_size, "val_size", minimum=0)
    if count >= n:
        raise ValueError(
            f"the validation set ({count} samples) must leave at least one of the {n} "
            "samples for training"
        )
    rng = as_rng(seed)
    if stratify:
        if ya.ndim != 1 or ya.dtype.kind == "f":
            raise ValueError(
                "stratify=True needs 1-D class labels (integers, booleans or strings), got "
                f"an array of {ya.dtype} with shape {ya.shape}; pass stratify=False for "
                "regression targets or convert one-hot labels with argmax"
            )
        _, groups = np.unique(ya, return_inverse=True)
        groups = groups.reshape(-1)
        counts = np.bincount(groups)
        take = _allocate(counts, count) if count else np.zeros_like(counts)
        order = np.argsort(groups, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        chosen = [
            rng.permutation(order[bounds[g] : bounds[g + 1]])[: take[g]] for g in range(len(counts))
        ]
        val_idx = np.sort(np.concatenate(chosen)) if chosen else np.empty(0, np.int64)
    else:
        val_idx = np.sort(rng.permutation(n)[:count])
    mask = np.ones(n, dtype=bool)
    mask[val_idx] = False
    train_idx = np.flatnonzero(mask)
    return xa[train_idx], ya[train_idx], xa[val_idx], ya[val_idx]


def iterate_minibatches(
    x: npt.ArrayLike,
    y: npt.ArrayLike | None = None,
    batch_size: int = 32,
    *,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[Any]:
    """Yield ``(x_batch, y_batch)`` minibatches (or just ``x_batch`` when ``y`` is None).

    The dataset is never copied as a whole: with ``shuffle`` a permutation of indices is
    drawn once per call and each batch is gathered by fancy indexing (one batch-sized
    copy); without it batches are contiguous slices (views, no copy). Pass a
    ``numpy.random.Generator`` as ``seed`` to get a different, reproducible order on each
    epoch. ``drop_last`` skips a final batch smaller than ``batch_size``.

    Arguments are checked immediately, not when iteration starts.
    """
    xa, ya = _check_pair(x, y, "iterate_minibatches")
    size = check_count(batch_size, "batch_size")
    n = xa.shape[0]
    order = as_rng(seed).permutation(n) if shuffle else None
    stop = n - n % size if drop_last else n

    def batches() -> Iterator[Any]:
        for start in range(0, stop, size):
            end = min(start + size, n)
            index: Any = order[start:end] if order is not None else slice(start, end)
            yield xa[index] if ya is None else (xa[index], ya[index])

    return batches()


# ----------------------------------------------------------------------------- images


def _image_batch(images: npt.ArrayLike, what: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return images as (n, h, w) plus the shape to restore (flattened input allowed)."""
    array = np.asarray(images)
    if array.ndim == 3:
        return array, array.shape
    if array.ndim == 2:
        side = math.isqrt(array.shape[1])
        if side * side == array.shape[1] and side > 0:
            return array.reshape(array.shape[0], side, side), array.shape
        raise ValueError(
            f"{what}: flattened images must have a square number of pixels (784 for MNIST), "
            f"got {array.shape[1]}"
        )
    raise ValueError(
        f"{what} expects images of shape (n, height, width) or (n, height*width), got "
        f"shape {array.shape}"
    )


def shift_images(images: npt.ArrayLike, dy: npt.ArrayLike, dx: npt.ArrayLike) -> np.ndarray:
    """Translate each image by whole pixels (``dy`` down, ``dx`` right), filling with 0.

    ``dy`` and ``dx`` are integers or per-image integer arrays. The shift itself is
    ``nnscratch.data.augment.shift`` (one gather for the whole batch).
    """
    batch, shape = _image_batch(images, "shift_images")
    dys, dxs = np.asarray(dy), np.asarray(dx)
    if dys.dtype.kind not in "iu" or dxs.dtype.kind not in "iu":
        raise ValueError("shift_images: dy and dx must be integers (whole pixels)")
    return shift(batch, dys, dxs).reshape(shape)


def rotate_images(images: npt.ArrayLike, angles: npt.ArrayLike) -> np.ndarray:
    """Rotate each image about its centre by ``angles`` degrees (counter-clockwise).

    Uses inverse mapping: for every output pixel the source position is computed and the
    value interpolated bilinearly from its four neighbours, with zeros outside the image
    (``nnscratch.data.augment.rotate``, which documents the math). Vectorised over the batch
    (in chunks of a few thousand images to bound memory); an angle of 0 reproduces the image
    exactly.
    """
    batch, shape = _image_batch(images, "rotate_images")
    n = batch.shape[0]
    degrees = np.broadcast_to(np.asarray(angles, dtype=np.float64), (n,))
    if not np.isfinite(degrees).all():
        raise ValueError("rotate_images: angles must be finite")
    out = np.empty_like(batch)
    for start in range(0, n, _IMAGE_CHUNK):
        stop = min(start + _IMAGE_CHUNK, n)
        rotate(batch[start:stop], degrees[start:stop], out=out[start:stop])
    return out.reshape(shape)


def augment_mnist(
    images: npt.ArrayLike,
    *,
    max_shift: int = 2,
    max_rotation: float = 15.0,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Return randomly rotated and shifted copies of ``images`` (same shape and dtype).

    Each image is rotated by an angle drawn uniformly from ``[-max_rotation,
    max_rotation]`` degrees, then shifted by whole pixels drawn uniformly from
    ``[-max_shift, max_shift]`` in each direction. Labels are unchanged, so pair the result
    with the original labels. Small transforms like these are label-preserving for digits
    (a 6 rotated by 180 degrees would not be), which is why the defaults are modest.
    """
    batch, shape = _image_batch(images, "augment_mnist")
    shift = check_count(max_shift, "max_shift", minimum=0)
    rotation = check_nonnegative(max_rotation, "max_rotation")
    if rotation > 180:
        raise ValueError(f"max_rotation must be at most 180 degrees, got {rotation}")
    rng = as_rng(seed)
    n = batch.shape[0]
    angles = rng.uniform(-rotation, rotation, size=n)
    dy = rng.integers(-shift, shift + 1, size=n)
    dx = rng.integers(-shift, shift + 1, size=n)
    out = rotate_images(batch, angles) if rotation > 0 else batch.copy()
    if shift > 0:
        out = shift_images(out, dy, dx)
    return out.reshape(shape)


def expand_mnist(images: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Nielsen's expanded training set: each image plus its 1-pixel shifts.

    Returns five times as many samples, in blocks: all originals, then all shifted up,
    down, left and right by one pixel (zero-filled), with labels repeated to match.
    Block order keeps it deterministic; shuffle when training (Nielsen shuffles too).
    """
    batch, shape = _image_batch(images, "expand_mnist")
    label_array = np.asarray(labels)
    if label_array.ndim < 1 or label_array.shape[0] != batch.shape[0]:
        raise ValueError(
            f"expand_mnist: got {batch.shape[0]} images but "
            f"{label_array.shape[0] if label_array.ndim else 'a scalar'} labels"
        )
    # Four shifted copies plus the five-fold result exist at once: 9 times the input.
    item = batch.dtype.itemsize * math.prod(batch.shape[1:])
    check_fits(
        9 * batch.shape[0] * item,
        f"expand_mnist: {batch.shape[0]:,} images of {batch.dtype} (five-fold)",
    )
    # up, down, left, right: one shift for the whole batch each
    moved = [shift(batch, dy, dx) for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    expanded = np.concatenate([batch, *moved])
    out_shape = (expanded.shape[0],) + shape[1:]
    return expanded.reshape(out_shape), np.concatenate([label_array] * 5)
