"""Cost functions, each with its gradient with respect to the network's output.

Notation: ``a`` is the network's output for a batch of N samples (shape N x K), ``y`` the
targets of the same shape. Targets may also be given as N integer class labels; they are turned
into one-hot rows (or used directly, where that is cheaper) after their range is checked.

Every ``gradient`` already includes the 1/N of the batch mean, so the gradients of the
parameters that backpropagation produces are those of the *mean* loss (except ``SSE``, which is
a sum by definition).

Every value is finite for finite inputs whenever the true value fits in a float64 (the value is
returned as a Python float): float32 squares and sums that would overflow float32 are redone in
float64, and no ``0 * inf`` is ever formed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._types import Array
from .activations import Activation, Identity, Sigmoid, Softmax, _stable_sigmoid
from .validation import check_targets


class Loss:
    """Base class.

    ``value``, ``gradient`` and ``value_and_gradient`` validate the targets and return the scalar
    cost and/or dL/da. ``compute`` is the unchecked kernel behind them, for training loops that
    validate the whole target set once with ``prepare_target`` and then call it per batch.
    """

    name: str = "loss"
    #: The function that turns the network's raw output into predictions (probabilities for
    #: losses computed from logits, the output itself otherwise).
    output_activation: Activation = Identity()
    #: True when the targets are class labels (classification), False for regression.
    classification: bool = False
    #: True for costs summed over the batch (SSE) rather than averaged: a dataset's cost is
    #: then the sum of its batches' costs, not their size-weighted mean.
    sums_over_batch: bool = False

    def prepare_target(self, output: Array, target: Array) -> Array:
        """Validate ``target`` against ``output`` and return it in the form ``compute`` takes."""
        return check_targets(target, output, self.name, allow_labels=True, one_hot=True)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        """(L, dL/da) for a prepared target; the gradient may reuse internal buffers."""
        raise NotImplementedError

    def value(self, output: Array, target: Array) -> float:
        return self.compute(output, self.prepare_target(output, target), need_gradient=False)[0]

    def gradient(self, output: Array, target: Array) -> Array:
        return self.value_and_gradient(output, target)[1]

    def value_and_gradient(self, output: Array, target: Array) -> tuple[float, Array]:
        value, grad = self.compute(output, self.prepare_target(output, target))
        if grad is None:  # only a subclass breaking the contract of ``compute`` gets here
            raise RuntimeError(
                f"{type(self).__name__}.compute returned no gradient although one was asked for"
            )
        return value, grad

    def __call__(self, output: Array, target: Array) -> float:
        return self.value(output, target)

    def config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _squared_error(
    output: Array, target: Array, value_scale: float, grad_scale: float
) -> tuple[float, Array]:
    """(value_scale * sum (a - y)^2, grad_scale * (a - y)), without spurious overflow.

    The fast path squares in the output's dtype; float32 overflows there once |a - y| passes
    about 1.8e19. Only when that happens is the difference recomputed in float64 and, should its
    squares overflow float64 too, divided by its largest entry m before squaring:
    sum d^2 = m^2 sum (d/m)^2. The gradient keeps the output's dtype.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        diff = output - target
        value = float(np.vdot(diff, diff)) * value_scale
    if math.isfinite(value):
        if grad_scale != 1.0:
            diff *= grad_scale
        return value, diff
    wide = output.astype(np.float64) - target
    m = float(np.max(np.abs(wide)))
    if math.isfinite(m):
        scaled = wide / m
        value = m * (m * (float(np.vdot(scaled, scaled)) * value_scale))
    wide *= grad_scale
    with np.errstate(over="ignore"):  # a gradient beyond float32's range is the true one
        return value, wide.astype(output.dtype)


class MSE(Loss):
    """Mean squared error over all N x K entries: L = 1/(N K) sum (a - y)^2.

    dL/da = 2 (a - y) / (N K).  This is PyTorch's ``MSELoss()`` and Keras's ``mse``.
    """

    name = "mse"

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        return _squared_error(output, target, 1.0 / output.size, 2.0 / output.size)


class QuadraticCost(Loss):
    """Nielsen's quadratic cost: C = 1/(2N) sum_x ||y(x) - a(x)||^2;  dC/da = (a - y) / N.

    The same function as MSE scaled by K/2; its gradient is the "output error" of Nielsen's
    backpropagation equations.
    """

    name = "quadratic"

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        return _squared_error(output, target, 0.5 / len(output), 1.0 / len(output))


class SSE(Loss):
    """Sum of squared errors: L = 1/2 sum (a - y)^2 over the whole batch;  dL/da = a - y.

    The cost of seed 003's four-row example. It grows with the batch size, so its learning
    rates are not comparable with those of the mean losses.
    """

    name = "sse"
    sums_over_batch = True

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        return _squared_error(output, target, 0.5, 1.0)


class BinaryCrossEntropy(Loss):
    """Cross-entropy of probabilities a in [0, 1] against targets y in [0, 1]:

    L = -1/N sum [y ln a + (1 - y) ln(1 - a)]  (summed over output units, averaged over samples)
    dL/da = (a - y) / (a (1 - a)) / N

    ``a`` is clipped to [eps, 1 - eps] so that ln never sees 0 (the epsilon guard). The gradient
    returned is that of the clipped loss, consistent with the value: where a lies outside
    [eps, 1 - eps] the clipped value does not change with a, and dL/da is 0 there.

    After a sigmoid, that zero (or, just inside the clip, the tiny sigma'(z) = a (1 - a)) stops
    a saturated unit from learning: a sigmoid output stuck at 1 for a target 0 gets
    dL/dz ~ 0 instead of 1. So a ``Model`` whose network ends in a sigmoid (a ``Dense`` with a
    sigmoid activation, or a sigmoid ``ActivationLayer``) computes this loss from the sigmoid's
    input z instead, as Keras does: ``compute_from_logits`` gives
    L = 1/N sum [max(z, 0) - z y + ln(1 + e^-|z|)] and dL/dz = (sigma(z) - y) / N exactly,
    with no clipping (its value then exceeds the clipped one's ceiling -ln(eps) for badly wrong
    saturated outputs). The network's output, and so ``predict``/``predict_proba``, stays the
    probability. Called directly on probabilities (``value``, ``gradient``, ``compute``), the
    loss is the clipped one described above. A subclass that changes ``compute`` should change
    ``compute_from_logits`` to match.
    """

    name = "binary_cross_entropy"
    classification = True

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = float(eps)

    def prepare_target(self, output: Array, target: Array) -> Array:
        return check_targets(target, output, self.name, allow_labels=False, binary=True)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        a = np.clip(output, self.eps, 1.0 - self.eps)
        y = target
        value = _mean_of_rows(-(y * np.log(a) + (1.0 - y) * np.log1p(-a)))
        if not need_gradient:
            return value, None
        grad = (a - y) / (a * (1.0 - a)) / len(a)
        grad[(output < self.eps) | (output > 1.0 - self.eps)] = 0.0  # the clip is flat there
        return value, grad

    def compute_from_logits(
        self, logits: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        """(L, dL/dz) for a = sigma(z), from z itself: see the class docstring."""
        return _bce_from_logits(logits, target, need_gradient)

    def config(self) -> dict[str, Any]:
        return {"eps": self.eps}


def _mean_of_rows(per_entry: Array) -> float:
    """1/N sum of an (N, K) array of non-negative terms, as a Python float.

    Summed in float64 so that float32 terms near float32's maximum do not overflow the sum;
    float64 terms that large are divided by N before they are summed.
    """
    total = float(np.sum(per_entry, dtype=np.float64))
    if math.isinf(total):
        return float(np.sum(per_entry / len(per_entry), dtype=np.float64))
    return total / len(per_entry)


def _bce_from_logits(z: Array, target: Array, need_gradient: bool) -> tuple[float, Array | None]:
    """L = 1/N sum [max(z, 0) - z y + ln(1 + e^-|z|)],  dL/dz = (sigma(z) - y) / N."""
    # max(z, 0) - z y = z (1 - y) for z >= 0 and -z y for z < 0: neither can overflow for
    # y in [0, 1], unlike the difference of the two products for z near the dtype's maximum
    per_entry = np.where(z >= 0, z * (1.0 - target), -z * target)
    per_entry += np.log1p(np.exp(-np.abs(z)))
    value = _mean_of_rows(per_entry)
    if not need_gradient:
        return value, None
    grad = _stable_sigmoid(z)
    grad -= target
    grad /= len(grad)
    return value, grad


class BinaryCrossEntropyWithLogits(Loss):
    """Binary cross-entropy computed from the logit z (a = sigma(z)) without forming ln(a):

    L = 1/N sum [max(z, 0) - z y + ln(1 + e^-|z|)]
    dL/dz = (sigma(z) - y) / N   (the sigma'(z) factor cancels: no learning slowdown, seed 002)
    """

    name = "binary_cross_entropy_with_logits"
    output_activation = Sigmoid()
    classification = True

    def prepare_target(self, output: Array, target: Array) -> Array:
        return check_targets(target, output, self.name, allow_labels=False, binary=True)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        return _bce_from_logits(output, target, need_gradient)


class CategoricalCrossEntropy(Loss):
    """Cross-entropy of probability rows a (e.g. a softmax output) against one-hot targets:

    L = -1/N sum_i sum_k y_ik ln a_ik;   dL/da = -y / a / N

    ``a`` is clipped below at eps. For a softmax output layer prefer the fused
    ``SoftmaxCrossEntropy``, which takes logits and has the simple gradient (a - y) / N.
    """

    name = "categorical_cross_entropy"
    classification = True

    def __init__(self, eps: float = 1e-12) -> None:
        self.eps = float(eps)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        a = np.maximum(output, self.eps)
        value = float(-np.sum(target * np.log(a)) / len(a))
        if not need_gradient:
            return value, None
        return value, -target / a / len(a)

    def config(self) -> dict[str, Any]:
        return {"eps": self.eps}


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, fused, from the logits z:

    ln softmax(z)_k = z_k - logsumexp(z),  logsumexp(z) = m + ln sum_j e^(z_j - m),  m = max_j z_j
    L = -1/N sum_i sum_k y_ik ln softmax(z_i)_k
    dL/dz = (softmax(z) - y) / N          (for target rows summing to 1, e.g. one-hot)

    Fusing avoids both overflow (the max is subtracted) and ln(0) (no probability is ever
    logged), and its gradient has no softmax Jacobian in it. Integer labels are used directly
    (one entry per row is picked) instead of being expanded to one-hot rows; one-hot rows give
    the same value and gradient, also for logits spanning the whole float range, where a
    shifted logit of -inf meets a target weight of 0 (that term is 0, never 0 * inf = NaN).
    When float32 logits are that far apart, the loss is recomputed in float64, so its value
    stays finite (up to about 6.8e38) and its gradient exact.
    """

    name = "softmax_cross_entropy"
    output_activation = Softmax()
    classification = True

    def prepare_target(self, output: Array, target: Array) -> Array:
        return check_targets(target, output, self.name, allow_labels=True, one_hot=False)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        # Logits spanning more than the dtype's range (e.g. [max, -max] in float32) shift some
        # entries to -inf; the exact-zero handling below then needs the wide path.
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad = self._compute(output, target, need_gradient, exact_zeros=False)
        if math.isfinite(value):
            return value, grad
        wide_target = target if target.ndim == 1 else target.astype(np.float64)
        with np.errstate(over="ignore"):
            value, grad = self._compute(
                output.astype(np.float64), wide_target, need_gradient, exact_zeros=True
            )
        return value, None if grad is None else grad.astype(output.dtype)

    @staticmethod
    def _compute(
        output: Array, target: Array, need_gradient: bool, exact_zeros: bool
    ) -> tuple[float, Array | None]:
        """The fused kernel. ``exact_zeros`` keeps target weights of 0 from multiplying shifted
        logits of -inf (0 * -inf is NaN; the term is 0), at the cost of one more pass."""
        n = len(output)
        # Speed: the work runs on a transposed copy e (K x N), so that the max and the sum over
        # each sample's K classes are element-wise passes along rows of N contiguous numbers
        # rather than N tiny reductions of K = 10 (512 x 10: 29 us instead of 64 us).
        # The gradient returned is e.T, an (N, K) view.
        e = output.T.copy()
        e -= e.max(axis=0)  # shifted logits z - max z: exp below never overflows
        samples = np.arange(n)
        if target.ndim == 1:  # integer labels
            picked = e[target, samples].sum()
        else:
            weight = target.sum(axis=1)  # sum_k y_k: 1 for one-hot rows
            picked = np.vdot(target.T, np.where(target.T != 0, e, 0.0) if exact_zeros else e)
        np.exp(e, out=e)
        row_sum = e.sum(axis=0)
        # L = 1/N sum_i (sum_k y_ik) lse_i - y_i . (z_i - max z_i), lse = ln sum_k e^(z_k - max z)
        log_sum = np.log(row_sum)
        lse_total = log_sum.sum() if target.ndim == 1 else np.dot(weight, log_sum)
        value = float(lse_total - picked) / n
        if not need_gradient:
            return value, None
        # dL/dz = ((sum_k y_k) softmax(z) - y) / N: softmax(z) - y divided by N for one-hot
        # rows, and still right for soft or weighted rows that do not sum to 1
        row_sum *= n
        if target.ndim == 1:
            e /= row_sum  # softmax(z) / N
            e[target, samples] -= 1.0 / n
        else:
            e *= weight / row_sum
            e -= target.T / n
        return value, e.T


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        MSE,
        QuadraticCost,
        SSE,
        BinaryCrossEntropy,
        BinaryCrossEntropyWithLogits,
        CategoricalCrossEntropy,
        SoftmaxCrossEntropy,
    )
}
_ALIASES = {
    "mean_squared_error": "mse",
    "sum_squared_error": "sse",
    "bce": "binary_cross_entropy",
    "bce_with_logits": "binary_cross_entropy_with_logits",
    "cross_entropy": "softmax_cross_entropy",
    "categorical_crossentropy": "categorical_cross_entropy",
    "softmax_crossentropy": "softmax_cross_entropy",
}


def get_loss(spec: str | Loss | type[Loss]) -> Loss:
    """Turn a name (``"softmax-cross-entropy"``, ``"mse"``...) or an instance into a Loss."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, type) and issubclass(spec, Loss):
        return spec()
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_").replace(" ", "_")
        key = _ALIASES.get(key, key)
        if key in LOSSES:
            return LOSSES[key]()
        raise ValueError(f"unknown loss {spec!r}; expected one of {sorted(LOSSES)}")
    raise TypeError(f"loss must be a name or a Loss instance, got {type(spec).__name__}")
