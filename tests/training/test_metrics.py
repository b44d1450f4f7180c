import numpy as np
import pytest

import nnscratch as nn

T = np.array([0, 0, 1, 1, 2, 2])
P = np.array([0, 1, 1, 1, 0, 2])


def test_accuracy_from_labels_scores_and_one_hot():
    assert nn.accuracy(T, P) == pytest.approx(4 / 6)
    scores = np.eye(3)[P] * 5.0
    assert nn.accuracy(np.eye(3)[T], scores) == pytest.approx(4 / 6)


def test_top_k():
    scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.2, 0.4, 0.3]])
    assert nn.top_k_accuracy([1, 0, 2], scores, k=1) == 0.0
    assert nn.top_k_accuracy([1, 0, 2], scores, k=2) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="k must be between 1 and"):
        nn.top_k_accuracy([1, 0, 2], scores, k=4)


def test_confusion_matrix_and_per_class_scores():
    cm = nn.confusion_matrix(T, P)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    scores = nn.precision_recall_f1(T, P)
    np.testing.assert_allclose(scores["precision"], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(scores["recall"], [0.5, 1.0, 0.5])
    np.testing.assert_allclose(scores["f1"], [0.5, 0.8, 2 / 3])
    assert scores["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # a class that is never predicted gets precision 0, not NaN
    assert nn.precision_recall_f1([0, 1], [0, 0], n_classes=2)["precision"][1] == 0.0


def test_regression_metrics():
    t, p = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0])
    assert nn.mean_squared_error(t, p) == pytest.approx((0.25 + 1) / 3)
    assert nn.mean_absolute_error(t, p) == pytest.approx(0.5)
    assert nn.r2_score(t, p) == pytest.approx(1 - 1.25 / 2)
    assert nn.r2_score(t, t) == 1.0


def test_metric_errors():
    with pytest.raises(ValueError, match="3 samples but y_pred has 2"):
        nn.accuracy([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="at least one sample"):
        nn.accuracy([], [])
    with pytest.raises(ValueError, match="shape"):
        nn.mean_squared_error(np.zeros(3), np.zeros(4))
