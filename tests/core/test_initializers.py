import numpy as np
import pytest

from nnscratch.core import initializers as I


@pytest.mark.parametrize(
    "init, expected_std",
    [
        (I.Glorot(), np.sqrt(2 / (400 + 300))),
        (I.Glorot("uniform"), np.sqrt(2 / (400 + 300))),
        (I.He(), np.sqrt(2 / 400)),
        (I.He("uniform"), np.sqrt(2 / 400)),
        (I.LeCun(), np.sqrt(1 / 400)),
        (I.Nielsen(), np.sqrt(1 / 400)),
        (I.Normal(0.05), 0.05),
        (I.Uniform(0.1), 0.1 / np.sqrt(3)),
        (I.StandardNormal(), 1.0),
    ],
)
def test_scales(init, expected_std):
    w = init((400, 300), np.random.default_rng(0), np.float32)
    assert w.dtype == np.float32 and w.shape == (400, 300)
    assert abs(w.mean()) < 0.01 * expected_std * 10
    assert w.std() == pytest.approx(expected_std, rel=0.02)


def test_uniform_bounds():
    w = I.Glorot("uniform")((50, 70), np.random.default_rng(0))
    assert np.abs(w).max() <= np.sqrt(6 / 120) + 1e-7


def test_constant_weights_warn_about_symmetry():
    with pytest.warns(UserWarning, match="never break symmetry"):
        w = I.Zeros()((3, 4), np.random.default_rng(0))
    assert not w.any()
    assert np.all(I.Constant(0.5)((2,), np.random.default_rng(0)) == 0.5)


def test_seeded_and_generator_reproducible():
    a = I.He()((5, 5), I.as_generator(3))
    b = I.He()((5, 5), I.as_generator(np.random.default_rng(3)))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError):
        I.as_generator("seed")


def test_lookup():
    assert isinstance(I.get_initializer("xavier"), I.Glorot)
    assert I.get_initializer("he_uniform").distribution == "uniform"
    assert isinstance(I.get_initializer(0.1), I.Constant)
    with pytest.raises(ValueError, match="unknown initializer"):
        I.get_initializer("orthogonal")
    with pytest.raises(ValueError, match="std must be >= 0"):
        I.Normal(-1)
