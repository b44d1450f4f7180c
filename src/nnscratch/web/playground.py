"""The 2-D playground: a small network learning to classify points in the plane.

A session holds a dataset (generated or uploaded), split into training and test points, and
an MLP ``nn.Model`` trained on it one epoch at a time with ``model.fit(epochs=1)``, which
keeps the model's random stream and epoch count between calls. After each chunk of epochs the
session computes what the page shows: the decision regions over a grid covering the data
(class probabilities per cell), each hidden neuron's activation over a coarser grid, and the
train and test loss curves.

Coordinates: the generated datasets are scaled to lie roughly within [-1.5, 1.5] (see
``make_dataset``); an uploaded CSV is standardized (zero mean, unit variance per column) unless
``standardize`` is false. The model, and so the downloaded model file, works in these
coordinates.

Inputs: the network sees the input features switched on in ``features`` (x1, x2, x1^2, ...,
in the order of ``features.FEATURES``; see ``features.py``), computed from each point:
``x_train`` / ``x_test`` hold those inputs, ``points_train`` / ``points_test`` the points.
Each hidden layer has its own activation (``activations``), and each frame carries the
weight matrices and biases for the page's network graph, where a weight or a bias can be
edited (``set_weight``, ``set_bias``).
"""

from __future__ import annotations

import base64
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core._types import Array
from ..core.layers import Dense, Dropout, Layer
from ..core.network import Sequential
from ..data import toy
from ..model import Model
from ..training.optimizers import get_optimizer
from ..training.regularizers import L1, L2, Regularizer
from . import netinfo
from .csvdata import TARGETS, interpret_targets, read_csv_rows
from .features import FEATURE_LABELS, FEATURES, as_features, feature_maps, feature_matrix
from .sessions import Cursor, Curves, ModelSession, Session, b64, finite, to_uint8
from .settings import MAX_CLASSES, MAX_HIDDEN_LAYERS, MAX_POINTS, MAX_UNITS, Settings
from .validation import (
    Field,
    ParamError,
    as_bool,
    as_choice,
    as_float,
    as_int,
    as_int_list,
    validate_update,
)

DATASETS = ("spirals", "five_clusters", "xor", "circles", "moons", "blobs")
#: Regression datasets: a numeric target per point (MSE loss, one linear output unit).
REGRESSION_DATASETS = ("plane", "multi_gaussian", "sine")
#: The signed Gaussian bumps of "multi_gaussian" (TF Playground's six, scaled by 1/4): x1, x2, sign.
BUMPS = (
    (-1.0, 0.625, 1.0),
    (0.0, 0.625, -1.0),
    (1.0, 0.625, 1.0),
    (-1.0, -0.625, -1.0),
    (0.0, -0.625, 1.0),
    (1.0, -0.625, -1.0),
)
BUMP_WIDTH = 0.35
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus", "linear")
LOSSES = ("softmax_cross_entropy", "mse")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
REGULARIZATION = ("none", "l2", "l1")
#: Classes of the datasets whose class count is fixed (the others use ``classes``).
FIXED_CLASSES = {"five_clusters": 5, "xor": 2, "circles": 2, "moons": 2}
HEATMAP_RES = 64
FEATURE_RES = 24  # the feature tiles' pixels per side
GRAPH_UNITS = 64  # units per layer the network graph draws
GRAPH_LINES = 1024  # connections per weight matrix the graph draws (the strongest beyond)
MAX_WEIGHT = 1000.0  # |value| a weight may be set to from the page
NEURON_PIXELS = 96 * 1024  # neuron-heatmap pixels per frame, shared by all hidden units
MAX_NEURON_MAPS = 1024


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], str]:
    return lambda v, n: as_choice(v, n, options)


def _activation_list(value: Any, name: str) -> list[str]:
    """One activation per hidden layer (the length is checked against ``hidden`` later)."""
    if not isinstance(value, list) or len(value) > MAX_HIDDEN_LAYERS:
        raise ParamError(
            f"{name} must be a list of up to {MAX_HIDDEN_LAYERS} activations, one per hidden "
            f"layer (each one of {', '.join(ACTIVATIONS)}), got {value!r:.60}",
            name,
        )
    return [as_choice(v, f"{name}[{i}]", ACTIVATIONS) for i, v in enumerate(value)]


def merge_config(config: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    """``config`` updated with the validated ``checked``, keeping one activation per layer.

    ``activations`` (one per hidden layer) must match ``hidden``'s length when it is given;
    a global ``activation`` given without ``activations`` sets every layer's; otherwise the
    per-layer list follows ``hidden``: cut at the end, or extended with ``activation``.
    """
    new = {**config, **checked}
    n = len(new["hidden"])
    if "activations" in checked:
        acts = checked["activations"]
        if len(acts) != n:
            raise ParamError(
                f"activations must give one activation per hidden layer ({n}), got {len(acts)}",
                "activations",
            )
        if acts and "activation" not in checked and len(set(acts)) == 1:
            new["activation"] = acts[0]  # the "set all" select shows the common choice
    elif "activation" in checked:
        new["activations"] = [checked["activation"]] * n
    else:
        kept = list(config["activations"])[:n]
        new["activations"] = kept + [new["activation"]] * (n - len(kept))
    return new


def layered_mlp(
    sizes: list[int], activations: list[str], head: str | None, *, dropout: float, seed: int
) -> Sequential:
    """An MLP with its own activation per hidden layer: ``Dense(sizes[i + 1], activations[i])``
    for each hidden layer (followed by ``Dropout(dropout)`` when dropout > 0), then
    ``Dense(sizes[-1], head)``. With the same activation everywhere it is ``mlp(sizes,
    activation, head, dropout=dropout, seed=seed)``, initial weights included."""
    layers: list[Layer] = []
    for width, activation in zip(sizes[1:-1], activations, strict=True):
        layers.append(Dense(width, activation))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(sizes[-1], head))
    return Sequential(layers, sizes[0], seed=seed)


def _b64_float32(values: Array) -> str:
    """Base64 of little-endian float32 values (how the weights travel in frames)."""
    data = np.ascontiguousarray(values, dtype="<f4").tobytes()
    return base64.b64encode(data).decode("ascii")


def _whole(preset: dict[str, Any]) -> dict[str, Any]:
    """What a preset implies for the per-layer settings: its activation on every hidden
    layer, and the point itself (x1, x2) as the input."""
    hidden = preset.get("hidden", DEFAULTS["hidden"])
    activation = preset.get("activation", DEFAULTS["activation"])
    return {"activations": [activation] * len(hidden), "features": ["x1", "x2"]}


FIELDS: dict[str, Field] = {
    "dataset": Field(_choice((*DATASETS, *REGRESSION_DATASETS, "upload")), scope="data"),
    "noise": Field(lambda v, n: as_float(v, n, 0.0, 1.0), scope="data"),
    "classes": Field(lambda v, n: as_int(v, n, 2, MAX_CLASSES), scope="data"),
    "n_points": Field(lambda v, n: as_int(v, n, 10, MAX_POINTS), scope="data"),
    "train_ratio": Field(lambda v, n: as_float(v, n, 0.1, 0.9), scope="data"),
    "standardize": Field(as_bool, scope="data"),
    "seed": Field(lambda v, n: as_int(v, n, 0, 2**31 - 1), scope="data"),
    "data_seed": Field(lambda v, n: as_int(v, n, 0, 2**31 - 1), scope="data"),
    "csv_target": Field(_choice(TARGETS), scope="data"),
    "hidden": Field(
        lambda v, n: as_int_list(v, n, min_len=0, max_len=MAX_HIDDEN_LAYERS, lo=1, hi=MAX_UNITS)
    ),
    "activation": Field(_choice(ACTIVATIONS)),
    "activations": Field(_activation_list),
    "features": Field(as_features),
    "loss": Field(_choice(LOSSES)),
    "optimizer": Field(_choice(OPTIMIZERS)),
    "dropout": Field(lambda v, n: as_float(v, n, 0.0, 0.9)),
    "learning_rate": Field(lambda v, n: as_float(v, n, 0.0, 10.0, lo_open=True), live=True),
    "regularization": Field(_choice(REGULARIZATION), live=True),
    "reg_rate": Field(lambda v, n: as_float(v, n, 0.0, 1000.0), live=True),
    "batch_size": Field(lambda v, n: as_int(v, n, 1, MAX_POINTS), live=True),
    "speed": Field(lambda v, n: as_int(v, n, 0, 10_000), live=True),
    # how the page draws (kept in the config so that a link restores them; no effect here)
    "show_test": Field(as_bool, live=True),
    "discretize": Field(as_bool, live=True),
}

DEFAULTS: dict[str, Any] = {
    "dataset": "spirals",
    "noise": 0.2,
    "classes": 3,
    "n_points": 600,
    "train_ratio": 0.7,
    "standardize": True,
    "seed": 1,
    "data_seed": 0,
    "csv_target": "auto",
    "hidden": [16, 16],
    "activation": "tanh",
    "activations": ["tanh", "tanh"],
    "features": ["x1", "x2"],
    "loss": "softmax_cross_entropy",
    "optimizer": "adam",
    "dropout": 0.0,
    "learning_rate": 0.01,
    "regularization": "none",
    "reg_rate": 0.0,
    "batch_size": 16,
    "speed": 30,
    "show_test": True,
    "discretize": False,
}

#: Known-good settings, shown as presets on the page.
_PRESETS: dict[str, dict[str, Any]] = {
    "Spirals, 2 x 16 tanh, Adam": {},
    "XOR, 4 ReLU units, SGD": {
        "dataset": "xor",
        "noise": 0.1,
        "n_points": 400,
        "hidden": [4],
        "activation": "relu",
        "optimizer": "sgd",
        "learning_rate": 0.1,
        "batch_size": 10,
        "loss": "softmax_cross_entropy",
        "regularization": "none",
        "reg_rate": 0.0,
        "dropout": 0.0,
        "seed": 2,
    },
    "Circles, 1 x 6 tanh, momentum": {
        "dataset": "circles",
        "noise": 0.1,
        "n_points": 400,
        "hidden": [6],
        "activation": "tanh",
        "optimizer": "momentum",
        "learning_rate": 0.05,
        "batch_size": 10,
        "loss": "softmax_cross_entropy",
        "regularization": "none",
        "reg_rate": 0.0,
        "dropout": 0.0,
        "seed": 1,
    },
    "Five clusters, 2 x 32 ReLU, Adam": {
        "dataset": "five_clusters",
        "noise": 0.0,
        "n_points": 1000,
        "hidden": [32, 32],
        "activation": "relu",
        "optimizer": "adam",
        "learning_rate": 0.01,
        "batch_size": 32,
        "loss": "softmax_cross_entropy",
        "regularization": "none",
        "reg_rate": 0.0,
        "dropout": 0.0,
        "seed": 1,
    },
    "Moons, noisy, L2 keeps it smooth": {
        "dataset": "moons",
        "noise": 0.5,
        "n_points": 300,
        "train_ratio": 0.5,
        "hidden": [32, 32],
        "activation": "relu",
        "optimizer": "adam",
        "learning_rate": 0.01,
        "batch_size": 16,
        "loss": "softmax_cross_entropy",
        "regularization": "l2",
        "reg_rate": 1.0,
        "dropout": 0.0,
        "seed": 3,
    },
    "Blobs, sigmoid + quadratic cost, SGD (seed 000 style)": {
        "dataset": "blobs",
        "classes": 4,
        "noise": 0.3,
        "n_points": 400,
        "hidden": [8],
        "activation": "sigmoid",
        "optimizer": "sgd",
        "learning_rate": 1.0,
        "batch_size": 10,
        "loss": "mse",
        "regularization": "none",
        "reg_rate": 0.0,
        "dropout": 0.0,
        "seed": 1,
    },
    "Multi-gaussian regression, 2 x 8 tanh, Adam": {
        "dataset": "multi_gaussian",
        "noise": 0.0,
        "n_points": 500,
        "train_ratio": 0.7,
        "hidden": [8, 8],
        "activation": "tanh",
        "optimizer": "adam",
        "learning_rate": 0.03,
        "batch_size": 10,
        "regularization": "none",
        "reg_rate": 0.0,
        "dropout": 0.0,
        "seed": 1,
    },
}


#: Settings of the page's drawing, not of the experiment (the page keeps its own when it
#: applies a preset).
VIEW_KEYS = ("show_test", "discretize")

PRESETS: dict[str, dict[str, Any]] = {
    name: {**DEFAULTS, **values, **_whole(values)} for name, values in _PRESETS.items()
}


def is_regression(dataset: str) -> bool:
    """Whether a generated dataset has a numeric target instead of classes."""
    return dataset in REGRESSION_DATASETS


def data_rng(config: dict[str, Any]) -> np.random.Generator:
    """The data's random stream: from ``seed`` alone while ``data_seed`` is 0 (the data every
    earlier version drew), from both once "regenerate" has drawn a new ``data_seed``."""
    seed, extra = config["seed"], config.get("data_seed", 0)
    return np.random.default_rng(seed if extra == 0 else [seed, extra])


def make_regression(name: str, n: int, noise: float, rng: np.random.Generator) -> Array:
    """Points uniform in [-1.5, 1.5]^2 and their target as a last column (n x 3, float32).

    * ``plane``: t = (x1 + x2) / 3, a linear function in [-1, 1];
    * ``multi_gaussian``: t = sum_j s_j exp(-|x - c_j|^2 / (2 * 0.35^2)) over six bumps of
      sign s_j = +-1 (TF Playground's, scaled to these coordinates);
    * ``sine``: t = sin(pi * x1), one and a half periods across the plane, whatever x2.

    ``noise`` adds Gaussian noise of standard deviation ``noise / 2`` to the target.
    """
    x = rng.uniform(-1.5, 1.5, size=(n, 2))
    if name == "plane":
        t = (x[:, 0] + x[:, 1]) / 3
    elif name == "multi_gaussian":
        t = np.zeros(n)
        for cx, cy, sign in BUMPS:
            d2 = (x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2
            t += sign * np.exp(-d2 / (2 * BUMP_WIDTH**2))
    elif name == "sine":
        t = np.sin(np.pi * x[:, 0])
    else:  # pragma: no cover - the validator only lets known names through
        raise ParamError(f"unknown dataset {name!r}", "dataset")
    t = t + rng.normal(0.0, noise / 2, size=n)
    out: Array = np.column_stack([x, t]).astype(np.float32)
    return out


def make_dataset(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Generate the configured toy dataset in playground coordinates.

    A regression dataset (``REGRESSION_DATASETS``, see ``make_regression``) gives a float32
    target of shape (n, 1) and no class names.

    ``noise`` (0..1) maps to each generator's own parameter: the angle jitter of spirals
    (``noise`` radians); Gaussian jitter of ``noise / 2`` on XOR, moons and the five clusters
    and of ``0.3 * noise`` on circles; the blobs' spread ``0.05 + noise / 2`` around centres
    drawn in [-1, 1]^2. The five clusters' N(0, 2^2) cloud is divided by 4 and the moons are
    centred, so every set lies roughly within [-1.5, 1.5].
    """
    name, n, noise = config["dataset"], config["n_points"], config["noise"]
    rng = data_rng(config)
    if is_regression(name):
        table = make_regression(name, n, noise, rng)
        return table[:, :2], table[:, 2:], []
    k = FIXED_CLASSES.get(name, config["classes"])
    if n < k:
        raise ParamError(
            f"n_points ({n}) must be at least the number of classes ({k}): use more points or "
            "fewer classes",
            "n_points",
        )
    if name == "spirals":
        x, y = toy.spirals(n, arms=k, noise=noise, seed=rng)
    elif name == "xor":
        x, y = toy.xor(n, noise=noise / 2, seed=rng)
    elif name == "circles":
        x, y = toy.circles(n, noise=0.3 * noise, factor=0.5, seed=rng)
    elif name == "moons":
        x, y = toy.moons(n, noise=noise / 2, seed=rng)
        x = x - np.array([0.5, 0.25], dtype=np.float32)
    elif name == "blobs":
        x, y = toy.blobs(n, centers=k, std=0.05 + noise / 2, seed=rng, box=(-1.0, 1.0))
    elif name == "five_clusters":
        x, y = toy.five_clusters(n, seed=rng)
        x = x / 4 + rng.normal(0.0, noise / 2, size=x.shape)
    else:  # pragma: no cover - the validator only lets known names through
        raise ParamError(f"unknown dataset {name!r}", "dataset")
    return x.astype(np.float32), y.astype(np.int64), [str(i) for i in range(k)]


class PlaygroundSession(ModelSession):
    """One tab of the 2-D playground."""

    kind = "playground"

    def __init__(
        self,
        sid: str,
        settings: Settings,
        compute: threading.Semaphore,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(sid, settings, compute)
        self.config: dict[str, Any] = merge_config(DEFAULTS, validate_update(params or {}, FIELDS))
        self.curves = Curves(("train_loss", "test_loss", "train_accuracy", "test_accuracy"))
        self._upload: tuple[np.ndarray, np.ndarray, list[str], str] | None = None
        # the uploaded file's third column as text, and its line numbers: reinterpreted when
        # the target type (csv_target) changes
        self._upload_labels: tuple[list[str], list[int]] | None = None
        self.target_range = 1.0
        self._credit = 0.0
        self._last_tick = time.monotonic()
        self._visual: dict[str, Any] = {}
        self._visual_version = 0
        if self.config["dataset"] == "upload":
            raise ParamError("upload a CSV file before choosing the 'upload' dataset", "dataset")
        with self.lock:
            self._check_memory(self.config)
            self._rebuild("data")

    # -- building ----------------------------------------------------------------------------
    def _n_classes(self) -> int:
        return len(self.class_names)

    def regression(self, config: dict[str, Any] | None = None) -> bool:
        """Whether ``config`` (the session's by default) is a regression problem: a generated
        regression dataset, or an upload whose third column was read as numbers."""
        cfg = self.config if config is None else config
        if cfg["dataset"] == "upload":
            return self._upload is not None and not self._upload[2]
        return is_regression(cfg["dataset"])

    def _check_memory(self, config: dict[str, Any]) -> None:
        if config["dataset"] == "upload" and self._upload is not None:
            n, k = len(self._upload[0]), len(self._upload[2])
        else:
            n, k = config["n_points"], FIXED_CLASSES.get(config["dataset"], config["classes"])
        if self.regression(config):
            k = 1
        sizes = [len(config["features"]), *config["hidden"], k]
        need = netinfo.training_bytes(sizes, n, config["batch_size"], max(n, HEATMAP_RES**2))
        if need > self.settings.session_memory:
            raise ParamError(
                f"this network and dataset would need about {need / 2**20:,.0f} MiB; the server "
                f"allows {self.settings.session_memory / 2**20:,.0f} MiB per session "
                "(use fewer or narrower layers, or fewer points)",
                "hidden",
            )

    def _rebuild(self, scope: str) -> None:
        cfg = self.config
        if scope == "data":
            if cfg["dataset"] == "upload":
                if self._upload is None:  # configure refuses "upload" before a file came
                    raise ParamError(
                        "upload a CSV file before choosing the 'upload' dataset", "dataset"
                    )
                x, y, names, _ = self._upload
                x = x.astype(np.float64)
                if cfg["standardize"]:
                    std = x.std(axis=0)
                    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
                    if not names:  # a numeric target too: the MSE is then in units of its std
                        t = y.astype(np.float64)
                        y = ((t - t.mean()) / (t.std() or 1.0)).astype(np.float32)
                x = x.astype(np.float32)
                order = data_rng(cfg).permutation(len(x))
                x, y = x[order], y[order]
            else:
                x, y, names = make_dataset(cfg)
            n_train = min(len(x) - 1, max(1, round(len(x) * cfg["train_ratio"])))
            self.x_train, self.y_train = x[:n_train], y[:n_train]
            self.x_test, self.y_test = x[n_train:], y[n_train:]
            # the points in the plane; _build_model makes x_train / x_test their features
            self.points_train, self.points_test = self.x_train, self.x_test
            self.class_names = names
            # the output heat map's colour scale: -r..r, r the largest target magnitude
            self.target_range = 1.0
            if not names and len(y):
                self.target_range = float(np.abs(y).max()) or 1.0
            span = float(np.abs(x).max()) if len(x) else 1.0
            self.extent = max(1.0, math.ceil(span * 1.1 * 4) / 4)
            self._grid = self._make_grid(HEATMAP_RES)
        self._build_model()
        self.generation += 1
        self.curves.clear()
        self._record()
        self._refresh_visuals()

    def _make_grid(self, res: int) -> np.ndarray:
        """Cell centres of a res x res grid over the extent, row 0 at the top (largest x2)."""
        m = self.extent
        centres = (np.arange(res) + 0.5) / res * 2 * m - m
        gx, gy = np.meshgrid(centres, centres[::-1])
        return np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)

    def _build_model(self) -> None:
        cfg = self.config
        # regression (no class names): one linear output unit and MSE, whatever ``loss`` says
        regression = not self.class_names
        k = self._n_classes() or 1
        sizes = [len(cfg["features"]), *cfg["hidden"], k]
        head = None if regression or cfg["loss"] == "softmax_cross_entropy" else "sigmoid"
        net = layered_mlp(sizes, cfg["activations"], head, dropout=cfg["dropout"], seed=cfg["seed"])
        # the network sees the chosen features of each point (x_train / x_test are its inputs)
        self.x_train = feature_matrix(self.points_train, cfg["features"])
        self.x_test = feature_matrix(self.points_test, cfg["features"])
        optimizer = get_optimizer(cfg["optimizer"], learning_rate=cfg["learning_rate"])
        self.model = Model(net, loss="mse" if regression else cfg["loss"], optimizer=optimizer)
        # MSE on class labels is still a classifier (seed 000)
        self.model.classifier = not regression
        self._apply_live()

    def _apply_live(self) -> None:
        cfg = self.config
        lam, kind = cfg["reg_rate"], cfg["regularization"]
        regularizers: list[Regularizer] = (
            [] if kind == "none" or lam == 0 else [L2(lam) if kind == "l2" else L1(lam)]
        )
        # both set together, once nothing can fail (the model is changed in place)
        self.model.optimizer.learning_rate = cfg["learning_rate"]
        self.model.regularizers = regularizers

    # -- commands ----------------------------------------------------------------------------
    #: The play loop's pacing, also set without ``self.lock`` (see ``Session._all_or_nothing``).
    _UNGUARDED = Session._UNGUARDED | {"_credit", "_last_tick"}

    def configure(self, params: Any) -> dict[str, Any]:
        """Apply a partial update: live parameters in place, others by rebuilding.

        All or nothing: when any part fails (a value refused only once the data are made,
        such as more classes than points), the session keeps its previous configuration,
        data and model, and the error says why."""
        self._check_open()
        checked = validate_update(params, FIELDS)
        if checked.get("dataset") == "upload" and self._upload is None:
            raise ParamError("upload a CSV file before choosing the 'upload' dataset", "dataset")
        with self.lock, self._all_or_nothing():
            new = merge_config(self.config, checked)
            changed = {k for k in new if k in FIELDS and new[k] != self.config.get(k)}
            scope = None
            if any(FIELDS[k].scope == "data" and not FIELDS[k].live for k in changed):
                scope = "data"
            elif any(not FIELDS[k].live for k in changed):
                scope = "model"
            if "csv_target" in changed and self._upload is not None:
                self._upload = self._interpret_upload(new["csv_target"], "csv_target")
            if scope or "batch_size" in changed:
                self._check_memory(new)
            self.config = new
            if scope:
                self._rebuild(scope)
                self.notice = None
            else:
                self._apply_live()
        self.notify()
        return {"config": dict(self.config), "reset": scope is not None, **self.state()}

    def upload(self, data: bytes, name: str = "upload.csv") -> dict[str, Any]:
        """Use an uploaded CSV file (x1,x2,label) as the dataset; resets training."""
        self._check_open()
        x, labels, lines = read_csv_rows(data, self.settings.max_csv_rows)
        y, names = interpret_targets(labels, lines, self.config["csv_target"])
        with self.lock, self._all_or_nothing():
            self._upload = (x, y, names, name)
            self._upload_labels = (labels, lines)
            try:
                self._check_memory({**self.config, "dataset": "upload"})
            except ParamError as exc:
                raise ParamError(exc.message, "file", 413) from None
            self.config = {**self.config, "dataset": "upload"}
            self._rebuild("data")
            self.notice = None
        self.notify()
        return {
            "rows": int(len(x)),
            "classes": names,
            "regression": not names,
            "config": dict(self.config),
            **self.state(),
        }

    def _interpret_upload(
        self, target: str, field: str
    ) -> tuple[np.ndarray, np.ndarray, list[str], str] | None:
        """The uploaded file with its third column read as ``target`` says (classes or values)."""
        if self._upload is None or self._upload_labels is None:
            return self._upload
        y, names = interpret_targets(*self._upload_labels, target, field)
        return self._upload[0], y, names, self._upload[3]

    def model_bytes(self) -> tuple[bytes, str]:
        """The current model as an nnscratch model file (.npz) and a file name for it."""
        self._check_open()
        with self.lock, tempfile.TemporaryDirectory(prefix="nnscratch-web-") as folder:
            path = os.path.join(folder, "model.npz")
            self.model.save(path)
            with open(path, "rb") as handle:
                data = handle.read()
            name = f"playground-{self.config['dataset']}-epoch{self.model.epoch}.npz"
        return data, name

    # -- training ----------------------------------------------------------------------------
    def _on_play(self) -> None:
        self._credit = 1.0
        self._last_tick = time.monotonic()

    def _train_chunk(self, deadline: float) -> bool:
        now = time.monotonic()
        speed = self.config["speed"]
        if speed > 0:
            self._credit = min(
                self._credit + speed * (now - self._last_tick), max(1.0, speed * 0.25)
            )
            self._last_tick = now
            todo = int(self._credit)
            if todo == 0:
                return False
            self._credit -= todo
        else:
            todo = 1 << 30
        done = 0
        while done < todo and self.playing:
            self._one_epoch()
            done += 1
            if time.monotonic() >= deadline:
                break
        return done > 0

    # -- what the page shows -----------------------------------------------------------------
    def _probabilities(self, x: Array) -> Array:
        """Class probabilities (softmax), or the sigmoid outputs normalised to sum 1 (MSE)."""
        if self.model.loss.classification:
            return self.model.predict_proba(x)
        out = np.clip(self.model.predict_raw(x), 1e-6, None)
        shares: Array = out / out.sum(axis=1, keepdims=True)
        return shares

    def _heatmap(self) -> dict[str, Any]:
        """The output over the grid: class probabilities (k planes of res x res bytes, 0..1),
        or for regression the predicted value, bytes over the fixed scale -r..r (r the largest
        target magnitude), so that frames and the legend stay comparable."""
        if not self.class_names:
            r = self.target_range
            values = self.model.predict_raw(self._inputs(self._grid))[:, 0]
            return {
                "res": HEATMAP_RES,
                "classes": 0,
                "task": "regression",
                "values": b64(to_uint8(values, -r, r)),
                "range": [-r, r],
            }
        probs = self._probabilities(self._inputs(self._grid))
        k = probs.shape[1]
        heat = to_uint8(probs.T.reshape(k, HEATMAP_RES, HEATMAP_RES), 0.0, 1.0)
        return {"res": HEATMAP_RES, "classes": k, "task": "classification", "probs": b64(heat)}

    def _refresh_visuals(self) -> None:
        self._visual = {
            "heatmap": self._heatmap(),
            "neurons": self._neuron_maps(),
            "weights": self._weights_json(),
        }
        self._visual_version += 1

    def _neuron_maps(self) -> dict[str, Any]:
        units = sum(self.config["hidden"])
        if units == 0:
            return {"res": 0, "layers": [], "shown": 0, "total": 0}
        res = next((r for r in (32, 24, 16, 12) if units * r * r <= NEURON_PIXELS), 12)
        grid = self._make_grid(res)
        layers, shown = [], 0
        for index, layer, out in netinfo.hidden_outputs(self.model.network, self._inputs(grid)):
            act = netinfo.activation_name(layer)
            take = max(0, min(out.shape[1], MAX_NEURON_MAPS - shown))
            maps, ranges = [], []
            for j in range(take):
                values = out[:, j]
                if act in netinfo.BOUNDED:
                    lo, hi = netinfo.BOUNDED[act]
                else:
                    lo, hi = float(values.min()), float(values.max())
                maps.append(b64(to_uint8(values, lo, hi)))
                ranges.append([finite(lo), finite(hi)])
            shown += take
            layers.append(
                {
                    "layer": index,
                    "name": layer.describe(),
                    "activation": act,
                    "units": int(out.shape[1]),
                    "maps": maps,
                    "ranges": ranges,
                }
            )
        return {"res": res, "layers": layers, "shown": shown, "total": units}

    # -- the network graph: input features, weights, edits ---------------------------------
    def _inputs(self, points: Array) -> Array:
        """The network's inputs for points in the plane: their configured features."""
        return feature_matrix(points, self.config["features"])

    def _dense_layers(self) -> list[Dense]:
        return [layer for layer in self.model.network.layers if isinstance(layer, Dense)]

    def _feature_tiles(self) -> dict[str, Any]:
        """Every feature (on or off) over the plane, for the page's feature tiles: bytes
        0..255 for -s..s, s the feature's largest |value| on the grid."""
        grid = self._make_grid(FEATURE_RES)
        tiles = feature_maps(grid)
        return {
            "res": FEATURE_RES,
            "names": list(FEATURES),
            "labels": [FEATURE_LABELS[f] for f in FEATURES],
            "maps": [b64(to_uint8(v, -s, s)) for v, s in tiles.values()],
            "scales": [finite(s) for _, s in tiles.values()],
        }

    def _weights_json(self) -> dict[str, Any]:
        """Each weight matrix W (inputs x units, Z = X W + b) for the graph, compactly.

        The graph draws at most ``GRAPH_UNITS`` units per layer (the first ones) and
        ``GRAPH_LINES`` connections per matrix: ``w`` is the shown block W[:r, :c] row by row
        as float32 (base64) when it has at most ``GRAPH_LINES`` entries; otherwise ``index``
        (uint32, base64) lists the positions in that block (row * c + col) of its
        ``GRAPH_LINES`` largest |w|, and ``w`` their values. ``b`` is the shown units' biases
        b[:c] (float32, base64).
        """
        out = []
        for layer in self._dense_layers():
            weights = netinfo.dense_weights(layer)[0].value
            rows, cols = weights.shape
            r, c = min(rows, GRAPH_UNITS), min(cols, GRAPH_UNITS)
            block = weights[:r, :c].ravel()
            biases = netinfo.dense_weights(layer)[1].value.reshape(-1)[:c]
            entry: dict[str, Any] = {
                "rows": rows,
                "cols": cols,
                "shown_rows": r,
                "shown_cols": c,
                "b": _b64_float32(biases),
            }
            if block.size <= GRAPH_LINES:
                entry.update(index=None, w=_b64_float32(block))
            else:
                magnitude = np.nan_to_num(np.abs(block), nan=0.0)
                top = np.sort(np.argpartition(magnitude, -GRAPH_LINES)[-GRAPH_LINES:])
                index = np.ascontiguousarray(top, dtype="<u4").tobytes()
                entry.update(
                    index=base64.b64encode(index).decode("ascii"), w=_b64_float32(block[top])
                )
            out.append(entry)
        return {
            "layers": out,
            "features": list(self.config["features"]),
            "max_units": GRAPH_UNITS,
            "max_lines": GRAPH_LINES,
        }

    def set_weight(self, message: dict[str, Any]) -> dict[str, Any]:
        """``{"type": "set_weight", "layer": i, "row": r, "col": c, "value": v}``: set
        W[r, c] of the i-th weight matrix (0: inputs -> first hidden layer; r an input of that
        layer, c one of its units) to v, at once; training goes on from the edited model."""
        self._check_open()
        with self.lock:
            dense = self._dense_layers()
            index = as_int(message.get("layer"), "layer", 0, len(dense) - 1)
            weights = netinfo.dense_weights(dense[index])[0].value
            rows, cols = weights.shape
            for key, size, what in (("row", rows, "inputs"), ("col", cols, "units")):
                value = message.get(key)
                try:
                    as_int(value, key, 0, size - 1)
                except ParamError as exc:
                    raise ParamError(
                        f"{exc.message} (weight matrix {index} has {size} {what}: "
                        f"{key} 0 to {size - 1})",
                        key,
                    ) from None
            row, col = int(message["row"]), int(message["col"])
            value = as_float(message.get("value"), "value", -MAX_WEIGHT, MAX_WEIGHT)
            weights[row, col] = value
            self._edited()
            stored = float(weights[row, col])
        self.notify()
        return {
            "weight": {"layer": index, "row": row, "col": col, "value": stored},
            **self.state(),
        }

    def set_bias(self, message: dict[str, Any]) -> dict[str, Any]:
        """``{"type": "set_bias", "layer": i, "unit": j, "value": v}``: set the bias b[j] of
        the i-th Dense layer (0: the first hidden layer; the last: the output layer), so that
        unit j computes z_j = sum_r x_r W[r, j] + v, at once; training goes on from the edited
        model."""
        self._check_open()
        with self.lock:
            dense = self._dense_layers()
            index = as_int(message.get("layer"), "layer", 0, len(dense) - 1)
            biases = netinfo.dense_weights(dense[index])[1].value
            flat = biases.reshape(-1)  # a view: writing it writes the layer's bias
            size = flat.size
            try:
                unit = as_int(message.get("unit"), "unit", 0, size - 1)
            except ParamError as exc:
                raise ParamError(
                    f"{exc.message} (layer {index} has {size} units: unit 0 to {size - 1})",
                    "unit",
                ) from None
            value = as_float(message.get("value"), "value", -MAX_WEIGHT, MAX_WEIGHT)
            flat[unit] = value
            self._edited()
            stored = float(flat[unit])
        self.notify()
        return {"bias": {"layer": index, "unit": unit, "value": stored}, **self.state()}

    def _edited(self) -> None:
        """After a weight or bias was set by hand: measure and show the edited model."""
        self.notice = None
        self._record()  # the losses of the edited model, at the same epoch
        self._refresh_visuals()

    def _extra_commands(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {"set_weight": self.set_weight, "set_bias": self.set_bias}

    def _data_json(self) -> dict[str, Any]:
        def part(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
            # a regression target travels as a flat list of numbers, like the class labels
            return {"x": np.round(x, 5).ravel().tolist(), "y": np.round(y, 5).ravel().tolist()}

        upload = self._upload[3] if self._upload and self.config["dataset"] == "upload" else None
        return {
            "train": part(self.points_train, self.y_train),
            "test": part(self.points_test, self.y_test),
            "features": self._feature_tiles(),
            "class_names": self.class_names,
            "task": "classification" if self.class_names else "regression",
            "target_range": self.target_range,
            "extent": self.extent,
            "upload_name": upload,
        }

    def _metrics(self) -> dict[str, Any]:
        c = self.curves
        return {
            "epoch": int(self.model.epoch),
            "train_loss": c.last("train_loss"),
            "test_loss": c.last("test_loss"),
            "train_accuracy": c.last("train_accuracy"),
            "test_accuracy": c.last("test_accuracy"),
            "learning_rate": finite(self.model.optimizer.learning_rate),
            "parameters": int(self.model.network.n_parameters),
            "n_train": int(len(self.x_train)),
            "n_test": int(len(self.x_test)),
            "task": "classification" if self.class_names else "regression",
        }

    def frame(self, cursor: Cursor) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {"type": "frame", **self.status()}
            out["config"] = dict(self.config)
            out["metrics"] = self._metrics()
            if cursor.generation != self.generation:
                out["data"] = self._data_json()
                cursor.generation = self.generation
                cursor.visual_version = -1
            out["curves"] = self.curves.delta(cursor)
            if cursor.visual_version != self._visual_version:
                out.update(self._visual)
                cursor.visual_version = self._visual_version
            return out

    def _release(self) -> None:
        self._upload = None
        self._visual = {}


def playground_factory(
    sid: str, settings: Settings, compute: threading.Semaphore, params: dict[str, Any]
) -> PlaygroundSession:
    return PlaygroundSession(sid, settings, compute, params)
