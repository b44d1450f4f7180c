"""scikit-learn estimators backed by nnscratch networks: ``NetClassifier`` and ``NetRegressor``.

They are drop-ins for ``sklearn.neural_network.MLPClassifier`` and ``MLPRegressor``: every
parameter of those (``solver`` "adam", "sgd" or "lbfgs", ``learning_rate`` schedules,
``momentum``, ``beta_1``, ``alpha`` on the same scale, ``early_stopping`` on the validation
score...) is accepted with the same meaning and default, the fitted attributes are the same
(``coefs_``, ``intercepts_``, ``loss_curve_``, ``validation_scores_``, ``n_layers_``,
``out_activation_``...), and so are the inputs (dense or SciPy sparse X, multilabel y). They
follow the scikit-learn estimator contract, so they work in ``Pipeline``, ``GridSearchCV``,
``cross_val_score`` and under ``joblib.parallel_backend("dask")`` or ``"ray"``:

>>> from sklearn.datasets import make_classification
>>> from nnscratch.sklearn import NetClassifier
>>> X, y = make_classification(n_samples=200, random_state=0)
>>> clf = NetClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, y)
>>> clf.score(X, y) > 0.9
True

What they add, after MLP's parameters: ``class_weight``; ``l2`` (Nielsen's lambda/(2n) form
of the L2 penalty); ``dropout`` and ``batch_norm``; a text spec of the hidden part,
``layers="conv:8x3,relu,maxpool:2,flatten"``, with ``input_shape=(C, H, W)`` for
convolutional networks on images; nnscratch's other optimizers and callbacks; ``dtype``
(by default the input's, as MLP); ``threads``; and ``partial_fit`` with early stopping.

The package: ``base`` (what both share: parameters, network, training loops, stopping rule),
``classifier``, ``regressor``, ``solvers`` (optimizers, learning-rate schedules, L-BFGS) and
``losses`` (MLP's objectives with sample weights).

scikit-learn (>= 1.6) and SciPy are optional dependencies: ``pip install 'nnscratch[sklearn]'``.
"""

from __future__ import annotations

import re

try:
    import sklearn
except ImportError as _exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "nnscratch.sklearn needs scikit-learn >= 1.6: pip install 'nnscratch[sklearn]'"
    ) from _exc

if tuple(int(p) for p in re.findall(r"\d+", sklearn.__version__)[:2]) < (1, 6):  # pragma: no cover
    raise ImportError(
        f"nnscratch.sklearn needs scikit-learn >= 1.6, found {sklearn.__version__}: "
        "pip install -U 'nnscratch[sklearn]'"
    )

from .base import MAX_VALIDATION_POOL  # noqa: E402
from .classifier import NetClassifier  # noqa: E402
from .losses import (  # noqa: E402
    SampleWeightedLogistic,
    SampleWeightedMSE,
    SampleWeightedPoisson,
    SampleWeightedSoftmaxCrossEntropy,
)
from .regressor import NetRegressor  # noqa: E402

__all__ = [
    "MAX_VALIDATION_POOL",
    "NetClassifier",
    "NetRegressor",
    "SampleWeightedLogistic",
    "SampleWeightedMSE",
    "SampleWeightedPoisson",
    "SampleWeightedSoftmaxCrossEntropy",
]
