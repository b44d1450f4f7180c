"""The memory check before training counts a convolutional network's buffers: each layer's
output (C x OH x OW per sample) and a convolution's im2col matrices, so a network that cannot
fit is refused with the figure before the first epoch, without allocating them."""

from __future__ import annotations

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.core.spec import build_network
from nnscratch.training import memory


def refuse(model: nn.Model, x: np.ndarray, y: np.ndarray, batch_size: int) -> str:
    before = model.network.flat_parameter.value.copy()
    with pytest.raises(MemoryError) as info:
        model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
    assert model.epoch == 0 and not model.optimizer._state
    np.testing.assert_array_equal(model.network.flat_parameter.value, before)
    # refused before the first batch: no layer allocated its scratch arrays
    assert all(not layer._buffers for layer in model.network.layers)
    return str(info.value)


def test_im2col_of_a_large_kernel_is_counted(monkeypatch) -> None:
    """One 15x15 filter over 16 channels of 64x64 (padding 7): a small output (1 x 64 x 64)
    but an im2col matrix of 16*225 x 4096 values per sample, 1.9 GB for a batch of 32.

    Per sample: input 16*64*64 = 65,536; conv output x 3 = 12,288; padded input 16*78*78 =
    97,344; im2col 3,600 x 4,096 = 14,745,600; weight-gradient products 1 x 3,600; gap and
    dense outputs x 3 = 3 + 6. Parameters 3,605, times Adam's 3 state arrays.
    4 bytes x (10,815 + 32 x 14,924,377) = 1,910,363,516 bytes."""
    net = nn.Sequential(
        [nn.Conv2D(1, 15, padding="same"), nn.GlobalAvgPool2D(), nn.Dense(2)],
        input_shape=(16, 64, 64),
        seed=0,
    )
    model = nn.Model(net, optimizer=nn.Adam(1e-3))
    assert net.n_parameters == 3_605
    x = np.zeros((64, 16, 64, 64), np.float32)
    y = np.arange(64) % 2
    monkeypatch.setattr(memory, "available_memory", lambda: 500_000_000)
    message = refuse(model, x, y, batch_size=32)
    assert "3,605-parameter network with adam needs about 1.9 GB" in message
    assert "only 0.5 GB is available" in message
    # batches of 2: 4 x (10,815 + 2 x 14,924,377) bytes, refused one byte short of it
    monkeypatch.setattr(memory, "available_memory", lambda: 119_438_275)
    refuse(model, x[:4], y[:4], batch_size=2)
    monkeypatch.setattr(memory, "available_memory", lambda: 119_438_276)
    model.fit(x[:4], y[:4], epochs=1, batch_size=2, verbose=0)
    assert model.epoch == 1


def test_an_absurd_conv_spec_on_big_images_is_refused_with_the_figure(monkeypatch) -> None:
    """4096 filters on 512x512 RGB images: each sample's feature maps alone are
    4096 x 512 x 512 values (4.3 GB in float32, three times over for training)."""
    net = build_network("conv:4096x3:same,relu,gap,dense:10", (3, 512, 512), seed=0)
    model = nn.Model(net)
    x = np.zeros((2, 3, 512, 512), np.float32)
    monkeypatch.setattr(memory, "available_memory", lambda: 16_000_000_000)
    message = refuse(model, x, np.array([0, 1]), batch_size=2)
    assert "needs about 25.8 GB of memory but only 16.0 GB is available" in message
    assert "use a smaller network or batch size" in message


def test_pooling_with_padding_counts_its_padded_copies(monkeypatch) -> None:
    """A padded max-pool after a layer keeps the padded input and its gradient: 2 x 4 x
    (64+2)^2 values per sample on top of 3 x its output and the input."""
    net = nn.Sequential(
        [nn.ActivationLayer("relu"), nn.MaxPool2D(3, stride=1, padding=1), nn.Flatten()],
        input_shape=(4, 64, 64),
    )
    model = nn.Model(net, loss="mse", optimizer="sgd")
    per_sample = 4 * 64 * 64 * (1 + 3 + 3 + 3) + 2 * 4 * 66 * 66
    needed = 4 * 10 * per_sample
    x = np.zeros((10, 4, 64, 64), np.float32)
    y = np.zeros((10, 4 * 64 * 64), np.float32)
    monkeypatch.setattr(memory, "available_memory", lambda: needed - 1)
    refuse(model, x, y, batch_size=10)
    monkeypatch.setattr(memory, "available_memory", lambda: needed)
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)
    assert model.epoch == 1
