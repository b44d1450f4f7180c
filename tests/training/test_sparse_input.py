"""SciPy sparse matrices as the input of ``Model``: fit, evaluate and predict take CSR (and any
other format, converted once) when the first layer is Dense, never making the matrix dense."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

import nnscratch as nn
from nnscratch.training import memory


def tfidf_like(n: int, d: int, density: float, seed: int, dtype=np.float64) -> sp.csr_matrix:
    """A random CSR matrix of non-negative values, rows of very different lengths."""
    return sp.random(n, d, density=density, format="csr", dtype=dtype, random_state=seed)


def labels(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, k, n)


def fitted(x, y, dtype, *, x_val=None, y_val=None, **kwargs) -> nn.Model:
    model = nn.Model(
        nn.mlp([x.shape[1], 12, 3], "tanh", seed=0, dtype=dtype),
        optimizer=nn.Adam(0.01),
        l2=0.5,
    )
    validation = None if x_val is None else (x_val, y_val)
    model.fit(
        x, y, epochs=3, batch_size=16, seed=1, verbose=0, validation_data=validation, **kwargs
    )
    return model


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_fit_on_sparse_rows_gives_the_weights_and_predictions_of_fit_on_the_dense_rows(
    dtype, atol
) -> None:
    x, x_val = tfidf_like(200, 60, 0.05, 0), tfidf_like(50, 60, 0.05, 1)
    y, y_val = labels(200, 3, 0), labels(50, 3, 1)
    sparse = fitted(x, y, dtype, x_val=x_val, y_val=y_val)
    dense = fitted(x.toarray(), y, dtype, x_val=x_val.toarray(), y_val=y_val)
    np.testing.assert_allclose(
        sparse.network.flat_parameter.value, dense.network.flat_parameter.value, rtol=0, atol=atol
    )
    assert sparse.network.flat_parameter.value.dtype == dtype
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(sparse.history[key], dense.history[key], rtol=1e-6)
    np.testing.assert_array_equal(sparse.predict(x_val), dense.predict(x_val.toarray()))
    np.testing.assert_allclose(
        sparse.predict_proba(x_val), dense.predict_proba(x_val.toarray()), rtol=0, atol=atol
    )
    assert sparse.evaluate(x_val, y_val) == pytest.approx(dense.evaluate(x_val.toarray(), y_val))
    # training moved the weights: the comparison is not between two untouched networks
    assert sparse.history["loss"][-1] < sparse.history["loss"][0]


def test_validation_split_of_sparse_rows_holds_out_the_same_last_rows() -> None:
    x, y = tfidf_like(120, 30, 0.1, 2), labels(120, 3, 2)
    sparse = fitted(x, y, np.float64, validation_split=0.25)
    dense = fitted(x.toarray(), y, np.float64, validation_split=0.25)
    np.testing.assert_allclose(sparse.history["val_loss"], dense.history["val_loss"], rtol=1e-12)
    np.testing.assert_allclose(
        sparse.network.flat_parameter.value, dense.network.flat_parameter.value, atol=1e-12
    )


def test_a_sigmoid_output_trained_on_logits_takes_sparse_rows_into_its_only_layer() -> None:
    """Logistic regression (one Dense layer, sigmoid, binary cross-entropy computed from the
    logits): the sparse batch goes straight to the layer whose z is the loss's input."""
    x = tfidf_like(150, 40, 0.1, 3)
    w = np.random.default_rng(3).normal(size=40)
    y = (x @ w > np.median(x @ w)).astype(np.int64)
    models = []
    for rows in (x, x.toarray()):
        model = nn.Model(
            nn.mlp([40, 1], output_activation="sigmoid", seed=0, dtype=np.float64),
            loss="binary_cross_entropy",
            optimizer=nn.Adam(0.05),
        )
        model.fit(rows, y, epochs=20, batch_size=32, seed=0, verbose=0)
        models.append(model)
    np.testing.assert_allclose(
        models[0].network.flat_parameter.value, models[1].network.flat_parameter.value, atol=1e-12
    )
    assert np.mean(models[0].predict(x) == y) > 0.8


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "csr_array", "csc_array"])
def test_every_sparse_format_is_taken_and_converted_once(fmt) -> None:
    x = tfidf_like(80, 25, 0.1, 4)
    y = labels(80, 3, 4)
    given = sp.csr_array(x).asformat(fmt[:3]) if fmt.endswith("_array") else x.asformat(fmt)
    model = fitted(given, y, np.float64)
    reference = fitted(x, y, np.float64)
    np.testing.assert_array_equal(
        model.network.flat_parameter.value, reference.network.flat_parameter.value
    )
    np.testing.assert_array_equal(model.predict_raw(given), reference.predict_raw(x))


def test_float64_or_integer_rows_are_cast_once_and_the_given_matrix_is_left_alone() -> None:
    counts = sp.csr_matrix(np.random.default_rng(5).poisson(0.3, size=(60, 20)))
    assert counts.dtype.kind == "i"
    y = labels(60, 3, 5)
    model = fitted(counts, y, np.float32)
    reference = fitted(counts.toarray().astype(np.float32), y, np.float32)
    np.testing.assert_allclose(
        model.network.flat_parameter.value, reference.network.flat_parameter.value, atol=1e-6
    )
    assert counts.dtype.kind == "i"  # the caller's matrix keeps its values and dtype
    x64 = tfidf_like(60, 20, 0.2, 6, np.float64)
    raw = model.predict_raw(x64)
    assert raw.dtype == np.float32  # no upcast of the float32 network by float64 values
    np.testing.assert_allclose(
        raw, model.predict_raw(x64.astype(np.float32).toarray()), rtol=0, atol=1e-6
    )
    assert x64.dtype == np.float64


def test_an_unbuilt_network_is_built_for_the_width_of_the_sparse_rows() -> None:
    x, y = tfidf_like(40, 9, 0.2, 13), labels(40, 3, 13)
    model = nn.Model([nn.Dense(4, "relu"), nn.Dense(3)], seed=0)
    model.fit(x, y, epochs=2, batch_size=8, seed=0, verbose=0)
    assert model.network.input_dim == 9
    assert model.predict(x).shape == (40,)


def test_prediction_in_chunks_equals_prediction_in_one_go() -> None:
    x, y = tfidf_like(300, 40, 0.05, 7), labels(300, 3, 7)
    model = fitted(x, y, np.float64)
    whole = model.predict_raw(x, batch_size=300)
    np.testing.assert_array_equal(model.predict_raw(x, batch_size=7), whole)
    np.testing.assert_allclose(whole, model.predict_raw(x.toarray()), rtol=0, atol=1e-12)


def test_a_row_without_any_non_zero_gets_the_output_of_the_biases_alone() -> None:
    x = sp.csr_matrix(([1.0, 2.0], [0, 3], [0, 1, 1, 2]), shape=(3, 5))
    model = fitted(tfidf_like(40, 5, 0.5, 8), labels(40, 3, 8), np.float64)
    raw = model.predict_raw(x)
    np.testing.assert_allclose(raw, model.predict_raw(x.toarray()), atol=1e-12)
    np.testing.assert_allclose(raw[1], model.predict_raw(np.zeros((1, 5)))[0], atol=1e-12)


@pytest.mark.parametrize(
    "bad, message",
    [
        (tfidf_like(10, 7, 0.3, 9), "has 7 features per sample (sparse, shape (10, 7)), but "),
        (sp.csr_matrix((0, 6)), "is an empty batch"),
        (sp.coo_array(np.ones(6)), "must be a 2-D sparse matrix (n_samples, n_features), got"),
        (
            sp.csr_matrix(([1.0, np.nan, np.inf], [0, 1, 2], [0, 2, 3]), shape=(2, 6)),
            "contains 2 NaN or infinite value(s) among its non-zeros",
        ),
        (sp.csr_matrix(np.eye(4, 6) * 1j), "must hold numbers, got a sparse matrix of dtype"),
        (
            sp.csr_matrix(np.full((2, 6), 1e39)),
            "beyond the float32 range",
        ),
    ],
)
def test_bad_sparse_rows_are_refused_with_one_clear_line(bad, message) -> None:
    model = nn.Model(nn.mlp([6, 4, 3], seed=0))
    for call in (
        lambda: model.fit(bad, np.zeros(bad.shape[0], np.int64), verbose=0),
        lambda: model.predict(bad),
        lambda: model.evaluate(bad, np.zeros(bad.shape[0], np.int64)),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert message in str(info.value)
        assert "\n" not in str(info.value)


def test_sparse_rows_into_a_network_that_does_not_start_with_dense_are_refused() -> None:
    x = tfidf_like(10, 6, 0.3, 10)
    y = labels(10, 3, 10)
    for net, where in (
        (nn.Sequential([nn.Dropout(0.2), nn.Dense(3)], 6, seed=0), "layer 0 (Dropout"),
        (nn.Sequential([nn.ActivationLayer("relu"), nn.Dense(3)], 6, seed=0), "layer 0 (Activ"),
    ):
        model = nn.Model(net)
        for call in (lambda m=model: m.fit(x, y, verbose=0), lambda m=model: m.predict(x)):
            with pytest.raises(
                ValueError, match="only a network whose first layer is Dense"
            ) as info:
                call()
            assert where in str(info.value)
    images = nn.Model(
        nn.Sequential([nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(3)], input_shape=(1, 4, 4))
    )
    with pytest.raises(ValueError, match=r"layer 0 \(Conv2D\(2, 3x3\)\) would need it dense"):
        images.fit(tfidf_like(5, 16, 0.3, 11), labels(5, 3, 11), verbose=0)


def test_augmenting_sparse_rows_is_refused() -> None:
    from nnscratch.data.augment import RandomShift

    model = nn.Model(nn.mlp([16, 3], seed=0))
    with pytest.raises(ValueError, match="augment transforms images, but x is a sparse matrix"):
        model.fit(
            tfidf_like(5, 16, 0.3, 12),
            labels(5, 3, 12),
            verbose=0,
            augment=RandomShift(1, image_shape=(4, 4)),
        )


def test_the_memory_check_counts_the_non_zeros_of_a_sparse_batch_not_its_dense_width(
    monkeypatch,
) -> None:
    """Dense(2) on 1,000,000 features, 4 rows of 3 non-zeros each (int32 column indices):
    2,000,002 parameters x Adam's 3 arrays x 4 bytes, plus per sample 3 x 2 output values x 4
    bytes and twice 3 non-zeros x (4 + 4) bytes: 24,000,024 + 4 x 72 = 24,000,312 bytes. Dense
    rows would add 4 MB per sample."""
    width = 1_000_000
    columns = np.array([5, 17, 999_999, 0, 1, 2, 40, 50, 60, 7, 8, 9], np.int32)
    x = sp.csr_matrix(
        (np.ones(12, np.float32), columns, np.arange(0, 13, 3, dtype=np.int32)), shape=(4, width)
    )
    y = np.array([0, 1, 0, 1])
    model = nn.Model(nn.mlp([width, 2], seed=0), optimizer=nn.Adam(1e-3))
    needed = 24_000_312
    monkeypatch.setattr(memory, "available_memory", lambda: needed - 1)
    with pytest.raises(MemoryError, match="needs about 24.0 MB of memory but only 24.0 MB"):
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    monkeypatch.setattr(memory, "available_memory", lambda: needed)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert model.epoch == 1


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import scipy.sparse as sp
    import nnscratch as nn

    n, d, per_row = 100_000, 50_000, 50  # 0.1% density: 5,000,000 non-zeros
    rng = np.random.default_rng(0)
    # built from its arrays, as a TF-IDF vectorizer returns it (no COO intermediate)
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
    indices = rng.integers(0, d, n * per_row, dtype=np.int32)
    data = rng.random(n * per_row, dtype=np.float32)
    x = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    y = rng.integers(0, 10, n)
    model = nn.Model(nn.mlp([d, 16, 10], "relu", seed=0), optimizer=nn.Adam(1e-3))
    history = model.fit(x, y, epochs=1, batch_size=200, seed=0, verbose=0, threads=1)
    predicted = model.predict(x)
    # the peak of this process's own memory: Linux's ru_maxrss also keeps the parent's resident
    # size at the exec that started this interpreter (a pytest process of 400 MB), VmHWM not
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        peak_mb = int(line.split()[1]) / 1024
    except OSError:
        scale = 1 << 20 if sys.platform == "darwin" else 1 << 10  # bytes or KiB
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    print(json.dumps({
        "peak_mb": peak_mb,
        "loss": history["loss"][-1],
        "n_predicted": int(predicted.size),
        "classes": int(np.unique(predicted).size),
    }))
    """
)


def test_a_100000_by_50000_tfidf_like_matrix_trains_and_predicts_in_under_500_mb() -> None:
    """As dense float32 the matrix would take 20 GB; its 5 million non-zeros take 40 MB."""
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["peak_mb"] < 500, report
    assert report["n_predicted"] == 100_000
    assert np.isfinite(report["loss"]) and report["loss"] < 2.35  # ln 10 = 2.303 at chance
    assert report["classes"] > 1
