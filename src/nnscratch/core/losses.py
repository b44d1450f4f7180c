"""Cost functions, each with its gradient with respect to the network's output.

Notation: ``a`` is the network's output for a batch of N samples (shape N x K), ``y`` the
targets of the same shape. Targets may also be given as N integer class labels; they are turned
into one-hot rows (or used directly, where that is cheaper) after their range is checked.

Every ``gradient`` already includes the 1/N of the batch mean, so the gradients of the
parameters that backpropagation produces are those of the *mean* loss (except ``SSE``, which is
a sum by definition).
"""

from __future__ import annotations

import numpy as np

from .activations import Activation, Identity, Sigmoid, Softmax, _stable_sigmoid
from .validation import check_targets

Array = np.ndarray


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
        return self.compute(output, self.prepare_target(output, target))[1]

    def value_and_gradient(self, output: Array, target: Array) -> tuple[float, Array]:
        return self.compute(output, self.prepare_target(output, target))

    def __call__(self, output: Array, target: Array) -> float:
        return self.value(output, target)

    def config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class MSE(Loss):
    """Mean squared error over all N x K entries: L = 1/(N K) sum (a - y)^2.

    dL/da = 2 (a - y) / (N K).  This is PyTorch's ``MSELoss()`` and Keras's ``mse``.
    """

    name = "mse"

    def compute(self, output, target, need_gradient=True):
        diff = output - target
        value = float(np.vdot(diff, diff)) / diff.size
        if need_gradient:
            diff *= 2.0 / diff.size
        return value, diff


class QuadraticCost(Loss):
    """Nielsen's quadratic cost: C = 1/(2N) sum_x ||y(x) - a(x)||^2;  dC/da = (a - y) / N.

    The same function as MSE scaled by K/2; its gradient is the "output error" of Nielsen's
    backpropagation equations.
    """

    name = "quadratic"

    def compute(self, output, target, need_gradient=True):
        diff = output - target
        value = 0.5 * float(np.vdot(diff, diff)) / len(diff)
        if need_gradient:
            diff /= len(diff)
        return value, diff


class SSE(Loss):
    """Sum of squared errors: L = 1/2 sum (a - y)^2 over the whole batch;  dL/da = a - y.

    The cost of seed 003's four-row example. It grows with the batch size, so its learning
    rates are not comparable with those of the mean losses.
    """

    name = "sse"
    sums_over_batch = True

    def compute(self, output, target, need_gradient=True):
        diff = output - target
        return 0.5 * float(np.vdot(diff, diff)), diff


class BinaryCrossEntropy(Loss):
    """Cross-entropy of sigmoid probabilities a in (0, 1) against targets y in [0, 1]:

    L = -1/N sum [y ln a + (1 - y) ln(1 - a)]  (summed over output units, averaged over samples)
    dL/da = (a - y) / (a (1 - a)) / N

    ``a`` is clipped to [eps, 1 - eps] so that ln never sees 0 (the epsilon guard). When the
    network's last layer is a sigmoid, ``BinaryCrossEntropyWithLogits`` on the pre-activation is
    more accurate and cheaper.
    """

    name = "binary_cross_entropy"
    classification = True

    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = float(eps)

    def prepare_target(self, output: Array, target: Array) -> Array:
        return check_targets(target, output, self.name, allow_labels=False, binary=True)

    def compute(self, output, target, need_gradient=True):
        a = np.clip(output, self.eps, 1.0 - self.eps)
        y = target
        value = float(-np.sum(y * np.log(a) + (1.0 - y) * np.log1p(-a)) / len(a))
        if not need_gradient:
            return value, None
        return value, (a - y) / (a * (1.0 - a)) / len(a)

    def config(self) -> dict:
        return {"eps": self.eps}


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

    def compute(self, output, target, need_gradient=True):
        z = output
        per_entry = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
        value = float(np.sum(per_entry) / len(z))
        if not need_gradient:
            return value, None
        grad = _stable_sigmoid(z)
        grad -= target
        grad /= len(grad)
        return value, grad


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

    def compute(self, output, target, need_gradient=True):
        a = np.maximum(output, self.eps)
        value = float(-np.sum(target * np.log(a)) / len(a))
        if not need_gradient:
            return value, None
        return value, -target / a / len(a)

    def config(self) -> dict:
        return {"eps": self.eps}


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by cross-entropy, fused, from the logits z:

    ln softmax(z)_k = z_k - logsumexp(z),  logsumexp(z) = m + ln sum_j e^(z_j - m),  m = max_j z_j
    L = -1/N sum_i sum_k y_ik ln softmax(z_i)_k
    dL/dz = (softmax(z) - y) / N          (for target rows summing to 1, e.g. one-hot)

    Fusing avoids both overflow (the max is subtracted) and ln(0) (no probability is ever
    logged), and its gradient has no softmax Jacobian in it. Integer labels are used directly
    (one entry per row is picked) instead of being expanded to one-hot rows.
    """

    name = "softmax_cross_entropy"
    output_activation = Softmax()
    classification = True

    def prepare_target(self, output: Array, target: Array) -> Array:
        return check_targets(target, output, self.name, allow_labels=True, one_hot=False)

    def compute(self, output, target, need_gradient=True):
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
            picked = np.vdot(target.T, e)
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


def get_loss(spec: str | Loss) -> Loss:
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
