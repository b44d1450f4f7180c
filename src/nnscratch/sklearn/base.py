"""What ``NetClassifier`` and ``NetRegressor`` share: the parameters of scikit-learn's MLP
estimators (plus nnscratch's own), their validation, the network, the training loops of the
stochastic solvers and L-BFGS, MLP's stopping rule, and the fitted attributes.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..core._types import Array
from ..core.activations import Activation, get_activation
from ..core.initializers import Initializer, Uniform
from ..core.layers import ActivationLayer, BatchNorm, Dense, Dropout, Layer, as_shape
from ..core.losses import Loss
from ..core.network import Sequential
from ..core.sparse import is_sparse
from ..core.spec import build_network, parse_layers
from ..core.validation import check_finite
from ..model import Model
from ..training.callbacks import Callback
from ..training.memory import check_memory
from ..training.optimizers import OPTIMIZERS, Optimizer
from ..training.regularizers import L2
from ..training.threads import Threads, check_threads
from .solvers import (
    SolverSettings,
    adapt_instead_of_stopping,
    fit_lbfgs,
    make_optimizer,
    scheduled_rate,
)

#: ``partial_fit`` with ``early_stopping`` holds out samples from each call until the
#: validation pool holds this many; later calls train on all their samples.
MAX_VALIDATION_POOL = 10_000

#: Integer sample weights on a network with batch norm or dropout repeat rows (see
#: ``BaseNet._as_sample_set``) when their sum is at most this many times the number of rows.
MAX_REPEAT_FACTOR = 4

#: scikit-learn's names for activations that nnscratch calls otherwise.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}

#: The ``learning_rate`` schedules (see ``nnscratch.sklearn.solvers``).
LEARNING_RATES = ("constant", "invscaling", "adaptive")


_Method = TypeVar("_Method", bound=Callable[..., Any])


def only_if(check: Callable[[Any], bool]) -> Callable[[_Method], _Method]:
    """scikit-learn's ``available_if`` (the method exists only when ``check`` passes), typed."""
    return cast(Callable[[_Method], _Method], available_if(check))


def mlp_initializer(fan_in: int, fan_out: int, activation: str) -> Initializer:
    """scikit-learn MLP's initial weights and biases of a layer: U(-b, b) with
    b = sqrt(f / (fan_in + fan_out)), f = 2 for a sigmoid layer, 6 otherwise (Glorot's uniform
    rule, which MLP applies to every layer, the output layer included)."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    return Uniform(math.sqrt(factor / (fan_in + fan_out)))


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def shared_parameters(arguments: dict[str, Any]) -> dict[str, Any]:
    """Of a subclass ``__init__``'s ``locals()``, the arguments ``BaseNet.__init__`` takes."""
    names = inspect.signature(BaseNet.__init__).parameters
    return {name: value for name, value in arguments.items() if name in names and name != "self"}


def n_rows(x: Any) -> int:
    """The number of samples of a dense or sparse ``x`` (``len`` refuses sparse matrices)."""
    return int(x.shape[0])


def stack_rows(parts: list[Any]) -> Any:
    """Dense or sparse blocks of rows, one below the other."""
    if parts and is_sparse(parts[0]):
        from scipy.sparse import vstack

        return vstack(parts, format="csr")
    return np.concatenate(parts)


@dataclass
class Config:
    """The validated hyper-parameters of one ``fit``/``partial_fit`` call."""

    hidden: tuple[int, ...]
    activations: list[Activation]
    layers: str | None
    input_shape: tuple[int, ...] | None
    batch_size: int | str
    max_iter: int
    alpha: float
    l2: float
    dropout: float
    batch_norm: bool
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: float
    tol: float
    shuffle: bool
    verbose: int
    callbacks: list[Callback]
    dtype: np.dtype[Any] | None
    threads: Threads
    solver: SolverSettings


def drop_scratch(network: Sequential) -> None:
    """Free the per-batch caches the layers keep from their last forward pass.

    They are scratch space (recreated by the next call), but they would otherwise keep the
    last batch's inputs and activations alive, in memory and in every pickle of the estimator
    (a distributed search ships estimators between processes).
    """
    for layer in network.layers:
        layer._buffers = {}
        for attr in getattr(layer, "_TRANSIENT", ("_x", "_z", "_a", "_cache", "_mask")):
            if hasattr(layer, attr):
                setattr(layer, attr, None)


@contextmanager
def loss_installed(model: Model, loss: Loss) -> Iterator[None]:
    """Train ``model`` with ``loss`` for the duration of the block, then restore its own.

    The model's per-batch accuracy is switched off meanwhile: the estimators' targets carry
    their weights in them, and the stopping rule uses its own scores.
    """
    original, classifier = model.loss, model.classifier
    model.loss, model.classifier = loss, False
    try:
        yield
    finally:
        model.loss, model.classifier = original, classifier


class _Monitor(Callback):
    """Records each epoch on the estimator and applies ``MLPClassifier``'s stopping rule:
    training stops once the monitored quantity (the training loss, or with early stopping the
    validation score) has not improved by ``tol`` for more than ``n_iter_no_change``
    consecutive epochs, unless ``learning_rate="adaptive"`` lowers the rate instead. With a
    validation set, the weights of the best-scoring epoch are kept."""

    def __init__(
        self,
        estimator: BaseNet,
        cfg: Config,
        n_samples: int,
        validation: tuple[Any, Array, Array | None] | None,
        stop: bool,
    ) -> None:
        self.estimator, self.cfg, self.n_samples = estimator, cfg, n_samples
        self.validation, self.stop = validation, stop
        self.best_weights: dict[str, Array] | None = None
        self.stopped = False

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        est, cfg = self.estimator, self.cfg
        loss = float(logs["loss"])
        est.loss_ = loss
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += self.n_samples
        if self.validation is not None:
            score = est._score_encoded(*self.validation)
            scores, best = est.validation_scores_, est.best_validation_score_
            assert scores is not None and best is not None  # set up with early stopping
            scores.append(score)
            if cfg.verbose:
                print(f"Validation score: {score:.6f}")
            if score < best + cfg.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > best:
                est.best_validation_score_ = score
                self.best_weights = model.network.get_weights()
        elif est.best_loss_ is not None:  # (None: partial_fit's pool does the monitoring)
            if loss > est.best_loss_ - cfg.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, loss)
        rate = scheduled_rate(cfg.solver, est.t_)
        if rate is not None:
            model.optimizer.learning_rate = rate
        if self.stop and est._no_improvement_count > cfg.n_iter_no_change:
            if adapt_instead_of_stopping(cfg.solver, model.optimizer):
                est._no_improvement_count = 0
            else:
                self.stopped = True
                model.stop_training = True


@dataclass
class IncrementalState:
    """What ``partial_fit`` carries from call to call for early stopping."""

    rng: np.random.RandomState
    x_pool: list[Any] = field(default_factory=list)
    target_pool: list[Array] = field(default_factory=list)
    weight_pool: list[Array] = field(default_factory=list)
    pool_size: int = 0
    best_weights: dict[str, Array] | None = None
    no_improvement: int = 0
    stopped: bool = False


class BaseNet(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no type information
    """Shared implementation of ``NetClassifier`` and ``NetRegressor`` (see their docstrings)."""

    _is_classifier = False

    # the attributes fit sets (for the type checker; scikit-learn sets them outside __init__)
    model_: Model
    n_outputs_: int
    out_activation_: str
    input_shape_: tuple[int, ...] | None
    loss_: float
    loss_curve_: list[float]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    n_iter_: int
    t_: int
    stopped_early_: bool
    _no_improvement_count: int
    _incremental: IncrementalState | None

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str | Activation | type | Sequence[str | Activation | type] = "relu",
        *,
        solver: str | Optimizer = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        l2: float = 0.0,
        layers: str | None = None,
        input_shape: Sequence[int] | None = None,
        dropout: float = 0.0,
        batch_norm: bool = False,
        callbacks: Sequence[Callback] | None = None,
        dtype: type | str | np.dtype[Any] | None = None,
        threads: int | str = "auto",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.l2 = l2
        self.layers = layers
        self.input_shape = input_shape
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.callbacks = callbacks
        self.dtype = dtype
        self.threads = threads

    # -- validation of hyper-parameters ------------------------------------------------------
    def _config(self) -> Config:
        """Check every hyper-parameter (scikit-learn validates in ``fit``, not ``__init__``)."""
        layers, input_shape = self._check_layers()
        if layers is None:
            hidden, activations = self._check_hidden()
        else:  # the spec replaces them (see the class docstring)
            hidden, activations = (), []
        batch_size = self.batch_size
        if not (batch_size == "auto" or (_is_int(batch_size) and int(batch_size) >= 1)):
            raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
        for name in ("max_iter", "max_fun"):
            value = getattr(self, name)
            if not (_is_int(value) and value >= 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        patience = self.n_iter_no_change
        if not ((_is_int(patience) and patience >= 1) or patience == math.inf):
            raise ValueError(
                f"n_iter_no_change must be a positive integer or numpy.inf, got {patience!r}"
            )
        for name in ("alpha", "l2", "tol", "power_t"):
            value = getattr(self, name)
            if not (_is_real(value) and 0 <= value < math.inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (_is_real(self.dropout) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not (_is_real(self.validation_fraction) and 0 < self.validation_fraction < 1):
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        for name in ("batch_norm", "early_stopping", "shuffle", "warm_start", "nesterovs_momentum"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if layers is not None:
            for name, token in (("dropout", "dropout:R"), ("batch_norm", "batchnorm")):
                if getattr(self, name):
                    raise ValueError(
                        f"{name}={getattr(self, name)!r} applies to the hidden_layer_sizes "
                        f"network; with layers=SPEC write {token} tokens into the spec instead"
                    )
        verbose = self.verbose
        if not (_is_int(verbose) or isinstance(verbose, (bool, np.bool_))) or verbose < 0:
            raise ValueError(f"verbose must be True, False or an integer >= 0, got {verbose!r}")
        callbacks = [] if self.callbacks is None else list(self.callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(
                    f"callbacks must be nnscratch Callback instances, got {type(cb).__name__}"
                )
        dtype = None
        if self.dtype is not None:
            try:
                dtype = np.dtype(self.dtype)
            except TypeError:
                raise ValueError(
                    f"dtype must be None (follow the input), float32 or float64, got {self.dtype!r}"
                ) from None
            if dtype not in (np.float32, np.float64):
                raise ValueError(
                    f"dtype must be None (follow the input), float32 or float64, got {self.dtype!r}"
                )
        solver = self._check_solver_settings()
        if not solver.stochastic:
            if self.dropout or (layers is not None and "dropout" in layers):
                raise ValueError(
                    "solver='lbfgs' minimises one fixed objective, but dropout draws new masks "
                    "at every evaluation; use dropout=0, or a stochastic solver ('adam', 'sgd')"
                )
        cfg = Config(
            hidden=hidden,
            activations=activations,
            layers=layers,
            input_shape=input_shape,
            batch_size=batch_size,
            max_iter=int(self.max_iter),
            alpha=float(self.alpha),
            l2=float(self.l2),
            dropout=float(self.dropout),
            batch_norm=bool(self.batch_norm),
            early_stopping=bool(self.early_stopping),
            validation_fraction=float(self.validation_fraction),
            n_iter_no_change=patience if patience == math.inf else int(patience),
            tol=float(self.tol),
            shuffle=bool(self.shuffle),
            verbose=min(int(verbose), 2),
            callbacks=callbacks,
            dtype=dtype,
            threads=check_threads(self.threads),
            solver=solver,
        )
        if cfg.solver.stochastic:
            make_optimizer(cfg.solver)  # refuses values the optimizer rejects, before any work
        return cfg

    def _check_solver_settings(self) -> SolverSettings:
        solver = self.solver
        if not isinstance(solver, Optimizer):
            names = ["lbfgs", *sorted(OPTIMIZERS)]
            if not isinstance(solver, str) or solver not in names:
                raise ValueError(
                    f"solver must be one of {names} or an nnscratch Optimizer, got {solver!r}"
                )
        if self.learning_rate not in LEARNING_RATES:
            raise ValueError(
                f"learning_rate must be one of {list(LEARNING_RATES)}, got {self.learning_rate!r}"
            )
        if not (_is_real(self.learning_rate_init) and 0 < self.learning_rate_init < math.inf):
            raise ValueError(
                f"learning_rate_init must be a finite number > 0, got {self.learning_rate_init!r}"
            )
        if not (_is_real(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            if not (_is_real(value) and 0 <= value < 1):
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if not (_is_real(self.epsilon) and 0 < self.epsilon < math.inf):
            raise ValueError(f"epsilon must be a finite number > 0, got {self.epsilon!r}")
        return SolverSettings(
            solver=solver,
            learning_rate=str(self.learning_rate),
            learning_rate_init=float(self.learning_rate_init),
            power_t=float(self.power_t),
            momentum=float(self.momentum),
            nesterovs_momentum=bool(self.nesterovs_momentum),
            beta_1=float(self.beta_1),
            beta_2=float(self.beta_2),
            epsilon=float(self.epsilon),
            max_fun=int(self.max_fun),
        )

    def _check_layers(self) -> tuple[str | None, tuple[int, ...] | None]:
        """``layers`` (a spec whose tokens parse) and ``input_shape`` (a tuple of positive
        ints), each possibly None."""
        input_shape = self.input_shape
        if input_shape is not None:
            try:
                input_shape = as_shape(
                    list(input_shape)
                    if isinstance(input_shape, np.ndarray)
                    else tuple(input_shape),
                    "input_shape",
                )
            except ValueError:
                raise ValueError(
                    "input_shape must be None or the shape of one sample as a tuple of "
                    f"positive integers, e.g. (1, 28, 28), got {self.input_shape!r}"
                ) from None
        spec = self.layers
        if spec is None:
            return None, input_shape
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(
                "layers must be None or a non-empty layer spec such as "
                f"'conv:8x3,relu,maxpool:2,flatten', got {spec!r}"
            )
        try:
            parse_layers(spec)
        except ValueError as exc:
            raise ValueError(f"layers={spec!r}: {exc}") from None
        return spec, input_shape

    def _check_hidden(self) -> tuple[tuple[int, ...], list[Activation]]:
        """``hidden_layer_sizes`` and ``activation`` (used when ``layers`` is None)."""
        sizes: Any = self.hidden_layer_sizes
        if _is_int(sizes):
            sizes = (sizes,)
        try:
            hidden = tuple(sizes)
        except TypeError:
            raise ValueError(
                f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}"
            ) from None
        if not all(_is_int(s) and s >= 1 for s in hidden):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}"
            )
        hidden = tuple(int(s) for s in hidden)

        spec = self.activation
        if isinstance(spec, (list, tuple)):
            if len(spec) != len(hidden):
                raise ValueError(
                    f"activation lists {len(spec)} activations for {len(hidden)} hidden layers; "
                    "give one name for all of them or exactly one per hidden layer"
                )
            specs = list(spec)
        else:
            specs = [spec] * len(hidden)
        activations = []
        for item in specs:
            if isinstance(item, str):
                item = ACTIVATION_ALIASES.get(item, item)
            try:  # a copy: the parameter itself is never touched
                act = get_activation(copy.deepcopy(item))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"activation: {exc}") from None
            if not act.differentiable:
                raise ValueError(
                    f"activation {act.name!r} has no usable gradient and cannot be trained"
                )
            activations.append(act)
        return hidden, activations

    # -- network -----------------------------------------------------------------------------
    def _build_model(self, cfg: Config, n_features: int, dtype: np.dtype[Any], seed: int) -> Model:
        """A new network: the hidden part, then ``Dense(n_outputs_)`` with a linear output
        (the output function is the loss's: softmax, sigmoid, identity or exp)."""
        n_outputs = self.n_outputs_
        if cfg.layers is not None:
            network = self._spec_network(cfg, n_features, n_outputs, dtype, seed)
        else:
            widths = [n_features, *cfg.hidden, n_outputs]
            n_params = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
            # the weights, their gradients and up to two optimizer slots (Adam's moments)
            check_memory(
                4 * n_params * np.dtype(dtype).itemsize,
                f"a network of {n_params:,} parameters ({'-'.join(map(str, widths))})",
                "use smaller hidden_layer_sizes",
            )
            layers: list[Layer] = []
            for i, (width, act) in enumerate(zip(cfg.hidden, cfg.activations, strict=True)):
                init = mlp_initializer(widths[i], width, act.name)
                if cfg.batch_norm:  # normalise Z before the non-linearity, as nn.mlp does
                    layers += [
                        Dense(width, weight_init=init, bias_init=init),
                        BatchNorm(),
                        ActivationLayer(act),
                    ]
                else:
                    layers.append(Dense(width, act, weight_init=init, bias_init=init))
                if cfg.dropout:
                    layers.append(Dropout(cfg.dropout))
            last = (
                cfg.activations[-1].name
                if cfg.activations
                else ACTIVATION_ALIASES.get(str(self.activation), str(self.activation))
            )
            init = mlp_initializer(widths[-2], n_outputs, last)
            layers.append(Dense(n_outputs, weight_init=init, bias_init=init))
            network = Sequential(layers, n_features, seed=seed, dtype=dtype)
        optimizer = make_optimizer(cfg.solver) if cfg.solver.stochastic else None
        return Model(network, loss=self._model_loss(), optimizer=optimizer or "sgd")

    def _spec_network(
        self, cfg: Config, n_features: int, n_outputs: int, dtype: np.dtype[Any], seed: int
    ) -> Sequential:
        """The hidden part from ``cfg.layers`` for samples of ``input_shape`` (flat rows of
        ``n_features`` without it), then the output layer ``Dense(n_outputs)``."""
        assert cfg.layers is not None
        shape = cfg.input_shape if cfg.input_shape is not None else (n_features,)
        try:
            body = build_network(cfg.layers, shape, seed=seed, dtype=dtype)
        except ValueError as exc:
            raise ValueError(f"layers={cfg.layers!r}: {exc}") from None
        out_shape = tuple(body.output_shape or ())
        if len(out_shape) != 1:
            raise ValueError(
                f"layers={cfg.layers!r} ends with samples of shape "
                f"{'x'.join(map(str, out_shape))}, but the estimator appends its "
                f"output layer Dense({n_outputs}), which takes flat rows; end the spec with "
                "flatten or gap"
            )
        return Sequential(
            [*body.layers, Dense(n_outputs)], input_shape=shape, seed=seed, dtype=dtype
        )

    # -- samples of any shape ----------------------------------------------------------------
    def _as_rows(self, X: Any, input_shape: tuple[int, ...] | None) -> Any:
        """An array of samples of ``input_shape`` (e.g. N x C x H x W images) laid out as the
        rows (N x C*H*W) scikit-learn validates; anything else is returned as given."""
        if isinstance(X, (list, tuple)):
            try:
                X = np.asarray(X)
            except ValueError:  # ragged: left to scikit-learn's own message
                return X
        ndim = getattr(X, "ndim", None)
        if not isinstance(ndim, int) or ndim <= 2 or not hasattr(X, "reshape"):
            return X
        shape = tuple(X.shape)
        if input_shape is None:
            raise ValueError(
                f"X has shape {shape}: {type(self).__name__} takes 2-D X "
                "(n_samples, n_features), or samples of any shape with input_shape set to "
                f"it, e.g. input_shape={shape[1:]}"
            )
        if shape[1:] != tuple(input_shape):
            raise ValueError(
                f"X holds samples of shape {shape[1:]}, but input_shape is {tuple(input_shape)}"
            )
        return X.reshape(shape[0], -1)

    def _validate_x(
        self, X: Any, y: Any, cfg: Config, reset: bool, **kwargs: Any
    ) -> tuple[Any, Any]:
        """scikit-learn's validation of X (dense or CSR/CSC) and y, in the computation dtype:
        ``dtype`` when set, else float32 input stays float32 and anything else becomes float64
        (as ``MLPClassifier`` does); once a network exists, its dtype."""
        if not reset and self.__sklearn_is_fitted__():
            dtype: Any = self.model_.network.dtype
        elif cfg.dtype is not None:
            dtype = cfg.dtype
        else:
            dtype = (np.float64, np.float32)
        X = self._as_rows(X, cfg.input_shape)
        X, y = validate_data(
            self, X, y, reset=reset, dtype=dtype, accept_sparse=("csr", "csc"), **kwargs
        )
        if is_sparse(X):
            X = X.tocsr()
            shape = cfg.input_shape
            if (shape is not None and len(shape) != 1) or (
                cfg.layers is not None and not isinstance(parse_layers(cfg.layers)[0], Dense)
            ):
                raise ValueError(
                    "sparse X is multiplied by a first dense layer; this network starts with "
                    f"an image layer ({cfg.layers!r}, input_shape={shape}): pass X.toarray()"
                )
        elif cfg.input_shape is not None and X.shape[1] != math.prod(cfg.input_shape):
            raise ValueError(
                f"X has {X.shape[1]} features per sample, but input_shape={cfg.input_shape} "
                f"holds {math.prod(cfg.input_shape)} values"
            )
        return X, y

    def _for_network(self, X: Any) -> Any:
        """Rows laid out as the network's samples (a view): N x C x H x W for images."""
        if is_sparse(X):
            return X
        return X.reshape(n_rows(X), *(self.model_.network.input_shape or ()))

    # -- weights and targets -----------------------------------------------------------------
    def _sample_weights(self, sample_weight: Any, X: Any, y_enc: Array) -> Array | None:
        """Validated raw weights (sample weights times class weights), or None for none."""
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            check_finite(weights, "sample_weight")
        class_weights = self._class_weights(y_enc)
        if class_weights is not None:
            weights = class_weights if weights is None else weights * class_weights
        if weights is not None and not np.any(weights > 0):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return weights

    def _class_weights(self, y_enc: Array) -> Array | None:
        return None

    @staticmethod
    def _normalised(weights: Array | None) -> Array | None:
        """The weights scaled to mean 1 (None without weights)."""
        return None if weights is None else weights / weights.mean()

    def _batch_size(self, cfg: Config, n: int) -> int:
        if cfg.batch_size != "auto" and int(cfg.batch_size) > n:
            warnings.warn(
                f"batch_size={cfg.batch_size} is larger than the {n} training samples; it is "
                "clipped to the sample count",
                UserWarning,
                stacklevel=4,
            )
        size = min(200, n) if cfg.batch_size == "auto" else min(int(cfg.batch_size), n)
        if cfg.batch_norm:
            if n < 2:
                raise ValueError(
                    "batch_norm=True needs at least 2 training samples to estimate batch "
                    f"statistics; got 1 sample (n_samples = {n})"
                )
            # nnscratch keeps the last, partial batch; batch norm cannot use one of 1 sample
            while size < n and n % size == 1:
                size += 1
        return size

    def _set_l2(self, cfg: Config, n: int, batch: int, weights: Array | None) -> None:
        """The L2 term, in the model's form lambda/(2n) sum w^2 over the n training rows.

        ``alpha`` is scikit-learn's: alpha/(2 B) sum w^2 per batch, B the batch's total weight
        (its size without weights), i.e. lambda = alpha n / (b mean(w)) for batches of b rows.
        ``l2`` is Nielsen's lambda/(2 n) with n the total sample weight: lambda = l2 / mean(w).
        """
        mean_w = 1.0 if weights is None else float(weights.mean())
        lam = cfg.alpha * n / (batch * mean_w) + cfg.l2 / mean_w
        self.model_.regularizers = [L2(lam)] if lam > 0 else []

    def _split_validation(
        self, X: Any, y_enc: Array, weights: Array | None, fraction: float, seed: int
    ) -> tuple[Any, Array, Array | None, Any, Array, Array | None]:
        """Hold out ``fraction`` of the samples (stratified for single-label classifiers)."""
        n = n_rows(X)
        n_val = math.ceil(n * fraction)
        if n_val < 2 or n_val >= n:
            raise ValueError(
                f"early_stopping with validation_fraction={fraction} cannot split {n} samples "
                "into a training set and a validation set of at least 2 samples; increase "
                "validation_fraction or the size of the data set"
            )
        index = np.arange(n)
        stratify = y_enc if self._is_classifier and y_enc.ndim == 1 else None
        try:
            train, val = train_test_split(
                index, test_size=n_val, random_state=seed, stratify=stratify
            )
        except ValueError:  # a class too small to stratify: fall back to a plain split
            train, val = train_test_split(index, test_size=n_val, random_state=seed)
        w_train = None if weights is None else weights[train]
        w_val = None if weights is None else weights[val]
        if w_val is not None and not np.any(w_val > 0):
            raise ValueError(
                "The sample weights of the validation set are all zero; use another "
                "random_state or validation_fraction, or early_stopping=False"
            )
        if w_train is not None and not np.any(w_train > 0):
            raise ValueError(
                "The sample weights of the training set (after holding out the validation "
                "fraction) are all zero; use another random_state or validation_fraction"
            )
        return X[train], y_enc[train], w_train, X[val], y_enc[val], w_val

    # -- what each estimator defines -----------------------------------------------------------
    def _model_loss(self) -> Loss:
        """The nnscratch loss ``model_`` carries (what a saved model says it was trained on)."""
        raise NotImplementedError

    def _training_loss(self, weighted: bool) -> Loss:
        """The loss trained with: the MLP objective, with the sample weights in its targets
        when ``weighted``."""
        raise NotImplementedError

    def _targets(self, y_enc: Array, weights: Array | None, dtype: np.dtype[Any]) -> Array:
        """The targets in the form ``_training_loss`` takes, with the (normalised) weights
        built in when there are any."""
        raise NotImplementedError

    def _score_encoded(self, X: Any, y_enc: Array, weights: Array | None) -> float:
        """``score`` on network-shaped X and encoded targets (accuracy or R^2)."""
        raise NotImplementedError

    def _validate_xy(self, X: Any, y: Any, cfg: Config, reset: bool) -> tuple[Any, Array]:
        raise NotImplementedError

    def _encode_fit(self, y: Array, warm: bool) -> Array:
        raise NotImplementedError

    def _encode_partial(self, y: Array, classes: Any, first: bool) -> Array:
        raise NotImplementedError

    def _check_fit_targets(self, y_enc: Array, weights: Array | None) -> None:
        """Refuse training sets that cannot be learned (overridden by the classifier)."""

    # -- training ----------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def _reset_fitted_state(self, cfg: Config) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.stopped_early_ = False
        self._no_improvement_count = 0
        self._incremental = None
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
            self.__dict__.pop(name, None)
        if cfg.solver.stochastic:  # as MLPClassifier: L-BFGS keeps no curve
            self.loss_curve_ = []
            if cfg.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -math.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = math.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _seeds(self) -> tuple[int, int, int]:
        rng = check_random_state(self.random_state)
        init_seed, fit_seed, split_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
        return init_seed, fit_seed, split_seed

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseNet:
        """Train on (X, y) (a new network unless ``warm_start``); see the class docstring."""
        cfg = self._config()
        warm = bool(self.warm_start) and self.__sklearn_is_fitted__()
        X, y = self._validate_xy(X, y, cfg, reset=not warm)
        y_enc = self._encode_fit(y, warm)
        weights = self._sample_weights(sample_weight, X, y_enc)
        self._check_fit_targets(y_enc, weights)
        init_seed, fit_seed, split_seed = self._seeds()
        if warm and cfg.solver.stochastic != hasattr(self, "loss_curve_"):
            self._reset_fitted_state(cfg)  # a solver of the other kind: fresh bookkeeping
        if not warm:
            self._reset_fitted_state(cfg)
            self.model_ = self._build_model(cfg, X.shape[1], X.dtype, init_seed)
            self.input_shape_ = cfg.input_shape
        elif cfg.solver.stochastic:  # as MLP: the weights carry over, the optimizer starts afresh
            self.model_.optimizer = make_optimizer(cfg.solver)
        if self._sample_dependent() or (cfg.early_stopping and cfg.solver.stochastic):
            X, y_enc, weights = self._as_sample_set(cfg, X, y_enc, weights)
        X = self._for_network(X)
        self._incremental = None
        self.stopped_early_ = False
        try:
            if cfg.solver.stochastic:
                self._fit_stochastic(cfg, X, y_enc, weights, fit_seed, split_seed)
            else:
                self._fit_lbfgs(cfg, X, y_enc, weights)
        finally:
            drop_scratch(self.model_.network)
        return self

    def _ensure_optimizer(self, cfg: Config) -> None:
        """Training resumes with the optimizer ``solver`` names: the model keeps its own
        (and its state) while it is of the same kind, and gets a fresh one when ``solver`` was
        changed since (e.g. after an L-BFGS fit)."""
        wanted = make_optimizer(cfg.solver)
        current = self.model_.optimizer
        if type(current) is not type(wanted) or current.config() != wanted.config():
            if type(current) is not type(wanted) or isinstance(self.solver, Optimizer):
                self.model_.optimizer = wanted
            else:  # same kind, new hyper-parameters (betas, momentum): keep the state
                for name, value in wanted.config().items():
                    if name != "learning_rate" and hasattr(current, name):
                        setattr(current, name, value)

    def _sample_dependent(self) -> bool:
        """Whether a sample's gradient depends on the other samples of its batch (batch norm)
        or on its place in the batch order (dropout's masks). Early stopping is the same kind
        of case: which rows it holds out depends on the rows, not on their weights."""
        return any(isinstance(layer, (BatchNorm, Dropout)) for layer in self.model_.network.layers)

    def _as_sample_set(
        self, cfg: Config, X: Any, y_enc: Array, weights: Array | None
    ) -> tuple[Any, Array, Array | None]:
        """The training set as a set of samples, for networks with batch norm or dropout
        and for early stopping.

        Weighting a sample's loss by w is not the same there as repeating the sample w times
        (batch statistics and dropout masks see rows, not weights), so integer weights (class
        weights included) are applied by repeating rows, as scikit-learn defines them, when
        that at most quadruples the data (``MAX_REPEAT_FACTOR``); other weights scale the loss.
        With ``shuffle=True`` the order the rows come in does not matter, so they are first
        put in a canonical order (by a fixed random projection of each row): the seeded
        shuffle and the masks then depend only on the set of samples.
        """
        n = n_rows(X)
        if weights is not None and np.array_equal(weights, np.round(weights)):
            total = float(weights.sum())
            if total <= MAX_REPEAT_FACTOR * n:
                index = np.repeat(np.arange(n), weights.astype(np.int64))
                X, y_enc, weights = X[index], y_enc[index], None
        if cfg.shuffle:
            direction = np.random.RandomState(0).standard_normal(X.shape[1])
            key = np.asarray(X @ direction).ravel()
            if y_enc.ndim == 1:  # equal rows of different classes: their labels decide
                key = key + 1e-3 * y_enc
            order = np.argsort(key, kind="stable")
            X, y_enc = X[order], y_enc[order]
            weights = None if weights is None else weights[order]
        return X, y_enc, weights

    def _fit_lbfgs(self, cfg: Config, X: Any, y_enc: Array, weights: Array | None) -> None:
        n = n_rows(X)
        self._set_l2(cfg, n, n, weights)
        loss = self._training_loss(weights is not None)
        targets = self._targets(y_enc, self._normalised(weights), self.model_.network.dtype)
        with loss_installed(self.model_, loss):
            result = fit_lbfgs(
                self.model_,
                X,
                targets,
                loss,
                max_iter=cfg.max_iter,
                max_fun=cfg.solver.max_fun,
                tol=cfg.tol,
                verbose=cfg.verbose > 0,
            )
        self.n_iter_ = result.n_iter
        self.loss_ = result.loss
        if not result.converged:
            warnings.warn(
                f"{type(self).__name__}: lbfgs failed to converge after {result.n_iter} "
                f"iterations ({result.message}); increase max_iter (or max_fun) or scale the "
                "data",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _fit_stochastic(
        self,
        cfg: Config,
        X: Any,
        y_enc: Array,
        weights: Array | None,
        fit_seed: int,
        split_seed: int,
    ) -> None:
        dtype = self.model_.network.dtype
        self.n_iter_ = 0  # as MLP: the epochs of this call (t_ counts the estimator's life)
        validation = None
        if cfg.early_stopping:
            X, y_enc, weights, x_val, y_val, w_val = self._split_validation(
                X, y_enc, weights, cfg.validation_fraction, split_seed
            )
            validation = (x_val, y_val, w_val)
            if self.validation_scores_ is None:  # early stopping turned on for a warm start
                self.validation_scores_, self.best_validation_score_ = [], -math.inf
        elif self.best_loss_ is None:  # early stopping turned off for a warm start
            self.best_loss_ = math.inf
        n = n_rows(X)
        batch = self._batch_size(cfg, n)
        self._set_l2(cfg, n, batch, weights)
        targets = self._targets(y_enc, self._normalised(weights), dtype)
        monitor = _Monitor(self, cfg, n, validation, stop=True)
        interrupted = False
        try:
            with loss_installed(self.model_, self._training_loss(weights is not None)):
                self.model_.fit(
                    X,
                    targets,
                    epochs=cfg.max_iter,
                    batch_size=batch,
                    shuffle=cfg.shuffle,
                    seed=fit_seed,
                    callbacks=[monitor, *cfg.callbacks],
                    verbose=cfg.verbose,
                    threads=cfg.threads,
                )
        except KeyboardInterrupt:
            # as MLP: Ctrl+C ends training, and the estimator keeps what it learned so far
            interrupted = True
            warnings.warn(
                f"{type(self).__name__}: training interrupted by the user after "
                f"{self.n_iter_} epochs; the estimator keeps the weights it has.",
                UserWarning,
                stacklevel=4,
            )
        if validation is not None and monitor.best_weights is not None:
            self.model_.network.set_weights(monitor.best_weights)
        self.stopped_early_ = monitor.stopped
        if not (interrupted or monitor.stopped or self.model_.stop_training):
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({cfg.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _partial_fit(self, X: Any, y: Any, classes: Any, sample_weight: Any) -> BaseNet:
        cfg = self._config()
        first = not self.__sklearn_is_fitted__()
        X, y = self._validate_xy(X, y, cfg, reset=first)
        y_enc = self._encode_partial(y, classes, first)
        weights = self._sample_weights(sample_weight, X, y_enc)
        fit_seed: int | None
        split_seed: int | None
        if first:
            init_seed, fit_seed, split_seed = self._seeds()
            self._reset_fitted_state(cfg)
            self.model_ = self._build_model(cfg, X.shape[1], X.dtype, init_seed)
            self.input_shape_ = cfg.input_shape
        else:  # the model continues its own random stream
            fit_seed, split_seed = None, None
            self._ensure_optimizer(cfg)
            if not hasattr(self, "loss_curve_"):  # fitted by lbfgs before
                self._reset_fitted_state(cfg)
        X = self._for_network(X)
        if self._incremental is None:  # first call, or the first one after fit()
            source = split_seed if split_seed is not None else self.random_state
            self._incremental = IncrementalState(rng=check_random_state(source))
        state = self._incremental
        if state.stopped:
            warnings.warn(
                f"{type(self).__name__}.partial_fit: training stopped early (no improvement of "
                f"the validation score for more than n_iter_no_change={cfg.n_iter_no_change} "
                "calls) and the best weights were restored; this call was ignored. Call fit() "
                "to train again.",
                UserWarning,
                stacklevel=3,
            )
            return self
        if isinstance(self.solver, str) and not cfg.solver.scheduled:
            self.model_.optimizer.learning_rate = cfg.solver.learning_rate_init
        if cfg.early_stopping:
            X, y_enc, weights = self._hold_out(state, cfg, X, y_enc, weights)
        elif self.best_loss_ is None:
            self.best_loss_ = math.inf
        # (when the held-out part took every sample of non-zero weight there is nothing to learn)
        if weights is None or np.any(weights > 0):
            n = n_rows(X)
            batch = self._batch_size(cfg, n)
            self._set_l2(cfg, n, batch, weights)
            targets = self._targets(y_enc, self._normalised(weights), self.model_.network.dtype)
            monitor = _Monitor(self, cfg, n, None, stop=False)
            self.n_iter_ = 0  # as MLP: one epoch per call
            try:
                with loss_installed(self.model_, self._training_loss(weights is not None)):
                    self.model_.fit(
                        X,
                        targets,
                        epochs=1,
                        batch_size=batch,
                        shuffle=cfg.shuffle,
                        seed=fit_seed,
                        callbacks=[monitor, *cfg.callbacks],
                        verbose=cfg.verbose,
                        threads=cfg.threads,
                    )
            finally:
                drop_scratch(self.model_.network)
        if cfg.early_stopping:
            self._incremental_validation(state, cfg)
        return self

    def _hold_out(
        self, state: IncrementalState, cfg: Config, X: Any, y_enc: Array, w: Array | None
    ) -> tuple[Any, Array, Array | None]:
        """Move ``validation_fraction`` of this call's samples to the validation pool."""
        n = n_rows(X)
        n_val = math.ceil(n * cfg.validation_fraction)
        if state.pool_size >= MAX_VALIDATION_POOL or n_val >= n:
            return X, y_enc, w
        order = state.rng.permutation(n)
        val, train = order[:n_val], order[n_val:]
        state.x_pool.append(X[val])
        state.target_pool.append(y_enc[val])
        state.weight_pool.append(np.ones(n_val) if w is None else w[val])
        state.pool_size += n_val
        return X[train], y_enc[train], None if w is None else w[train]

    def _incremental_validation(self, state: IncrementalState, cfg: Config) -> None:
        """Score the current and the best weights on the (possibly grown) validation pool."""
        if self.validation_scores_ is None:
            self.validation_scores_ = []
        if not state.x_pool:
            return
        x_pool = stack_rows(state.x_pool)
        y_pool = np.concatenate(state.target_pool)
        w_pool = np.concatenate(state.weight_pool)
        if not np.any(w_pool > 0):
            return
        network = self.model_.network
        current = self._score_encoded(x_pool, y_pool, w_pool)
        self.validation_scores_.append(current)
        if state.best_weights is None:
            best = -math.inf
        else:  # re-scored on today's pool, so the comparison is fair as the pool grows
            now = network.get_weights()
            network.set_weights(state.best_weights)
            best = self._score_encoded(x_pool, y_pool, w_pool)
            network.set_weights(now)
        if current < best + cfg.tol:
            state.no_improvement += 1
        else:
            state.no_improvement = 0
        if current > best:
            state.best_weights = network.get_weights()
            best = current
        self.best_validation_score_ = best
        if state.no_improvement > cfg.n_iter_no_change and state.best_weights is not None:
            network.set_weights(state.best_weights)
            state.stopped = True
            self.stopped_early_ = True

    # -- prediction --------------------------------------------------------------------------
    def _raw_network(self, X: Any) -> Array:
        """The network's raw output for network-shaped (or sparse) X."""
        try:
            return self.model_.predict_raw(X, threads=check_threads(self.threads))
        finally:
            drop_scratch(self.model_.network)

    def _raw(self, X: Any) -> Array:
        """The network's raw output for X, in X's precision as ``MLPClassifier`` gives it:
        float32 for float32 input, float64 for anything else (whatever the network's dtype)."""
        check_is_fitted(self)
        single = getattr(X, "dtype", None) == np.float32
        X = self._as_rows(X, getattr(self, "input_shape_", None))
        X = validate_data(
            self, X, reset=False, dtype=self.model_.network.dtype, accept_sparse=("csr", "csc")
        )
        if is_sparse(X):
            X = X.tocsr()
        raw = self._raw_network(self._for_network(X))
        return raw.astype(np.float32 if single else np.float64, copy=False)

    # -- scikit-learn's MLP attributes ---------------------------------------------------------
    def _weighted_layers(self) -> list[Layer]:
        check_is_fitted(self)
        return [
            layer for layer in self.model_.network.layers if getattr(layer, "W", None) is not None
        ]

    @property
    def coefs_(self) -> list[Array]:
        """The weights of each layer that has them, in order: ``coefs_[i]`` is Dense layer i's
        (n_in, n_out) matrix (convolution kernels keep their (F, C, kh, kw) shape). These are
        views into the live network: writing into them changes the model, and assigning a
        list copies its arrays in (shapes must match)."""
        return [layer.W.value for layer in self._weighted_layers()]  # type: ignore[attr-defined]

    @coefs_.setter
    def coefs_(self, values: Sequence[Array]) -> None:
        self._assign("coefs_", "W", values)

    @property
    def intercepts_(self) -> list[Array]:
        """The bias vector of each layer of ``coefs_``: views, as ``coefs_``."""
        return [
            layer.b.value  # type: ignore[attr-defined]
            for layer in self._weighted_layers()
            if getattr(layer, "b", None) is not None
        ]

    @intercepts_.setter
    def intercepts_(self, values: Sequence[Array]) -> None:
        self._assign("intercepts_", "b", values)

    def _assign(self, attribute: str, name: str, values: Sequence[Array]) -> None:
        targets = [
            getattr(layer, name).value
            for layer in self._weighted_layers()
            if getattr(layer, name, None) is not None
        ]
        values = list(values)
        if len(values) != len(targets):
            raise ValueError(f"{attribute} needs {len(targets)} arrays, got {len(values)}")
        for i, (target, value) in enumerate(zip(targets, values, strict=True)):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"{attribute}[{i}] must have shape {target.shape}, got {value.shape}"
                )
            check_finite(value, f"{attribute}[{i}]")
            target[...] = value

    @property
    def n_layers_(self) -> int:
        """The number of layers counting input and output, as scikit-learn's MLP:
        ``len(coefs_) + 1``."""
        return len(self._weighted_layers()) + 1

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags
