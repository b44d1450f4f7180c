"""``NetClassifier``: scikit-learn's ``MLPClassifier``, trained by nnscratch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from ..core._types import Array
from ..core.activations import Activation, Sigmoid, Softmax
from ..core.losses import BinaryCrossEntropyWithLogits, Loss, SoftmaxCrossEntropy
from ..training.callbacks import Callback
from ..training.optimizers import Optimizer
from .base import BaseNet, Config, _is_real, only_if, shared_parameters
from .losses import SampleWeightedLogistic, SampleWeightedSoftmaxCrossEntropy

#: Target kinds: one label per sample among two classes (one sigmoid output), among more
#: (softmax), or a 0/1 indicator matrix of labels (one sigmoid output per label).
KINDS = ("binary", "multiclass", "multilabel-indicator")


def _stochastic(estimator: NetClassifier) -> bool:
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers; 'lbfgs' is not stochastic"
        )
    return True


class NetClassifier(ClassifierMixin, BaseNet):  # type: ignore[misc]  # scikit-learn is untyped
    """A multi-layer perceptron classifier trained by nnscratch: a drop-in for scikit-learn's
    ``MLPClassifier`` (same parameters, same meaning, same fitted attributes), with nnscratch's
    additions after them.

    The output layer and loss follow the target, as in ``MLPClassifier``: multiclass labels get
    a softmax output with cross-entropy; two classes one sigmoid output with binary
    cross-entropy; a 2-D 0/1 indicator matrix (multilabel) one sigmoid output per label, and
    ``predict`` thresholds each probability at 0.5. Labels may be of any hashable type.

    Parameters (scikit-learn's)
    ---------------------------
    hidden_layer_sizes : int or sequence of int, default (100,)
        Width of each hidden layer; ``()`` gives a (multinomial) logistic regression.
    activation : {"relu", "tanh", "logistic", "identity"} or any nnscratch activation
        Hidden-layer activation: a name (``"logistic"`` is the sigmoid), an ``Activation``
        instance or class, or a list with one per hidden layer.
    solver : {"adam", "sgd", "lbfgs"}, another nnscratch optimizer name, or an Optimizer
        ``"sgd"`` uses ``momentum`` and ``nesterovs_momentum``; ``"adam"`` uses ``beta_1``,
        ``beta_2``, ``epsilon``; ``"lbfgs"`` minimises the full-batch objective with SciPy's
        L-BFGS-B (``max_iter`` iterations, ``max_fun`` evaluations). Also ``"momentum"``,
        ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adamw"``, or an ``Optimizer``
        instance (copied, with its own learning rate). See ``nnscratch.sklearn.solvers``.
    alpha : float, default 0.0001
        L2 strength on scikit-learn's scale: the objective of a batch of total weight B (its
        size without sample weights) is its weighted mean loss plus alpha/(2B) sum ||W||^2
        (biases not penalised).
    batch_size : int or "auto", default "auto"
        Mini-batch size; ``"auto"`` is ``min(200, n_samples)``. Larger than n_samples: clipped.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        The schedule of the step size for every stochastic solver except Adam.
    learning_rate_init : float, default 0.001
    power_t : float, default 0.5
        The exponent of ``"invscaling"``: eta = learning_rate_init / (t + 1) ** power_t.
    max_iter : int, default 200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs) per ``fit``.
    shuffle : bool, default True
        Shuffle the samples every epoch.
    random_state : int, RandomState or None
        Seeds the weights, the batch order, dropout and the validation split.
    tol : float, default 1e-4
        The improvement that counts (see ``n_iter_no_change``); lbfgs's gradient tolerance.
    verbose : bool or int, default False
        0 silent, 1 one line per epoch, 2 progress bars too.
    warm_start : bool, default False
        ``fit`` starts from the previous solution's weights (with a fresh optimizer, as MLP)
        for up to ``max_iter`` more epochs instead of starting over.
    momentum : float in [0, 1), default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data (stratified for single-label targets),
        score it (accuracy) after every epoch, stop when the score has not improved by ``tol``
        for more than ``n_iter_no_change`` epochs and keep the best epoch's weights. Without
        it the same rule watches the training loss. Also works with ``partial_fit`` (there).
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's moment decays and its denominator's guard.
    n_iter_no_change : int or numpy.inf, default 10
    max_fun : int, default 15000
        lbfgs's limit on the number of objective evaluations.

    Parameters (nnscratch's)
    ------------------------
    class_weight : None, "balanced" or dict {label: weight}
        Multiplies the sample weights by the weight of each sample's class (single-label).
    l2 : float, default 0.0
        L2 strength in Nielsen's form lambda/(2n) sum ||W||^2, n the total sample weight of the
        training set (the form ``alpha`` had in nnscratch 0.1), added to ``alpha``'s term.
    layers : str or None, default None
        The hidden part of the network as a text spec (``nnscratch.core.spec``), e.g.
        ``"conv:8x3,relu,maxpool:2,flatten,dense:32,relu"``; the estimator appends its output
        layer. It replaces ``hidden_layer_sizes`` and ``activation``; ``dropout`` and
        ``batch_norm`` must then stay off (write ``dropout:R`` and ``batchnorm`` tokens).
    input_shape : tuple of int or None, default None
        The shape of one sample, e.g. ``(1, 28, 28)``: X may then be flat rows in C, H, W
        order or an (n_samples, C, H, W) array; needed for a spec starting with an image layer.
    dropout : float, default 0.0
        Dropout rate after every hidden layer.
    batch_norm : bool, default False
        Batch normalization between each hidden layer's affine map and its activation.
    callbacks : list of nnscratch Callback, optional
        Passed to ``Model.fit``; they receive the nnscratch model.
    dtype : None (default), float32 or float64
        The computation's precision. None follows the input, as ``MLPClassifier``: float32 X
        trains and predicts in float32, anything else in float64. The network keeps the dtype
        it was built with; later inputs are converted to it.
    threads : "auto" (default) or int
        BLAS threads for the matrix products (``nnscratch.training.threads``): ``"auto"`` runs
        one thread for small networks and batches, on a busy machine, and inside a parallel
        worker of a search.

    X may be a dense array, a DataFrame, or a SciPy CSR/CSC sparse matrix: sparse rows are
    multiplied by the first layer's weights from their non-zeros only (never densified).

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_ : as in scikit-learn.
    n_outputs_ : int
        Output units: 1 for two classes, the number of classes, or of labels.
    out_activation_ : {"softmax", "logistic"}
    coefs_, intercepts_ : list of arrays
        Each layer's weight matrix (n_in, n_out) and bias: views into the live network (see
        ``coefs_``), as in ``MLPClassifier``.
    n_layers_ : int
        ``len(coefs_) + 1``.
    loss_ : float
        The objective at the end of the last epoch (or lbfgs's final value).
    loss_curve_ : list of float
        The objective per epoch (stochastic solvers).
    best_loss_ : float or None
        The lowest training objective (None with early stopping).
    validation_scores_ : list of float or None
        Accuracy on the held-out set per epoch (per call with ``partial_fit``) with
        ``early_stopping``, else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs of the last ``fit`` (1 after ``partial_fit``; lbfgs: its iterations), as MLP.
    t_ : int
        Training samples seen by the stochastic solvers.
    model_ : nnscratch.Model
        The trained model (``model_.save(path)``, ``nnscratch.onnx.export_onnx(model_, ...)``).
    input_shape_ : tuple of int or None
    stopped_early_ : bool
        Whether the last training run ended by the ``n_iter_no_change`` rule.
    """

    _is_classifier = True
    classes_: Array
    _target_kind: str

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
        class_weight: str | dict[Any, float] | None = None,
        l2: float = 0.0,
        layers: str | None = None,
        input_shape: Sequence[int] | None = None,
        dropout: float = 0.0,
        batch_norm: bool = False,
        callbacks: Sequence[Callback] | None = None,
        dtype: type | str | np.dtype[Any] | None = None,
        threads: int | str = "auto",
    ) -> None:
        # scikit-learn's contract: every argument stored as given; BaseNet stores its own
        super().__init__(**shared_parameters(locals()))
        self.class_weight = class_weight

    # -- targets -----------------------------------------------------------------------------
    def _validate_xy(self, X: Any, y: Any, cfg: Config, reset: bool) -> tuple[Any, Array]:
        X, y = self._validate_x(X, y, cfg, reset, multi_output=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in KINDS:
            raise ValueError(
                f"{type(self).__name__} supports binary, multiclass and multilabel-indicator "
                f"targets, got {kind!r}"
            )
        if kind == "multilabel-indicator":
            y = (np.asarray(y) > 0).astype(np.int64)  # booleans or 0/1 of any dtype
        return X, y

    @property
    def _multilabel(self) -> bool:
        return self._target_kind == "multilabel-indicator"

    def _set_targets(self, kind: str, classes: Array) -> None:
        self._target_kind = kind
        self.classes_ = classes
        if kind == "multilabel-indicator":
            self.n_outputs_ = len(classes)
            self.out_activation_ = "logistic"
        elif len(classes) == 2:
            self.n_outputs_ = 1
            self.out_activation_ = "logistic"
        else:
            self.n_outputs_ = len(classes)
            self.out_activation_ = "softmax"

    def _encode_fit(self, y: Array, warm: bool) -> Array:
        if y.ndim == 2:  # a multilabel indicator matrix
            if warm:
                if not self._multilabel or y.shape[1] != len(self.classes_):
                    raise ValueError(
                        "warm_start can only continue training on targets like the first fit's: "
                        f"that had {self._describe_targets()}, y is a {y.shape[1]}-label "
                        "indicator matrix"
                    )
                return y
            self._set_targets("multilabel-indicator", np.arange(y.shape[1]))
            return y
        if warm:
            if self._multilabel:
                raise ValueError(
                    "warm_start can only continue training on targets like the first fit's: "
                    f"that had {self._describe_targets()}, y has one label per sample"
                )
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
        self._set_targets("multiclass" if len(encoder.classes_) > 2 else "binary", encoder.classes_)
        return np.asarray(encoder.transform(y))

    def _describe_targets(self) -> str:
        if self._multilabel:
            return f"a {len(self.classes_)}-label indicator matrix"
        return f"the classes {self.classes_.tolist()}"

    def _encode_partial(self, y: Array, classes: Any, first: bool) -> Array:
        if y.ndim == 2:
            if first:
                self._set_targets("multilabel-indicator", np.arange(y.shape[1]))
            elif not self._multilabel or y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"partial_fit got a {y.shape[1]}-label indicator matrix, but the first "
                    f"call had {self._describe_targets()}"
                )
            return y
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            all_classes = np.unique(np.asarray(classes))
            if len(all_classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes, got classes={classes!r}"
                )
            self._set_targets("multiclass" if len(all_classes) > 2 else "binary", all_classes)
        elif self._multilabel:
            raise ValueError(
                "partial_fit got one label per sample, but the first call had "
                f"{self._describe_targets()}"
            )
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
        if self._multilabel:
            raise ValueError(
                "class_weight applies to one label per sample; for multilabel targets pass "
                "sample_weight instead"
            )
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
        if weights is None or self._multilabel:
            return
        weighted = np.unique(y_enc[weights > 0])
        if len(weighted) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with non-zero weight; "
                f"only class {self.classes_[weighted[0]]!r} has any"
            )

    def _model_loss(self) -> Loss:
        if self.out_activation_ == "softmax":
            return SoftmaxCrossEntropy()
        return BinaryCrossEntropyWithLogits()

    def _training_loss(self, weighted: bool) -> Loss:
        if self.out_activation_ == "softmax":
            # without weights, the labels themselves: the plain loss picks one logit per row
            return SampleWeightedSoftmaxCrossEntropy() if weighted else SoftmaxCrossEntropy()
        return SampleWeightedLogistic()

    def _targets(self, y_enc: Array, weights: Array | None, dtype: np.dtype[Any]) -> Array:
        n = len(y_enc)
        if self.out_activation_ == "softmax":
            if weights is None:
                return y_enc.astype(np.int64, copy=False)
            targets = np.zeros((n, self.n_outputs_), dtype=dtype)  # weighted one-hot rows
            targets[np.arange(n), y_enc] = weights
            return targets
        columns = y_enc.reshape(n, -1)
        if weights is None:
            return columns.astype(dtype)
        return np.column_stack([columns, weights]).astype(dtype)

    def _score_encoded(self, X: Any, y_enc: Array, weights: Array | None) -> float:
        predicted = self._decode(self._raw_network(X))
        return float(accuracy_score(y_enc, predicted, sample_weight=weights))

    # -- public API --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NetClassifier:
        """Train on (X, y); see the class docstring for the stopping rules and weights.

        ``sample_weight`` (non-negative, one per sample) weights each sample's loss; it is
        combined with ``class_weight``.
        """
        super().fit(X, y, sample_weight)
        return self

    @only_if(_stochastic)
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> NetClassifier:
        """One epoch over (X, y), continuing the current model (stochastic solvers only).

        ``classes`` (every label that will ever be seen) is required on the first call for
        single-label targets. With ``early_stopping=True`` (which scikit-learn's MLP refuses
        here), ``validation_fraction`` of each call's samples is held out into a validation
        pool (up to ``MAX_VALIDATION_POOL`` samples); after each call the current and the best
        weights are scored on the pool, and after more than ``n_iter_no_change`` calls without
        an improvement of ``tol`` the best weights are restored, ``stopped_early_`` becomes
        True and later calls are ignored (with a warning) until ``fit`` starts over.
        ``class_weight="balanced"`` is not supported here: it depends on the whole data set.
        """
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: the class "
                "frequencies of the whole data set are unknown; pass a dict of class weights"
            )
        self._partial_fit(X, y, classes, sample_weight)
        return self

    def _probabilities(self, raw: Array) -> Array:
        """The output function applied to the network's raw output, in place."""
        if self.out_activation_ == "softmax":
            return Softmax().forward(raw, out=raw)
        # sigma(z) rounds to exactly 1 for z > 37 (float64): kept strictly inside (0, 1), as
        # scikit-learn clips them for its log loss, so that neither a label nor its complement
        # is ever given probability 0
        eps = float(np.finfo(raw.dtype).eps)
        return np.clip(Sigmoid().forward(raw, out=raw), eps, 1 - eps, out=raw)

    def _decode(self, raw: Array) -> Array:
        """Encoded predictions (class indices, or the 0/1 indicator matrix)."""
        if self.out_activation_ == "softmax":
            return np.asarray(raw.argmax(axis=1))
        # sigma(z) > 0.5 exactly when z > 0
        positive = raw > 0
        return positive.astype(np.int64) if self._multilabel else positive.ravel().astype(np.int64)

    def predict_proba(self, X: Any) -> Array:
        """Probabilities in the input's precision (float32 for float32 X, else float64): shape
        (n_samples, n_classes) with columns in ``classes_`` order, or (n_samples, n_labels) for
        multilabel targets."""
        proba = self._probabilities(self._raw(X))
        if self.n_outputs_ == 1 and not self._multilabel:
            return np.column_stack([1 - proba[:, 0], proba[:, 0]])
        return proba

    def predict_log_proba(self, X: Any) -> Array:
        """The logarithm of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> Array:
        """The most probable class for each sample; for multilabel targets the indicator
        matrix of the labels whose probability exceeds 0.5."""
        encoded = self._decode(self._raw(X))
        return encoded if self._multilabel else self.classes_[encoded]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = True
        return tags
