"""The losses the scikit-learn estimators train with: scikit-learn's MLP objectives, with one
weight per sample.

Each takes its targets with the weights built in, so that the weights travel with their rows
through nnscratch's mini-batch shuffling; the estimators normalise the weights to mean 1 over
the training set, so a batch's loss estimates the weighted mean ``sum_i w_i L_i / sum_i w_i``
and equals it for a full batch. Without weights the targets carry no weight column. All of
them are computed from the output layer's affine output z (the logits), so the gradient is the
simple "prediction minus target" of a canonical link, with no activation derivative in it.

Their ``name`` is that of the matching plain loss: a model trained with one is an ordinary
nnscratch model of that loss.
"""

from __future__ import annotations

import numpy as np

from ..core._types import Array
from ..core.losses import Loss, SoftmaxCrossEntropy
from ..core.validation import check_finite

__all__ = [
    "SampleWeightedLogistic",
    "SampleWeightedMSE",
    "SampleWeightedPoisson",
    "SampleWeightedSoftmaxCrossEntropy",
]


def _weighted_columns(loss: Loss, output: Array, target: Array) -> Array:
    """Targets of shape (N, K + 1): the K target columns, then the weights; or (N, K) for
    unit weights. Validated."""
    y = np.asarray(target)
    n, k = output.shape
    if y.ndim != 2 or y.shape not in ((n, k + 1), (n, k)):
        raise ValueError(
            f"weighted targets for {loss.name} must have shape {(n, k + 1)} (targets, then "
            f"weights) or {(n, k)} (no weights), got {y.shape}"
        )
    if y.dtype.kind not in "biuf":
        raise ValueError(f"weighted targets must be numeric, got dtype {y.dtype}")
    check_finite(y, "y (targets and weights)", f"the weighted {loss.name} loss")
    if y.shape[1] == k + 1 and (y[:, -1] < 0).any():
        raise ValueError("sample weights must be non-negative")
    return y.astype(output.dtype, copy=False)


def _weighted_row_sum(per_entry: Array, weights: Array | None) -> float:
    """sum_i w_i sum_k per_entry_ik (w_i = 1 without weights)."""
    per_sample = per_entry.sum(axis=1, keepdims=True)
    return float(per_sample.sum() if weights is None else np.vdot(weights, per_sample))


def _split(output: Array, target: Array) -> tuple[Array, Array | None]:
    """The target columns and the weight column (None for unit weights)."""
    if target.shape[1] == output.shape[1]:
        return target, None
    return target[:, :-1], target[:, -1:]


class SampleWeightedMSE(Loss):
    """Mean squared error with one weight per sample, over N samples of K outputs:

    L = c/(N K) sum_i w_i ||a_i - y_i||^2;   dL/da_i = 2c w_i (a_i - y_i) / (N K)

    with c = 1 (nnscratch's MSE), or c = 1/2 with ``half=True``: scikit-learn's
    ``squared_loss``, whose gradient is then plainly w_i (a_i - y_i) / (N K).
    The prepared target is (N, K + 1): the K target columns, then the weights; or (N, K)
    when every weight is 1.
    """

    name = "mse"

    def __init__(self, half: bool = False) -> None:
        self.half = bool(half)

    def prepare_target(self, output: Array, target: Array) -> Array:
        return _weighted_columns(self, output, target)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        scale = 0.5 if self.half else 1.0
        y, weights = _split(output, target)
        diff = output - y
        weighted = diff if weights is None else diff * weights
        value = scale * float(np.vdot(weighted, diff)) / diff.size
        if not need_gradient:
            return value, None
        weighted *= 2.0 * scale / diff.size
        return value, weighted

    def config(self) -> dict[str, object]:
        return {"half": self.half}


class SampleWeightedSoftmaxCrossEntropy(SoftmaxCrossEntropy):
    """Softmax cross-entropy with one weight per sample, from the logits z:

    L = 1/N sum_i w_i CE_i,   CE_i = logsumexp(z_i) - z_i,y_i
    dL/dz_i = w_i (softmax(z_i) - e_y_i) / N

    The prepared target is the weighted one-hot matrix T (N x K, row i = w_i e_y_i), so
    ``argmax`` still gives the labels; w_i is the row sum. Written for rows of any sum:
    nnscratch's ``SoftmaxCrossEntropy`` computes the value for such rows but its gradient,
    ``softmax(z) - T``, assumes rows summing to 1.
    """

    def prepare_target(self, output: Array, target: Array) -> Array:
        y = np.asarray(target)
        if y.ndim != 2 or y.shape != output.shape:
            raise ValueError(
                f"weighted one-hot targets must have shape {output.shape}, got {y.shape}"
            )
        if y.dtype.kind not in "biuf":
            raise ValueError(f"weighted targets must be numeric, got dtype {y.dtype}")
        check_finite(y, "y (weighted one-hot targets)", "the weighted softmax loss")
        if (y < 0).any():
            raise ValueError("sample weights must be non-negative")
        return y.astype(output.dtype, copy=False)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        n = len(output)
        shifted = output - output.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        row_sum = e.sum(axis=1, keepdims=True)
        weights = target.sum(axis=1)
        value = float(np.dot(weights, np.log(row_sum).ravel()) - np.vdot(target, shifted)) / n
        if not need_gradient:
            return value, None
        e /= row_sum  # softmax(z)
        e *= weights[:, None]
        e -= target
        e /= n
        return value, e


class SampleWeightedLogistic(Loss):
    """Binary cross-entropy of K independent sigmoid outputs, from the logits z, one weight per
    sample (scikit-learn's ``binary_log_loss``: summed over the outputs, averaged over samples):

    L = 1/N sum_i w_i sum_k [max(z_ik, 0) - z_ik y_ik + ln(1 + e^-|z_ik|)]
    dL/dz_ik = w_i (sigma(z_ik) - y_ik) / N

    (the bracket is -y ln sigma(z) - (1 - y) ln(1 - sigma(z)), written so that no exp overflows).
    Binary classification is K = 1; a multilabel indicator matrix has one column per label.
    The prepared target is (N, K + 1): the 0/1 targets, then the weights; or (N, K) when every
    weight is 1.
    """

    name = "binary_cross_entropy_with_logits"

    def prepare_target(self, output: Array, target: Array) -> Array:
        y = _weighted_columns(self, output, target)
        labels = y[:, : output.shape[1]]
        if ((labels != 0) & (labels != 1)).any():
            raise ValueError("logistic targets must be 0 or 1")
        return y

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        n = len(output)
        y, weights = _split(output, target)
        per_entry = np.maximum(output, 0) - output * y + np.log1p(np.exp(-np.abs(output)))
        value = _weighted_row_sum(per_entry, weights) / n
        if not need_gradient:
            return value, None
        # sigma(z) without overflow: e^-|z| is at most 1
        e = np.exp(-np.abs(output))
        grad = np.where(output >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(output.dtype)
        grad -= y
        if weights is not None:
            grad *= weights
        grad /= n
        return value, grad


class SampleWeightedPoisson(Loss):
    """Half the Poisson deviance, from the log-mean z (prediction mu = e^z), one weight per
    sample (scikit-learn's ``poisson_loss``: summed over outputs, averaged over samples):

    L = 1/N sum_i w_i sum_k [e^z_ik - y_ik z_ik + y_ik ln y_ik - y_ik]   (0 ln 0 = 0)
    dL/dz_ik = w_i (e^z_ik - y_ik) / N

    Targets must be >= 0. The prepared target is (N, K + 1): the targets, then the weights; or
    (N, K) when every weight is 1.
    """

    name = "poisson"

    def prepare_target(self, output: Array, target: Array) -> Array:
        y = _weighted_columns(self, output, target)
        if (y[:, : output.shape[1]] < 0).any():
            raise ValueError("Poisson regression needs targets >= 0")
        return y

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        n = len(output)
        y, weights = _split(output, target)
        with np.errstate(over="ignore"):
            mu = np.exp(output)
        safe = np.where(y > 0, y, 1)
        per_entry = mu - y * output + y * np.log(safe) - y
        value = _weighted_row_sum(per_entry, weights) / n
        if not need_gradient:
            return value, None
        mu -= y
        if weights is not None:
            mu *= weights
        mu /= n
        return value, mu
