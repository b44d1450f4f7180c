"""scikit-learn estimators backed by nnscratch networks: ``NetClassifier`` and ``NetRegressor``.

They follow the scikit-learn estimator contract (``get_params``/``set_params``, ``clone``,
validation with ``check_X_y``-style helpers, ``classes_``, ``n_features_in_``...), so they work
in ``Pipeline``, ``GridSearchCV``, ``RandomizedSearchCV``, ``cross_val_score`` and under
``joblib.parallel_backend("dask")`` or ``"ray"`` for distributed searches:

>>> from sklearn.datasets import make_classification
>>> from nnscratch.sklearn import NetClassifier
>>> X, y = make_classification(n_samples=200, random_state=0)
>>> clf = NetClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, y)
>>> clf.score(X, y) > 0.9
True

What they add to a plain ``nnscratch.Model``:

* the network is built from sklearn-style hyper-parameters (``hidden_layer_sizes``,
  ``activation``, ``dropout``, ``batch_norm``...) when ``fit`` sees the data, or from a text
  spec of its hidden part, ``layers="conv:8x3,relu,maxpool:2,flatten"``, with
  ``input_shape=(C, H, W)`` for convolutional networks on images (flat rows or 4-D ``X``);
* class labels of any hashable type (encoded with ``LabelEncoder``), binary and multiclass;
* ``sample_weight`` and ``class_weight``: the training objective is the *weighted mean* loss
  ``sum_i w_i L_i / sum_i w_i`` plus ``alpha / (2 sum_i w_i) * ||W||^2``, so integer weights are
  exactly equivalent to repeating rows (for full-batch training; with mini-batches the two differ
  only in how samples are grouped into batches);
* stopping rules of scikit-learn's ``MLPClassifier``: ``tol``/``n_iter_no_change`` on the
  training loss, or on the loss of a held-out ``validation_fraction`` with
  ``early_stopping=True`` (the best weights are restored), which also works with
  ``partial_fit``.

``alpha`` is nnscratch's L2 strength in Nielsen's form, ``alpha/(2n) sum w^2`` with ``n`` the
number of training samples (the total sample weight when weights are given); biases are not
penalised. For a full-batch classifier that is exactly the objective of scikit-learn's
``MLPClassifier`` with the same ``alpha``. Differences: with mini-batches scikit-learn divides
the penalty by the batch size ``b`` instead of ``n`` (its ``alpha=a`` corresponds to
``alpha = a * n / b`` here), and its regressor halves the squared error (``alpha = 2a`` here).

scikit-learn (>= 1.6) is an optional dependency: ``pip install 'nnscratch[sklearn]'``.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as _exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "nnscratch.sklearn needs scikit-learn >= 1.6: pip install 'nnscratch[sklearn]'"
    ) from _exc

if tuple(int(p) for p in re.findall(r"\d+", sklearn.__version__)[:2]) < (1, 6):  # pragma: no cover
    raise ImportError(
        f"nnscratch.sklearn needs scikit-learn >= 1.6, found {sklearn.__version__}: "
        "pip install -U 'nnscratch[sklearn]'"
    )

from .core.activations import Activation, get_activation
from .core.initializers import default_initializer
from .core.layers import ActivationLayer, BatchNorm, Dense, Dropout, Layer, as_shape
from .core.losses import MSE, Loss, SoftmaxCrossEntropy
from .core.network import Sequential
from .core.spec import build_network, parse_layers
from .core.validation import check_finite
from .model import Model
from .training.callbacks import Callback
from .training.optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .training.regularizers import L2
from .training.threads import Threads, check_threads

__all__ = [
    "NetClassifier",
    "NetRegressor",
    "SampleWeightedMSE",
    "SampleWeightedSoftmaxCrossEntropy",
]

Array = np.ndarray

#: ``partial_fit`` with ``early_stopping`` holds out samples from each call until the
#: validation pool holds this many; later calls train on all their samples.
MAX_VALIDATION_POOL = 10_000


# -- losses ----------------------------------------------------------------------------------
class SampleWeightedMSE(Loss):
    """Mean squared error with one weight per sample:

    L = 1/(N K) sum_i w_i ||a_i - y_i||^2;   dL/da_i = 2 w_i (a_i - y_i) / (N K)

    The prepared target is an (N, K + 1) array: the K target columns followed by the weights,
    so the weights travel with their rows through nnscratch's mini-batch shuffling. With
    weights normalised to mean 1 over the training set, the batch loss is an unbiased estimate
    of the weighted mean ``sum_i w_i L_i / sum_i w_i`` and equals it for a full batch.
    Its ``name`` is ``"mse"``: a model trained with it is an ordinary MSE model.
    """

    name = "mse"

    def prepare_target(self, output: Array, target: Array) -> Array:
        y = np.asarray(target)
        n, k = output.shape
        if y.ndim != 2 or y.shape != (n, k + 1):
            raise ValueError(
                f"weighted targets must have shape {(n, k + 1)} (targets, then weights), "
                f"got {y.shape}"
            )
        if y.dtype.kind not in "biuf":
            raise ValueError(f"weighted targets must be numeric, got dtype {y.dtype}")
        check_finite(y, "y (targets and weights)", "the weighted mse loss")
        if (y[:, -1] < 0).any():
            raise ValueError("sample weights must be non-negative")
        return y.astype(output.dtype, copy=False)

    def compute(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        weights = target[:, -1:]
        diff = output - target[:, :-1]
        weighted = diff * weights
        value = float(np.vdot(weighted, diff)) / diff.size
        if not need_gradient:
            return value, None
        weighted *= 2.0 / diff.size
        return value, weighted


class SampleWeightedSoftmaxCrossEntropy(SoftmaxCrossEntropy):
    """Softmax cross-entropy with one weight per sample, from the logits z:

    L = 1/N sum_i w_i CE_i,   CE_i = logsumexp(z_i) - z_i,y_i
    dL/dz_i = w_i (softmax(z_i) - e_y_i) / N

    The prepared target is the weighted one-hot matrix T (N x K, row i = w_i e_y_i), so the
    weights travel with their rows through mini-batch shuffling and ``argmax`` still gives the
    labels; w_i is the row sum. Written for rows of any sum: nnscratch's
    ``SoftmaxCrossEntropy`` computes the value for such rows but its gradient,
    ``softmax(z) - T``, assumes rows summing to 1. Its ``name`` stays
    ``"softmax_cross_entropy"``: a model trained with it is an ordinary softmax model.
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


# -- parameters ------------------------------------------------------------------------------
@dataclass
class _Config:
    """The validated hyper-parameters of one ``fit``/``partial_fit`` call."""

    hidden: tuple[int, ...]
    activations: list[Activation]
    layers: str | None
    input_shape: tuple[int, ...] | None
    batch_size: int | str
    max_iter: int
    alpha: float
    dropout: float
    batch_norm: bool
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    tol: float
    shuffle: bool
    verbose: int
    callbacks: list[Callback]
    dtype: np.dtype
    threads: Threads


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _drop_scratch(network: Sequential) -> None:
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
def _loss_installed(model: Model, loss: Loss | None) -> Iterator[None]:
    """Train ``model`` with ``loss`` for the duration of the block, then restore its own."""
    if loss is None:
        yield
        return
    original = model.loss
    model.loss = loss
    try:
        yield
    finally:
        model.loss = original


class _Monitor(Callback):
    """Records the per-epoch losses on the estimator and applies scikit-learn's stopping rule:
    stop when the monitored loss has not improved by ``tol`` for more than ``n_iter_no_change``
    consecutive epochs. With a validation set, the weights of the best epoch are kept."""

    def __init__(self, estimator: _BaseNet, cfg: _Config, validation: bool, stop: bool) -> None:
        self.estimator, self.cfg, self.validation, self.stop = estimator, cfg, validation, stop
        self.best = math.inf
        self.best_weights: dict[str, Array] | None = None
        self.no_improvement = 0
        self.stopped = False

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        est = self.estimator
        loss = float(logs["loss"])
        est.loss_curve_.append(loss)
        est.best_loss_ = min(est.best_loss_, loss) if est.best_loss_ is not None else loss
        est.n_iter_ += 1
        est.t_ += est._samples_this_epoch
        value = loss
        if self.validation:
            value = float(logs["val_loss"])
            est.validation_loss_curve_.append(value)
        if not self.stop:
            return
        if value > self.best - self.cfg.tol:
            self.no_improvement += 1
        else:
            self.no_improvement = 0
        if value < self.best:
            self.best = value
            if self.validation:
                self.best_weights = model.network.get_weights()
        if self.no_improvement > self.cfg.n_iter_no_change:
            self.stopped = True
            model.stop_training = True


@dataclass
class _IncrementalState:
    """What ``partial_fit`` carries from call to call for early stopping."""

    rng: np.random.RandomState
    x_pool: list[Array] = field(default_factory=list)
    target_pool: list[Array] = field(default_factory=list)
    weight_pool: list[Array] = field(default_factory=list)
    pool_size: int = 0
    best_weights: dict[str, Array] | None = None
    no_improvement: int = 0
    stopped: bool = False


# -- the estimators --------------------------------------------------------------------------
class _BaseNet(BaseEstimator):
    """Shared implementation of ``NetClassifier`` and ``NetRegressor``."""

    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str | Activation | type | Sequence[str | Activation | type] = "relu",
        *,
        layers: str | None = None,
        input_shape: Sequence[int] | None = None,
        solver: str | Optimizer = "adam",
        learning_rate_init: float = 0.001,
        batch_size: int | str = 32,
        max_iter: int = 200,
        alpha: float = 0.0001,
        dropout: float = 0.0,
        batch_norm: bool = False,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        callbacks: Sequence[Callback] | None = None,
        dtype: type | str | np.dtype = np.float32,
        threads: int | str = "auto",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.layers = layers
        self.input_shape = input_shape
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.alpha = alpha
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.callbacks = callbacks
        self.dtype = dtype
        self.threads = threads

    # -- validation of hyper-parameters ------------------------------------------------------
    def _config(self) -> _Config:
        """Check every hyper-parameter (scikit-learn validates in ``fit``, not ``__init__``)."""
        layers, input_shape = self._check_layers()
        if layers is None:
            hidden, activations = self._check_hidden()
        else:  # the spec replaces them (see the class docstring)
            hidden, activations = (), []
        batch_size = self.batch_size
        if not (batch_size == "auto" or (_is_int(batch_size) and batch_size >= 1)):
            raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
        for name in ("max_iter", "n_iter_no_change"):
            value = getattr(self, name)
            if not (_is_int(value) and value >= 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (_is_real(self.learning_rate_init) and 0 < self.learning_rate_init < math.inf):
            raise ValueError(
                f"learning_rate_init must be a finite number > 0, got {self.learning_rate_init!r}"
            )
        for name in ("alpha", "tol"):
            value = getattr(self, name)
            if not (_is_real(value) and 0 <= value < math.inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not (_is_real(self.dropout) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not (_is_real(self.validation_fraction) and 0 < self.validation_fraction < 1):
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}"
            )
        for name in ("batch_norm", "early_stopping", "shuffle", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if layers is not None:
            for name, token in (("dropout", "dropout:R"), ("batch_norm", "batchnorm")):
                if getattr(self, name):
                    raise ValueError(
                        f"{name}={getattr(self, name)!r} applies to the hidden_layer_sizes "
                        f"network; with layers=SPEC write {token} tokens into the spec instead"
                    )
        if not (_is_int(self.verbose) or isinstance(self.verbose, bool)) or self.verbose < 0:
            raise ValueError(f"verbose must be an integer >= 0, got {self.verbose!r}")
        callbacks = [] if self.callbacks is None else list(self.callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(
                    f"callbacks must be nnscratch Callback instances, got {type(cb).__name__}"
                )
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}") from None
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        self._make_optimizer()  # validates solver and learning_rate_init together
        threads = check_threads(self.threads)
        return _Config(
            hidden=hidden,
            activations=activations,
            layers=layers,
            input_shape=input_shape,
            batch_size=batch_size,
            max_iter=int(self.max_iter),
            alpha=float(self.alpha),
            dropout=float(self.dropout),
            batch_norm=bool(self.batch_norm),
            early_stopping=bool(self.early_stopping),
            validation_fraction=float(self.validation_fraction),
            n_iter_no_change=int(self.n_iter_no_change),
            tol=float(self.tol),
            shuffle=bool(self.shuffle),
            verbose=min(int(self.verbose), 2),
            callbacks=callbacks,
            dtype=dtype,
            threads=threads,
        )

    def _check_layers(self) -> tuple[str | None, tuple[int, ...] | None]:
        """``layers`` (a spec whose tokens parse) and ``input_shape`` (a tuple of positive
        ints), each possibly None."""
        input_shape = self.input_shape
        if input_shape is not None:
            try:
                input_shape = as_shape(
                    list(input_shape) if isinstance(input_shape, np.ndarray) else input_shape,
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
        sizes = self.hidden_layer_sizes
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
            try:  # a copy: the parameter itself is never touched
                act = get_activation(copy.deepcopy(item))
            except TypeError as exc:
                raise ValueError(f"activation: {exc}") from None
            if not act.differentiable:
                raise ValueError(
                    f"activation {act.name!r} has no usable gradient and cannot be trained"
                )
            activations.append(act)
        return hidden, activations

    def _make_optimizer(self) -> Optimizer:
        if isinstance(self.solver, Optimizer):
            return copy.deepcopy(self.solver)  # an instance is used as given (its own rate)
        if not isinstance(self.solver, str):
            raise ValueError(
                f"solver must be an optimizer name {sorted(OPTIMIZERS)} or an nnscratch "
                f"Optimizer, got {self.solver!r}"
            )
        try:
            return get_optimizer(self.solver, learning_rate=float(self.learning_rate_init))
        except TypeError as exc:
            raise ValueError(f"solver {self.solver!r}: {exc}") from None

    # -- network -----------------------------------------------------------------------------
    def _build_network(self, cfg: _Config, n_features: int, n_outputs: int, seed: int) -> Model:
        loss = SoftmaxCrossEntropy() if self._is_classifier else MSE()
        if cfg.layers is not None:
            network = self._spec_network(cfg, n_features, n_outputs, seed)
            return Model(network, loss=loss, optimizer=self._make_optimizer())
        layers: list[Layer] = []
        for width, act in zip(cfg.hidden, cfg.activations, strict=True):
            init = default_initializer(act.name)
            if cfg.batch_norm:  # normalise Z before the non-linearity, as nn.mlp does
                layers += [Dense(width, weight_init=init), BatchNorm(), ActivationLayer(act)]
            else:
                layers.append(Dense(width, act, weight_init=init))
            if cfg.dropout:
                layers.append(Dropout(cfg.dropout))
        layers.append(Dense(n_outputs))
        network = Sequential(layers, n_features, seed=seed, dtype=cfg.dtype)
        return Model(network, loss=loss, optimizer=self._make_optimizer())

    def _spec_network(self, cfg: _Config, n_features: int, n_outputs: int, seed: int) -> Sequential:
        """The hidden part from ``cfg.layers`` for samples of ``input_shape`` (flat rows of
        ``n_features`` without it), then the output layer ``Dense(n_outputs)``."""
        shape = cfg.input_shape if cfg.input_shape is not None else (n_features,)
        try:
            body = build_network(cfg.layers, shape, seed=seed, dtype=cfg.dtype)
        except ValueError as exc:
            raise ValueError(f"layers={cfg.layers!r}: {exc}") from None
        if len(body.output_shape) != 1:
            raise ValueError(
                f"layers={cfg.layers!r} ends with samples of shape "
                f"{'x'.join(map(str, body.output_shape))}, but the estimator appends its "
                f"output layer Dense({n_outputs}), which takes flat rows; end the spec with "
                "flatten or gap"
            )
        return Sequential(
            [*body.layers, Dense(n_outputs)], input_shape=shape, seed=seed, dtype=cfg.dtype
        )

    # -- samples of any shape ----------------------------------------------------------------
    def _as_rows(self, X: object, input_shape: tuple[int, ...] | None) -> object:
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
        if input_shape is None:
            raise ValueError(
                f"X has shape {tuple(X.shape)}: {type(self).__name__} takes 2-D X "
                "(n_samples, n_features), or samples of any shape with input_shape set to "
                f"it, e.g. input_shape={tuple(X.shape[1:])}"
            )
        if tuple(X.shape[1:]) != tuple(input_shape):
            raise ValueError(
                f"X holds samples of shape {tuple(X.shape[1:])}, but input_shape is "
                f"{tuple(input_shape)}"
            )
        return X.reshape(len(X), -1)

    def _check_rows(self, X: Array, input_shape: tuple[int, ...] | None) -> None:
        """Flat rows must hold as many values as one sample of ``input_shape``."""
        if input_shape is not None and X.shape[1] != math.prod(input_shape):
            raise ValueError(
                f"X has {X.shape[1]} features per sample, but input_shape={input_shape} "
                f"holds {math.prod(input_shape)} values"
            )

    def _for_network(self, X: Array) -> Array:
        """Rows laid out as the network's samples (a view): N x C x H x W for images."""
        return X.reshape(len(X), *self.model_.network.input_shape)

    # -- data --------------------------------------------------------------------------------
    def _sample_weights(self, sample_weight: object, X: Array, y_enc: Array) -> Array | None:
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

    def _batch_size(self, cfg: _Config, n: int) -> int:
        size = min(200, n) if cfg.batch_size == "auto" else int(cfg.batch_size)
        if cfg.batch_norm:
            if n < 2:
                raise ValueError(
                    "batch_norm=True needs at least 2 training samples to estimate batch "
                    f"statistics, got {n}"
                )
            # nnscratch keeps the last, partial batch; batch norm cannot use one of 1 sample
            while size < n and n % size == 1:
                size += 1
        return size

    def _split_validation(
        self, X: Array, y_enc: Array, weights: Array | None, fraction: float, seed: int
    ) -> tuple[Array, Array, Array | None, Array, Array, Array | None]:
        """Hold out ``fraction`` of the samples (stratified for classifiers when possible)."""
        n = len(X)
        n_val = math.ceil(n * fraction)
        if n_val < 1 or n_val >= n:
            raise ValueError(
                f"early_stopping with validation_fraction={fraction} cannot split {n} samples "
                "into non-empty training and validation sets"
            )
        index = np.arange(n)
        stratify = y_enc if self._is_classifier else None
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

    def _targets(self, y_enc: Array, weights: Array | None, dtype: np.dtype) -> Array:
        """The targets in the form the model's loss takes, with the weights built in."""
        raise NotImplementedError

    def _weighted_loss(self, weights: Array | None) -> Loss | None:
        """A loss to train with instead of the model's own, when weights need one."""
        return None

    @staticmethod
    def _normalised(weights: Array | None) -> Array | None:
        return None if weights is None else weights / weights.mean()

    # -- training ----------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def _set_l2(self, cfg: _Config, n: int, weights: Array | None) -> None:
        """Nielsen's lambda/(2n) with n the total sample weight: ``alpha`` in the model's form."""
        total = float(n if weights is None else weights.sum())
        lam = cfg.alpha * n / total
        self.model_.regularizers = [L2(lam)] if lam > 0 else []

    def _reset_fitted_state(self) -> None:
        self.loss_curve_: list[float] = []
        self.validation_loss_curve_: list[float] | None = None
        self.best_loss_: float | None = None
        self.best_validation_loss_: float | None = None
        self.n_iter_ = 0
        self.t_ = 0
        self.stopped_early_ = False
        self._incremental: _IncrementalState | None = None

    def fit(self, X: object, y: object, sample_weight: object = None) -> _BaseNet:
        """Train on (X, y) for up to ``max_iter`` epochs (a new network unless ``warm_start``).

        ``sample_weight`` (non-negative, one per sample) weights each sample's loss; it is
        combined with ``class_weight`` for classifiers.
        """
        cfg = self._config()
        warm = bool(self.warm_start) and self.__sklearn_is_fitted__()
        X, y = self._validate_xy(X, y, cfg, reset=not warm)
        y_enc = self._encode_fit(y, warm)
        weights = self._sample_weights(sample_weight, X, y_enc)
        self._check_fit_targets(y_enc, weights)
        rng = check_random_state(self.random_state)
        init_seed, fit_seed, split_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))

        if not warm:
            self._reset_fitted_state()
            self.model_ = self._build_network(cfg, X.shape[1], self.n_outputs_, init_seed)
            self.input_shape_ = cfg.input_shape
        elif isinstance(self.solver, str):
            self.model_.optimizer.learning_rate = float(self.learning_rate_init)
        X = self._for_network(X)
        self._incremental = None
        self.stopped_early_ = False

        validation = None
        if cfg.early_stopping:
            X, y_enc, weights, x_val, y_val, w_val = self._split_validation(
                X, y_enc, weights, cfg.validation_fraction, split_seed
            )
            t_val = self._targets(y_val, self._normalised(w_val), cfg.dtype)
            validation = (x_val, t_val)
            if self.validation_loss_curve_ is None:
                self.validation_loss_curve_ = []
        self._set_l2(cfg, len(X), weights)
        targets = self._targets(y_enc, self._normalised(weights), cfg.dtype)
        monitor = _Monitor(self, cfg, validation=validation is not None, stop=True)
        self._samples_this_epoch = len(X)
        try:
            with _loss_installed(self.model_, self._weighted_loss(weights)):
                self.model_.fit(
                    X,
                    targets,
                    epochs=cfg.max_iter,
                    batch_size=self._batch_size(cfg, len(X)),
                    validation_data=validation,
                    shuffle=cfg.shuffle,
                    seed=fit_seed,
                    callbacks=[monitor, *cfg.callbacks],
                    verbose=cfg.verbose,
                    threads=cfg.threads,
                )
        finally:
            _drop_scratch(self.model_.network)
        if validation is not None:
            if monitor.best_weights is not None:
                self.model_.network.set_weights(monitor.best_weights)
            self.best_validation_loss_ = min(
                monitor.best,
                self.best_validation_loss_ if self.best_validation_loss_ is not None else math.inf,
            )
        self.stopped_early_ = monitor.stopped
        if not monitor.stopped and not self.model_.stop_training:
            warnings.warn(
                f"{type(self).__name__}: maximum iterations ({cfg.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _partial_fit(
        self, X: object, y: object, classes: object, sample_weight: object
    ) -> _BaseNet:
        cfg = self._config()
        first = not self.__sklearn_is_fitted__()
        X, y = self._validate_xy(X, y, cfg, reset=first)
        y_enc = self._encode_partial(y, classes, first)
        weights = self._sample_weights(sample_weight, X, y_enc)
        if first:
            rng = check_random_state(self.random_state)
            init_seed, fit_seed, split_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
            self._reset_fitted_state()
            self.model_ = self._build_network(cfg, X.shape[1], self.n_outputs_, init_seed)
            self.input_shape_ = cfg.input_shape
        else:
            fit_seed = split_seed = None  # the model continues its own random stream
        X = self._for_network(X)
        if self._incremental is None:  # first call, or the first one after fit()
            source = split_seed if split_seed is not None else self.random_state
            self._incremental = _IncrementalState(rng=check_random_state(source))
        state = self._incremental
        if state.stopped:
            warnings.warn(
                f"{type(self).__name__}.partial_fit: training stopped early (no improvement of "
                f"the validation loss for more than n_iter_no_change={cfg.n_iter_no_change} "
                "calls) and the best weights were restored; this call was ignored. Call fit() "
                "to train again.",
                UserWarning,
                stacklevel=3,
            )
            return self
        if isinstance(self.solver, str):
            self.model_.optimizer.learning_rate = float(self.learning_rate_init)

        if cfg.early_stopping:
            X, y_enc, weights = self._hold_out(state, cfg, X, y_enc, weights)
        # (when the held-out part took every sample of non-zero weight there is nothing to learn)
        if weights is None or np.any(weights > 0):
            self._set_l2(cfg, len(X), weights)
            targets = self._targets(y_enc, self._normalised(weights), cfg.dtype)
            monitor = _Monitor(self, cfg, validation=False, stop=False)
            self._samples_this_epoch = len(X)
            try:
                with _loss_installed(self.model_, self._weighted_loss(weights)):
                    self.model_.fit(
                        X,
                        targets,
                        epochs=1,
                        batch_size=self._batch_size(cfg, len(X)),
                        shuffle=cfg.shuffle,
                        seed=fit_seed,
                        callbacks=[monitor, *cfg.callbacks],
                        verbose=cfg.verbose,
                        threads=cfg.threads,
                    )
            finally:
                _drop_scratch(self.model_.network)
        if cfg.early_stopping:
            self._incremental_validation(state, cfg)
        return self

    def _hold_out(
        self, state: _IncrementalState, cfg: _Config, X: Array, y_enc: Array, w: Array | None
    ) -> tuple[Array, Array, Array | None]:
        """Move ``validation_fraction`` of this call's samples to the validation pool."""
        n = len(X)
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

    def _incremental_validation(self, state: _IncrementalState, cfg: _Config) -> None:
        """Score the current and the best weights on the (possibly grown) validation pool."""
        if self.validation_loss_curve_ is None:
            self.validation_loss_curve_ = []
        if not state.x_pool:
            return
        x_pool = np.concatenate(state.x_pool)
        y_pool = np.concatenate(state.target_pool)
        w_pool = np.concatenate(state.weight_pool)
        if not np.any(w_pool > 0):
            return
        targets = self._targets(y_pool, self._normalised(w_pool), cfg.dtype)
        network = self.model_.network

        def pool_loss() -> float:
            with _loss_installed(self.model_, self._weighted_loss(w_pool)):
                value = self.model_.evaluate(x_pool, targets, threads=cfg.threads)["loss"]
            _drop_scratch(network)
            return value

        current = pool_loss()
        self.validation_loss_curve_.append(current)
        if state.best_weights is None:
            best = math.inf
        else:  # re-scored on today's pool, so the comparison is fair as the pool grows
            now = network.get_weights()
            network.set_weights(state.best_weights)
            best = pool_loss()
            network.set_weights(now)
        if current > best - cfg.tol:
            state.no_improvement += 1
        else:
            state.no_improvement = 0
        if current < best:
            state.best_weights = network.get_weights()
            best = current
        self.best_validation_loss_ = best
        if state.no_improvement > cfg.n_iter_no_change:
            network.set_weights(state.best_weights)
            state.stopped = True
            self.stopped_early_ = True

    # -- prediction --------------------------------------------------------------------------
    def _raw(self, X: object) -> Array:
        check_is_fitted(self)
        X = self._as_rows(X, getattr(self, "input_shape_", None))
        X = validate_data(self, X, reset=False, dtype=self.model_.network.dtype)
        try:
            return self.model_.predict_raw(
                self._for_network(X), threads=check_threads(self.threads)
            )
        finally:
            _drop_scratch(self.model_.network)

    def _validate_xy(self, X: object, y: object, cfg: _Config, reset: bool) -> tuple[Array, Array]:
        raise NotImplementedError

    def _encode_fit(self, y: Array, warm: bool) -> Array:
        raise NotImplementedError

    def _encode_partial(self, y: Array, classes: object, first: bool) -> Array:
        raise NotImplementedError

    def _check_fit_targets(self, y_enc: Array, weights: Array | None) -> None:
        """Refuse training sets that cannot be learned (overridden by the classifier)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class NetClassifier(ClassifierMixin, _BaseNet):
    """A multi-layer perceptron classifier trained by nnscratch (softmax + cross-entropy).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Width of each hidden layer; ``()`` gives a multinomial logistic regression.
    activation : name, Activation instance or class, or a list of them, default "relu"
        Hidden-layer activation (one for all layers, or one per hidden layer). Any nnscratch
        activation works, including user-defined ``Activation`` subclasses.
    layers : str or None, default None
        The hidden part of the network as a text spec (``nnscratch.core.spec``), e.g.
        ``"conv:8x3,relu,maxpool:2,flatten,dense:32,relu"``. The estimator appends its output
        layer ``Dense(n_outputs)`` as it does after ``hidden_layer_sizes``, so the spec must end
        with flat rows (``flatten``, ``gap`` or a dense layer). When given, it replaces
        ``hidden_layer_sizes`` and ``activation`` (which are then ignored) and ``dropout`` and
        ``batch_norm`` (which must stay off: write ``dropout:R`` and ``batchnorm`` tokens into
        the spec). ``None`` builds the network from ``hidden_layer_sizes`` exactly as before.
    input_shape : tuple of int or None, default None
        The shape of one sample, e.g. ``(1, 28, 28)`` for MNIST images (channels, height,
        width). ``X`` may then be flat rows (n_samples, C*H*W), in C, H, W row-major order, or
        an array of shape (n_samples, C, H, W); either way scikit-learn sees rows of C*H*W
        features (``n_features_in_``) and the network receives N x C x H x W images. Needed
        for a ``layers`` spec that starts with an image layer (``conv``, a pool); without
        ``layers`` the hidden dense layers take the flattened samples.
    solver : str or nnscratch Optimizer, default "adam"
        An optimizer name (``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adam"``, ``"adamw"``), built with ``learning_rate_init``, or an
        ``Optimizer`` instance (copied, used with its own learning rate).
    learning_rate_init : float, default 0.001
    batch_size : int or "auto", default 32
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)`` as in scikit-learn.
    max_iter : int, default 200
        Maximum number of epochs per ``fit`` call.
    alpha : float, default 0.0001
        L2 strength in Nielsen's form ``alpha/(2n) sum w^2`` (n = total sample weight).
    dropout : float, default 0.0
        Dropout rate after every hidden layer.
    batch_norm : bool, default False
        Batch normalization between each hidden layer's affine map and its activation.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data (stratified) and stop when its loss has
        not improved by ``tol`` for more than ``n_iter_no_change`` epochs; the best weights
        are restored. Also applies to ``partial_fit`` (see there).
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    tol : float, default 1e-4
        Without early stopping the same rule is applied to the training loss.
    shuffle : bool, default True
        Shuffle the samples every epoch.
    random_state : int, RandomState or None
        Seeds the weights, the batch order, dropout and the validation split.
    warm_start : bool, default False
        ``fit`` continues from the previous solution (same network, optimizer state) for up to
        ``max_iter`` more epochs instead of starting over.
    class_weight : None, "balanced" or dict {label: weight}
        Multiplies the sample weights by the weight of each sample's class.
    verbose : int, default 0
        0 silent, 1 one line per epoch, 2 progress bars too.
    callbacks : list of nnscratch Callback, optional
        Passed to ``Model.fit``; they receive the nnscratch model.
    dtype : float32 (default) or float64
        Precision of the network; inputs are converted to it.
    threads : "auto" (default) or int
        BLAS threads for the matrix products. ``"auto"`` runs one thread for small networks and
        batches, on a busy machine, and inside a parallel worker (a search with ``n_jobs > 1``
        on any joblib backend, Dask or Ray), else one per free core; see
        ``nnscratch.training.threads``.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, n_outputs_ :
        As in scikit-learn.
    input_shape_ : tuple of int or None
        ``input_shape`` at the time the network was built (what ``predict`` accepts besides
        flat rows).
    model_ : nnscratch.Model
        The trained model (``model_.save(path)``, ``nnscratch.onnx.export_onnx(model_, ...)``).
    loss_curve_ : list of float
        Training loss per epoch (weighted mean loss plus the L2 penalty).
    validation_loss_curve_ : list of float or None
        Validation loss per epoch (``fit``) or per call (``partial_fit``) with early stopping.
    best_loss_, best_validation_loss_ : float or None
        Lowest training / validation loss seen.
    n_iter_ : int
        Epochs trained over the estimator's life (``partial_fit`` calls count one each).
    t_ : int
        Training samples seen.
    stopped_early_ : bool
        Whether the last training run ended by the ``n_iter_no_change`` rule.
    """

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str | Activation | type | Sequence[str | Activation | type] = "relu",
        *,
        layers: str | None = None,
        input_shape: Sequence[int] | None = None,
        solver: str | Optimizer = "adam",
        learning_rate_init: float = 0.001,
        batch_size: int | str = 32,
        max_iter: int = 200,
        alpha: float = 0.0001,
        dropout: float = 0.0,
        batch_norm: bool = False,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        class_weight: str | dict | None = None,
        verbose: int = 0,
        callbacks: Sequence[Callback] | None = None,
        dtype: type | str | np.dtype = np.float32,
        threads: int | str = "auto",
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            activation,
            layers=layers,
            input_shape=input_shape,
            solver=solver,
            learning_rate_init=learning_rate_init,
            batch_size=batch_size,
            max_iter=max_iter,
            alpha=alpha,
            dropout=dropout,
            batch_norm=batch_norm,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            callbacks=callbacks,
            dtype=dtype,
            threads=threads,
        )
        self.class_weight = class_weight

    # -- data --------------------------------------------------------------------------------
    def _validate_xy(self, X: object, y: object, cfg: _Config, reset: bool) -> tuple[Array, Array]:
        X = self._as_rows(X, cfg.input_shape)
        X, y = validate_data(self, X, y, reset=reset, dtype=cfg.dtype, multi_output=False)
        self._check_rows(X, cfg.input_shape)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"{type(self).__name__} supports binary and multiclass targets, got {kind!r}"
            )
        return X, y

    def _encode_fit(self, y: Array, warm: bool) -> Array:
        if warm:
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(
                    "warm_start can only continue training on the classes seen by the first "
                    f"fit {self.classes_.tolist()}; y also has {unknown.tolist()}"
                )
            return np.searchsorted(self.classes_, y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but the "
                f"data contain only one class: {encoder.classes_[0]!r}"
            )
        self.classes_ = encoder.classes_
        self.n_outputs_ = len(self.classes_)
        return encoder.transform(y)

    def _encode_partial(self, y: Array, classes: object, first: bool) -> Array:
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            all_classes = np.unique(np.asarray(classes))
            if len(all_classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes, got classes={classes!r}"
                )
            self.classes_ = all_classes
            self.n_outputs_ = len(all_classes)
        elif classes is not None and not np.array_equal(
            self.classes_, np.unique(np.asarray(classes))
        ):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on the first call to partial_fit "
                f"({self.classes_.tolist()})"
            )
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in classes "
                f"{self.classes_.tolist()}"
            )
        return np.searchsorted(self.classes_, y)

    def _class_weights(self, y_enc: Array) -> Array | None:
        spec = self.class_weight
        if spec is None:
            return None
        if isinstance(spec, str) and spec == "balanced":
            present = np.unique(y_enc)
            per_class = np.zeros(len(self.classes_))
            per_class[present] = compute_class_weight("balanced", classes=present, y=y_enc)
        elif isinstance(spec, dict):
            per_class = np.ones(len(self.classes_))
            for label, value in spec.items():
                where = np.flatnonzero(self.classes_ == label)
                if where.size == 0:
                    raise ValueError(
                        f"class_weight has label {label!r}, which is not among the classes "
                        f"{self.classes_.tolist()}"
                    )
                if not (_is_real(value) and 0 <= value < math.inf):
                    raise ValueError(
                        f"class_weight[{label!r}] must be a finite number >= 0, got {value!r}"
                    )
                per_class[where[0]] = float(value)
        else:
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}"
            )
        return per_class[y_enc]

    def _check_fit_targets(self, y_enc: Array, weights: Array | None) -> None:
        if weights is None:
            return
        weighted = np.unique(y_enc[weights > 0])
        if len(weighted) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with non-zero weight; "
                f"only class {self.classes_[weighted[0]]!r} has any"
            )

    def _weighted_loss(self, weights: Array | None) -> Loss | None:
        return None if weights is None else SampleWeightedSoftmaxCrossEntropy()

    def _targets(self, y_enc: Array, weights: Array | None, dtype: np.dtype) -> Array:
        if weights is None:
            return y_enc.astype(np.int64, copy=False)
        # weighted one-hot rows, for SampleWeightedSoftmaxCrossEntropy
        targets = np.zeros((len(y_enc), len(self.classes_)), dtype=dtype)
        targets[np.arange(len(y_enc)), y_enc] = weights
        return targets

    # -- public API --------------------------------------------------------------------------
    def fit(self, X: object, y: object, sample_weight: object = None) -> NetClassifier:
        """Train on (X, y); see the class docstring for the stopping rules and weights."""
        return super().fit(X, y, sample_weight)

    def partial_fit(
        self, X: object, y: object, classes: object = None, sample_weight: object = None
    ) -> NetClassifier:
        """One epoch over (X, y), continuing the current model.

        ``classes`` (every label that will ever be seen) is required on the first call. With
        ``early_stopping=True``, ``validation_fraction`` of each call's samples is held out
        into a validation pool (up to ``MAX_VALIDATION_POOL`` samples); after each call the
        current and the best weights are scored on the pool, and after more than
        ``n_iter_no_change`` calls without an improvement of ``tol`` the best weights are
        restored, ``stopped_early_`` becomes True and later calls are ignored (with a warning)
        until ``fit`` starts over. ``class_weight="balanced"`` is not supported here, since it
        depends on the whole data set.
        """
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: the class "
                "frequencies of the whole data set are unknown; pass a dict of class weights"
            )
        return self._partial_fit(X, y, classes, sample_weight)

    def predict_proba(self, X: object) -> Array:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        logits = self._raw(X)
        return self.model_.loss.output_activation.forward(logits, out=logits)

    def predict_log_proba(self, X: object) -> Array:
        """The logarithm of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: object) -> Array:
        """The most probable class label for each sample."""
        proba = self.predict_proba(X)  # checks first that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags


class NetRegressor(RegressorMixin, _BaseNet):
    """A multi-layer perceptron regressor trained by nnscratch (linear output, squared error).

    The parameters and attributes are those of ``NetClassifier`` (without ``class_weight`` and
    ``classes_``); the loss is nnscratch's MSE. ``y`` may have several columns (multi-output
    regression); ``predict`` returns shape (n_samples,) when ``y`` was 1-D. The targets are not
    rescaled: standardise them (e.g. ``TransformedTargetRegressor``) when their scale is far
    from 1.
    """

    def _validate_xy(self, X: object, y: object, cfg: _Config, reset: bool) -> tuple[Array, Array]:
        X = self._as_rows(X, cfg.input_shape)
        X, y = validate_data(
            self, X, y, reset=reset, dtype=cfg.dtype, multi_output=True, y_numeric=True
        )
        self._check_rows(X, cfg.input_shape)
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if reset:
            self._y_ndim = y.ndim
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        elif (1 if y.ndim == 1 else y.shape[1]) != self.n_outputs_:
            raise ValueError(
                f"y has {1 if y.ndim == 1 else y.shape[1]} targets but the model was fitted "
                f"with {self.n_outputs_}"
            )
        return X, y

    def _encode_fit(self, y: Array, warm: bool) -> Array:
        return y.reshape(len(y), -1)

    def _encode_partial(self, y: Array, classes: object, first: bool) -> Array:
        return y.reshape(len(y), -1)

    def _targets(self, y_enc: Array, weights: Array | None, dtype: np.dtype) -> Array:
        if weights is None:
            return y_enc.astype(dtype, copy=False)
        return np.column_stack([y_enc, weights]).astype(dtype, copy=False)

    def _weighted_loss(self, weights: Array | None) -> Loss | None:
        return None if weights is None else SampleWeightedMSE()

    def fit(self, X: object, y: object, sample_weight: object = None) -> NetRegressor:
        """Train on (X, y); see ``NetClassifier`` for the stopping rules and weights."""
        return super().fit(X, y, sample_weight)

    def partial_fit(self, X: object, y: object, sample_weight: object = None) -> NetRegressor:
        """One epoch over (X, y), continuing the current model; with ``early_stopping`` as
        described in ``NetClassifier.partial_fit``."""
        return self._partial_fit(X, y, None, sample_weight)

    def predict(self, X: object) -> Array:
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs), as float64 (the
        network computes in ``dtype``)."""
        raw = self._raw(X).astype(np.float64)  # scikit-learn regressors predict float64
        return raw.ravel() if self._y_ndim == 1 else raw

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
