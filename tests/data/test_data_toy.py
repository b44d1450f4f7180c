"""Toy generators: determinism, class balance, geometry, argument validation."""

from __future__ import annotations

import numpy as np
import pytest

from nnscratch.data import (
    blobs,
    circles,
    five_clusters,
    moons,
    noisy_sine,
    spirals,
    truth_table,
    xor,
)

CLASSIFIERS = [
    (five_clusters, {}),
    (spirals, {"arms": 4}),
    (xor, {"noise": 0.1}),
    (circles, {"noise": 0.05}),
    (moons, {"noise": 0.1}),
    (blobs, {"centers": 4}),
]


@pytest.mark.parametrize("generator,options", CLASSIFIERS)
def test_types_and_determinism(generator, options) -> None:
    x1, y1 = generator(101, seed=7, **options)
    x2, y2 = generator(101, seed=7, **options)
    x3, _ = generator(101, seed=8, **options)
    assert x1.shape == (101, 2) and x1.dtype == np.float32
    assert y1.shape == (101,) and y1.dtype == np.int64
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    # A Generator is accepted and advanced: two calls give different data.
    rng = np.random.default_rng(7)
    a, _ = generator(101, seed=rng, **options)
    b, _ = generator(101, seed=rng, **options)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    "generator,options,k",
    [
        (spirals, {"arms": 3}, 3),
        (spirals, {"arms": 5}, 5),
        (xor, {}, 2),
        (circles, {}, 2),
        (moons, {}, 2),
        (blobs, {"centers": 3}, 3),
    ],
)
def test_classes_balanced_and_shuffled(generator, options, k) -> None:
    _, y = generator(301, seed=0, **options)
    counts = np.bincount(y, minlength=k)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 301
    assert len(set(y[:30].tolist())) > 1  # shuffled: not one class block after another


def test_five_clusters_rule_holds_for_every_point() -> None:
    x, y = five_clusters(20000, seed=0)
    s = x[:, 0].astype(np.float64) + x[:, 1]
    d = x[:, 0].astype(np.float64) - x[:, 1]
    expected = np.full(len(x), 4)
    expected[(s >= 1) & (d < -1)] = 0
    expected[(s >= 1) & (d >= 1)] = 1
    expected[(s < -1) & (d >= 1)] = 2
    expected[(s < -1) & (d < -1)] = 3
    np.testing.assert_array_equal(y, expected)
    # x and y are N(0, 2^2); s and d are independent N(0, 8), so each corner class holds
    # P(s >= 1) * P(d < -1) = 0.3618^2 = 13.1% of the points, class 4 the remaining 47.6%.
    share = np.bincount(y, minlength=5) / len(y)
    np.testing.assert_allclose(share, [0.131, 0.131, 0.131, 0.131, 0.476], atol=0.015)
    np.testing.assert_allclose(x.std(axis=0), [2.0, 2.0], atol=0.05)


def test_xor_quadrant_rule() -> None:
    x, y = xor(400, noise=0.0, seed=1)
    assert (np.abs(x) <= 1).all() and (x != 0).all()
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    quadrants = np.bincount((x[:, 0] > 0) * 2 + (x[:, 1] > 0), minlength=4)
    assert quadrants.tolist() == [100, 100, 100, 100]
    noisy_x, noisy_y = xor(400, noise=0.05, seed=1)
    agree = (noisy_y == (noisy_x[:, 0] * noisy_x[:, 1] < 0)).mean()
    assert 0.9 < agree < 1.0


def test_circles_radii() -> None:
    x, y = circles(300, noise=0.0, factor=0.3, seed=2)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-6)


def test_moons_geometry() -> None:
    x, y = moons(300, noise=0.0, seed=3)
    upper, lower = x[y == 0].astype(np.float64), x[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (lower[:, 1] <= 0.5 + 1e-6).all()


def test_spirals_geometry() -> None:
    x, y = spirals(300, arms=3, noise=0.0, seed=0)
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.max() <= 1.0 + 1e-6
    for arm in range(3):
        r = np.sort(radius[y == arm])
        np.testing.assert_allclose(r, np.linspace(0, 1, 100), atol=1e-6)


def test_blobs_centres() -> None:
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    x, y = blobs(2000, centers=centres, std=[0.5, 1.0], seed=4)
    assert x.shape == (2000, 3)
    np.testing.assert_allclose(x[y == 1].mean(axis=0), centres[1], atol=0.1)
    np.testing.assert_allclose(x[y == 0].std(axis=0), 0.5, atol=0.05)
    np.testing.assert_allclose(x[y == 1].std(axis=0), 1.0, atol=0.08)


def test_truth_table() -> None:
    x, y = truth_table()
    assert x.tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
    assert y.tolist() == [0, 1, 1, 0]
    assert x.dtype == np.float32 and y.dtype == np.int64


def test_noisy_sine() -> None:
    x, y = noisy_sine(5000, noise=0.1, seed=5)
    assert x.shape == y.shape == (5000, 1) and x.dtype == y.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 2 * np.pi
    residual = y - np.sin(x)
    assert abs(residual.std() - 0.1) < 0.005
    clean_x, clean_y = noisy_sine(50, noise=0.0, seed=5)
    np.testing.assert_allclose(clean_y, np.sin(clean_x), atol=1e-6)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: spirals(0), "n must be an integer >= 1"),
        (lambda: spirals(10.0), "n must be an integer"),
        (lambda: xor(True), "n must be an integer"),
        (lambda: spirals(2, arms=3), "at least the number of classes"),
        (lambda: spirals(10, arms=0), "arms"),
        (lambda: circles(10, noise=-1), "noise must be >= 0"),
        (lambda: circles(10, factor=1.0), r"factor must be in \(0, 1\)"),
        (lambda: moons(10, noise=float("nan")), "finite"),
        (lambda: blobs(10, centers=np.zeros(3)), r"shape \(k, d\)"),
        (lambda: blobs(10, std=0), "std must be a positive"),
        (lambda: blobs(10, centers=2, std=[1, 2, 3]), "one per centre"),
        (lambda: noisy_sine(10, low=1, high=0), "low < high"),
        (lambda: five_clusters(10, seed=-1), "non-negative"),
        (lambda: five_clusters(10, seed="abc"), "Generator"),
    ],
)
def test_argument_validation(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()
