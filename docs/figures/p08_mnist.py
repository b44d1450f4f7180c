"""Page 8: the page's 784-100-10 network's confusion matrix; a Nielsen network's first layer."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from registry import figure

import nnscratch as nn
from nnscratch.data import load_mnist_sample, one_hot
from nnscratch.plots import plot_confusion_matrix, plot_first_layer_weights

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE = "08-mnist.md"


@cache
def trained(fast: bool) -> tuple[nn.Model, object]:
    """The page's network: 784-100-10 ReLU, Adam 1e-3, batches of 32 (10 epochs; 2 when fast)."""
    sample = load_mnist_sample(normalize=True)
    model = nn.Model(
        nn.mlp([784, 100, 10], "relu", seed=0),
        loss="softmax_cross_entropy",
        optimizer=nn.Adam(1e-3),
    )
    model.fit(
        sample.x_train, sample.y_train, epochs=2 if fast else 10, batch_size=32, seed=0, verbose=0
    )
    return model, sample


@figure(
    "08-confusion-matrix.png",
    page=PAGE,
    alt=(
        "The 10 x 10 confusion matrix of the 784-100-10 network on the sample's 1,000 test "
        "digits, true digit in rows and predicted digit in columns: a dark diagonal of about "
        "90 to 100 correct answers per digit, and a few errors off it, the most frequent a 3 "
        "read as an 8."
    ),
)
def draw_confusion(fast: bool) -> Figure:
    model, sample = trained(fast)
    predicted = model.predict(sample.x_test)
    accuracy = float(np.mean(predicted == sample.y_test))
    matrix = nn.confusion_matrix(sample.y_test, predicted, 10)
    return plot_confusion_matrix(
        matrix,
        figsize=(6.2, 5.2),
        title=f"784-100-10 on the sample's 1,000 test digits ({accuracy:.1%} correct)",
    )


@figure(
    "08-first-layer-weights.png",
    page=PAGE,
    alt=(
        "The incoming weights of the 30 hidden units of Nielsen's 784-30-10 sigmoid network "
        "trained on the MNIST sample, each drawn as a 28 x 28 image in red (positive) and "
        "blue (negative): pale at the borders, where no digit ever has ink, and in the middle "
        "blurry strokes and blobs, each unit looking for its own pattern of pixels."
    ),
)
def draw_weights(fast: bool) -> Figure:
    # Nielsen's network of the page's table: sigmoid, N(0, 1/n_in) weights, sigmoid outputs
    # with cross-entropy on one-hot rows, SGD 0.5 on batches of 10, L2 with lambda = 5
    sample = load_mnist_sample(normalize=True)
    model = nn.Model(
        nn.mlp([784, 30, 10], "sigmoid", weight_init="nielsen", seed=0),
        loss="binary_cross_entropy_with_logits",
        optimizer=nn.SGD(0.5),
        l2=5.0,
    )
    epochs = 2 if fast else 10
    model.fit(
        sample.x_train, one_hot(sample.y_train, 10), epochs=epochs, batch_size=10, seed=0, verbose=0
    )
    accuracy = float(np.mean(model.predict(sample.x_test) == sample.y_test))
    return plot_first_layer_weights(
        model,
        ncols=10,
        figsize=(10.0, 4.0),
        title=f"the 30 hidden units of a 784-30-10 sigmoid network (L2, λ = 5)\n{epochs} epochs "
        f"on 5,000 images, {accuracy:.1%} on the test digits; red excites, blue inhibits",
    )
