"""Pooling layers (Nielsen's chapter 6, Saito's chapter 7.4): each output value summarises a
window of one channel (its maximum, or its mean), shrinking the image without parameters.

A window of kh x kw moves with stride (sh, sw) (the window size unless given) over each
channel of the padded image; output size (H + 2 ph - kh) // sh + 1, rounded down as in
PyTorch's default ``ceil_mode=False``. Padding may be at most half the window (PyTorch's
rule), so that every window holds at least one real pixel.

Both poolings run as one NumPy operation per window *offset* (i, j), each over the whole
batch: the strided slice X_pad[:, :, i::sh, j::sw] holds, for every window, its entry (i, j).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .._types import Array
from .base import Layer, Shape, register_layer, shape_text
from .convolution import as_pair, check_input_image, window_output


class _Pool2D(Layer):
    kind = "Pool"
    pad_value = 0.0

    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        where = type(self).__name__
        self.pool_size = as_pair(pool_size, "pool_size", where)
        self.stride = self.pool_size if stride is None else as_pair(stride, "stride", where)
        self.padding = as_pair(padding, "padding", where, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.pool_size, strict=True)):
            raise ValueError(
                f"{self.describe()}: padding {self.padding} must be at most half the "
                f"{shape_text(self.pool_size)} window, so that every window holds a real pixel"
            )
        self._x: Array | None = None

    def pads(self) -> tuple[int, int, int, int]:
        """Padding added (top, bottom, left, right), as ``Conv2D.pads``."""
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        c, h, w = check_input_image(self, input_shape)
        return (c, *window_output(self, (h, w), self.pool_size, self.stride, self.pads()))

    def scratch_per_sample(self, input_shape: Shape, output_shape: Shape, first: bool) -> int:
        """The padded input when there is padding, and its gradient except in the first layer."""
        c, h, w = input_shape
        top, bottom, left, right = self.pads()
        padded = c * (h + top + bottom) * (w + left + right)
        values = padded if top + bottom + left + right else 0
        return values + (0 if first else padded)

    @property
    def _disjoint(self) -> bool:
        """Whether no pixel lies in two windows (stride >= window in both directions)."""
        return self.stride[0] >= self.pool_size[0] and self.stride[1] >= self.pool_size[1]

    def _padded(self, x: Array) -> Array:
        ph, pw = self.padding
        if not (ph or pw):
            return x
        n, c, h, w = x.shape
        out = self._buffer("x_pad", (n, c, h + 2 * ph, w + 2 * pw), fill=self.pad_value)
        out[:, :, ph : ph + h, pw : pw + w] = x
        return out

    def _offsets(self, padded: Array) -> Iterator[tuple[int, Array]]:
        """(k, slice of ``padded`` holding entry (i, j) of every window) for each offset."""
        oh, ow = self.built_shapes()[1][1:]
        sh, sw = self.stride
        kh, kw = self.pool_size
        for i in range(kh):
            for j in range(kw):
                yield (
                    i * kw + j,
                    padded[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw],
                )

    def _grad_padded(self, n: int) -> Array:
        (c, h, w), (_, oh, ow) = self.built_shapes()
        ph, pw = self.padding
        grad = self._buffer("grad_x_pad", (n, c, h + 2 * ph, w + 2 * pw))
        tiled = (
            self.stride == self.pool_size
            and oh * self.stride[0] == h + 2 * ph
            and ow * self.stride[1] == w + 2 * pw
        )
        if not tiled:  # pixels outside every window, or summed over several, start at zero
            grad[...] = 0.0
        return grad

    def _crop(self, grad: Array) -> Array:
        c, h, w = self.built_shapes()[0]
        ph, pw = self.padding
        return grad[:, :, ph : ph + h, pw : pw + w]

    def config(self) -> dict[str, Any]:
        return {
            "pool_size": list(self.pool_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "name": self.name,
        }

    def describe(self) -> str:
        parts = [shape_text(self.pool_size)]
        if self.stride != self.pool_size:
            parts.append(f"stride {shape_text(self.stride)}")
        if any(self.padding):
            parts.append(f"pad {shape_text(self.padding)}")
        return f"{type(self).__name__}({', '.join(parts)})"


@register_layer("MaxPool2D")
class MaxPool2D(_Pool2D):
    """Max pooling: A[n, c, p, q] = max over the window of X_pad[n, c, p*sh + i, q*sw + j].

    Padding counts as -inf (it never wins). Backward: the maximum is the only entry of its
    window that moves the output, so dL/dX gets each window's gradient at the window's
    arg-max and zero elsewhere; a pixel that is the arg-max of several overlapping windows
    sums their gradients.

    Ties: when several entries of a window share the maximum, the *first* in row-major window
    order (smallest i, then smallest j) is the arg-max and receives the whole gradient, as in
    PyTorch's CPU kernel. (The maximum's subgradient could go to any of them; one fixed rule
    makes the result reproducible and comparable.)
    """

    kind = "MaxPool"
    pad_value = -np.inf

    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(pool_size, stride, padding, name)
        self._arg: Array | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        n = x.shape[0]
        out = self._buffer("a", (n, *self.built_shapes()[1]))
        # the arg-max as the offset's index k = i*kw + j; int8 when it fits: a quarter of
        # the memory traffic of a pointer-sized integer
        index_type = np.int8 if self.pool_size[0] * self.pool_size[1] <= 127 else np.int32
        arg = self._buffer("arg", out.shape, dtype=index_type)
        step = self._buffer("step", out.shape, dtype=index_type)
        better = self._buffer("better", out.shape, dtype=np.bool_)
        padded = self._padded(x)
        for k, entry in self._offsets(padded):
            if k == 0:
                np.copyto(out, entry)
                arg[...] = 0
                continue
            # strictly greater: an entry equal to the maximum so far does not take it over,
            # so the first maximum in row-major order wins (the tie rule above)
            np.greater(entry, out, out=better)
            np.maximum(out, entry, out=out)
            # arg <- k where better: arg += better * (k - arg). Speed: three passes of
            # arithmetic cost a quarter of np.copyto(arg, k, where=better) (2 ms against 8
            # for MNIST's 100 x 30 x 24 x 24 batch)
            np.subtract(k, arg, out=step)
            np.multiply(step, better, out=step)
            arg += step
        self._x, self._arg = x, arg
        return out

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._arg is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if not need_input_grad:
            return None
        grad = self._grad_padded(grad_output.shape[0])
        hit = self._buffer("better", grad_output.shape, dtype=np.bool_)
        routed = None if self._disjoint else self._buffer("routed", grad_output.shape)
        for k, target in self._offsets(grad):
            np.equal(self._arg, k, out=hit)
            if routed is None:
                # each pixel in one window: the slices do not overlap, so each is written
                # once, G where the pixel is its window's arg-max and 0 elsewhere (a multiply
                # into the strided slice runs 5x faster than np.copyto(..., where=hit))
                np.multiply(grad_output, hit, out=target)
            else:
                np.multiply(grad_output, hit, out=routed)
                target += routed
        return self._crop(grad)


@register_layer("AvgPool2D")
class AvgPool2D(_Pool2D):
    """Average pooling: A[n, c, p, q] = (1 / (kh kw)) sum over the window of X_pad.

    Padding counts as zeros and is included in the count kh*kw (PyTorch's default
    ``count_include_pad=True``), so a window half over the padding averages to half its
    pixels' mean. Backward: each window spreads its gradient evenly, dL/dX_pad += G / (kh kw)
    at each of its kh*kw entries.
    """

    kind = "AvgPool"

    def forward(self, x: Array, training: bool = False) -> Array:
        n = x.shape[0]
        out = self._buffer("a", (n, *self.built_shapes()[1]))
        padded = self._padded(x)
        for k, entry in self._offsets(padded):
            if k == 0:
                np.copyto(out, entry)
            else:
                out += entry
        out *= np.asarray(1.0 / (self.pool_size[0] * self.pool_size[1]), dtype=out.dtype)
        self._x = x
        return out

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._x is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if not need_input_grad:
            return None
        share = self._buffer("share", grad_output.shape)
        np.multiply(
            grad_output,
            np.asarray(1.0 / (self.pool_size[0] * self.pool_size[1]), dtype=self.dtype),
            out=share,
        )
        grad = self._grad_padded(grad_output.shape[0])
        disjoint = self._disjoint
        for _, target in self._offsets(grad):
            if disjoint:
                np.copyto(target, share)
            else:
                target += share
        return self._crop(grad)


@register_layer("GlobalAvgPool2D")
class GlobalAvgPool2D(Layer):
    """The mean of each channel over the whole image: (C, H, W) -> (C,).

    A[n, c] = (1 / (H W)) sum_{h, w} X[n, c, h, w];  dL/dX[n, c, h, w] = G[n, c] / (H W).
    """

    keeps_width = False

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._x: Array | None = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (check_input_image(self, input_shape)[0],)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._x = x
        out: Array = np.mean(x, axis=(2, 3), out=self._buffer("a", x.shape[:2]))
        return out

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._x is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if not need_input_grad:
            return None
        c, h, w = self.built_shapes()[0]
        grad = self._buffer("grad_x", (grad_output.shape[0], c, h, w))
        np.multiply(
            grad_output[:, :, None, None], np.asarray(1.0 / (h * w), dtype=self.dtype), out=grad
        )
        return grad

    def describe(self) -> str:
        return "GlobalAvgPool2D"
