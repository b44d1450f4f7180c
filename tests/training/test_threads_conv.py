"""The BLAS thread choice sees a convolution's products: its im2col product per step is
batch*OH*OW x C*kh*kw x F multiply-adds, not the kernel's size alone."""

from __future__ import annotations

import numpy as np

import nnscratch as nn
from nnscratch.training import threads as T


def test_largest_product_counts_a_convolutions_im2col_product():
    """Conv2D(32, 5) on 1x28x28 (24x24 outputs): 128*576 x 25 x 32 = 58,982,400 multiply-adds
    at batch 128, more than the dense layer's 128 x 4608 x 10 = 5,898,240."""
    net = nn.Sequential(
        [nn.Conv2D(32, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(10)],
        input_shape=(1, 28, 28),
        seed=0,
    )
    assert T.largest_product(net, 128) == 128 * 24 * 24 * 25 * 32
    x = np.zeros((3, 1, 28, 28), np.float32)
    assert T.predict_product(net, x, 2048) == 3 * 24 * 24 * 25 * 32
    # a strided, padded convolution: (28 + 2 - 3) // 2 + 1 = 14 positions per side
    strided = nn.Sequential(
        [nn.Conv2D(8, 3, stride=2, padding=1), nn.GlobalAvgPool2D(), nn.Dense(2)],
        input_shape=(3, 28, 28),
        seed=0,
    )
    assert T.largest_product(strided, 10) == 10 * 14 * 14 * (3 * 3 * 3) * 8


def test_a_large_convolution_is_not_a_small_product():
    """Nielsen's two conv-pool layers at batch 128: the second convolution (20 -> 40 filters,
    5x5 over 12x12 maps, 8x8 outputs) multiplies 128*64 x 500 x 40 = 163,840,000 times, over
    the single-thread bound ``SMALL_PRODUCT`` (2**26), where its dense layers alone (at most
    128 x 640 x 100 = 8,192,000) stay far below it."""
    net = nn.Sequential(
        [
            nn.Conv2D(20, 5, activation="relu"),
            nn.MaxPool2D(2),
            nn.Conv2D(40, 5, activation="relu"),
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(100, "relu"),
            nn.Dense(10),
        ],
        input_shape=(1, 28, 28),
        seed=0,
    )
    assert T.largest_product(net, 128) == 128 * 8 * 8 * (20 * 5 * 5) * 40
    assert T.largest_product(net, 128) >= T.SMALL_PRODUCT
