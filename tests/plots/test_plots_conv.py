"""Pictures of convolutional networks: first-layer kernels and feature maps, drawn from the real
weights and activations; the image pictures that take flat rows accept a network of images."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import plots
from nnscratch.core.spec import build_network

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def mpl():
    matplotlib = pytest.importorskip("matplotlib")
    with matplotlib.rc_context({"savefig.bbox": "standard"}):
        yield matplotlib


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def mosaic_of(fig) -> np.ma.MaskedArray:
    (image,) = fig.axes[0].images
    return image.get_array()


def test_kernels_of_one_input_channel_fill_a_grid(mpl, tmp_path):
    net = build_network("conv:6x3,relu,maxpool:2,flatten,dense:2", (1, 8, 8), seed=0)
    w = net.layers[0].W.value.astype(np.float64)
    fig = plots.plot_conv_kernels(nn.Model(net))
    mosaic = mosaic_of(fig)
    # 6 filters: a 2 x 3 grid of 3x3 tiles with 1-pixel gaps
    assert mosaic.shape == (2 * 3 + 1, 3 * 3 + 2)
    for f in range(6):
        r, c = divmod(f, 3)
        tile = mosaic[r * 4 : r * 4 + 3, c * 4 : c * 4 + 3]
        np.testing.assert_allclose(tile, w[f, 0] / np.abs(w[f, 0]).max(), rtol=1e-6)
    assert np.isnan(mosaic.data[3, :]).all()  # the gap between the rows
    assert "6 filters of 3x3" in fig.axes[0].get_title()
    width, height = png_size(plots.save_figure(fig, tmp_path / "k.png"))
    assert width >= 300 and height >= 150

    shared = mosaic_of(plots.plot_conv_kernels(net, normalize=False))
    np.testing.assert_allclose(shared[0:3, 0:3], w[0, 0], rtol=1e-6)
    (image,) = plots.plot_conv_kernels(net, normalize=False).axes[0].images
    assert image.get_clim() == pytest.approx((-np.abs(w).max(), np.abs(w).max()))


def test_kernels_of_several_input_channels_are_rows_of_filters(mpl):
    net = build_network("conv:4x3,conv:5x2,flatten,dense:2", (3, 6, 6), seed=1)
    w = net.layers[0].W.value.astype(np.float64)
    fig = plots.plot_conv_kernels(net, max_filters=3)
    mosaic = mosaic_of(fig)
    assert mosaic.shape == (3 * 4 - 1, 3 * 4 - 1)  # 3 filters x 3 channels
    for f in range(3):
        peak = np.abs(w[f]).max()
        for c in range(3):
            tile = mosaic[f * 4 : f * 4 + 3, c * 4 : c * 4 + 3]
            np.testing.assert_allclose(tile, w[f, c] / peak, rtol=1e-6)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "input channel" and ax.get_ylabel() == "filter"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2"]
    assert "3 of 4 filters" in ax.get_title()


def test_feature_maps_show_each_conv_layers_output_for_the_image(mpl, tmp_path):
    net = build_network(
        "conv:3x3,relu,maxpool:2,conv:2x3:same,tanh,flatten,dense:2", (1, 8, 8), seed=2
    )
    image = np.random.default_rng(0).random(64).astype(np.float32)  # a flat row, as in the data
    fig = plots.plot_feature_maps(net, image, label=7)
    x = image.reshape(1, 1, 8, 8)
    first = net.layers[0].forward(x)[0].copy()
    second = net.layers[2].forward(net.layers[1].forward(first[None]))[0].copy()
    # panels: a row of 3 for the input (one drawn), then 3 for layer 0 and 3 for layer 2 (2 drawn)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 1 + 3 + 2
    np.testing.assert_allclose(drawn[0].images[0].get_array(), image.reshape(8, 8), rtol=1e-6)
    for c in range(3):
        np.testing.assert_allclose(drawn[1 + c].images[0].get_array(), first[c], rtol=1e-5)
    for c in range(2):
        np.testing.assert_allclose(drawn[4 + c].images[0].get_array(), second[c], rtol=1e-5)
    captions = [sub.get_suptitle() for sub in fig.subfigs]
    assert captions[0] == "input image (label 7)"
    assert captions[1] == "layer 0 Conv2D(3, 3x3, relu): output 3x6x6"
    assert captions[2] == "layer 2 Conv2D(2, 3x3, same, tanh): output 2x3x3"
    assert png_size(plots.save_figure(fig, tmp_path / "f.png"))[0] >= 300

    many = plots.plot_feature_maps(net, image, max_channels=2)
    assert "first 2 of 3 channels" in many.subfigs[1].get_suptitle()


def test_feature_maps_of_a_network_that_reshapes_flat_rows(mpl):
    net = build_network("reshape:1x6x6,conv:2x3,relu,flatten,dense:2", 36, seed=0)
    image = np.linspace(0, 1, 36)
    fig = plots.plot_feature_maps(net, image)
    drawn = [ax for ax in fig.axes if ax.images]
    np.testing.assert_allclose(drawn[0].images[0].get_array(), image.reshape(6, 6))
    assert len(drawn) == 3


def test_conv_pictures_refuse_bad_input(mpl):
    dense = nn.mlp([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="no Conv2D layer; .* plot_first_layer_weights"):
        plots.plot_conv_kernels(dense)
    with pytest.raises(ValueError, match="no Conv2D layer"):
        plots.plot_feature_maps(dense, np.zeros(4))
    net = build_network("conv:2x3,flatten,dense:2", (1, 5, 5), seed=0)
    with pytest.raises(
        ValueError, match=r"image has shape \(24,\) \(24 values\) .* \(1, 5, 5\) \(25 values\)"
    ):
        plots.plot_feature_maps(net, np.zeros(24))
    with pytest.raises(ValueError, match="NaN or infinite"):
        plots.plot_feature_maps(net, np.full(25, np.nan))
    with pytest.raises(ValueError, match="max_filters must be a positive integer"):
        plots.plot_conv_kernels(net, max_filters=0)
    with pytest.raises(TypeError, match="expected a Model or a Sequential"):
        plots.plot_conv_kernels(np.zeros((2, 1, 3, 3)))
    unbuilt = nn.Sequential([nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        plots.plot_conv_kernels(unbuilt)
    with pytest.raises(ValueError, match="a convolution: draw its kernels with plot_conv_kernels"):
        plots.plot_first_layer_weights(net, shape=(5, 5))


def test_most_confident_errors_takes_flat_rows_for_a_network_of_images(mpl):
    net = build_network("conv:2x3,relu,flatten,dense:3", (1, 5, 5), seed=0)
    model = nn.Model(net)
    rng = np.random.default_rng(0)
    x = rng.random((30, 25)).astype(np.float32)
    y = rng.integers(0, 3, 30)
    predicted = model.predict(x.reshape(-1, 1, 5, 5))
    wrong = int(np.count_nonzero(predicted != y))
    fig = plots.plot_most_confident_errors(model, x, y, k=4, shape=(5, 5))
    assert f"({wrong} of 30 wrong)" in fig._suptitle.get_text()
