"""Image augmentation: exact geometry on hand-made images, reproducibility, and ``fit(augment=)``."""

import math

import numpy as np
import pytest

import nnscratch as nn
from nnscratch.data import load_mnist_sample
from nnscratch.data.augment import (
    Augmenter,
    Compose,
    RandomAffine,
    RandomRotation,
    RandomShift,
    affine,
    rotate,
    shift,
)


def one_pixel(h=4, w=4, row=1, col=2, value=7.0):
    image = np.zeros((1, 1, h, w), np.float32)
    image[0, 0, row, col] = value
    return image


# -- geometry ---------------------------------------------------------------------------------
def test_one_pixel_shift_moves_a_known_pixel():
    moved = shift(one_pixel(), 1, -1)  # one down, one left
    expected = np.zeros((1, 1, 4, 4), np.float32)
    expected[0, 0, 2, 1] = 7.0
    np.testing.assert_array_equal(moved, expected)
    assert not shift(one_pixel(), 0, 2).any()  # (1, 2) -> (1, 4): off the image, zero fill
    assert not shift(one_pixel(), 9, 0).any()


def test_random_shift_moves_each_image_by_its_drawn_offsets():
    rng = np.random.default_rng(5)
    images = rng.random((6, 2, 5, 5)).astype(np.float32)
    dy, dx = np.random.default_rng(11).integers(-2, 3, size=(2, 6))
    moved = RandomShift(2)(images, np.random.default_rng(11))
    for n in range(6):
        padded = np.pad(images[n], ((0, 0), (2, 2), (2, 2)))
        rows = slice(2 - dy[n], 7 - dy[n])
        cols = slice(2 - dx[n], 7 - dx[n])
        np.testing.assert_array_equal(moved[n], padded[:, rows, cols])
    assert len({(a, b) for a, b in zip(dy, dx, strict=True)}) > 1  # not one shift for all


def test_quarter_turns_equal_rot90_exactly():
    rng = np.random.default_rng(0)
    for side in (4, 5, 28):
        images = rng.random((3, 2, side, side)).astype(np.float32)
        for angle, k in ((90, 1), (-90, -1), (180, 2)):
            turned = RandomRotation((angle, angle))(images, rng)
            np.testing.assert_array_equal(turned, np.rot90(images, k, axes=(2, 3)))
    # a known pixel: counter-clockwise, so the right end of row 0 goes to the top of column 0
    np.testing.assert_array_equal(rotate(one_pixel(row=0, col=3), 90)[0, 0, 0], [7, 0, 0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_identity_parameters_give_the_input_back_exactly(dtype):
    rng = np.random.default_rng(1)
    images = (rng.random((4, 3, 6, 7)) * 200).astype(dtype)
    for transform in (
        RandomShift(0),
        RandomRotation(0),
        RandomRotation(0, interpolation="nearest"),
        RandomAffine(),
        Compose([RandomShift(0), RandomAffine(0, 0, 0, 0)]),
    ):
        out = transform(images, rng)
        assert out.dtype == images.dtype and out.shape == images.shape
        np.testing.assert_array_equal(out, images)
    np.testing.assert_array_equal(affine(images, np.eye(2)), images)
    np.testing.assert_array_equal(affine(images, np.eye(2), (2.0, -1.0)), shift(images, -1, 2))


def test_half_pixel_translation_averages_neighbours_with_zero_fill():
    row = np.array([[[[2.0, 4.0, 6.0, 8.0]]]], np.float32)
    # t = (0.5, 0): output x reads input x - 0.5, halfway between x - 1 and x
    np.testing.assert_array_equal(affine(row, np.eye(2), (0.5, 0.0)), [[[[1, 3, 5, 7]]]])
    np.testing.assert_array_equal(
        affine(row, np.eye(2), (0.5, 0.0), interpolation="nearest"), row
    )  # x - 0.5 rounds half up to x


def test_scaling_and_shear_follow_the_documented_matrix():
    image = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    zoom = affine(image, 2 * np.eye(2))[0, 0]  # q = (p - c) / 2 + c, c = (2, 2)
    assert zoom[0, 0] == image[0, 0, 1, 1] and zoom[4, 4] == image[0, 0, 3, 3]
    assert zoom[2, 2] == image[0, 0, 2, 2] and zoom[0, 2] == image[0, 0, 1, 2]
    # S = [[1, 1], [0, 1]] moves content right by its offset below the centre: x' = x + y
    sheared = affine(image, [[1.0, 1.0], [0.0, 1.0]])[0, 0]
    np.testing.assert_array_equal(sheared[4, 2:], image[0, 0, 4, :3])  # row y=+2 moves 2 right
    np.testing.assert_array_equal(sheared[0, :3], image[0, 0, 0, 2:])  # row y=-2 moves 2 left
    np.testing.assert_array_equal(sheared[2], image[0, 0, 2])


def reference_warp(image, matrix, t):
    """Bilinear inverse mapping, one pixel at a time, straight from the module's docstring."""
    h, w = image.shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    inverse = np.linalg.inv(matrix)
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            qx, qy = inverse @ (np.array([j - cx, i - cy]) - t) + (cx, cy)
            x0, y0 = math.floor(qx), math.floor(qy)
            for yy, xx, weight in (
                (y0, x0, (1 - (qy - y0)) * (1 - (qx - x0))),
                (y0, x0 + 1, (1 - (qy - y0)) * (qx - x0)),
                (y0 + 1, x0, (qy - y0) * (1 - (qx - x0))),
                (y0 + 1, x0 + 1, (qy - y0) * (qx - x0)),
            ):
                if 0 <= yy < h and 0 <= xx < w:
                    out[i, j] += weight * image[yy, xx]
    return out


def test_random_affine_matches_a_per_pixel_reference():
    rng = np.random.default_rng(3)
    images = rng.random((5, 1, 9, 8))
    transform = RandomAffine(25, 2.0, 0.2, 15)
    warped = transform(images, np.random.default_rng(4))
    u = 2.0 * np.random.default_rng(4).random((5, 5)) - 1.0  # the documented draws
    for n in range(5):
        theta, phi = np.deg2rad(u[0, n] * 25), np.deg2rad(u[1, n] * 15)
        rotation = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
        matrix = rotation @ np.array([[1, np.tan(phi)], [0, 1]]) * (1 + 0.2 * u[2, n])
        expected = reference_warp(images[n, 0], matrix, 2.0 * u[3:, n])
        np.testing.assert_allclose(warped[n, 0], expected, rtol=0, atol=1e-12)


def test_layouts_flat_rows_and_channels_agree():
    rng = np.random.default_rng(2)
    images = rng.random((4, 3, 6, 6)).astype(np.float32)
    transform = RandomAffine(20, 1.0, 0.1, 10, image_shape=(3, 6, 6))
    as_images = transform(images, np.random.default_rng(9))
    as_rows = transform(images.reshape(4, -1), np.random.default_rng(9))
    np.testing.assert_array_equal(as_rows, as_images.reshape(4, -1))
    # every channel of an image gets the same transform
    gray = RandomAffine(20, 1.0, 0.1, 10)(images[:, 1], np.random.default_rng(9))
    np.testing.assert_array_equal(gray, as_images[:, 1])


# -- reproducibility and buffers --------------------------------------------------------------
def test_same_seed_same_batches_bitwise_and_out_is_filled():
    images = load_mnist_sample(normalize=True).x_train[:64]
    transform = Compose(
        [RandomRotation(10), RandomShift(2), RandomAffine(5, 1.0, 0.1, 5)], image_shape=(28, 28)
    )
    buffer = np.empty_like(images)
    first = transform(images, np.random.default_rng(123), out=buffer)
    second = transform(images, np.random.default_rng(123))
    assert first is buffer and first.dtype == np.float32 and first.shape == (64, 784)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, transform(images, np.random.default_rng(124)))
    # Compose is its members in order, on one generator
    rng = np.random.default_rng(123)
    step = RandomRotation(10, image_shape=(28, 28))(images, rng)
    step = RandomShift(2, image_shape=(28, 28))(step, rng)
    step = RandomAffine(5, 1.0, 0.1, 5, image_shape=(28, 28))(step, rng)
    np.testing.assert_array_equal(step, first)


# -- Model.fit(augment=) -----------------------------------------------------------------------
class CountingShift(RandomShift):
    """RandomShift(1) that records the size of every batch it transforms."""

    def __init__(self):
        super().__init__(1, image_shape=(28, 28))
        self.sizes = []

    def _apply(self, batch, rng, target):
        self.sizes.append(batch.shape[0])
        super()._apply(batch, rng, target)


def sample(n=600):
    data = load_mnist_sample(normalize=True)
    return data.x_train[:n], data.y_train[:n], data.x_test[:200], data.y_test[:200]


def small_model(seed=0):
    return nn.Model(nn.mlp([784, 32, 10], "relu", seed=seed), optimizer=nn.Adam(1e-3))


def test_fit_augments_every_training_batch_and_never_validation():
    x, y, x_val, y_val = sample()
    counting = CountingShift()
    model = small_model()
    model.fit(
        x, y, epochs=2, batch_size=128, seed=0, verbose=0, augment=counting,
        validation_data=(x_val, y_val),
    )  # fmt: skip
    assert counting.sizes == [128, 128, 128, 128, 88] * 2  # training batches only
    assert model.history["val_loss"][-1] == model.evaluate(x_val, y_val)["loss"]
    plain = small_model()
    plain.fit(x, y, epochs=2, batch_size=128, seed=0, verbose=0)
    assert not np.array_equal(
        plain.network.flat_parameter.value, model.network.flat_parameter.value
    )


def test_resume_with_augmentation_is_bitwise_identical(tmp_path):
    x, y, _, _ = sample()
    jitter = Compose([RandomAffine(8, 1.0, 0.05, 5), RandomShift(1)], image_shape=(1, 28, 28))
    straight = small_model()
    straight.fit(x, y, epochs=4, batch_size=64, seed=7, verbose=0, augment=jitter)
    first = small_model()
    checkpoint = nn.ModelCheckpoint(tmp_path / "ckpt-{epoch}.npz")
    first.fit(
        x, y, epochs=2, batch_size=64, seed=7, verbose=0, augment=jitter, callbacks=[checkpoint]
    )
    resumed = nn.Model.load(tmp_path / "ckpt-2.npz")
    resumed.fit(x, y, epochs=2, batch_size=64, verbose=0, augment=jitter)
    np.testing.assert_array_equal(
        resumed.network.flat_parameter.value, straight.network.flat_parameter.value
    )
    assert resumed.history["loss"] == straight.history["loss"]
    again = small_model()
    again.fit(x, y, epochs=4, batch_size=64, seed=7, verbose=0, augment=jitter)
    np.testing.assert_array_equal(
        again.network.flat_parameter.value, straight.network.flat_parameter.value
    )


def test_random_shift_on_the_mnist_sample_does_not_hurt():
    data = load_mnist_sample(normalize=True)
    accuracy = {}
    for name, augment in (("plain", None), ("shifted", RandomShift(1, image_shape=(28, 28)))):
        model = nn.Model(nn.mlp([784, 100, 10], "relu", seed=0), optimizer=nn.Adam(1e-3))
        model.fit(
            data.x_train, data.y_train, epochs=15, batch_size=32, seed=0, verbose=0,
            augment=augment,
        )  # fmt: skip
        accuracy[name] = model.evaluate(data.x_test, data.y_test)["accuracy"]
    assert accuracy["shifted"] > 0.945, accuracy
    assert accuracy["shifted"] >= accuracy["plain"], accuracy


@pytest.mark.parametrize(
    ("augment", "message"),
    [
        (RandomShift(1), r"flat rows of 784 features need the transform's image_shape"),
        (RandomShift(1, image_shape=(27, 27)), r"holds 729 values but the input has 784"),
        (RandomRotation(5, image_shape=(3, 28, 28)), r"holds 2352 values"),
        (lambda batch, rng: batch, r"augment must be a transform of nnscratch.data.augment"),
    ],
)
def test_fit_refuses_an_augmenter_that_does_not_fit_the_input(augment, message):
    x, y, _, _ = sample(100)
    model = small_model()
    before = model.network.flat_parameter.value.copy()
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, epochs=1, seed=0, verbose=0, augment=augment)
    np.testing.assert_array_equal(model.network.flat_parameter.value, before)
    assert model.epoch == 0 and model.history.epochs == []


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: RandomRotation(-5), r"RandomRotation: max_degrees must be between 0 and 180"),
        (lambda: RandomRotation(200), r"between 0 and 180, got 200"),
        (lambda: RandomRotation((10, -10)), r"needs -180 <= low <= high <= 180"),
        (lambda: RandomRotation(float("nan")), r"max_degrees must be finite"),
        (lambda: RandomRotation("5"), r"max_degrees must be a number, got str"),
        (lambda: RandomRotation(5, interpolation="cubic"), r"interpolation must be one of"),
        (lambda: RandomShift(-1), r"RandomShift: max_pixels must be an integer >= 0, got -1"),
        (lambda: RandomShift(1.5), r"max_pixels must be an integer >= 0, got 1.5"),
        (lambda: RandomAffine(max_degrees=-1), r"RandomAffine: max_degrees must be between"),
        (lambda: RandomAffine(max_shift=-2), r"max_shift must be >= 0 pixels"),
        (lambda: RandomAffine(max_scale=1.0), r"max_scale must be in \[0, 1\)"),
        (lambda: RandomAffine(max_shear=75), r"max_shear must be between 0 and 60"),
        (lambda: RandomAffine(max_degrees=(1, 2)), r"max_degrees and max_shear are single"),
        (lambda: RandomShift(1, image_shape=(0, 28)), r"image_shape must hold positive integers"),
        (lambda: RandomShift(1, image_shape=784), r"image_shape must be \(C, H, W\) or \(H, W\)"),
        (lambda: Compose([]), r"Compose: transforms must be a non-empty list"),
        (lambda: Compose([RandomShift(1), "shift"]), r"non-empty list of augmenters"),
        (
            lambda: Compose(
                [RandomShift(1, image_shape=(28, 28)), RandomShift(1, image_shape=(3, 8, 8))]
            ),
            r"Compose: the transforms name different image shapes",
        ),
    ],
)
def test_bad_parameters_are_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_batches_are_clear_errors():
    rng = np.random.default_rng(0)
    shift1 = RandomShift(1)
    images = np.zeros((2, 1, 4, 4), np.float32)
    cases = [
        (lambda: shift1(np.zeros(16), rng), r"expected a batch of images .* got shape \(16,\)"),
        (lambda: shift1(np.zeros((1, 1, 1, 4, 4)), rng), r"got shape \(1, 1, 1, 4, 4\)"),
        (lambda: shift1(np.zeros((2, 16)), rng), r"flat rows of 16 values need image_shape"),
        (
            lambda: RandomShift(1, image_shape=(5, 5))(np.zeros((2, 16)), rng),
            r"rows of 16 values do not hold images of shape \(1, 5, 5\) \(25 values\)",
        ),
        (
            lambda: RandomShift(1, image_shape=(3, 4, 4))(images, rng),
            r"images of shape \(1, 4, 4\) \(C, H, W\) do not match image_shape=\(3, 4, 4\)",
        ),
        (lambda: shift1(np.array([["a"]]), rng), r"images must be numeric, got an array of <U1"),
        (lambda: shift1(images, 0), r"rng must be a numpy.random.Generator, got int"),
        (lambda: shift1(images, rng, out=np.empty((2, 16), np.float32)), r"out must be an array"),
        (lambda: shift1(images, rng, out=np.empty_like(images, np.float64)), r"float32"),
        (lambda: shift1(images, rng, out=images), r"out must not overlap the input"),
        (lambda: shift(images, 0.5, 0), r"shift: dy and dx must be integers"),
        (lambda: shift(images, [1, 2, 3], 0), r"dy must be one value or one per image \(2\)"),
        (lambda: rotate(images, np.inf), r"rotate: degrees must be finite"),
        (lambda: rotate(images, "ten"), r"rotate: degrees must be numbers, got 'ten'"),
        (lambda: rotate(images, [1.0, 2.0, 3.0]), r"one 2 x 2 per image \(2 x 2 x 2\)"),
        (lambda: rotate(images, 5, interpolation="area"), r"rotate: interpolation must be one"),
        (lambda: affine(images, [["a", 1], [0, 1]]), r"affine: matrices must be numbers"),
        (lambda: affine(images, np.zeros((2, 2))), r"every matrix must be invertible"),
        (lambda: affine(images, np.eye(3)), r"matrices must be 2 x 2 or one 2 x 2 per image"),
        (lambda: affine(images, np.eye(2), (1.0,)), r"translations must be \(tx, ty\)"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_augmenter_base_and_empty_batch():
    assert isinstance(RandomShift(1), Augmenter)
    empty = np.zeros((0, 784), np.float32)
    out = RandomAffine(5, image_shape=(28, 28))(empty, np.random.default_rng(0))
    assert out.shape == (0, 784) and out.dtype == np.float32


def test_a_shift_that_can_move_the_whole_image_out_of_view_is_refused():
    shift = RandomShift(28, image_shape=(1, 28, 28))
    with pytest.raises(
        ValueError, match=r"move a whole 28x28 image out of view; use max_pixels < 28"
    ):
        shift.check_sample_shape((784,))
    RandomShift(27, image_shape=(1, 28, 28)).check_sample_shape((784,))  # some pixels stay
    with pytest.raises(ValueError, match="out of view"):
        RandomShift(5).check_sample_shape((1, 4, 4))
