"""How the estimators minimise their objective: the stochastic solvers with scikit-learn's
learning-rate schedules, and L-BFGS on the whole training set.

The stochastic solvers are nnscratch optimizers built from scikit-learn's ``MLPClassifier``
parameters, with the same meaning:

* ``solver="sgd"``: gradient descent with ``momentum`` mu (0.9 by default) and, with
  ``nesterovs_momentum``, Nesterov's look-ahead (``nnscratch.training.optimizers.Momentum``);
  ``momentum=0`` is plain gradient descent.
* ``solver="adam"``: Adam with ``beta_1``, ``beta_2`` and ``epsilon``.
* nnscratch's other names (``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
  ``"adamw"``) with their own defaults (``momentum`` applies to the first two, the betas and
  ``epsilon`` to ``"adamw"``), or an ``Optimizer`` instance.

``learning_rate`` schedules every stochastic solver except Adam (scikit-learn applies it to
``"sgd"`` only, and Adam adapts its own steps):

* ``"constant"``: eta = ``learning_rate_init`` throughout;
* ``"invscaling"``: after each epoch eta = ``learning_rate_init / (t + 1) ** power_t``, with t
  the number of training samples seen so far;
* ``"adaptive"``: eta stays constant while the monitored quantity improves; when it has not
  improved by ``tol`` for more than ``n_iter_no_change`` epochs, eta is divided by 5 instead of
  stopping, and training stops only once eta has fallen to 1e-6 or below.

``solver="lbfgs"`` hands the whole objective (data loss over every sample plus the L2
penalty) and its gradient, over the network's flat parameter vector, to
``scipy.optimize.minimize(method="L-BFGS-B")``, with ``maxiter=max_iter``, ``maxfun=max_fun``
and ``gtol=tol`` as in scikit-learn.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass

import numpy as np

from ..core._types import Array
from ..core.losses import Loss
from ..model import Model
from ..training.optimizers import OPTIMIZERS, Momentum, Optimizer, get_optimizer

__all__ = [
    "ADAPTIVE_FLOOR",
    "SELF_ADAPTING",
    "LBFGSResult",
    "SolverSettings",
    "adapt_instead_of_stopping",
    "fit_lbfgs",
    "make_optimizer",
    "scheduled_rate",
]

#: The stochastic solvers whose steps ``learning_rate`` does not schedule.
SELF_ADAPTING = ("adam", "adamw")

#: ``learning_rate="adaptive"`` stops training once eta has been divided down to this.
ADAPTIVE_FLOOR = 1e-6


@dataclass(frozen=True)
class SolverSettings:
    """The validated solver parameters of one estimator."""

    solver: str | Optimizer
    learning_rate: str
    learning_rate_init: float
    power_t: float
    momentum: float
    nesterovs_momentum: bool
    beta_1: float
    beta_2: float
    epsilon: float
    max_fun: int

    @property
    def stochastic(self) -> bool:
        return self.solver != "lbfgs"

    @property
    def scheduled(self) -> bool:
        """Whether ``learning_rate`` applies (every stochastic solver but Adam's)."""
        if isinstance(self.solver, Optimizer):
            return self.solver.name not in SELF_ADAPTING
        return self.stochastic and self.solver not in SELF_ADAPTING


def make_optimizer(settings: SolverSettings) -> Optimizer:
    """A fresh nnscratch optimizer for a stochastic solver (see the module docstring)."""
    solver, lr = settings.solver, settings.learning_rate_init
    if isinstance(solver, Optimizer):
        return copy.deepcopy(solver)  # an instance is used as given (its own rate)
    if solver == "sgd":
        if settings.momentum == 0:
            return get_optimizer("sgd", learning_rate=lr)
        return Momentum(lr, momentum=settings.momentum, nesterov=settings.nesterovs_momentum)
    if solver in ("momentum", "nesterov"):
        return get_optimizer(solver, learning_rate=lr, momentum=settings.momentum)
    if solver in SELF_ADAPTING:
        return get_optimizer(
            solver,
            learning_rate=lr,
            beta1=settings.beta_1,
            beta2=settings.beta_2,
            eps=settings.epsilon,
        )
    if solver in OPTIMIZERS:
        return get_optimizer(solver, learning_rate=lr)
    raise ValueError(  # the estimators validate the name first; this is a safety net
        f"solver must be 'lbfgs' or an optimizer name {sorted(OPTIMIZERS)}, got {solver!r}"
    )


def scheduled_rate(settings: SolverSettings, samples_seen: int) -> float | None:
    """The learning rate ``"invscaling"`` sets after an epoch, else None (unchanged)."""
    if not settings.scheduled or settings.learning_rate != "invscaling":
        return None
    return float(settings.learning_rate_init / (samples_seen + 1) ** settings.power_t)


def adapt_instead_of_stopping(settings: SolverSettings, optimizer: Optimizer) -> bool:
    """Called when the stopping rule fires: with ``"adaptive"``, divide eta by 5 and go on
    (True) unless it is already at the floor; otherwise stop (False)."""
    if not settings.scheduled or settings.learning_rate != "adaptive":
        return False
    if optimizer.learning_rate <= ADAPTIVE_FLOOR:
        return False
    optimizer.learning_rate /= 5.0
    return True


@dataclass(frozen=True)
class LBFGSResult:
    n_iter: int
    loss: float
    converged: bool
    message: str


def fit_lbfgs(
    model: Model,
    x: Array,
    targets: Array,
    loss: Loss,
    *,
    max_iter: int,
    max_fun: int,
    tol: float,
    verbose: bool,
) -> LBFGSResult:
    """Minimise ``loss`` over every sample plus ``model.regularizers``' penalty with L-BFGS-B.

    The objective f(theta) and its gradient come from one forward and one backward pass over
    the whole of ``x`` (the targets are prepared for ``loss``), with theta the network's flat
    parameter vector; SciPy works in float64 and the network in its own dtype. The network is
    left at the solution (the last point SciPy accepted).
    """
    try:
        from scipy.optimize import minimize
    except ImportError as exc:  # pragma: no cover - scipy comes with scikit-learn
        raise ImportError("solver='lbfgs' needs SciPy: pip install scipy") from exc
    net = model.network
    flat = net.flat_parameter
    if flat is None:
        raise ValueError("fit_lbfgs needs a built network")
    params = net.parameters()
    n = int(x.shape[0])  # (len() refuses sparse matrices)
    evaluations = 0

    def objective(theta: Array) -> tuple[float, Array]:
        nonlocal evaluations
        evaluations += 1
        np.copyto(flat.value, theta, casting="same_kind")
        with np.errstate(over="ignore", invalid="ignore"):
            output = net._forward(x, training=True)
            value, grad = loss.compute(output, targets)
            assert grad is not None
            net.backward(grad, need_input_grad=False)
        for reg in model.regularizers:
            reg.add_gradient(params, n)
        total = value + model._penalty(n)
        if not math.isfinite(total):
            # L-BFGS-B backs off from a non-finite value by shortening its step
            return math.inf, np.zeros_like(theta)
        return total, flat.grad.astype(np.float64)

    start = flat.value.astype(np.float64)
    options: dict[str, object] = {"maxiter": max_iter, "maxfun": max_fun, "gtol": tol}
    with warnings.catch_warnings():
        # SciPy >= 1.15 deprecates iprint/disp; its own output is replaced by ours
        warnings.simplefilter("ignore", DeprecationWarning)
        result = minimize(objective, start, method="L-BFGS-B", jac=True, options=options)
    np.copyto(flat.value, result.x, casting="same_kind")
    if verbose:
        print(
            f"L-BFGS-B: {int(result.nit)} iterations, {evaluations} evaluations, "
            f"loss {float(result.fun):.8f}: {result.message}"
        )
    return LBFGSResult(
        n_iter=int(result.nit),
        loss=float(result.fun),
        converged=bool(result.success),
        message=str(result.message),
    )
