"""Sparse X in the scikit-learn estimators, as ``MLPClassifier`` takes it: CSR or CSC, the
first layer's product computed from the non-zeros, the matrix never made dense."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the scikit-learn integration needs scikit-learn")
sp = pytest.importorskip("scipy.sparse", reason="sparse input needs SciPy")

from nnscratch.sklearn import NetClassifier, NetRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _tfidf_like(n: int, d: int, seed: int) -> sp.csr_matrix:
    x = sp.random(n, d, density=0.05, random_state=seed, format="csr")
    return sp.csr_matrix(x.multiply(1 / np.sqrt(x.multiply(x).sum(axis=1) + 1e-12)))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("make", [NetClassifier, NetRegressor])
def test_sparse_and_dense_rows_train_the_same_network(make, fmt) -> None:
    x = _tfidf_like(150, 40, seed=0).asformat(fmt)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 150) if make is NetClassifier else rng.normal(size=150)
    params = dict(hidden_layer_sizes=(8,), max_iter=5, batch_size=32, random_state=0)
    on_sparse = make(**params).fit(x, y)
    on_dense = make(**params).fit(x.toarray(), y)
    for a, b in zip(on_sparse.coefs_, on_dense.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(on_sparse.predict(x), on_dense.predict(x.toarray()), rtol=1e-9)
    assert on_sparse.n_features_in_ == 40


def test_sparse_rows_cannot_feed_an_image_network() -> None:
    x = _tfidf_like(20, 64, seed=1)
    clf = NetClassifier(layers="conv:2x3,relu,flatten", input_shape=(1, 8, 8), max_iter=1)
    with pytest.raises(ValueError, match=r"sparse X .* pass X.toarray\(\)"):
        clf.fit(x, np.arange(20) % 2)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import numpy as np
    import scipy.sparse as sp
    from nnscratch.sklearn import NetClassifier

    n, d, per_row = 100_000, 50_000, 50  # 0.1% density: 5,000,000 non-zeros
    rng = np.random.default_rng(0)
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
    indices = rng.integers(0, d, n * per_row, dtype=np.int32)
    data = rng.random(n * per_row, dtype=np.float32)
    x = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    y = rng.integers(0, 10, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = NetClassifier(hidden_layer_sizes=(16,), max_iter=1, random_state=0, threads=1)
        clf.fit(x, y)
    predicted = clf.predict(x)
    with open("/proc/self/status") as status:  # this process's own peak (see test_sparse_input)
        line = next(line for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"peak_mb": int(line.split()[1]) / 1024, "loss": clf.loss_,
                      "dtype": str(clf.coefs_[0].dtype), "n": int(predicted.size)}))
    """
)


@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak from /proc/self/status")
def test_a_100000_by_50000_tfidf_like_matrix_fits_in_under_500_mb() -> None:
    """Dense, the float32 matrix would take 20 GB; the estimator keeps it sparse (and float32,
    as it came)."""
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["peak_mb"] < 500, report
    assert report["dtype"] == "float32" and report["n"] == 100_000
    assert np.isfinite(report["loss"]) and report["loss"] < 2.35  # ln 10 = 2.303 at chance
