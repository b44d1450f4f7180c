import warnings

import numpy as np
import pytest

from nnscratch.core import activations as A

DIFFERENTIABLE = [name for name, cls in A.ACTIVATIONS.items() if cls.differentiable]


def numeric_derivative(f, z, eps=1e-6):
    return (f(z + eps) - f(z - eps)) / (2 * eps)


@pytest.mark.parametrize("name", [n for n in DIFFERENTIABLE if n != "softmax"])
def test_derivative_matches_finite_differences(name):
    act = A.get_activation(name)
    # avoid the kink at 0 of ReLU-like functions
    z = np.array([[-3.0, -1.2, -0.4, 0.3, 0.9, 2.5]])
    numeric = numeric_derivative(act.forward, z)
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=1e-7, atol=1e-9)
    # backward = grad * f'(z), given the forward output
    g = np.linspace(-1, 1, z.size).reshape(z.shape)
    np.testing.assert_allclose(
        act.backward(z, act.forward(z), g), g * numeric, rtol=1e-7, atol=1e-9
    )


def test_softmax_backward_is_the_jacobian_vector_product():
    act = A.Softmax()
    z = np.array([[0.3, 2.9, 4.0], [-1.0, 0.0, 1.0]])
    s = act.forward(z)
    g = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, -3.0]])
    for row in range(2):
        jac = np.diag(s[row]) - np.outer(s[row], s[row])
        np.testing.assert_allclose(act.backward(z, s, g)[row], jac @ g[row], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(A.ACTIVATIONS))
def test_extreme_inputs_give_no_warning_and_no_nan(name, dtype):
    act = A.get_activation(name)
    z = np.array([[-1e4, -50.0, -0.0, 1e-3, 50.0, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = act.forward(z)
        deriv = act.derivative(z)
    assert out.dtype == dtype and deriv.dtype == dtype
    assert np.isfinite(out).all() and np.isfinite(deriv).all()


def test_known_values():
    z = np.array([-2.0, 0.0, 2.0])
    np.testing.assert_allclose(A.Sigmoid()(z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(A.ReLU()(z), [0, 0, 2])
    np.testing.assert_allclose(A.Step()(z), [0, 0, 1])
    np.testing.assert_allclose(A.LeakyReLU(0.1)(z), [-0.2, 0, 2])
    np.testing.assert_allclose(A.ELU()(z), [np.exp(-2) - 1, 0, 2])
    np.testing.assert_allclose(A.Softplus()(z), np.log1p(np.exp(z)))
    np.testing.assert_allclose(A.SELU()(np.array([1.0])), [1.0507009873554805])
    # GELU tanh form at 1: 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715))
    np.testing.assert_allclose(A.GELU()(np.array([1.0])), [0.8411919906082768], rtol=1e-12)
    # extreme arguments are exact, not merely finite
    assert A.Sigmoid()(np.array([-1e4]))[0] == 0.0 and A.Sigmoid()(np.array([1e4]))[0] == 1.0
    assert A.Softplus()(np.array([1e4]))[0] == 1e4


def test_seed_004_softmax_examples():
    sm = A.Softmax()
    np.testing.assert_allclose(
        sm(np.array([[0.3, 2.9, 4.0]])), [[0.01821127, 0.24519181, 0.73659691]], atol=1e-8
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sm(np.array([[1010.0, 1000.0, 990.0]]))
    np.testing.assert_allclose(out, [[9.99954600e-01, 4.53978686e-05, 2.06106005e-09]], rtol=1e-6)
    assert out.sum() == pytest.approx(1.0)


def test_step_cannot_be_backpropagated():
    with pytest.raises(ValueError, match="step"):
        A.Step().backward(np.zeros((1, 1)), np.zeros((1, 1)), np.ones((1, 1)))


def test_lookup_by_name_and_errors():
    assert isinstance(A.get_activation("ReLU"), A.ReLU)
    assert isinstance(A.get_activation("leaky-relu"), A.LeakyReLU)
    assert isinstance(A.get_activation(None), A.Identity)
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        A.get_activation("relux")
    with pytest.raises(TypeError):
        A.get_activation(3)
