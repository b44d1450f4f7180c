"""scikit-learn's own estimator checks, run as scikit-learn ships them.

``check_estimator(NetClassifier())`` and ``check_estimator(NetRegressor())``, with every
default (scikit-learn's and the estimators'), and the same with batch norm and with dropout:
no list of expected failures, no replacement checks. ``check_estimator`` raises on the first
failed check, so each test passing means every check passed.

What makes the strict checks hold: the computation follows the input's dtype (the checks'
float64 data train in float64, so weighted and repeated fits agree to rounding), and networks
whose samples interact (batch norm's statistics, dropout's masks) apply integer sample weights
by repeating rows, in an order that does not depend on the input's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the scikit-learn integration needs scikit-learn")

from sklearn.exceptions import ConvergenceWarning, SkipTestWarning  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from nnscratch.sklearn import NetClassifier, NetRegressor  # noqa: E402


@pytest.fixture(autouse=True)
def _array_api(monkeypatch) -> None:
    # scikit-learn skips its array-API check (numpy namespace) unless this variable is set; it
    # only reads it at run time, so setting it here runs the check instead of skipping it.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")


def _quiet_check(estimator, **options):
    with warnings.catch_warnings():
        # the checks' tiny data sets stop at max_iter; that is expected, not a failure
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the one check skipped is the multilabel decision_function format: like MLP, the
        # estimators have no decision_function, so there is nothing for it to check
        warnings.filterwarnings("ignore", "Skipping check .*decision_function", SkipTestWarning)
        return check_estimator(estimator, **options)


def test_classifier_passes_every_check_with_the_defaults() -> None:
    _quiet_check(NetClassifier())


def test_regressor_passes_every_check_with_the_defaults() -> None:
    _quiet_check(NetRegressor())


@pytest.mark.parametrize("make", [NetClassifier, NetRegressor])
@pytest.mark.parametrize(
    "params",
    [
        {"batch_norm": True},
        {"dropout": 0.2},
        {"solver": "lbfgs"},
    ],
    ids=str,
)
def test_batch_norm_dropout_and_lbfgs_pass_every_check(make, params) -> None:
    _quiet_check(make(**params))


@pytest.mark.parametrize("make", [NetClassifier, NetRegressor])
def test_a_forced_dtype_still_passes_the_contract_checks(make) -> None:
    """``dtype=np.float32`` forces float32 whatever the input; the checks whose tolerance is
    below float32's resolution (sample-weight equivalence at rtol 1e-7, subset invariance)
    are the only ones it may fail, and it must fail no other."""
    results = _quiet_check(make(dtype=np.float32), on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    assert failed <= {
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
        "check_methods_subset_invariance",
    }, failed
