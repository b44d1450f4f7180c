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
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core._types import Array
from ..core.network import mlp
from ..data import toy
from ..model import Model
from ..training.optimizers import get_optimizer
from ..training.regularizers import L1, L2
from . import netinfo
from .csvdata import parse_csv
from .sessions import Cursor, Curves, ModelSession, b64, finite, to_uint8
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
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "softplus", "linear")
LOSSES = ("softmax_cross_entropy", "mse")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
REGULARIZATION = ("none", "l2", "l1")
#: Classes of the datasets whose class count is fixed (the others use ``classes``).
FIXED_CLASSES = {"five_clusters": 5, "xor": 2, "circles": 2, "moons": 2}
HEATMAP_RES = 64
NEURON_PIXELS = 96 * 1024  # neuron-heatmap pixels per frame, shared by all hidden units
MAX_NEURON_MAPS = 1024


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], str]:
    return lambda v, n: as_choice(v, n, options)


FIELDS: dict[str, Field] = {
    "dataset": Field(_choice((*DATASETS, "upload")), scope="data"),
    "noise": Field(lambda v, n: as_float(v, n, 0.0, 1.0), scope="data"),
    "classes": Field(lambda v, n: as_int(v, n, 2, MAX_CLASSES), scope="data"),
    "n_points": Field(lambda v, n: as_int(v, n, 10, MAX_POINTS), scope="data"),
    "train_ratio": Field(lambda v, n: as_float(v, n, 0.1, 0.9), scope="data"),
    "standardize": Field(as_bool, scope="data"),
    "seed": Field(lambda v, n: as_int(v, n, 0, 2**31 - 1), scope="data"),
    "hidden": Field(
        lambda v, n: as_int_list(v, n, min_len=0, max_len=MAX_HIDDEN_LAYERS, lo=1, hi=MAX_UNITS)
    ),
    "activation": Field(_choice(ACTIVATIONS)),
    "loss": Field(_choice(LOSSES)),
    "optimizer": Field(_choice(OPTIMIZERS)),
    "dropout": Field(lambda v, n: as_float(v, n, 0.0, 0.9)),
    "learning_rate": Field(lambda v, n: as_float(v, n, 0.0, 10.0, lo_open=True), live=True),
    "regularization": Field(_choice(REGULARIZATION), live=True),
    "reg_rate": Field(lambda v, n: as_float(v, n, 0.0, 1000.0), live=True),
    "batch_size": Field(lambda v, n: as_int(v, n, 1, MAX_POINTS), live=True),
    "speed": Field(lambda v, n: as_int(v, n, 0, 10_000), live=True),
}

DEFAULTS: dict[str, Any] = {
    "dataset": "spirals",
    "noise": 0.2,
    "classes": 3,
    "n_points": 600,
    "train_ratio": 0.7,
    "standardize": True,
    "seed": 1,
    "hidden": [16, 16],
    "activation": "tanh",
    "loss": "softmax_cross_entropy",
    "optimizer": "adam",
    "dropout": 0.0,
    "learning_rate": 0.01,
    "regularization": "none",
    "reg_rate": 0.0,
    "batch_size": 16,
    "speed": 30,
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
}


PRESETS: dict[str, dict[str, Any]] = {
    name: {**DEFAULTS, **values} for name, values in _PRESETS.items()
}


def make_dataset(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Generate the configured toy dataset in playground coordinates.

    ``noise`` (0..1) maps to each generator's own parameter: the angle jitter of spirals
    (``noise`` radians); Gaussian jitter of ``noise / 2`` on XOR, moons and the five clusters
    and of ``0.3 * noise`` on circles; the blobs' spread ``0.05 + noise / 2`` around centres
    drawn in [-1, 1]^2. The five clusters' N(0, 2^2) cloud is divided by 4 and the moons are
    centred, so every set lies roughly within [-1.5, 1.5].
    """
    name, n, noise, seed = config["dataset"], config["n_points"], config["noise"], config["seed"]
    k = FIXED_CLASSES.get(name, config["classes"])
    if n < k:
        raise ParamError(f"n_points must be at least the number of classes ({k})", "n_points")
    rng = np.random.default_rng(seed)
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
        self.config: dict[str, Any] = dict(DEFAULTS)
        self.config.update(validate_update(params or {}, FIELDS))
        self.curves = Curves(("train_loss", "test_loss", "train_accuracy", "test_accuracy"))
        self._upload: tuple[np.ndarray, np.ndarray, list[str], str] | None = None
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

    def _check_memory(self, config: dict[str, Any]) -> None:
        if config["dataset"] == "upload" and self._upload is not None:
            n, k = len(self._upload[0]), len(self._upload[2])
        else:
            n, k = config["n_points"], FIXED_CLASSES.get(config["dataset"], config["classes"])
        sizes = [2, *config["hidden"], k]
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
                x = x.astype(np.float32)
                order = np.random.default_rng(cfg["seed"]).permutation(len(x))
                x, y = x[order], y[order]
            else:
                x, y, names = make_dataset(cfg)
            n_train = min(len(x) - 1, max(1, round(len(x) * cfg["train_ratio"])))
            self.x_train, self.y_train = x[:n_train], y[:n_train]
            self.x_test, self.y_test = x[n_train:], y[n_train:]
            self.class_names = names
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
        k = self._n_classes()
        sizes = [2, *cfg["hidden"], k]
        head = None if cfg["loss"] == "softmax_cross_entropy" else "sigmoid"
        net = mlp(
            sizes,
            cfg["activation"],
            output_activation=head,
            dropout=cfg["dropout"],
            seed=cfg["seed"],
        )
        optimizer = get_optimizer(cfg["optimizer"], learning_rate=cfg["learning_rate"])
        self.model = Model(net, loss=cfg["loss"], optimizer=optimizer)
        self.model.classifier = True  # MSE on class labels is still a classifier (seed 000)
        self._apply_live()

    def _apply_live(self) -> None:
        cfg = self.config
        self.model.optimizer.learning_rate = cfg["learning_rate"]
        lam, kind = cfg["reg_rate"], cfg["regularization"]
        self.model.regularizers = (
            [] if kind == "none" or lam == 0 else [L2(lam) if kind == "l2" else L1(lam)]
        )

    # -- commands ----------------------------------------------------------------------------
    def configure(self, params: Any) -> dict[str, Any]:
        """Apply a partial update: live parameters in place, others by rebuilding."""
        self._check_open()
        checked = validate_update(params, FIELDS)
        if checked.get("dataset") == "upload" and self._upload is None:
            raise ParamError("upload a CSV file before choosing the 'upload' dataset", "dataset")
        with self.lock:
            new = {**self.config, **checked}
            changed = {k for k in checked if checked[k] != self.config[k]}
            scope = None
            if any(FIELDS[k].scope == "data" and not FIELDS[k].live for k in changed):
                scope = "data"
            elif any(not FIELDS[k].live for k in changed):
                scope = "model"
            if scope or "batch_size" in changed:
                self._check_memory(new)
            self.config = new
            if scope:
                self.notice = None
                self._rebuild(scope)
            else:
                self._apply_live()
        self.notify()
        return {"config": dict(self.config), "reset": scope is not None, **self.state()}

    def upload(self, data: bytes, name: str = "upload.csv") -> dict[str, Any]:
        """Use an uploaded CSV file (x1,x2,label) as the dataset; resets training."""
        self._check_open()
        x, y, names = parse_csv(data, self.settings.max_csv_rows)
        with self.lock:
            previous = self._upload, self.config
            self._upload = (x, y, names, name)
            try:
                self._check_memory({**self.config, "dataset": "upload"})
            except ParamError as exc:
                self._upload = previous[0]
                raise ParamError(exc.message, "file", 413) from None
            self.config = {**self.config, "dataset": "upload"}
            self.notice = None
            self._rebuild("data")
        self.notify()
        return {
            "rows": int(len(x)),
            "classes": names,
            "config": dict(self.config),
            **self.state(),
        }

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

    def _refresh_visuals(self) -> None:
        probs = self._probabilities(self._grid)
        k = probs.shape[1]
        heat = to_uint8(probs.T.reshape(k, HEATMAP_RES, HEATMAP_RES), 0.0, 1.0)
        self._visual = {
            "heatmap": {"res": HEATMAP_RES, "classes": k, "probs": b64(heat)},
            "neurons": self._neuron_maps(),
        }
        self._visual_version += 1

    def _neuron_maps(self) -> dict[str, Any]:
        units = sum(self.config["hidden"])
        if units == 0:
            return {"res": 0, "layers": [], "shown": 0, "total": 0}
        res = next((r for r in (32, 24, 16, 12) if units * r * r <= NEURON_PIXELS), 12)
        grid = self._make_grid(res)
        layers, shown = [], 0
        for index, layer, out in netinfo.hidden_outputs(self.model.network, grid):
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

    def _data_json(self) -> dict[str, Any]:
        def part(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
            return {"x": np.round(x, 5).ravel().tolist(), "y": y.tolist()}

        upload = self._upload[3] if self._upload and self.config["dataset"] == "upload" else None
        return {
            "train": part(self.x_train, self.y_train),
            "test": part(self.x_test, self.y_test),
            "class_names": self.class_names,
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
