"""NetClassifier / NetRegressor: weights, stopping rules, partial_fit, warm start, meta-estimators."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the scikit-learn integration needs scikit-learn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import nnscratch as nn  # noqa: E402
from nnscratch.core.activations import Activation  # noqa: E402
from nnscratch.core.losses import MSE, SoftmaxCrossEntropy  # noqa: E402
from nnscratch.data.toy import blobs  # noqa: E402
from nnscratch.sklearn import (  # noqa: E402
    NetClassifier,
    NetRegressor,
    SampleWeightedLogistic,
    SampleWeightedMSE,
    SampleWeightedPoisson,
    SampleWeightedSoftmaxCrossEntropy,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(
    hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=40, batch_size=32, random_state=0
)


@pytest.fixture(scope="module")
def classification():
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    return X, y / y.std()


# -- sample weights: the true gradient of the weighted mean loss --------------------------------
def _numerical_gradient(f, z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        old = z[idx]
        z[idx] = old + h
        up = f(z)
        z[idx] = old - h
        down = f(z)
        z[idx] = old
        grad[idx] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("kind", ["softmax", "mse", "half_mse", "logistic", "poisson"])
def test_weighted_loss_gradient_is_the_true_gradient(kind, weighted) -> None:
    """Each training loss's value is its formula and its gradient the numerical gradient, with
    a weight column and without one (unit weights)."""
    rng = np.random.default_rng(0)
    n, k = 7, 3
    z = rng.normal(size=(n, k))
    weights = rng.integers(0, 4, size=n).astype(np.float64) if weighted else np.ones(n)
    column = [weights] if weighted else []
    if kind == "softmax":
        labels = rng.integers(0, k, size=n)
        target = np.zeros((n, k))
        target[np.arange(n), labels] = weights
        loss = SampleWeightedSoftmaxCrossEntropy()

        def per_sample(zz):
            shifted = zz - zz.max(axis=1, keepdims=True)
            return np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(n), labels]
    elif kind in ("mse", "half_mse"):
        y = rng.normal(size=(n, k))
        target = np.column_stack([y, *column])
        loss = SampleWeightedMSE(half=kind == "half_mse")
        scale = 0.5 if kind == "half_mse" else 1.0

        def per_sample(zz):
            return scale * ((zz - y) ** 2).sum(axis=1) / k
    elif kind == "logistic":
        y = rng.integers(0, 2, size=(n, k)).astype(float)
        target = np.column_stack([y, *column])
        loss = SampleWeightedLogistic()

        def per_sample(zz):
            p = 1 / (1 + np.exp(-zz))
            return -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum(axis=1)
    else:
        y = rng.poisson(2.0, size=(n, k)).astype(float)
        target = np.column_stack([y, *column])
        loss = SampleWeightedPoisson()

        def per_sample(zz):
            ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0.0)
            return (np.exp(zz) - y * zz + ylogy - y).sum(axis=1)

    prepared = loss.prepare_target(z, target)
    value, grad = loss.compute(z.copy(), prepared)
    expected = float(np.sum(weights * per_sample(z)) / n)
    assert value == pytest.approx(expected, rel=1e-12)
    numerical = _numerical_gradient(lambda zz: float(np.sum(weights * per_sample(zz)) / n), z)
    np.testing.assert_allclose(grad, numerical, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", ["softmax", "mse"])
def test_integer_weights_equal_duplicated_rows_in_the_gradient(kind) -> None:
    """Loss and parameter gradients of a network: weights w == each row repeated w times."""
    rng = np.random.default_rng(1)
    n, k = 9, 3
    x = rng.normal(size=(n, 4))
    weights = rng.integers(0, 4, size=n)
    weights[0] = 2
    net = nn.mlp([4, 5, k], "tanh", seed=0, dtype=np.float64)
    if kind == "softmax":
        labels = rng.integers(0, k, size=n)
        w_norm = weights / weights.mean()
        target = np.zeros((n, k))
        target[np.arange(n), labels] = w_norm
        weighted_loss, plain_loss, dup_target = (
            SampleWeightedSoftmaxCrossEntropy(),
            SoftmaxCrossEntropy(),
            labels.repeat(weights),
        )
    else:
        y = rng.normal(size=(n, k))
        target = np.column_stack([y, weights / weights.mean()])
        weighted_loss, plain_loss, dup_target = SampleWeightedMSE(), MSE(), y.repeat(weights, 0)

    def value_and_grads(loss, xs, t):
        out = net._forward(xs, training=True)
        value, grad = loss.compute(out, loss.prepare_target(out, t))
        net.backward(grad)
        return value, net.flat_parameter.grad.copy()

    value_w, grad_w = value_and_grads(weighted_loss, x, target)
    value_d, grad_d = value_and_grads(plain_loss, x.repeat(weights, axis=0), dup_target)
    assert value_w == pytest.approx(value_d, rel=1e-12)
    np.testing.assert_allclose(grad_w, grad_d, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("estimator_class", [NetClassifier, NetRegressor])
def test_integer_sample_weights_equal_duplicating_rows(estimator_class) -> None:
    """Full-batch training (with L2 and early_stopping off): bitwise-close predictions."""
    X, y = make_classification(
        n_samples=40, n_features=5, n_classes=3, n_informative=3, random_state=3
    )
    weights = np.random.default_rng(3).integers(0, 4, size=len(X))
    # batch_size="auto" is min(200, n): one full batch for both fits
    params = dict(FAST, alpha=0.5, batch_size="auto", dtype=np.float64)
    weighted = estimator_class(**params).fit(X, y, sample_weight=weights)
    repeated = estimator_class(**params).fit(X.repeat(weights, axis=0), y.repeat(weights))
    method = "predict_proba" if estimator_class is NetClassifier else "predict"
    np.testing.assert_allclose(
        getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)


def test_class_weight_equals_sample_weight(classification) -> None:
    X, y = classification
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class = NetClassifier(**FAST, class_weight=class_weight).fit(X, y)
    by_sample = NetClassifier(**FAST).fit(
        X, y, sample_weight=np.array([class_weight[c] for c in y])
    )
    np.testing.assert_array_equal(by_class.predict_proba(X), by_sample.predict_proba(X))


def test_balanced_class_weight_helps_the_minority_class() -> None:
    X, y = make_classification(
        n_samples=400, n_features=4, weights=[0.9, 0.1], class_sep=0.6, random_state=2
    )
    plain = NetClassifier(**FAST).fit(X, y)
    balanced = NetClassifier(**FAST, class_weight="balanced").fit(X, y)
    recall = lambda clf: np.mean(clf.predict(X[y == 1]) == 1)  # noqa: E731
    assert recall(balanced) > recall(plain)


def test_weights_errors(classification) -> None:
    X, y = classification
    with pytest.raises(ValueError, match="non-zero"):
        NetClassifier(**FAST).fit(X, y, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="(?i)negative"):
        NetClassifier(**FAST).fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="at least 2 classes with non-zero weight"):
        NetClassifier(**FAST).fit(X, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match="not among the classes"):
        NetClassifier(**FAST, class_weight={7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="balanced"):
        NetClassifier(**FAST, class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


# -- labels, dtypes, predictions -------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels_binary_and_multiclass(n_classes) -> None:
    X, y = blobs(n=150, centers=n_classes, seed=0)
    names = np.array(["cat", "dog", "emu"])[:n_classes]
    labels = names[y]
    clf = NetClassifier(**FAST).fit(X, labels)
    assert clf.classes_.tolist() == sorted(names.tolist())
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    pred = clf.predict(X)
    assert set(pred) <= set(names)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.9
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-5, atol=1e-12)


def test_float32_input_is_kept_and_float64_on_request(classification) -> None:
    X, y = classification
    clf = NetClassifier(**FAST).fit(X.astype(np.float32), y)
    assert clf.model_.network.dtype == np.float32
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    clf64 = NetClassifier(**FAST, dtype="float64").fit(X.astype(np.float32), y)
    assert clf64.model_.network.dtype == np.float64
    assert clf64.predict_proba(X).dtype == np.float64


def test_multi_output_regression(regression) -> None:
    X, y = regression
    Y = np.column_stack([y, -2 * y])
    reg = NetRegressor(**FAST).fit(X, Y)
    assert reg.predict(X).shape == (len(X), 2)
    assert reg.score(X, Y) > 0.8
    single = NetRegressor(**FAST).fit(X, y)
    assert single.predict(X).shape == (len(X),)
    assert single.predict(X).dtype == np.float64


# -- hyper-parameters ------------------------------------------------------------------------
class Swish(Activation):
    """A user-defined activation: z * sigmoid(z)."""

    name = "swish"

    def forward(self, z, out=None):
        result = z / (1.0 + np.exp(-z))
        if out is None:
            return result
        np.copyto(out, result)
        return out

    def derivative(self, z, a=None):
        s = 1.0 / (1.0 + np.exp(-z))
        return s + z * s * (1.0 - s)


def test_architecture_options(classification) -> None:
    X, y = classification
    clf = NetClassifier(
        hidden_layer_sizes=(12, 8),
        activation=["tanh", Swish()],
        solver=nn.Momentum(0.05),
        batch_norm=True,
        dropout=0.1,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    kinds = [type(layer).__name__ for layer in clf.model_.network.layers]
    assert kinds == [
        "Dense", "BatchNorm", "ActivationLayer", "Dropout",
        "Dense", "BatchNorm", "ActivationLayer", "Dropout",
        "Dense",
    ]  # fmt: skip
    assert isinstance(clf.model_.network.layers[6].activation, Swish)
    assert isinstance(clf.model_.optimizer, nn.Momentum)
    assert clf.score(X, y) > 0.7
    assert clf.get_params()["solver"].iterations == 0  # the parameter itself is untouched
    logistic = NetClassifier(hidden_layer_sizes=(), max_iter=20, random_state=0).fit(X, y)
    assert len(logistic.model_.network.layers) == 1


def test_batch_norm_avoids_a_last_batch_of_one_sample() -> None:
    X, y = blobs(n=65, centers=2, seed=1)  # 65 = 2 * 32 + 1
    clf = NetClassifier(**dict(FAST, max_iter=3), batch_norm=True).fit(X, y)
    assert clf.n_iter_ == 3


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes="big"), "hidden_layer_sizes"),
        (dict(activation=["relu", "tanh"]), "one per hidden layer"),
        (dict(activation="nope"), "unknown activation"),
        (dict(activation="step"), "no usable gradient"),
        (dict(solver="nope"), "solver must be one of"),
        (dict(learning_rate="fast"), "learning_rate must be"),
        (dict(momentum=1.5), "momentum"),
        (dict(beta_1=1.0), "beta_1"),
        (dict(epsilon=0.0), "epsilon"),
        (dict(max_fun=0), "max_fun"),
        (dict(power_t=-1.0), "power_t"),
        (dict(l2=-1.0), "l2"),
        (dict(solver="lbfgs", dropout=0.2), "dropout draws new masks"),
        (dict(learning_rate_init=0.0), "learning_rate_init"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_iter=0), "max_iter"),
        (dict(alpha=-1.0), "alpha"),
        (dict(dropout=1.0), "dropout"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(n_iter_no_change=0), "n_iter_no_change"),
        (dict(tol=-1.0), "tol"),
        (dict(early_stopping="yes"), "early_stopping"),
        (dict(callbacks=[print]), "Callback"),
        (dict(dtype=np.int32), "dtype"),
        (dict(class_weight="uniform"), "class_weight"),
    ],
)
def test_invalid_parameters_raise_in_fit(params, match, classification) -> None:
    X, y = classification
    clf = NetClassifier(**params)  # scikit-learn style: __init__ stores, fit validates
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_single_class_is_refused(classification) -> None:
    X, _ = classification
    with pytest.raises(ValueError, match="at least 2 classes"):
        NetClassifier(**FAST).fit(X, np.zeros(len(X)))


def test_convergence_warning_when_max_iter_is_reached(classification) -> None:
    X, y = classification
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        NetClassifier(**dict(FAST, max_iter=2)).fit(X, y)


# -- stopping rules, callbacks ---------------------------------------------------------------
def test_training_loss_stopping_rule(classification) -> None:
    X, y = classification
    clf = NetClassifier(**dict(FAST, max_iter=500), tol=0.05, n_iter_no_change=2).fit(X, y)
    assert clf.stopped_early_
    assert clf.n_iter_ < 500
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None


def test_early_stopping_restores_the_best_weights() -> None:
    X, y = make_classification(n_samples=300, n_features=20, flip_y=0.3, random_state=0)
    clf = NetClassifier(
        hidden_layer_sizes=(64,),
        learning_rate_init=0.02,
        max_iter=300,
        early_stopping=True,
        n_iter_no_change=5,
        random_state=0,
    ).fit(X, y)
    assert clf.stopped_early_ and clf.n_iter_ < 300
    curve = clf.validation_scores_
    assert len(curve) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_loss_ is None  # as MLPClassifier: the validation score is what is watched
    assert clf.best_validation_score_ == max(curve)
    assert curve[-1] < max(curve)  # it overfitted before stopping...
    # ...and the restored weights are those of the best epoch: rebuild the held-out set as fit
    # does (rows in their canonical order, then the seeded split) and score it again
    split_seed = int(np.random.RandomState(0).randint(0, 2**31 - 1, size=3)[2])
    rows, labels, _ = clf._as_sample_set(clf._config(), X, y, None)
    *_, x_val, y_val, _ = clf._split_validation(rows, labels, None, 0.1, split_seed)
    assert len(x_val) == 30
    assert clf.score(x_val, y_val) == max(curve)


def test_user_callbacks_see_the_model(classification) -> None:
    X, y = classification
    seen = []
    record = nn.LambdaCallback(on_epoch_end=lambda model, epoch, logs: seen.append(epoch))
    stopper = nn.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    clf = NetClassifier(**FAST, callbacks=[record, stopper]).fit(X, y)
    assert seen == [1, 2]  # the EarlyStopping callback ended training after epoch 2
    assert clf.n_iter_ == 2


# -- partial_fit, warm start -----------------------------------------------------------------
def test_partial_fit_requires_classes_and_trains(classification) -> None:
    X, y = classification
    clf = NetClassifier(**FAST)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    for start in range(0, len(X), 40):
        clf.partial_fit(X[start : start + 40], y[start : start + 40], classes=[0, 1, 2])
    assert clf.n_iter_ == 1 and clf.t_ == len(X)  # as MLP: n_iter_ counts the last call
    assert len(clf.loss_curve_) == 6
    for _ in range(20):
        clf.partial_fit(X, y)
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X[:5], np.full(5, 9))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)


def test_partial_fit_with_early_stopping_stops_and_restores() -> None:
    X, y = make_classification(n_samples=2000, n_features=20, flip_y=0.3, random_state=1)
    clf = NetClassifier(
        hidden_layer_sizes=(64,),
        learning_rate_init=0.02,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=4,
        random_state=0,
    )
    calls = 0
    while calls < 200:
        chunk = slice((calls * 100) % 2000, (calls * 100) % 2000 + 100)
        clf.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        calls += 1
        if clf.stopped_early_:
            break
    assert clf.stopped_early_ and calls < 200
    assert len(clf.validation_scores_) == calls
    pool = clf._incremental
    assert pool.pool_size == 20 * min(calls, 100)  # 20% of each 100-sample call
    # the restored weights are the best on the final pool
    x_pool, y_pool = np.concatenate(pool.x_pool), np.concatenate(pool.target_pool)
    restored = clf.score(x_pool, y_pool)
    assert restored == clf.best_validation_score_
    assert restored >= clf.validation_scores_[-1]
    n_iter = clf.n_iter_
    with pytest.warns(UserWarning, match="stopped early"):
        clf.partial_fit(X[:100], y[:100])
    assert clf.n_iter_ == n_iter  # ignored
    clf.fit(X[:200], y[:200])  # fit starts over...
    epochs = len(clf.loss_curve_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf.partial_fit(X[:100], y[:100])  # ...and partial_fit trains again
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == epochs + 1


def test_partial_fit_regressor(regression) -> None:
    X, y = regression
    reg = NetRegressor(**FAST)
    for _ in range(30):
        reg.partial_fit(X, y)
    assert reg.n_iter_ == 1 and len(reg.loss_curve_) == 30
    assert reg.score(X, y) > 0.8


def test_warm_start_continues_from_the_last_weights(classification) -> None:
    """As MLP: the weights carry over, the optimizer starts afresh, n_iter_ counts this fit."""
    X, y = classification
    params = dict(FAST, max_iter=6, tol=0.0, n_iter_no_change=1000)
    once = NetClassifier(**params).fit(X, y)
    warm = NetClassifier(**params, warm_start=True).fit(X, y)
    model, optimizer = warm.model_, warm.model_.optimizer
    warm.fit(X, y)
    assert warm.model_ is model and warm.model_.optimizer is not optimizer
    assert warm.n_iter_ == 6 and len(warm.loss_curve_) == 12
    np.testing.assert_array_equal(warm.loss_curve_[:6], once.loss_curve_)
    assert warm.loss_curve_[6] < once.loss_curve_[2]  # it went on, not back to the start
    cold = NetClassifier(**params).fit(X, y)
    first = cold.model_
    cold.fit(X, y)
    assert cold.model_ is not first and cold.n_iter_ == 6
    np.testing.assert_array_equal(cold.loss_curve_, once.loss_curve_)


# -- scikit-learn machinery ------------------------------------------------------------------
def test_pipeline_grid_and_randomized_search_cross_val(classification) -> None:
    X, y = classification
    pipe = make_pipeline(StandardScaler(), NetClassifier(**FAST))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.7
    grid = GridSearchCV(
        pipe,
        {"netclassifier__hidden_layer_sizes": [(8,), (16,)], "netclassifier__alpha": [1e-4, 1.0]},
        cv=3,
    ).fit(X, y)
    assert grid.best_score_ > 0.7
    assert set(grid.best_params_) == {"netclassifier__hidden_layer_sizes", "netclassifier__alpha"}
    search = RandomizedSearchCV(
        NetRegressor(**FAST),
        {"learning_rate_init": [0.003, 0.01, 0.03], "activation": ["relu", "tanh", "gelu"]},
        n_iter=3,
        cv=3,
        random_state=0,
    )
    Xr, yr = make_regression(n_samples=120, n_features=4, noise=1.0, random_state=0)
    search.fit(Xr, yr / yr.std())
    assert search.best_score_ > 0.5


def test_clone_pickle_and_model_file(classification, tmp_path) -> None:
    X, y = classification
    clf = NetClassifier(**FAST).fit(X, y)
    clone_ = clone(clf)
    assert not hasattr(clone_, "model_") and clone_.get_params() == clf.get_params()
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    # no scratch buffers from the last batch are kept (and pickled)
    for layer in clf.model_.network.layers:
        assert layer._buffers == {} and getattr(layer, "_x", None) is None
    path = clf.model_.save(tmp_path / "clf.npz")
    loaded = nn.Model.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_fit_is_deterministic_with_random_state(classification) -> None:
    X, y = classification
    a = NetClassifier(**FAST, dropout=0.2, early_stopping=True).fit(X, y)
    b = NetClassifier(**FAST, dropout=0.2, early_stopping=True).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when training converges
        NetClassifier(**dict(FAST, max_iter=500), tol=0.05, n_iter_no_change=2).fit(X, y)


def test_missing_scikit_learn_gives_install_hint() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "try:\n    import nnscratch.sklearn\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    src = str(Path(nn.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "pip install 'nnscratch[sklearn]'" in result.stdout


def test_threads_is_a_parameter_checked_in_fit(classification) -> None:
    X, y = classification
    clf = NetClassifier(**FAST, threads=2)
    assert clf.get_params()["threads"] == 2 and clone(clf).threads == 2
    assert NetRegressor(threads=1).get_params()["threads"] == 1
    with pytest.raises(ValueError, match=r"threads must be 'auto' or a positive integer, got 0"):
        NetClassifier(**FAST, threads=0).fit(X, y)
    assert NetClassifier(**FAST, threads=1).fit(X, y).score(X, y) > 0.5


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_a_parallel_search_runs_one_blas_thread_per_worker(backend, monkeypatch) -> None:
    """Every fit of a GridSearchCV(n_jobs=2) sees 1 BLAS thread: the scores below are the
    counts that each fit's epochs ran with. The products are big enough (400 x 784 x 256
    multiply-adds) that a fit outside a worker may take several threads, and loky is allowed
    2 per worker here (its own cap is cores // n_jobs), so only the estimator's choice brings
    them to 1."""
    import joblib
    from threadpoolctl import threadpool_limits

    root = str(Path(nn.__file__).resolve().parent.parent)  # workers import this nnscratch
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def record(model, epoch, logs) -> None:  # nested: pickled by value for loky's workers
        from threadpoolctl import threadpool_info

        counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        model.blas_threads_seen = max(getattr(model, "blas_threads_seen", 0), min(counts))

    def blas_threads_seen(estimator, X, y) -> float:
        return float(estimator.model_.blas_threads_seen)

    X, y = make_classification(n_samples=800, n_features=784, random_state=0)
    clf = NetClassifier(
        hidden_layer_sizes=(256,),
        batch_size=400,
        max_iter=2,
        random_state=0,
        callbacks=[nn.LambdaCallback(on_epoch_end=record)],
    )
    from nnscratch.training.threads import SMALL_PRODUCT

    assert 400 * 784 * 256 >= SMALL_PRODUCT  # each fit's 400 samples make one batch
    search = GridSearchCV(
        clf, {"alpha": [1e-4, 1e-3]}, cv=2, n_jobs=2, scoring=blas_threads_seen, refit=False
    )
    extra = {"inner_max_num_threads": 2} if backend == "loky" else {}
    with threadpool_limits(2, user_api="blas"), joblib.parallel_config(backend, **extra):
        search.fit(X, y)
    for split in ("split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(search.cv_results_[split], [1.0, 1.0])
