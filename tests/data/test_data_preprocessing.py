"""Scalers, one-hot, splits, minibatches and image augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from nnscratch.data import (
    MinMaxScaler,
    NotFittedError,
    Standardizer,
    augment_mnist,
    expand_mnist,
    iterate_minibatches,
    load_mnist_sample,
    one_hot,
    rotate_images,
    shift_images,
    train_val_split,
)


@pytest.fixture(scope="module")
def sample():
    return load_mnist_sample(flatten=False)


# ----------------------------------------------------------------------------- scalers


def test_standardizer_fit_on_train_apply_to_test() -> None:
    rng = np.random.default_rng(0)
    train = (rng.normal(5, 3, (1000, 4))).astype(np.float32)
    train[:, 2] = 7.0  # zero-variance column
    test = (rng.normal(5, 3, (200, 4))).astype(np.float32)
    scaler = Standardizer()
    out = scaler.fit_transform(train)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0)[[0, 1, 3]], 1, atol=1e-4)
    assert np.isfinite(out).all() and (out[:, 2] == 0).all()
    test_out = scaler.transform(test)
    np.testing.assert_allclose(
        test_out[:, 0], (test[:, 0] - train[:, 0].mean()) / train[:, 0].std(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(scaler.inverse_transform(test_out), test, rtol=1e-5, atol=1e-4)
    assert test.dtype == np.float32  # input untouched


def test_standardizer_integer_and_float64_input() -> None:
    images = load_mnist_sample().x_train
    scaled = Standardizer().fit_transform(images)
    assert scaled.dtype == np.float32 and np.isfinite(scaled).all()  # blank border pixels
    wide = Standardizer().fit_transform(images[:100].astype(np.float64))
    assert wide.dtype == np.float64


def test_minmax_scaler() -> None:
    train = np.array([[0.0, 5.0, 1.0], [10.0, 5.0, 3.0]], dtype=np.float32)
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(train)
    np.testing.assert_allclose(scaler.transform(train), [[-1, -1, -1], [1, -1, 1]])
    np.testing.assert_allclose(scaler.transform(np.array([[20.0, 6.0, 2.0]])), [[3, 1, 0]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(train)), train)
    assert scaler.transform(train).dtype == np.float32


@pytest.mark.parametrize("cls", [Standardizer, MinMaxScaler])
def test_scaler_errors(cls) -> None:
    scaler = cls()
    with pytest.raises(NotFittedError, match="fit"):
        scaler.transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least one sample"):
        scaler.fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        scaler.fit(np.array([[1.0, np.nan]]))
    scaler.fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"feature shape \(3,\).*\(2,\)"):
        scaler.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="numeric"):
        cls().fit(np.array([["a"]]))


def test_minmax_bad_range() -> None:
    with pytest.raises(ValueError, match="low < high"):
        MinMaxScaler(feature_range=(1, 1))


# ----------------------------------------------------------------------------- one-hot


def test_one_hot() -> None:
    out = one_hot(np.array([2, 0, 1]), 4)
    assert out.dtype == np.float32 and out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    assert one_hot([[1], [0]], 2).shape == (2, 1, 2)
    assert one_hot(np.array([3], np.uint8)).shape == (1, 4)
    assert one_hot(np.array([], np.int64), 3).shape == (0, 3)
    assert one_hot([1], 2, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize(
    "labels,classes,message",
    [
        ([0, 10], 10, r"label 10 \(at flat index 1\) is outside the valid range 0..9"),
        ([-1, 0], 3, "label -1"),
        ([0.0, 1.0], 2, "integer class labels.*astype"),
        ([], None, "cannot infer num_classes"),
        ([0], 0, "num_classes must be an integer >= 1"),
    ],
)
def test_one_hot_validation(labels, classes, message) -> None:
    with pytest.raises(ValueError, match=message):
        one_hot(np.asarray(labels), classes)


# ----------------------------------------------------------------------------- splitting


def test_train_val_split_stratified() -> None:
    y = np.repeat(np.arange(3), [60, 30, 10])
    x = np.arange(100)[:, None] * np.ones((1, 2))
    xt, yt, xv, yv = train_val_split(x, y, val_fraction=0.2, seed=0)
    assert len(xv) == 20 and len(xt) == 80
    assert np.bincount(yv).tolist() == [12, 6, 2]
    assert sorted(np.concatenate([xt[:, 0], xv[:, 0]]).tolist()) == list(range(100))
    assert (np.diff(xt[:, 0]) > 0).all()  # original order kept
    again = train_val_split(x, y, val_fraction=0.2, seed=0)
    np.testing.assert_array_equal(again[2], xv)
    other = train_val_split(x, y, val_fraction=0.2, seed=1)
    assert not np.array_equal(other[2], xv)


def test_train_val_split_exact_size_and_rounding() -> None:
    y = np.repeat(np.arange(3), [5, 5, 5])
    _, _, _, yv = train_val_split(np.zeros(15), y, val_size=4)
    assert len(yv) == 4 and np.bincount(yv, minlength=3).max() == 2
    _, _, xv, _ = train_val_split(np.zeros(15), y, val_size=0)
    assert len(xv) == 0


def test_train_val_split_unstratified_regression() -> None:
    x, y = np.arange(50.0)[:, None], np.linspace(0, 1, 50)[:, None]
    xt, yt, xv, yv = train_val_split(x, y, val_size=10, stratify=False, seed=3)
    assert xv.shape == (10, 1) and yt.shape == (40, 1)
    np.testing.assert_array_equal(yv[:, 0], np.linspace(0, 1, 50)[xv[:, 0].astype(int)])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({}, "exactly one of"),
        ({"val_fraction": 0.1, "val_size": 3}, "exactly one of"),
        ({"val_fraction": 1.0}, r"\[0, 1\)"),
        ({"val_size": 10}, "at least one"),
        ({"val_size": 2.5}, "integer"),
    ],
)
def test_train_val_split_validation(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        train_val_split(np.zeros(10), np.zeros(10, int), **kwargs)


def test_split_mismatch_and_float_stratify() -> None:
    with pytest.raises(ValueError, match="same number of samples, got 3 and 4"):
        train_val_split(np.zeros(3), np.zeros(4), val_size=1)
    with pytest.raises(ValueError, match="stratify=False"):
        train_val_split(np.zeros(4), np.zeros(4), val_size=1)


# ----------------------------------------------------------------------------- minibatches


def test_minibatches_cover_each_sample_once() -> None:
    x = np.arange(103)[:, None]
    y = np.arange(103)
    seen = []
    for xb, yb in iterate_minibatches(x, y, 10, shuffle=True, seed=0):
        np.testing.assert_array_equal(xb[:, 0], yb)
        assert len(xb) <= 10
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(103)) and seen != list(range(103))


def test_minibatches_without_shuffle_are_views() -> None:
    x = np.arange(20.0).reshape(10, 2)
    batches = list(iterate_minibatches(x, None, 4, shuffle=False))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(np.shares_memory(b, x) for b in batches)
    dropped = list(iterate_minibatches(x, None, 4, shuffle=False, drop_last=True))
    assert [len(b) for b in dropped] == [4, 4]


def test_minibatches_shuffle_copies_only_a_batch() -> None:
    x = np.zeros((1000, 8), dtype=np.float32)
    batch = next(iter(iterate_minibatches(x, None, 16, seed=0)))
    assert batch.shape == (16, 8) and not np.shares_memory(batch, x)


def test_minibatches_epochs_differ_with_generator() -> None:
    rng = np.random.default_rng(0)
    y = np.arange(50)
    first = np.concatenate([b for _, b in iterate_minibatches(y, y, 10, seed=rng)])
    second = np.concatenate([b for _, b in iterate_minibatches(y, y, 10, seed=rng)])
    assert not np.array_equal(first, second)
    fixed = [np.concatenate([b for _, b in iterate_minibatches(y, y, 10, seed=5)]) for _ in "ab"]
    np.testing.assert_array_equal(*fixed)


def test_minibatch_arguments_checked_eagerly() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        iterate_minibatches(np.zeros(4), np.zeros(4), 0)
    with pytest.raises(ValueError, match="same number of samples"):
        iterate_minibatches(np.zeros(4), np.zeros(5), 2)


# ----------------------------------------------------------------------------- images


def test_shift_images() -> None:
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4) + 1
    out = shift_images(images, np.array([1, -2]), np.array([0, 1]))
    np.testing.assert_array_equal(out[0, 1:], images[0, :-1])
    assert (out[0, 0] == 0).all()
    np.testing.assert_array_equal(out[1, :2, 1:], images[1, 2:, :-1])
    assert (out[1, 2:] == 0).all() and (out[1, :, 0] == 0).all()
    assert (shift_images(images, 9, 0) == 0).all()  # shifted out entirely
    flat = shift_images(images.reshape(2, 16), 1, 1)
    assert flat.shape == (2, 16)


def test_rotation_exact_cases(sample) -> None:
    images = sample.x_train[:16]
    np.testing.assert_array_equal(rotate_images(images, 0.0), images)
    np.testing.assert_array_equal(rotate_images(images, 90.0), np.rot90(images, 1, axes=(1, 2)))
    np.testing.assert_array_equal(rotate_images(images, 180.0), images[:, ::-1, ::-1])
    np.testing.assert_array_equal(rotate_images(images, -90.0), np.rot90(images, -1, axes=(1, 2)))


def test_rotation_interpolates_and_preserves_mass(sample) -> None:
    images = sample.x_train[:64].astype(np.float32) / 255
    turned = rotate_images(images, 10.0)
    assert turned.dtype == np.float32 and turned.min() >= 0 and turned.max() <= 1 + 1e-6
    # Digits sit in the middle, so a small rotation keeps almost all the ink.
    np.testing.assert_allclose(turned.sum(axis=(1, 2)), images.sum(axis=(1, 2)), rtol=0.03)
    back = rotate_images(turned, -10.0)
    assert np.abs(back - images).mean() < 0.05


def test_augment_mnist(sample) -> None:
    images = sample.x_train[:500]
    out = augment_mnist(images, max_shift=2, max_rotation=15, seed=0)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert not np.array_equal(out, images)
    np.testing.assert_array_equal(out, augment_mnist(images, max_shift=2, max_rotation=15, seed=0))
    np.testing.assert_array_equal(augment_mnist(images, max_shift=0, max_rotation=0), images)
    flat = augment_mnist(images.reshape(500, 784), seed=1)
    assert flat.shape == (500, 784)
    ink_ratio = out.astype(float).sum() / images.astype(float).sum()
    assert 0.95 < ink_ratio < 1.05


def test_augment_shift_only_is_a_pure_translation(sample) -> None:
    images = sample.x_train[:200]
    out = augment_mnist(images, max_shift=1, max_rotation=0, seed=3)
    candidates = [shift_images(images, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    matches = np.any([np.all(c == out, axis=(1, 2)) for c in candidates], axis=0)
    assert matches.all()


def test_augment_is_vectorised_fast(sample) -> None:
    import time

    images = np.concatenate([sample.x_train] * 2)  # 10,000 images
    start = time.perf_counter()
    augment_mnist(images, seed=0)
    assert time.perf_counter() - start < 10  # per-sample Python loops would take minutes


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"max_shift": -1}, "max_shift"),
        ({"max_shift": 1.5}, "max_shift"),
        ({"max_rotation": -5}, "max_rotation"),
        ({"max_rotation": 200}, "at most 180"),
    ],
)
def test_augment_validation(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        augment_mnist(np.zeros((2, 28, 28), np.uint8), **kwargs)


def test_image_shape_validation() -> None:
    with pytest.raises(ValueError, match="square number of pixels"):
        augment_mnist(np.zeros((2, 780), np.uint8))
    with pytest.raises(ValueError, match=r"\(n, height, width\)"):
        rotate_images(np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="integers"):
        shift_images(np.zeros((1, 4, 4)), 0.5, 0)


def test_expand_mnist(sample) -> None:
    images, labels = sample.x_train[:10], sample.y_train[:10]
    big, big_labels = expand_mnist(images, labels)
    assert big.shape == (50, 28, 28) and big.dtype == np.uint8
    np.testing.assert_array_equal(big_labels, np.tile(labels, 5))
    np.testing.assert_array_equal(big[:10], images)
    np.testing.assert_array_equal(big[10:20], shift_images(images, -1, 0))  # up
    np.testing.assert_array_equal(big[20:30], shift_images(images, 1, 0))  # down
    np.testing.assert_array_equal(big[30:40], shift_images(images, 0, -1))  # left
    np.testing.assert_array_equal(big[40:50], shift_images(images, 0, 1))  # right
    flat, _ = expand_mnist(images.reshape(10, 784), labels)
    assert flat.shape == (50, 784)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        expand_mnist(images, labels[:9])
