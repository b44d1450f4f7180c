"""im2col and col2im: a convolution as matrix products (Saito, chapter 7.4).

A convolution slides a kh x kw window over a zero-padded image and takes, at each of the
OH x OW positions, the dot product of the window with each filter. Laying every window of
sample n out as one column of a matrix turns the convolution into a matrix product:

    X_col[n, (c, i, j), (p, q)] = X_pad[n, c, p*sh + i, q*sw + j]     shape (N, C*kh*kw, OH*OW)
    Z[n] = W_col X_col[n]                                               shape (F, OH*OW)

with W_col = W reshaped to F x (C*kh*kw). One ``np.matmul`` runs this product for the whole
batch (a stacked product: BLAS once per sample, inside NumPy, no Python loop), and its result
is already Z in the N x F x OH x OW layout.

Speed: Saito's layout, one (N*OH*OW) x (C*kh*kw) matrix and a single product, was measured
too: it needs a transposed copy of Z forward and of dL/dZ backward, and its im2col copy
writes rows of only kh*kw numbers. For MNIST's first layer (batch 100, 30 filters of 5x5) a
forward pass and dL/dW took 6.7 ms that way, 2.4 ms this way; for a 5x5 layer of 50 filters
on 20 x 12 x 12 inputs the two were within 5%.

``im2col`` builds X_col from a strided *view* of the padded batch (no copy) and copies it once
into a buffer that the layer reuses batch after batch. ``col2im`` is its adjoint: each entry
of a column matrix is added back to the pixel it was read from. A pixel read by several
windows (stride < kernel) receives the sum of their entries, which is exactly the chain rule
for a value used several times. It runs as kh*kw strided additions, one per kernel offset
(i, j), each over the whole batch. (For stride 1, widening dL/dZ to whole padded rows makes
each offset's addition one contiguous run instead of OH rows of OW values; measured on a 5x5
layer of 40 filters over 20 x 12 x 12 inputs, the larger product ate the gain, 9.3 ms against
9.9, so it was dropped.)

The output size of a window of k with stride s over n (padded) pixels is (n - k) // s + 1.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._types import Array


def output_size(n: int, k: int, s: int) -> int:
    """Window positions of a window of ``k`` with stride ``s`` over ``n`` (padded) pixels."""
    return (n - k) // s + 1


def pad_into(x: Array, pads: tuple[int, int, int, int], out: Array) -> Array:
    """``x`` (N, C, H, W) copied into the middle of ``out`` (N, C, H + top + bottom,
    W + left + right), whose frame already holds the padding value (it is never written)."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    h, w = x.shape[2], x.shape[3]
    out[:, :, top : top + h, left : left + w] = x
    return out


def windows(
    xp: Array, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> Array:
    """The view (N, C, OH, OW, kh, kw) of every window of the padded batch ``xp``: entry
    [n, c, p, q, i, j] is xp[n, c, p*sh + i, q*sw + j]. No data is copied."""
    view = sliding_window_view(xp, kernel, axis=(2, 3))
    (oh, ow), (sh, sw) = out_hw, stride
    return view[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]


def im2col(
    xp: Array,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    out: Array,
) -> Array:
    """X_col (N, C*kh*kw, OH*OW) of the padded batch ``xp``, written into ``out``."""
    n, c = xp.shape[:2]
    (oh, ow), (kh, kw) = out_hw, kernel
    view = windows(xp, kernel, stride, out_hw).transpose(0, 1, 4, 5, 2, 3)
    np.copyto(out.reshape(n, c, kh, kw, oh, ow), view)
    return out


def col2im(
    cols: Array,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_hw: tuple[int, int],
    out: Array,
) -> Array:
    """The adjoint of ``im2col``: ``out`` (N, C, Hp, Wp) <- the sum, over every window, of the
    column entries (N, C*kh*kw, OH*OW) at the pixels they were read from.

    For each kernel offset (i, j) the entries [n, (c, i, j), (p, q)] go to the pixels
    (n, c, p*sh + i, q*sw + j): a strided slice of ``out``, so one addition per offset covers
    the whole batch.
    """
    n, c = out.shape[:2]
    (oh, ow), (kh, kw), (sh, sw) = out_hw, kernel, stride
    out[...] = 0.0
    blocks = cols.reshape(n, c, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw] += blocks[
                :, :, i, j
            ]
    return out
