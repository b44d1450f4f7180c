"""Data augmentation for images, applied on the fly to each training batch.

Nielsen's chapter 6 expands MNIST with copies of every image shifted by one pixel, and
reaches 99.37% instead of 99.06%; drawing such shifts (and small rotations, scalings and
shears) afresh for every batch gives the network a new variant of each image every epoch,
without storing five copies of the data set.

Every transform takes a batch of images and a ``numpy.random.Generator`` and returns the
transformed batch, of the same shape and dtype::

    from nnscratch.data.augment import RandomShift, RandomRotation, Compose

    jitter = Compose([RandomRotation(10), RandomShift(2)], image_shape=(1, 28, 28))
    batch = jitter(x_train[:128], np.random.default_rng(0))     # flat 784-pixel rows
    model.fit(x_train, y_train, augment=RandomShift(1, image_shape=(28, 28)), seed=0)

A batch is ``N x C x H x W`` (PyTorch's and Saito's layout), ``N x H x W`` (one channel), or
flat rows ``N x (C*H*W)`` with ``image_shape=(C, H, W)`` or ``(H, W)``, row-major as
``reshape`` lays them out. ``out=`` takes a C-contiguous array of the batch's shape and dtype to
write into (a buffer reused from batch to batch); it may not overlap the input.

Geometry. Pixel ``(row i, column j)`` has the coordinates ``x = j``, ``y = i`` (``y`` grows
downwards, as on screen), and the transforms act about the image centre
``c = ((W - 1) / 2, (H - 1) / 2)``. An affine transform with matrix ``A`` and translation ``t``
moves the content at ``q`` to::

    p = A (q - c) + c + t

and is computed by inverse mapping: every output pixel ``p`` reads the input at::

    q = A^-1 (p - c - t) + c

sampled bilinearly from the four pixels around ``q`` (or at the nearest pixel), where pixels
outside the image count as 0 (zero fill: the background of MNIST). Source coordinates are
computed in float64; for the identity, whole-pixel translations and quarter turns they come out
as whole pixels exactly (``cos 90 = 6e-17`` times an offset stays below half a unit in the last
place), so those copy pixels exactly.

Randomness comes only from the generator passed in, so equal generator states give bitwise
equal batches. Arithmetic is in float32 (float64 for float64 images); integer images are
rounded back to their type. Vectorised over the batch: one gather per sampled corner, no loop
over samples.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "Augmenter",
    "Compose",
    "RandomAffine",
    "RandomRotation",
    "RandomShift",
    "affine",
    "rotate",
    "rotation_matrices",
    "shift",
]

ImageShape = tuple[int, int] | tuple[int, int, int]
_INTERPOLATIONS = ("bilinear", "nearest")


# ----------------------------------------------------------------------------- batches


def _check_image_shape(image_shape: object, what: str) -> tuple[int, int, int] | None:
    """``image_shape`` as ``(C, H, W)`` (``(H, W)`` means one channel), or None."""
    if image_shape is None:
        return None
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) not in (2, 3):
        raise ValueError(f"{what}: image_shape must be (C, H, W) or (H, W), got {image_shape!r}")
    for side in image_shape:
        if isinstance(side, bool) or not isinstance(side, (numbers.Integral, np.integer)):
            raise ValueError(
                f"{what}: image_shape must hold positive integers, got {tuple(image_shape)!r}"
            )
        if side < 1:
            raise ValueError(
                f"{what}: image_shape must hold positive integers, got {tuple(image_shape)!r}"
            )
    sides = [int(s) for s in image_shape]
    if len(sides) == 2:
        return (1, sides[0], sides[1])
    return (sides[0], sides[1], sides[2])


def _as_batch(
    images: npt.ArrayLike, image_shape: tuple[int, int, int] | None, what: str
) -> np.ndarray:
    """The batch as an ``N x C x H x W`` array (a view where the layout allows)."""
    array = np.asarray(images)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what}: images must be numeric, got an array of {array.dtype}")
    if array.ndim == 4:
        if image_shape is not None and array.shape[1:] != image_shape:
            raise ValueError(
                f"{what}: images of shape {array.shape[1:]} (C, H, W) do not match "
                f"image_shape={image_shape}"
            )
        return array
    if array.ndim == 3:
        if image_shape is not None and (1, *array.shape[1:]) != image_shape:
            raise ValueError(
                f"{what}: images of shape {array.shape[1:]} (H, W) do not match "
                f"image_shape={image_shape}"
            )
        return array.reshape(array.shape[0], 1, *array.shape[1:])
    if array.ndim == 2:
        if image_shape is None:
            raise ValueError(
                f"{what}: flat rows of {array.shape[1]} values need image_shape=(C, H, W) "
                "or (H, W) to be read as images"
            )
        if array.shape[1] != math.prod(image_shape):
            raise ValueError(
                f"{what}: rows of {array.shape[1]} values do not hold images of shape "
                f"{image_shape} ({math.prod(image_shape)} values)"
            )
        return array.reshape(array.shape[0], *image_shape)
    raise ValueError(
        f"{what}: expected a batch of images N x C x H x W, N x H x W or flat rows N x (C*H*W), "
        f"got shape {array.shape}"
    )


def _output(
    out: np.ndarray | None, images: np.ndarray, batch: np.ndarray, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """(the array to return, its N x C x H x W view to write into)."""
    if out is None:
        result = np.empty(images.shape, dtype=images.dtype)
        return result, result.reshape(batch.shape)
    if not isinstance(out, np.ndarray) or out.shape != images.shape or out.dtype != images.dtype:
        got = f"{out.shape} {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(
            f"{what}: out must be an array of the batch's shape and dtype "
            f"({images.shape} {images.dtype}), got {got}"
        )
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{what}: out must be a writeable C-contiguous array")
    if np.shares_memory(out, images):
        raise ValueError(f"{what}: out must not overlap the input images")
    return out, out.reshape(batch.shape)


def _batch_and_out(
    images: npt.ArrayLike,
    image_shape: object,
    out: np.ndarray | None,
    what: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    array = np.asarray(images)
    batch = _as_batch(array, _check_image_shape(image_shape, what), what)
    result, target = _output(out, array, batch, what)
    return batch, result, target


def _work_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _per_image(values: npt.ArrayLike, n: int, what: str, name: str) -> np.ndarray:
    array = np.asarray(values)
    try:
        return np.broadcast_to(array, (n,))
    except ValueError:
        raise ValueError(
            f"{what}: {name} must be one value or one per image ({n}), got shape {array.shape}"
        ) from None


# ----------------------------------------------------------------------------- sampling


def _axis(coords: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Whole-pixel source coordinates along one axis: the clipped index to read, and whether
    it lies inside ``0 .. size - 1`` (outside ones read a border pixel weighted by 0)."""
    return np.clip(coords, 0, size - 1), (coords >= 0) & (coords < size)


def _take(batch: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    """``batch[n, c].ravel()[pixel[n]]`` for every image and channel: ``N x C x (H*W)``.

    One ``np.take`` on the whole batch with the image's and channel's offsets added to the
    pixel index (3x faster than ``np.take_along_axis``, which builds an index per axis).
    """
    n, c, h, w = batch.shape
    offsets = np.arange(n * c, dtype=np.intp).reshape(n, c, 1) * (h * w)
    taken: np.ndarray = np.take(batch.reshape(-1), pixel.reshape(n, 1, h * w) + offsets)
    return taken


def _cast_into(target: np.ndarray, values: np.ndarray) -> None:
    if target.dtype.kind in "iu":
        info = np.iinfo(target.dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    np.copyto(target, values, casting="unsafe")


def _sample_nearest(
    batch: np.ndarray, rows: np.ndarray, cols: np.ndarray, target: np.ndarray
) -> None:
    """``target[n, :, i, j] = batch[n, :, rows[n, i, j], cols[n, i, j]]``, 0 outside."""
    n, c, h, w = batch.shape
    (r, r_in), (k, k_in) = _axis(rows, h), _axis(cols, w)
    values = _take(batch, r * w + k)
    np.copyto(values, 0, where=~(r_in & k_in).reshape(n, 1, h * w))
    np.copyto(target.reshape(n, c, h * w), values)


def _shift_batch(batch: np.ndarray, dy: np.ndarray, dx: np.ndarray, target: np.ndarray) -> None:
    """``target[n, :, i, j] = batch[n, :, i - dy[n], j - dx[n]]``, 0 where that is outside."""
    n, c, h, w = batch.shape
    if n and (dy == dy[0]).all() and (dx == dx[0]).all():
        # one shift for the whole batch (expand_mnist's copies): two slices, no index arrays
        sy, sx = int(dy[0]), int(dx[0])
        target.fill(0)
        if abs(sy) < h and abs(sx) < w:
            dst = target[:, :, max(sy, 0) : h + min(sy, 0), max(sx, 0) : w + min(sx, 0)]
            dst[...] = batch[:, :, max(-sy, 0) : h + min(-sy, 0), max(-sx, 0) : w + min(-sx, 0)]
        return
    rows = np.arange(h)[None, :, None] - dy[:, None, None]
    cols = np.arange(w)[None, None, :] - dx[:, None, None]
    rows, cols = np.broadcast_arrays(rows, cols)
    _sample_nearest(batch, rows, cols, target)


def _affine_batch(
    batch: np.ndarray,
    matrices: np.ndarray,
    translations: np.ndarray,
    target: np.ndarray,
    interpolation: str,
) -> None:
    """Inverse mapping (see the module's docstring) with bilinear or nearest sampling."""
    n, c, h, w = batch.shape
    a, b = matrices[:, 0, 0, None, None], matrices[:, 0, 1, None, None]
    d, e = matrices[:, 1, 0, None, None], matrices[:, 1, 1, None, None]
    inv_det = 1.0 / (a * e - b * d)
    # q = A^-1 (p - c - t) + c with A^-1 = [[e, -b], [-d, a]] / det
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    px = np.arange(w, dtype=np.float64)[None, None, :] - cx - translations[:, 0, None, None]
    py = np.arange(h, dtype=np.float64)[None, :, None] - cy - translations[:, 1, None, None]
    src_x = (e * inv_det) * px - (b * inv_det) * py + cx
    src_y = (a * inv_det) * py - (d * inv_det) * px + cy
    if interpolation == "nearest":
        rows = np.floor(src_y + 0.5).astype(np.intp)
        cols = np.floor(src_x + 0.5).astype(np.intp)
        _sample_nearest(batch, rows, cols, target)
        return
    work = _work_dtype(batch.dtype)
    out = target.reshape(n, c, h * w)
    x0, y0 = np.floor(src_x), np.floor(src_y)
    fx, fy = (src_x - x0).astype(work), (src_y - y0).astype(work)
    x0i, y0i = x0.astype(np.intp), y0.astype(np.intp)
    # the four pixels around q, weighted (1 - fy or fy) (1 - fx or fx); a pixel outside the
    # image weighs 0, which is the zero fill
    (c0, c0_in), (c1, c1_in) = _axis(x0i, w), _axis(x0i + 1, w)
    (r0, r0_in), (r1, r1_in) = _axis(y0i, h), _axis(y0i + 1, h)
    wx = ((1 - fx) * c0_in, fx * c1_in)
    wy = ((1 - fy) * r0_in, fy * r1_in)
    acc = out if out.dtype == work else np.empty((n, c, h * w), dtype=work)
    first = True
    for row, weight_y in ((r0 * w, wy[0]), (r1 * w, wy[1])):
        for col, weight_x in ((c0, wx[0]), (c1, wx[1])):
            values = _take(batch, row + col).astype(work, copy=False)
            values *= (weight_y * weight_x).reshape(n, 1, h * w)
            if first:
                np.copyto(acc, values)
                first = False
            else:
                acc += values
    if acc is not out:
        _cast_into(out, acc)


# ----------------------------------------------------------------------------- functions


def shift(
    images: npt.ArrayLike,
    dy: npt.ArrayLike,
    dx: npt.ArrayLike,
    *,
    image_shape: ImageShape | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Translate each image by whole pixels, ``dy`` down and ``dx`` right, filling with 0.

    ``out[n, c, i, j] = images[n, c, i - dy[n], j - dx[n]]`` where that pixel exists, else 0.
    ``dy`` and ``dx`` are integers, one for all images or one per image. Exact for any dtype
    (pixels are copied, never interpolated). The home of the shift behind ``shift_images`` and
    Nielsen's ``expand_mnist``.
    """
    batch, result, target = _batch_and_out(images, image_shape, out, "shift")
    n = batch.shape[0]
    dys, dxs = _per_image(dy, n, "shift", "dy"), _per_image(dx, n, "shift", "dx")
    if dys.dtype.kind not in "iu" or dxs.dtype.kind not in "iu":
        raise ValueError("shift: dy and dx must be integers (whole pixels)")
    _shift_batch(batch, dys.astype(np.intp), dxs.astype(np.intp), target)
    return result


def _floats(values: npt.ArrayLike, what: str, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {name} must be numbers, got {values!r}") from None
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: {name} must be finite")
    return array


def _warp(
    images: npt.ArrayLike,
    matrices: np.ndarray,
    translations: np.ndarray,
    image_shape: ImageShape | None,
    interpolation: str,
    out: np.ndarray | None,
    what: str,
) -> np.ndarray:
    batch, result, target = _batch_and_out(images, image_shape, out, what)
    n = batch.shape[0]
    _check_interpolation(interpolation, what)
    if matrices.shape not in ((2, 2), (n, 2, 2)):
        raise ValueError(
            f"{what}: matrices must be 2 x 2 or one 2 x 2 per image ({n} x 2 x 2), "
            f"got shape {matrices.shape}"
        )
    if translations.shape not in ((2,), (n, 2)):
        raise ValueError(
            f"{what}: translations must be (tx, ty) or one pair per image ({n} x 2), "
            f"got shape {translations.shape}"
        )
    matrices = np.broadcast_to(matrices, (n, 2, 2))
    det = matrices[:, 0, 0] * matrices[:, 1, 1] - matrices[:, 0, 1] * matrices[:, 1, 0]
    if n and np.abs(det).min() < 1e-12:
        raise ValueError(f"{what}: every matrix must be invertible (|det A| > 1e-12)")
    if n:
        _affine_batch(batch, matrices, np.broadcast_to(translations, (n, 2)), target, interpolation)
    return result


def affine(
    images: npt.ArrayLike,
    matrices: npt.ArrayLike,
    translations: npt.ArrayLike = (0.0, 0.0),
    *,
    image_shape: ImageShape | None = None,
    interpolation: str = "bilinear",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Apply ``p = A (q - c) + c + t`` to each image (module docstring: inverse mapping, zero
    fill).

    ``matrices``: one 2 x 2 matrix ``A`` or one per image (``N x 2 x 2``), acting on
    ``(x, y) = (column, row)`` offsets from the centre ``c``; ``translations``: ``t = (tx, ty)``
    in pixels (right, down), one or one per image. ``A`` must be invertible.
    """
    mats = _floats(matrices, "affine", "matrices")
    shifts = _floats(translations, "affine", "translations")
    return _warp(images, mats, shifts, image_shape, interpolation, out, "affine")


def rotation_matrices(degrees: npt.ArrayLike) -> np.ndarray:
    """``R(theta) = [[cos, sin], [-sin, cos]]`` per angle: a counter-clockwise turn on screen in
    ``(x, y)`` coordinates whose ``y`` grows downwards (``np.rot90``'s sense for 90 degrees)."""
    theta = np.deg2rad(_floats(degrees, "rotation_matrices", "degrees"))
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)


def rotate(
    images: npt.ArrayLike,
    degrees: npt.ArrayLike,
    *,
    image_shape: ImageShape | None = None,
    interpolation: str = "bilinear",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Turn each image counter-clockwise by ``degrees`` about its centre: ``affine`` with
    ``A = R(theta)`` (``rotation_matrices``), ``t = 0``. One angle or one per image."""
    angles = _floats(degrees, "rotate", "degrees")
    if angles.ndim > 1:
        raise ValueError(f"rotate: degrees must be one angle or one per image, got {angles.shape}")
    matrices = rotation_matrices(angles)
    return _warp(images, matrices, np.zeros(2), image_shape, interpolation, out, "rotate")


# ----------------------------------------------------------------------------- transforms


def _check_range(value: object, name: str, what: str, limit: float) -> tuple[float, float]:
    """A number ``m`` as ``(-m, m)`` (``0 <= m <= limit``) or a pair ``(lo, hi)`` as given."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"{what}: {name} must be a number or a pair (low, high), got {value!r}"
            )
        low, high = (_real(v, name, what) for v in value)
        if low > high or min(low, high) < -limit or max(low, high) > limit:
            raise ValueError(
                f"{what}: {name}=(low, high) needs -{limit:g} <= low <= high <= {limit:g}, "
                f"got {tuple(value)!r}"
            )
        return low, high
    number = _real(value, name, what)
    if not 0 <= number <= limit:
        raise ValueError(f"{what}: {name} must be between 0 and {limit:g}, got {number:g}")
    return -number, number


def _real(value: object, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{what}: {name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what}: {name} must be finite, got {number}")
    return number


class Augmenter:
    """A random transform of image batches: ``augmenter(images, rng, out=None)``.

    Subclasses draw their parameters for the ``N`` images from ``rng`` in ``_apply`` and write
    the result into ``target`` (``N x C x H x W``, not overlapping ``batch``).
    ``image_shape`` (``(C, H, W)``, or ``(H, W)`` for one channel) reads flat rows as images;
    ``Model.fit(augment=...)`` checks it against the width of its input.
    """

    def __init__(self, image_shape: ImageShape | None = None) -> None:
        self.image_shape = _check_image_shape(image_shape, type(self).__name__)

    def __call__(
        self,
        images: npt.ArrayLike,
        rng: np.random.Generator,
        *,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The transformed batch, same shape and dtype as ``images`` (written into ``out``)."""
        what = type(self).__name__
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"{what}: rng must be a numpy.random.Generator, got {type(rng).__name__}"
            )
        array = np.asarray(images)
        batch = _as_batch(array, self.image_shape, what)
        result, target = _output(out, array, batch, what)
        if batch.shape[0]:
            self._apply(batch, rng, target)
        return result

    def check_sample_shape(self, sample_shape: tuple[int, ...], what: str = "augment") -> None:
        """Raise ValueError unless samples of ``sample_shape`` (a flat width or ``(C, H, W)``)
        are images this transform can read."""
        name = f"{what} ({self!r})"
        if len(sample_shape) == 1:
            if self.image_shape is None:
                raise ValueError(
                    f"{name}: flat rows of {sample_shape[0]} features need the transform's "
                    "image_shape=(C, H, W) or (H, W), e.g. (1, 28, 28) for MNIST"
                )
            if math.prod(self.image_shape) != sample_shape[0]:
                raise ValueError(
                    f"{name}: image_shape {self.image_shape} holds "
                    f"{math.prod(self.image_shape)} values but the input has "
                    f"{sample_shape[0]} features per sample"
                )
        elif len(sample_shape) in (2, 3):
            shape = tuple(sample_shape) if len(sample_shape) == 3 else (1, *sample_shape)
            if self.image_shape is not None and shape != self.image_shape:
                raise ValueError(
                    f"{name}: image_shape {self.image_shape} does not match the input's "
                    f"samples of shape {tuple(sample_shape)}"
                )
        else:
            raise ValueError(
                f"{name}: samples of shape {tuple(sample_shape)} are not images "
                "(C, H, W) or flat rows"
            )

    def _apply(self, batch: np.ndarray, rng: np.random.Generator, target: np.ndarray) -> None:
        raise NotImplementedError

    def _shape_repr(self) -> str:
        return "" if self.image_shape is None else f", image_shape={self.image_shape}"


class RandomShift(Augmenter):
    """Shift each image by whole pixels drawn uniformly from ``-max_pixels .. max_pixels``, down
    and right independently, filling with 0 (``shift``).

    Nielsen's expanded MNIST adds the four 1-pixel shifts (up, down, left, right) of every
    image; ``RandomShift(1)`` draws one of the nine shifts with ``|dy|, |dx| <= 1`` (the image
    itself, the four, and the four diagonals) for every image of every batch. Draws ``dy`` for
    the batch, then ``dx``: ``rng.integers(-m, m + 1, size=(2, N))``.
    """

    def __init__(self, max_pixels: int = 1, *, image_shape: ImageShape | None = None) -> None:
        super().__init__(image_shape)
        if (
            isinstance(max_pixels, bool)
            or not isinstance(max_pixels, (numbers.Integral, np.integer))
            or max_pixels < 0
        ):
            raise ValueError(f"RandomShift: max_pixels must be an integer >= 0, got {max_pixels!r}")
        self.max_pixels: int = int(max_pixels)

    def _apply(self, batch: np.ndarray, rng: np.random.Generator, target: np.ndarray) -> None:
        m = self.max_pixels
        dy, dx = rng.integers(-m, m + 1, size=(2, batch.shape[0]))
        _shift_batch(batch, dy.astype(np.intp), dx.astype(np.intp), target)

    def check_sample_shape(self, sample_shape: tuple[int, ...], what: str = "augment") -> None:
        """As ``Augmenter.check_sample_shape``, and a shift must leave part of the image in view."""
        super().check_sample_shape(sample_shape, what)
        if self.image_shape is not None:
            h, w = self.image_shape[-2:]
        else:
            h, w = sample_shape[-2:]
        if self.max_pixels >= min(h, w):
            raise ValueError(
                f"{what} ({self!r}): a shift of up to {self.max_pixels} pixels can move a whole "
                f"{h}x{w} image out of view; use max_pixels < {min(h, w)}"
            )

    def __repr__(self) -> str:
        return f"RandomShift({self.max_pixels}{self._shape_repr()})"


class RandomRotation(Augmenter):
    """Turn each image about its centre by an angle drawn uniformly from
    ``[-max_degrees, max_degrees]`` (or ``[low, high]`` for a pair), counter-clockwise for
    positive angles (``rotate``: ``A = R(theta) = [[cos, sin], [-sin, cos]]``, ``t = 0``,
    inverse mapping ``q = R(-theta)(p - c) + c``, zero fill). ``max_degrees`` is at most 180;
    ``(90, 90)`` is a fixed quarter turn.
    """

    def __init__(
        self,
        max_degrees: float | tuple[float, float],
        *,
        interpolation: str = "bilinear",
        image_shape: ImageShape | None = None,
    ) -> None:
        super().__init__(image_shape)
        self.low, self.high = _check_range(max_degrees, "max_degrees", "RandomRotation", 180)
        self.max_degrees = max_degrees
        self.interpolation = _check_interpolation(interpolation, "RandomRotation")

    def _apply(self, batch: np.ndarray, rng: np.random.Generator, target: np.ndarray) -> None:
        angles = rng.uniform(self.low, self.high, size=batch.shape[0])
        zero = np.zeros((batch.shape[0], 2))
        _affine_batch(batch, rotation_matrices(angles), zero, target, self.interpolation)

    def __repr__(self) -> str:
        return f"RandomRotation({self.max_degrees!r}{self._shape_repr()})"


def _check_interpolation(interpolation: object, what: str) -> str:
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"{what}: interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
        )
    return str(interpolation)


class RandomAffine(Augmenter):
    """Elastic-free affine jitter: rotation, scaling, shear and sub-pixel translation at once.

    Per image, drawn uniformly: an angle ``theta`` in ``[-max_degrees, max_degrees]``, a shear
    angle ``phi`` in ``[-max_shear, max_shear]`` (degrees, below 60), a scale ``k`` in
    ``[1 - max_scale, 1 + max_scale]`` (``max_scale < 1``) and ``t = (tx, ty)`` with each in
    ``[-max_shift, max_shift]`` pixels. The content moves by ``p = A (q - c) + c + t`` with::

        A = R(theta) . S(phi) . k I,   R = [[cos theta, sin theta], [-sin theta, cos theta]],
                                       S = [[1, tan phi], [0, 1]]   (x' = x + tan(phi) y)

    sampled by inverse mapping ``q = A^-1 (p - c - t) + c`` with
    ``A^-1 = (1/k) S(-phi) R(-theta)``, bilinear (or nearest) and zero-filled. The draws are
    one ``rng.random((5, N))``: rows theta, phi, k, tx, ty.
    """

    def __init__(
        self,
        max_degrees: float = 0.0,
        max_shift: float = 0.0,
        max_scale: float = 0.0,
        max_shear: float = 0.0,
        *,
        interpolation: str = "bilinear",
        image_shape: ImageShape | None = None,
    ) -> None:
        super().__init__(image_shape)
        what = "RandomAffine"
        if isinstance(max_degrees, (tuple, list)) or isinstance(max_shear, (tuple, list)):
            raise ValueError(f"{what}: max_degrees and max_shear are single numbers")
        self.max_degrees = _check_range(max_degrees, "max_degrees", what, 180)[1]
        self.max_shift = _real(max_shift, "max_shift", what)
        if self.max_shift < 0:
            raise ValueError(f"{what}: max_shift must be >= 0 pixels, got {self.max_shift:g}")
        self.max_scale = _real(max_scale, "max_scale", what)
        if not 0 <= self.max_scale < 1:
            raise ValueError(f"{what}: max_scale must be in [0, 1), got {self.max_scale:g}")
        self.max_shear = _check_range(max_shear, "max_shear", what, 60)[1]
        self.interpolation = _check_interpolation(interpolation, what)

    def _apply(self, batch: np.ndarray, rng: np.random.Generator, target: np.ndarray) -> None:
        n = batch.shape[0]
        u = 2.0 * rng.random((5, n)) - 1.0  # uniform in [-1, 1)
        theta, phi = u[0] * self.max_degrees, np.deg2rad(u[1] * self.max_shear)
        scale = 1.0 + u[2] * self.max_scale
        shear = np.zeros((n, 2, 2))
        shear[:, 0, 0] = shear[:, 1, 1] = 1.0
        shear[:, 0, 1] = np.tan(phi)
        matrices = rotation_matrices(theta) @ shear * scale[:, None, None]
        translations = np.stack([u[3], u[4]], axis=1) * self.max_shift
        _affine_batch(batch, matrices, translations, target, self.interpolation)

    def __repr__(self) -> str:
        return (
            f"RandomAffine(max_degrees={self.max_degrees:g}, max_shift={self.max_shift:g}, "
            f"max_scale={self.max_scale:g}, max_shear={self.max_shear:g}{self._shape_repr()})"
        )


class Compose(Augmenter):
    """Apply transforms one after the other (each draws from the same generator, in order).

    The image shape is the one the members name (they must agree), or ``image_shape``.
    """

    def __init__(
        self, transforms: Sequence[Augmenter], *, image_shape: ImageShape | None = None
    ) -> None:
        transforms = list(transforms)
        if not transforms or not all(isinstance(t, Augmenter) for t in transforms):
            raise ValueError(
                "Compose: transforms must be a non-empty list of augmenters "
                "(RandomShift, RandomRotation, RandomAffine, ...)"
            )
        shapes = {t.image_shape for t in transforms if t.image_shape is not None}
        own = _check_image_shape(image_shape, "Compose")
        if own is not None:
            shapes.add(own)
        if len(shapes) > 1:
            raise ValueError(
                f"Compose: the transforms name different image shapes {sorted(shapes)}"
            )
        super().__init__(next(iter(shapes)) if shapes else None)
        self.transforms = transforms

    def _apply(self, batch: np.ndarray, rng: np.random.Generator, target: np.ndarray) -> None:
        # ping-pong between target and one scratch array, ending in target
        scratch = np.empty_like(target) if len(self.transforms) > 1 else target
        buffers = (target, scratch)
        source = batch
        for i, transform in enumerate(self.transforms):
            destination = buffers[(len(self.transforms) - 1 - i) % 2]
            transform._apply(source, rng, destination)
            source = destination

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r}{self._shape_repr()})"
