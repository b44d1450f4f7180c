"""Turning a picture of a digit into an MNIST-like input.

MNIST digits are white on black, fitted into a 20x20 box that keeps their aspect ratio, and
placed in a 28x28 frame so that their centre of mass is at the centre. ``mnist_style`` does the
same to any grayscale array (a photo, a scan, a drawing on a canvas), so a network trained on
MNIST sees the kind of input it learned from.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._memory import check_fits
from .errors import InvalidDatasetError


def mnist_style(image: np.ndarray, invert: bool | None = None) -> np.ndarray:
    """A 28x28 float32 image in [0, 1], centred and scaled like MNIST.

    ``image`` is 2-D grayscale (any size, any numeric range). ``invert=None`` guesses: dark ink
    on a light background (a mean above the midpoint) is inverted to MNIST's light-on-dark.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 1:
        raise InvalidDatasetError(
            f"a digit image must be a non-empty 2-D grayscale array, got shape {img.shape}"
        )
    if not np.isfinite(img).all():
        raise InvalidDatasetError("the digit image contains NaN or infinite values")
    lo, hi = img.min(), img.max()
    if hi - lo < 1e-12:
        raise InvalidDatasetError("the digit image is blank (every pixel has the same value)")
    img = (img - lo) / (hi - lo)
    if invert is None:
        invert = img.mean() > 0.5
    if invert:
        img = 1.0 - img
    rows = np.flatnonzero(img.max(axis=1) > 0.1)
    cols = np.flatnonzero(img.max(axis=0) > 0.1)
    img = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # fit the ink's bounding box into 20x20, keeping the aspect ratio
    scale = 20.0 / max(img.shape)
    h, w = max(1, round(img.shape[0] * scale)), max(1, round(img.shape[1] * scale))
    box = _resize(img, h, w)
    frame = np.zeros((28, 28))
    top, left = (28 - h) // 2, (28 - w) // 2
    frame[top : top + h, left : left + w] = box
    # shift so that the centre of mass sits at the frame's centre, as in MNIST
    total = frame.sum()
    ys, xs = np.indices(frame.shape)
    dy = int(round(13.5 - (ys * frame).sum() / total))
    dx = int(round(13.5 - (xs * frame).sum() / total))
    frame = np.roll(frame, (dy, dx), axis=(0, 1))
    return np.clip(frame, 0.0, 1.0).astype(np.float32)


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Area-averaging resize (good for shrinking), by bilinear sampling of a supersampled grid."""
    ys = (np.arange(h * 4) + 0.5) * img.shape[0] / (h * 4) - 0.5
    xs = (np.arange(w * 4) + 0.5) * img.shape[1] / (w * 4) - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, img.shape[0] - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, img.shape[1] - 1)
    y1 = np.clip(y0 + 1, 0, img.shape[0] - 1)
    x1 = np.clip(x0 + 1, 0, img.shape[1] - 1)
    wy = np.clip(ys - y0, 0, 1)[:, None]
    wx = np.clip(xs - x0, 0, 1)[None, :]
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    fine = top * (1 - wy) + bottom * wy
    resized: np.ndarray = fine.reshape(h, 4, w, 4).mean(axis=(1, 3))
    return resized


def load_digit_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a PNG/JPEG (or any format Pillow reads) and return a flat (784,) MNIST-like input."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError("reading images needs Pillow: pip install 'nnscratch[plot]'") from None
    try:
        with Image.open(path) as im:
            # Opening reads only the header; check the decoded size before decoding (as
            # RGBA, then float64 grayscale, plus the working copies of mnist_style).
            width, height = im.size
            check_fits(
                width * height * (4 + 8 * 4), f"{path}: a {width:,} x {height:,} pixel image"
            )
            if im.mode in ("RGBA", "LA") or "transparency" in im.info:
                # transparent pixels count as background (white), whatever colour they store
                rgba = im.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(white, rgba)
            gray = np.asarray(im.convert("L"), dtype=np.float64)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        # DecompressionBombError derives from Exception only: a file declaring billions of
        # pixels is a bad input like any other, not a crash.
        raise InvalidDatasetError(f"{path} is not a readable image: {exc}") from None
    return mnist_style(gray).reshape(784)
