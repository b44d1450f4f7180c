import numpy as np
import pytest

from nnscratch.core import losses as L

RNG = np.random.default_rng(0)


def numeric_grad(loss, a, y, eps=1e-6):
    g = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        plus, minus = a.copy(), a.copy()
        plus[idx] += eps
        minus[idx] -= eps
        g[idx] = (loss.value(plus, y) - loss.value(minus, y)) / (2 * eps)
    return g


def head_and_targets(name, n=5, k=3):
    z = RNG.normal(size=(n, k))
    labels = RNG.integers(0, k, size=n)
    onehot = np.eye(k)[labels]
    if name == "binary_cross_entropy":
        return 1 / (1 + np.exp(-z)), RNG.uniform(size=(n, k))
    if name == "binary_cross_entropy_with_logits":
        return z, RNG.uniform(size=(n, k))
    if name == "categorical_cross_entropy":
        e = np.exp(z)
        return e / e.sum(1, keepdims=True), onehot
    return z, onehot


@pytest.mark.parametrize("name", list(L.LOSSES))
def test_gradient_matches_finite_differences(name):
    loss = L.get_loss(name)
    a, y = head_and_targets(name)
    np.testing.assert_allclose(loss.gradient(a, y), numeric_grad(loss, a, y), rtol=1e-6, atol=1e-9)
    value, grad = loss.value_and_gradient(a, y)
    assert value == pytest.approx(loss.value(a, y))
    np.testing.assert_allclose(grad, loss.gradient(a, y))


def test_scalings_stated_in_docstrings():
    a = np.array([[1.0, 2.0], [3.0, 5.0]])
    y = np.array([[0.0, 2.0], [1.0, 1.0]])
    sq = 1 + 0 + 4 + 16
    assert L.MSE().value(a, y) == pytest.approx(sq / 4)
    assert L.SSE().value(a, y) == pytest.approx(sq / 2)
    assert L.QuadraticCost().value(a, y) == pytest.approx(sq / (2 * 2))
    np.testing.assert_allclose(L.SSE().gradient(a, y), a - y)


def test_softmax_cross_entropy_gradient_is_softmax_minus_target_over_n():
    z = np.array([[0.3, 2.9, 4.0], [1.0, 1.0, 1.0]])
    labels = np.array([2, 0])
    s = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    expected = (s - np.eye(3)[labels]) / 2
    np.testing.assert_allclose(L.SoftmaxCrossEntropy().gradient(z, labels), expected, rtol=1e-12)
    expected_value = -(np.log(s[0, 2]) + np.log(s[1, 0])) / 2
    assert L.SoftmaxCrossEntropy().value(z, labels) == pytest.approx(expected_value, rel=1e-12)


def test_integer_labels_and_one_hot_agree():
    z = RNG.normal(size=(6, 4))
    labels = np.array([0, 3, 1, 2, 3, 0])
    onehot = np.eye(4)[labels]
    for name in ("softmax_cross_entropy", "mse", "sse", "quadratic"):
        loss = L.get_loss(name)
        assert loss.value(z, labels) == pytest.approx(loss.value(z, onehot))
        np.testing.assert_allclose(loss.gradient(z, labels), loss.gradient(z, onehot))


def test_huge_logits_stay_finite():
    z = np.array([[1e4, -1e4, 0.0]], dtype=np.float32)
    value, grad = L.SoftmaxCrossEntropy().value_and_gradient(z, np.array([1]))
    assert np.isfinite(value) and value == pytest.approx(2e4, rel=1e-6)
    assert np.isfinite(grad).all()
    bce = L.BinaryCrossEntropyWithLogits().value(
        np.array([[1e4], [-1e4]]), np.array([[0.0], [1.0]])
    )
    assert bce == pytest.approx(1e4)


def test_binary_cross_entropy_epsilon_guard():
    loss = L.BinaryCrossEntropy(eps=1e-7)
    value = loss.value(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]))
    assert np.isfinite(value) and value == pytest.approx(-np.log(1e-7), rel=1e-6)
    assert np.isfinite(loss.gradient(np.array([[0.0]]), np.array([[1.0]]))).all()


def test_float32_stays_float32():
    z = RNG.normal(size=(4, 3)).astype(np.float32)
    _, grad = L.SoftmaxCrossEntropy().value_and_gradient(z, np.array([0, 1, 2, 0]))
    assert grad.dtype == np.float32
    assert L.MSE().gradient(z, np.array([0, 1, 2, 0])).dtype == np.float32


@pytest.mark.parametrize(
    "target, message",
    [
        (np.array([0, 1, 3]), r"labels must lie in \[0, 2\]"),
        (np.array([0, -1, 1]), r"labels must lie in \[0, 2\]"),
        (np.array([0, 1]), "batch sizes differ"),
        (np.zeros((3, 4)), r"shape \(3, 4\)"),
        (np.array([0.5, 1.0, 2.0]), "whole numbers"),
        (np.array([[0, 1, 0], [1, 0, 0], [0, 0, np.nan]]), "NaN"),
    ],
)
def test_bad_targets_raise_value_error_naming_the_problem(target, message):
    z = np.zeros((3, 3))
    with pytest.raises(ValueError, match=message):
        L.SoftmaxCrossEntropy().value(z, target)


def test_empty_batch_and_unknown_loss():
    with pytest.raises(ValueError, match="empty batch"):
        L.MSE().value(np.zeros((0, 2)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        L.get_loss("hinge")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        L.BinaryCrossEntropy().value(np.full((2, 1), 0.5), np.array([[2.0], [0.0]]))


def test_softmax_cross_entropy_gradient_for_rows_not_summing_to_one():
    z = RNG.normal(size=(4, 3))
    soft = np.array([[0.2, 0.3, 0.5], [0.0, 0.0, 2.0], [0.5, 0.0, 0.0], [1.0, 1.0, 1.0]])
    loss = L.SoftmaxCrossEntropy()
    np.testing.assert_allclose(
        loss.gradient(z, soft), numeric_grad(loss, z, soft), rtol=1e-6, atol=1e-9
    )
