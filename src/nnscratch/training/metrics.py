"""Metrics for classification and regression.

Classification functions take true labels (N integers, or one-hot rows) and either predicted
labels or scores (N x K, one column per class: probabilities or logits). Regression functions
take arrays of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import numpy as np

from ..core._types import Array


def _labels(y: Array, name: str) -> Array:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        labels: Array = y.argmax(axis=1)
        return labels
    if y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be N labels or an N x K array of scores, got shape {y.shape}"
        )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold whole-number class labels")
    return y.astype(np.intp, copy=False)


def _pair(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {len(t)} samples but y_pred has {len(p)}")
    if len(t) == 0:
        raise ValueError("metrics need at least one sample")
    return t, p


def accuracy(y_true: Array, y_pred: Array) -> float:
    """Share of samples whose predicted class (argmax of scores) is the true one."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def top_k_accuracy(y_true: Array, scores: Array, k: int = 5) -> float:
    """Share of samples whose true class is among the k highest scores."""
    scores = np.asarray(scores)
    t = _labels(y_true, "y_true")
    if scores.ndim != 2 or len(scores) != len(t):
        raise ValueError(
            f"scores must be an N x K array with N = {len(t)}, got shape {scores.shape}"
        )
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(
            f"k must be between 1 and the number of classes {scores.shape[1]}, got {k}"
        )
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == t[:, None], axis=1)))


def confusion_matrix(y_true: Array, y_pred: Array, n_classes: int | None = None) -> Array:
    """C[i, j] = number of samples of true class i predicted as class j."""
    t, p = _pair(y_true, y_pred)
    k = n_classes or int(max(t.max(), p.max())) + 1
    if t.min() < 0 or p.min() < 0 or max(t.max(), p.max()) >= k:
        raise ValueError(f"labels must lie in [0, {k - 1}]")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


class ClassificationReport(TypedDict):
    """What ``precision_recall_f1`` returns: per-class arrays (one entry per class) and their
    macro averages."""

    precision: Array
    recall: Array
    f1: Array
    support: Array
    macro_precision: float
    macro_recall: float
    macro_f1: float


def precision_recall_f1(
    y_true: Array, y_pred: Array, n_classes: int | None = None
) -> ClassificationReport:
    """Per-class precision, recall and F1, and their macro averages.

    precision_c = TP / (TP + FP), recall_c = TP / (TP + FN), F1 = 2 P R / (P + R); a class
    never predicted (or absent) gets 0 where the ratio is 0/0.
    """
    cm = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": actual.astype(np.int64),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
    }


def _regression_pair(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if t.ndim == 1 and p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    if t.size == 0:
        raise ValueError("metrics need at least one sample")
    return t, p


def mean_squared_error(y_true: Array, y_pred: Array) -> float:
    t, p = _regression_pair(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def mean_absolute_error(y_true: Array, y_pred: Array) -> float:
    t, p = _regression_pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true: Array, y_pred: Array) -> float:
    """R^2 = 1 - SS_res / SS_tot (1 is perfect, 0 is as good as predicting the mean)."""
    t, p = _regression_pair(y_true, y_pred)
    ss_res = np.sum((t - p) ** 2)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2)
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return float(1 - ss_res / ss_tot)


#: metric(y_true, y_pred or scores) -> value, by the name training logs it under
CLASSIFICATION_METRICS: dict[str, Callable[[Array, Array], float]] = {
    "accuracy": accuracy,
    "top5_accuracy": lambda t, s: top_k_accuracy(t, s, 5),
    "macro_f1": lambda t, s: precision_recall_f1(t, s)["macro_f1"],
}
REGRESSION_METRICS: dict[str, Callable[[Array, Array], float]] = {
    "mse": mean_squared_error,
    "mae": mean_absolute_error,
    "r2": r2_score,
}
