"""``NetRegressor``: scikit-learn's ``MLPRegressor``, trained by nnscratch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ..core._types import Array
from ..core.activations import Activation
from ..core.losses import MSE, Loss
from ..training.callbacks import Callback
from ..training.optimizers import Optimizer
from .base import BaseNet, Config, only_if, shared_parameters
from .losses import SampleWeightedMSE, SampleWeightedPoisson

#: ``loss`` values, as ``MLPRegressor``'s.
LOSSES = ("squared_error", "poisson")


def _stochastic(estimator: NetRegressor) -> bool:
    if estimator.solver == "lbfgs":
        raise AttributeError(
            "partial_fit is only available for stochastic optimizers; 'lbfgs' is not stochastic"
        )
    return True


class NetRegressor(RegressorMixin, BaseNet):  # type: ignore[misc]  # scikit-learn is untyped
    """A multi-layer perceptron regressor trained by nnscratch: a drop-in for scikit-learn's
    ``MLPRegressor``.

    ``loss="squared_error"`` (default) trains a linear output on half the mean squared error,
    1/(2 N K) sum ||a - y||^2, as ``MLPRegressor``; ``loss="poisson"`` an exponential output
    mu = e^z on half the Poisson deviance (targets >= 0). The other parameters and attributes
    are those of ``NetClassifier`` (without ``class_weight`` and ``classes_``; the
    early-stopping score is R^2). ``y`` may have several columns (multi-output regression);
    ``predict`` returns shape (n_samples,) when ``y`` was 1-D, in the input's precision
    (float32 input gives float32 predictions, as ``MLPRegressor``). The targets are not
    rescaled: standardise them (e.g. ``TransformedTargetRegressor``) when their scale is far
    from 1. ``out_activation_`` is ``"identity"`` or ``"exp"``; ``model_`` is an nnscratch
    MSE model whose output is z (the log-mean under the Poisson loss).
    """

    _y_ndim: int

    def __init__(
        self,
        loss: str = "squared_error",
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
        # scikit-learn's contract: every argument stored as given; BaseNet stores its own
        super().__init__(**shared_parameters(locals()))
        self.loss = loss

    def _config(self) -> Config:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")
        return super()._config()

    def _validate_xy(self, X: Any, y: Any, cfg: Config, reset: bool) -> tuple[Any, Array]:
        X, y = self._validate_x(X, y, cfg, reset, multi_output=True, y_numeric=True)
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson regression."
            )
        outputs = 1 if y.ndim == 1 else y.shape[1]
        if reset:
            self._y_ndim = y.ndim
            self.n_outputs_ = outputs
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif outputs != self.n_outputs_:
            raise ValueError(
                f"y has {outputs} targets but the model was fitted with {self.n_outputs_}"
            )
        return X, y

    def _encode_fit(self, y: Array, warm: bool) -> Array:
        return y.reshape(len(y), -1)

    def _encode_partial(self, y: Array, classes: Any, first: bool) -> Array:
        return y.reshape(len(y), -1)

    def _model_loss(self) -> Loss:
        return MSE()

    def _training_loss(self, weighted: bool) -> Loss:
        if self.out_activation_ == "exp":
            return SampleWeightedPoisson()
        return SampleWeightedMSE(half=True)

    def _targets(self, y_enc: Array, weights: Array | None, dtype: np.dtype[Any]) -> Array:
        if weights is None:
            return y_enc.astype(dtype)
        return np.column_stack([y_enc, weights]).astype(dtype)

    def _output(self, raw: Array) -> Array:
        if self.out_activation_ == "exp":
            with np.errstate(over="ignore"):
                return np.exp(raw, out=raw)
        return raw

    def _score_encoded(self, X: Any, y_enc: Array, weights: Array | None) -> float:
        predicted = self._output(self._raw_network(X))
        return float(r2_score(y_enc, predicted, sample_weight=weights))

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NetRegressor:
        """Train on (X, y); see ``NetClassifier`` for the stopping rules and weights."""
        super().fit(X, y, sample_weight)
        return self

    @only_if(_stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> NetRegressor:
        """One epoch over (X, y), continuing the current model; with ``early_stopping`` as
        described in ``NetClassifier.partial_fit``."""
        self._partial_fit(X, y, None, sample_weight)
        return self

    def predict(self, X: Any) -> Array:
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs), in the input's
        precision (float32 for float32 X, else float64)."""
        predicted = self._output(self._raw(X))
        return predicted.ravel() if self._y_ndim == 1 else predicted

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
