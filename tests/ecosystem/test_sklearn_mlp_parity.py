"""``NetClassifier``/``NetRegressor`` as drop-ins for scikit-learn's ``MLPClassifier`` and
``MLPRegressor``: the same parameters with the same defaults and meaning, the same fitted
attributes with the same shapes, the same gradient steps, and grids that port unchanged."""

from __future__ import annotations

import inspect
import itertools
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the scikit-learn integration needs scikit-learn")

from sklearn.datasets import load_digits, load_iris, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402

import nnscratch as nn  # noqa: E402
from nnscratch.sklearn import NetClassifier, NetRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PAIRS = [(MLPClassifier, NetClassifier), (MLPRegressor, NetRegressor)]


@pytest.mark.parametrize(("mlp", "net"), PAIRS, ids=["classifier", "regressor"])
def test_every_mlp_parameter_is_accepted_with_the_same_default(mlp, net) -> None:
    ours = inspect.signature(net).parameters
    for name, param in inspect.signature(mlp).parameters.items():
        assert name in ours, f"{net.__name__} lacks MLP's parameter {name!r}"
        assert ours[name].default == param.default, name
        assert ours[name].kind == param.kind, name  # positional stays positional
    assert list(ours)[:3] == list(inspect.signature(mlp).parameters)[:3]


def _fitted_attributes(estimator) -> dict[str, object]:
    """The public fitted attributes (``name_``) and a description of each one's shape."""

    def shape(value):
        if isinstance(value, np.ndarray):
            return ("array", value.shape)
        if isinstance(value, list):
            if value and isinstance(value[0], np.ndarray):
                return ("arrays", [v.shape for v in value])
            return ("list", None)  # curves: their lengths depend on when training stopped
        if value is None:
            return None
        return (
            type(value).__name__ if not isinstance(value, (float, np.floating)) else "float",
            None,
        )

    names = [a for a in dir(estimator) if a.endswith("_") and not a.startswith("_")]
    found = {}
    for name in names:
        try:
            value = getattr(estimator, name)
        except AttributeError:
            continue
        found[name] = shape(value)
    return found


def _data(kind: str):
    X, labels = make_classification(
        n_samples=120, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    if kind == "binary":
        return X, labels % 2
    if kind == "multiclass":
        return X, labels
    if kind == "multilabel":
        return X, np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0]).astype(int)
    if kind == "regression":
        return X, X[:, 0] - 2 * X[:, 1]
    return X, np.column_stack([X[:, 0], X[:, 1] * X[:, 2]])  # two outputs


GRID = list(
    itertools.product(
        ["adam", "sgd", "lbfgs"],
        ["constant", "invscaling", "adaptive"],
        [False, True],  # early_stopping
    )
)


@pytest.mark.parametrize(
    "kind", ["binary", "multiclass", "multilabel", "regression", "multioutput"]
)
def test_fitted_attributes_exist_with_mlps_shapes(kind) -> None:
    X, y = _data(kind)
    mlp, net = (
        (MLPClassifier, NetClassifier)
        if kind in ("binary", "multiclass", "multilabel")
        else (MLPRegressor, NetRegressor)
    )
    for solver, learning_rate, early_stopping in GRID:
        params = dict(
            hidden_layer_sizes=(8, 5),
            activation="logistic" if solver == "sgd" else "tanh",
            solver=solver,
            learning_rate=learning_rate,
            early_stopping=early_stopping,
            max_iter=6,
            batch_size=32,
            momentum=0.5,
            nesterovs_momentum=False,
            beta_1=0.8,
            beta_2=0.99,
            epsilon=1e-7,
            power_t=0.4,
            max_fun=200,
            n_iter_no_change=3,
            random_state=0,
        )
        theirs = _fitted_attributes(mlp(**params).fit(X, y))
        ours = _fitted_attributes(net(**params).fit(X, y))
        for name, description in theirs.items():
            assert name in ours, f"{params}: {net.__name__} lacks {name}"
            assert ours[name] == description, f"{params}: {name}: {ours[name]} != {description}"


def _same_start(mlp, net, X, y, **params):
    """Both estimators fitted one epoch, then MLP given nnscratch's weights (warm start)."""
    common = dict(hidden_layer_sizes=(7, 5), max_iter=1, warm_start=True, random_state=0)
    a = mlp(**common, **params).fit(X, y)
    b = net(**common, **params).fit(X, y)
    a.coefs_ = [c.copy() for c in b.coefs_]
    a.intercepts_ = [c.copy() for c in b.intercepts_]
    return a, b


@pytest.mark.parametrize(
    ("kind", "learning_rate"),
    [("multiclass", "constant"), ("binary", "invscaling"), ("regression", "constant")],
)
def test_sgd_steps_equal_mlps(kind, learning_rate) -> None:
    """From the same weights, with the same batches (no shuffle), three epochs of gradient
    descent give MLP's weights to rounding: the same loss, gradient, ``alpha`` scale and
    learning-rate schedule."""
    X, y = _data(kind)
    mlp, net = (
        (MLPRegressor, NetRegressor) if kind == "regression" else (MLPClassifier, NetClassifier)
    )
    params = dict(
        solver="sgd",
        momentum=0.0,
        learning_rate=learning_rate,
        learning_rate_init=0.05,
        power_t=0.3,
        alpha=0.01,
        batch_size=30,  # divides the 120 samples: every batch has 30 rows in both
        shuffle=False,
        activation="tanh",
    )
    a, b = _same_start(mlp, net, X, y, **params)
    a.set_params(max_iter=3).fit(X, y)
    b.set_params(max_iter=3).fit(X, y)
    for theirs, ours in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert b.t_ == a.t_ == 4 * len(X)


def test_a_grid_written_for_mlp_runs_unchanged() -> None:
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    grid = {
        "solver": ["sgd", "adam", "lbfgs"],
        "learning_rate": ["constant", "adaptive"],
        "momentum": [0.0, 0.9],
        "beta_1": [0.8, 0.9],
        "alpha": [1e-4, 1e-2],
    }
    results = {}
    for make in (MLPClassifier, NetClassifier):
        search = GridSearchCV(
            make(hidden_layer_sizes=(10,), max_iter=60, learning_rate_init=0.05, random_state=0),
            grid,
            cv=2,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X, y)
        results[make] = search
    ours, theirs = results[NetClassifier], results[MLPClassifier]
    assert len(ours.cv_results_["params"]) == len(theirs.cv_results_["params"]) == 48
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    assert np.all(np.isfinite(ours.cv_results_["mean_test_score"]))
    assert ours.best_score_ >= theirs.best_score_ - 0.03


def test_lbfgs_on_digits_is_within_a_point_of_mlps() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16, y, test_size=0.25, random_state=0, stratify=y
    )
    ours, theirs = [], []
    for seed in range(3):
        theirs.append(
            MLPClassifier(solver="lbfgs", random_state=seed)
            .fit(X_train, y_train)
            .score(X_test, y_test)
        )
        ours.append(
            NetClassifier(solver="lbfgs", random_state=seed)
            .fit(X_train, y_train)
            .score(X_test, y_test)
        )
    assert np.mean(ours) >= np.mean(theirs) - 0.01, (ours, theirs)
    assert min(ours) > 0.95


def test_lbfgs_respects_max_iter_and_max_fun() -> None:
    X, y = _data("multiclass")
    clf = NetClassifier(solver="lbfgs", max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3
    assert not hasattr(clf, "loss_curve_")  # as MLP: no per-epoch curve for L-BFGS
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        clf.set_params(max_iter=200, max_fun=5).fit(X, y)
    assert clf.n_iter_ <= 5
    assert not hasattr(clf, "partial_fit")  # as MLP: only the stochastic solvers have it


def test_adaptive_learning_rate_divides_by_five_instead_of_stopping() -> None:
    """Nothing ever improves by tol=10: every 3 epochs the rate drops 5x, and training stops
    once it is at 1e-6 or below, exactly when and where MLP's does."""
    X, y = _data("multiclass")
    params = dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.5,
        tol=10.0,
        n_iter_no_change=2,
        max_iter=40,
        random_state=0,
    )
    mlp = MLPClassifier(**params).fit(X, y)
    clf = NetClassifier(**params).fit(X, y)
    assert clf.model_.optimizer.learning_rate == pytest.approx(0.5 / 5**9)
    assert clf.model_.optimizer.learning_rate == pytest.approx(mlp._optimizer.learning_rate)
    assert clf.n_iter_ == mlp.n_iter_ == 31 and clf.stopped_early_


def test_coefs_are_live_views_and_can_be_assigned() -> None:
    X, y = _data("multiclass")
    clf = NetClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(6, 4), (4, 3)]
    assert clf.n_layers_ == 3 and clf.out_activation_ == "softmax"
    before = clf.predict_proba(X)
    clf.coefs_ = [np.zeros((6, 4)), np.zeros((4, 3))]
    clf.intercepts_ = [np.zeros(4), np.zeros(3)]
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)
    assert not np.allclose(before, 1 / 3)
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape \(4, 3\)"):
        clf.coefs_ = [np.zeros((6, 4)), np.zeros((3, 3))]
    with pytest.raises(ValueError, match="needs 2 arrays"):
        clf.intercepts_ = [np.zeros(4)]


@pytest.mark.parametrize("make", [NetClassifier, NetRegressor])
def test_the_computation_follows_the_input_dtype(make) -> None:
    X, y = _data("multiclass" if make is NetClassifier else "regression")
    out = "predict_proba" if make is NetClassifier else "predict"
    for dtype in (np.float32, np.float64, np.int64):
        est = make(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X.astype(dtype), y)
        expected = np.float32 if dtype == np.float32 else np.float64
        assert est.model_.network.dtype == expected
        assert est.coefs_[0].dtype == expected
        assert getattr(est, out)(X.astype(dtype)).dtype == expected
    forced = make(hidden_layer_sizes=(4,), max_iter=3, dtype=np.float32, random_state=0).fit(X, y)
    assert forced.model_.network.dtype == np.float32
    assert getattr(forced, out)(X).dtype == np.float64  # float64 in, float64 out


def test_multilabel_targets() -> None:
    X, Y = _data("multilabel")
    clf = NetClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.all((proba > 0) & (proba < 1))
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    assert clf.score(X, Y) > 0.9  # subset accuracy, as scikit-learn's
    mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0).fit(X, Y)
    assert clf.score(X, Y) >= mlp.score(X, Y) - 0.05
    with pytest.raises(ValueError, match="class_weight applies to one label"):
        NetClassifier(class_weight="balanced", max_iter=2).fit(X, Y)
    with pytest.raises(ValueError, match="warm_start can only continue"):
        clf.set_params(warm_start=True).fit(X, Y[:, 0])


def test_binary_targets_use_one_logistic_output() -> None:
    X, y = _data("binary")
    labels = np.where(y == 1, "spam", "ham")
    clf = NetClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, labels)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (8, 1)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_poisson_regression() -> None:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))
    reg = NetRegressor(loss="poisson", hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(
        X, y
    )
    assert reg.out_activation_ == "exp"
    assert np.all(reg.predict(X) > 0)
    mlp = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(
        X, y
    )
    assert reg.score(X, y) >= mlp.score(X, y) - 0.05
    with pytest.raises(ValueError, match="negative which is not allowed for Poisson"):
        NetRegressor(loss="poisson").fit(X, -y - 1.0)


def test_resuming_with_another_solver_uses_that_solver() -> None:
    X, y = _data("multiclass")
    clf = NetClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    clf.set_params(solver="adam", beta_1=0.5).partial_fit(X, y)
    assert clf.model_.optimizer.name == "adam" and clf.model_.optimizer.beta1 == 0.5
    streamed = NetClassifier(max_iter=3, random_state=0)
    streamed.partial_fit(X, y, classes=[0, 1, 2])
    adam = streamed.model_.optimizer
    streamed.set_params(beta_2=0.9).partial_fit(X, y)  # same kind: its moments are kept
    assert streamed.model_.optimizer is adam and adam.beta2 == 0.9
    warm = NetClassifier(max_iter=3, warm_start=True, random_state=0).fit(X, y)
    warm.set_params(solver="sgd", momentum=0.0).fit(X, y)
    assert warm.model_.optimizer.name == "sgd"


def test_absurd_sizes_are_refused_before_any_allocation() -> None:
    X, y = _data("multiclass")
    with pytest.raises(MemoryError, match=r"of 7,000,000,000,003 parameters \(3-10+-3\) needs"):
        NetClassifier(hidden_layer_sizes=(10**12,), max_iter=1).fit(X[:, :3], y)
    with pytest.warns(UserWarning, match="batch_size=500 is larger than the 120"):
        NetClassifier(hidden_layer_sizes=(4,), batch_size=500, max_iter=1).fit(X, y)


def test_ctrl_c_keeps_what_was_learned_as_mlp_does() -> None:
    X, y = _data("multiclass")

    def interrupt(model, epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt

    stop = nn.LambdaCallback(on_epoch_end=interrupt)
    clf = NetClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0, callbacks=[stop])
    with pytest.warns(UserWarning, match="interrupted by the user after 3 epochs"):
        clf.fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.predict_proba(X).shape == (len(X), 3)
