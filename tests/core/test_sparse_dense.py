"""The Dense layer on sparse rows: Z = X W + b and dL/dW = X^T dL/dZ from the non-zeros only,
equal to the dense computation."""

import numpy as np
import pytest
import scipy.sparse as sp

import nnscratch as nn
from nnscratch.core.sparse import check_sparse_input, is_sparse, sparse_weight_gradient


def rows(dtype=np.float64) -> sp.csr_matrix:
    """5 x 8 rows; row 2 has no non-zero, column 6 is never used, row 4 repeats a column
    (CSR may hold duplicates: they add up)."""
    data = np.array([1.5, -2.0, 0.25, 3.0, 1.0, -1.0, 2.0, 0.5], dtype)
    indices = np.array([0, 3, 7, 1, 2, 5, 4, 4], np.int32)
    indptr = np.array([0, 3, 4, 4, 6, 8], np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(5, 8))


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-14), (np.float32, 1e-6)])
@pytest.mark.parametrize("activation", [None, "relu", "tanh", "softmax"])
def test_dense_forward_and_backward_on_sparse_rows_equal_the_dense_computation(
    dtype, atol, activation
) -> None:
    x = rows(dtype)
    dense_x = x.toarray()
    assert dense_x[4, 4] == 2.5  # the duplicate entries add up
    g = np.random.default_rng(0).normal(size=(5, 3)).astype(dtype)
    results = []
    for given in (x, dense_x):
        layer = nn.Dense(3, activation)
        layer.build(8, np.random.default_rng(1), dtype)
        a = layer.forward(given, training=True).copy()
        dx = layer.backward(g, need_input_grad=True).copy()
        results.append((a, dx, layer.W.grad.copy(), layer.b.grad.copy()))
    for sparse_value, dense_value in zip(*results, strict=True):
        assert sparse_value.dtype == dtype and isinstance(sparse_value, np.ndarray)
        np.testing.assert_allclose(sparse_value, dense_value, rtol=0, atol=atol)
    w_grad = results[0][2]
    assert not w_grad[6].any()  # a feature absent from the batch gets no gradient


def test_the_weight_gradient_overwrites_the_previous_one() -> None:
    out = np.full((8, 2), 7.0)
    sparse_weight_gradient(rows(), np.ones((5, 2)), out)
    np.testing.assert_allclose(out, rows().toarray().T @ np.ones((5, 2)))
    empty = sp.csr_matrix((3, 8))
    sparse_weight_gradient(empty, np.ones((3, 2)), out)
    assert not out.any()


def test_a_network_runs_and_backpropagates_sparse_rows_as_dense_ones() -> None:
    net = nn.mlp([8, 6, 4], "relu", batch_norm=True, dropout=0.0, seed=0, dtype=np.float64)
    x = rows()
    np.testing.assert_allclose(net.forward(x), net.forward(x.toarray()), atol=1e-14)
    np.testing.assert_allclose(net.predict(x, batch_size=2), net.predict(x.toarray()), atol=1e-14)
    grads = []
    for given in (x, x.toarray()):
        net._forward(given, training=True)
        dx = net.backward(np.ones((5, 4)), need_input_grad=True)
        grads.append((dx.copy(), net.flat_parameter.grad.copy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], atol=1e-14)
    np.testing.assert_allclose(grads[0][1], grads[1][1], atol=1e-14)


def test_a_sparse_batch_that_reaches_a_layer_other_than_dense_is_refused() -> None:
    net = nn.Sequential([nn.Dropout(0.5), nn.Dense(2)], 8, seed=0)
    with pytest.raises(ValueError, match=r"a sparse matrix reached layer 0 \(Dropout"):
        net._forward(rows(np.float32), training=True)
    with pytest.raises(ValueError, match=r"which only a network whose first layer is Dense"):
        net.forward(rows())


def test_sparse_matrices_are_told_from_everything_else_without_importing_scipy() -> None:
    from scipy.sparse.linalg import aslinearoperator

    assert (
        is_sparse(rows()) and is_sparse(sp.coo_array(rows())) and is_sparse(sp.lil_matrix(rows()))
    )
    assert not is_sparse(rows().toarray())
    assert not is_sparse([[1.0, 2.0]])
    assert not is_sparse(aslinearoperator(rows()))
    with pytest.raises(ValueError, match=r"takes samples of shape \(1, 2, 4\); sparse input needs"):
        check_sparse_input(rows(), (1, 2, 4), "somewhere")


def test_the_logits_of_a_final_sigmoid_layer_are_its_input_after_a_dense_activation() -> None:
    """Binary cross-entropy from the logits of [Dense(relu), Activation(sigmoid)] takes z =
    relu(x W + b), the sigmoid's input: not the Dense layer's x W + b before its relu."""
    net = nn.Sequential(
        [nn.Dense(1, "relu"), nn.ActivationLayer("sigmoid")], 3, seed=0, dtype=np.float64
    )
    x = np.random.default_rng(0).normal(size=(6, 3))
    dense = net.layers[0]
    relu_out = np.maximum(x @ dense.W.value + dense.b.value, 0)
    assert (x @ dense.W.value + dense.b.value).min() < 0  # the relu matters here
    np.testing.assert_allclose(net._forward(x, logits=True), relu_out, atol=1e-14)
    model = nn.Model(net, loss="binary_cross_entropy")
    y = np.array([0, 1, 1, 0, 1, 0])
    p = net.predict(x)[:, 0]
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert model.evaluate(x, y)["loss"] == pytest.approx(expected, rel=1e-12)
