import numpy as np
import pytest

from nnscratch.core import Perceptron


def separable(n=200, margin=0.2, seed=0):
    rng = np.random.default_rng(seed)
    w_true = np.array([1.0, -2.0])
    x = rng.uniform(-1, 1, size=(4 * n, 2))
    score = x @ w_true + 0.3
    keep = np.abs(score) / np.linalg.norm(w_true) > margin
    x, score = x[keep][:n], score[keep][:n]
    return x, np.where(score > 0, 1, -1), w_true


def test_perceptron_separates_linearly_separable_data_within_novikoff_bound():
    x, y, _ = separable()
    result = Perceptron(seed=0).fit(x, y)
    assert result.converged and result.mistakes_per_epoch[-1] == 0
    p = Perceptron(seed=0)
    p.fit(x, y)
    assert np.array_equal(p.predict(x), y)
    # Novikoff: updates <= (R / gamma)^2, with the bias folded in as a constant input 1.
    xa = np.hstack([x, np.ones((len(x), 1))])
    w = np.array([1.0, -2.0, 0.3])
    gamma = np.min(y * (xa @ w)) / np.linalg.norm(w)
    radius = np.linalg.norm(xa, axis=1).max()
    assert 0 < result.updates <= (radius / gamma) ** 2


def test_perceptron_on_xor_never_converges():
    x = np.array([[0.0, 0.0], [0, 1], [1, 0], [1, 1]])
    y = np.array([-1, 1, 1, -1])
    result = Perceptron(seed=0).fit(x, y, max_epochs=50)
    assert not result.converged and result.epochs == 50 and min(result.mistakes_per_epoch) > 0


def test_perceptron_input_errors():
    with pytest.raises(ValueError, match="-1 or \\+1"):
        Perceptron().fit(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        Perceptron().fit(np.zeros((2, 2)), np.array([1, -1, 1]))
    with pytest.raises(RuntimeError, match="not fitted"):
        Perceptron().predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="learning_rate"):
        Perceptron(learning_rate=0)
