"""NetClassifier / NetRegressor with ``layers=SPEC`` and ``input_shape``: convolutional
networks on scikit-learn's 8x8 digits, in a Pipeline and a grid search, flat or 4-D X."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the scikit-learn integration needs scikit-learn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import SkipTestWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from nnscratch.core.layers import Conv2D, Dense, Flatten, GlobalAvgPool2D, MaxPool2D  # noqa: E402
from nnscratch.sklearn import NetClassifier, NetRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SPEC = "conv:8x3,relu,maxpool:2,flatten"
CONV = dict(
    layers=SPEC, input_shape=(1, 8, 8), learning_rate_init=0.01, max_iter=15, random_state=0
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def scaled(X: np.ndarray) -> np.ndarray:
    return X / 16.0


def test_conv_classifier_in_a_pipeline(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(FunctionTransformer(scaled), NetClassifier(**CONV))
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.9
    clf = pipe[-1]
    assert clf.n_features_in_ == 64 and clf.input_shape_ == (1, 8, 8)
    net = clf.model_.network
    assert [type(layer) for layer in net.layers] == [Conv2D, MaxPool2D, Flatten, Dense]
    assert net.input_shape == (1, 8, 8)
    assert [layer.output_shape for layer in net.layers] == [(8, 6, 6), (8, 3, 3), (72,), (10,)]


def test_grid_search_over_layers(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    specs = [SPEC, "conv:8x3:same,relu,maxpool:2,conv:16x3,relu,gap"]
    search = GridSearchCV(NetClassifier(**CONV), {"layers": specs}, cv=3)
    search.fit(scaled(X_train), y_train)
    assert list(search.cv_results_["param_layers"]) == specs
    assert search.best_score_ > 0.9
    assert search.score(scaled(X_test), y_test) > 0.9
    best = search.best_estimator_
    assert best.layers == search.best_params_["layers"]
    kinds = {type(layer) for layer in best.model_.network.layers}
    assert Conv2D in kinds and (GlobalAvgPool2D in kinds) == (best.layers == specs[1])


def test_flat_and_image_shaped_X_are_the_same_data(digits) -> None:
    X_train, X_test, y_train, _ = digits
    flat = NetClassifier(**CONV).fit(scaled(X_train), y_train)
    images = NetClassifier(**CONV).fit(scaled(X_train).reshape(-1, 1, 8, 8), y_train)
    np.testing.assert_array_equal(
        flat.predict_proba(scaled(X_test)), images.predict_proba(scaled(X_test))
    )
    np.testing.assert_array_equal(
        flat.predict_proba(scaled(X_test)),
        flat.predict_proba(scaled(X_test).reshape(-1, 1, 8, 8)),
    )
    assert images.n_features_in_ == 64


def test_dense_spec_builds_the_hidden_layer_sizes_network(digits) -> None:
    """``layers="dense:16,relu"`` is the hidden part; the estimator appends Dense(10), so the
    network is the one ``hidden_layer_sizes=(16,)`` builds (only the initial weights differ:
    the spec's layers start as nnscratch's, He for ReLU; hidden_layer_sizes as MLP's)."""
    X_train, X_test, y_train, _ = digits
    common = dict(learning_rate_init=0.01, max_iter=3, random_state=0)
    by_spec = NetClassifier(layers="dense:16,relu", **common).fit(scaled(X_train), y_train)
    by_sizes = NetClassifier(hidden_layer_sizes=(16,), **common).fit(scaled(X_train), y_train)
    assert repr(by_spec.model_.network) == repr(by_sizes.model_.network)
    by_spec.coefs_ = by_sizes.coefs_
    by_spec.intercepts_ = by_sizes.intercepts_
    np.testing.assert_array_equal(
        by_spec.predict_proba(scaled(X_test)), by_sizes.predict_proba(scaled(X_test))
    )


def test_clone_and_pickle_round_trip(digits) -> None:
    X_train, X_test, y_train, _ = digits
    clf = NetClassifier(**CONV)
    params = clf.get_params()
    assert params["layers"] == SPEC and params["input_shape"] == (1, 8, 8)
    copy = clone(clf)
    assert copy.get_params() == params and not hasattr(copy, "model_")
    copy.set_params(layers="conv:4x3,tanh,gap", input_shape=[1, 8, 8])
    assert copy.layers == "conv:4x3,tanh,gap"
    clf.fit(scaled(X_train), y_train)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(
        restored.predict_proba(scaled(X_test)), clf.predict_proba(scaled(X_test))
    )
    assert restored.get_params() == params
    fitted_copy = clone(clf)
    assert not hasattr(fitted_copy, "model_") and fitted_copy.layers == SPEC


def test_conv_regressor_learns_image_brightness(digits) -> None:
    """The standardised mean pixel: a 1x1 convolution then global average pooling computes
    it exactly (a linear map of the pixels' mean), so the fit is near perfect."""
    X_train, X_test, _, _ = digits
    mean, std = scaled(X_train).mean(axis=1).mean(), scaled(X_train).mean(axis=1).std()
    target = lambda X: (scaled(X).mean(axis=1) - mean) / std  # noqa: E731
    reg = NetRegressor(
        layers="conv:4x1,gap",
        input_shape=(1, 8, 8),
        learning_rate_init=0.01,
        max_iter=30,
        batch_size=32,
        random_state=0,
    )
    reg.fit(scaled(X_train).reshape(-1, 1, 8, 8), target(X_train))
    assert reg.predict(scaled(X_test)).shape == (len(X_test),)
    assert reg.score(scaled(X_test), target(X_test)) > 0.98


def test_input_shape_alone_flattens_images_for_the_dense_network(digits) -> None:
    X_train, X_test, y_train, y_test = digits
    clf = NetClassifier(hidden_layer_sizes=(32,), input_shape=(1, 8, 8), max_iter=20)
    clf.set_params(learning_rate_init=0.01, random_state=0)
    clf.fit(scaled(X_train).reshape(-1, 1, 8, 8), y_train)
    assert clf.model_.network.input_shape == (64,)
    assert clf.score(scaled(X_test).reshape(-1, 1, 8, 8), y_test) > 0.9


@pytest.mark.parametrize(
    "params, X_shape, match",
    [
        (dict(layers="conv:8y3,relu"), (1, 8, 8), r"layers='conv:8y3,relu': token 1 'conv:8y3'"),
        (dict(layers=SPEC), None, r"input_shape=\(1, 8, 8\)"),
        (dict(layers="conv:8x3,relu"), (1, 8, 8), r"ends with samples of shape 8x6x6.*flatten"),
        (dict(layers="conv:8x9,flatten"), (1, 8, 8), r"token 1 'conv:8x9'.*larger"),
        (dict(layers=""), (1, 8, 8), r"layers must be None or a non-empty layer spec"),
        (dict(layers=[8, 3]), (1, 8, 8), r"layers must be None or a non-empty layer spec"),
        (dict(layers=SPEC, dropout=0.2), (1, 8, 8), r"dropout=0.2 .*dropout:R tokens"),
        (dict(layers=SPEC, batch_norm=True), (1, 8, 8), r"batch_norm=True .*batchnorm tokens"),
        (dict(layers=SPEC), (1, 0, 8), r"input_shape must be None or .* got \(1, 0, 8\)"),
        (dict(layers=SPEC), "1x8x8", r"input_shape must be None or .*got '1x8x8'"),
        (dict(layers=SPEC), (1, 9, 9), r"X has 64 features per sample, but input_shape"),
    ],
)
def test_bad_layers_and_input_shape(params, X_shape, match, digits) -> None:
    X_train, _, y_train, _ = digits
    clf = NetClassifier(input_shape=X_shape, max_iter=1, **params)
    with pytest.raises(ValueError, match=match):
        clf.fit(scaled(X_train), y_train)
    assert not hasattr(clf, "model_")


def test_image_shaped_X_must_match_input_shape(digits) -> None:
    X_train, X_test, y_train, _ = digits
    images = scaled(X_train).reshape(-1, 1, 8, 8)
    with pytest.raises(ValueError, match=r"X has shape \(\d+, 1, 8, 8\).*input_shape=\(1, 8, 8\)"):
        NetClassifier(max_iter=1).fit(images, y_train)
    with pytest.raises(ValueError, match=r"samples of shape \(2, 4, 8\), but input_shape is"):
        NetClassifier(**CONV).fit(images.reshape(-1, 2, 4, 8), y_train)
    clf = NetClassifier(**{**CONV, "max_iter": 1}).fit(images, y_train)
    with pytest.raises(ValueError, match=r"samples of shape \(1, 4, 16\)"):
        clf.predict(scaled(X_test).reshape(-1, 1, 4, 16))
    with pytest.raises(ValueError, match="X has 63 features"):
        clf.predict(scaled(X_test)[:, :63])


#: The spec path meets scikit-learn's estimator contract as the hidden_layer_sizes path does.
#: The checks' data have any number of features, so the spec is dense.
SPEC_SMALL = dict(layers="dense:16,relu", learning_rate_init=0.01, max_iter=60, random_state=0)


@pytest.mark.parametrize("make", [NetClassifier, NetRegressor])
def test_spec_estimators_pass_sklearn_checks(make, monkeypatch) -> None:
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")  # runs the array-API check (see test_sklearn_checks)
    with warnings.catch_warnings():  # like MLP, no decision_function: that check is skipped
        warnings.filterwarnings("ignore", "Skipping check .*decision_function", SkipTestWarning)
        check_estimator(make(**SPEC_SMALL))  # raises on the first failed check
