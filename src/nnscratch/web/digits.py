"""The digits page: an MLP learning MNIST live, and a canvas to test it on your own drawing.

The session trains on the MNIST sample bundled with the library (5,000 training and 1,000 test
images; works offline) or on full MNIST where the library finds it (``load_mnist`` with
``download=False``: the server never downloads anything). After each chunk of epochs it
publishes the loss and accuracy curves, the test confusion matrix, per-layer gradient norms,
the share of dead ReLU units and the first layer's weights as 28 x 28 images.

A drawing is preprocessed like MNIST by ``nnscratch.data.images.mnist_style`` (the ink's
bounding box scaled into 20 x 20, centre of mass moved to the centre of a 28 x 28 frame,
values in [0, 1]) and run through a snapshot of the current (or an uploaded) model one layer at
a time, so the page can show the activations of every layer for that digit.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core._types import Array
from ..core.layers import Dense, Dropout
from ..core.network import mlp
from ..data.dataset import Dataset
from ..data.errors import DataError, InvalidDatasetError
from ..data.images import mnist_style
from ..data.mnist import load_mnist, load_mnist_sample
from ..io.archive import ModelFileError, ModelFileTooLargeError, inspect_archive
from ..model import Model
from ..training.metrics import confusion_matrix
from ..training.optimizers import get_optimizer
from ..training.regularizers import L1, L2
from . import netinfo
from .playground import ACTIVATIONS, LOSSES, OPTIMIZERS, REGULARIZATION
from .sessions import Cursor, Curves, ModelSession, SessionFactory, b64, finite, to_uint8
from .settings import MAX_HIDDEN_LAYERS, MAX_UNITS, Settings
from .validation import (
    Field,
    ParamError,
    as_choice,
    as_float,
    as_int,
    as_int_list,
    validate_update,
)

log = logging.getLogger("nnscratch.web")

SOURCES = ("sample", "full")
PROBE_SIZE = 512  # training images used for gradient norms and dead units
EVAL_TRAIN = 5000  # training images used for the training-loss curve
MAX_WEIGHT_IMAGES = 100
#: Bytes per parameter a training session holds (value, gradient, optimizer state, scratch).
_TRAINING_BYTES_PER_PARAMETER = 24


def _choice(options: tuple[str, ...]) -> Callable[[Any, str], str]:
    return lambda v, n: as_choice(v, n, options)


FIELDS: dict[str, Field] = {
    "source": Field(_choice(SOURCES), scope="data"),
    "seed": Field(lambda v, n: as_int(v, n, 0, 2**31 - 1)),
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
    "batch_size": Field(lambda v, n: as_int(v, n, 1, 60_000), live=True),
}

DEFAULTS: dict[str, Any] = {
    "source": "sample",
    "seed": 0,
    "hidden": [100],
    "activation": "relu",
    "loss": "softmax_cross_entropy",
    "optimizer": "adam",
    "dropout": 0.0,
    "learning_rate": 0.001,
    "regularization": "none",
    "reg_rate": 0.0,
    "batch_size": 32,
}


class MnistCache:
    """Datasets shared (read-only) by every digits session, loaded once on first use."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, Dataset | str] = {}

    def get(self, source: str) -> Dataset:
        with self._lock:
            if source not in self._data:
                self._data[source] = self._load(source)
            value = self._data[source]
        if isinstance(value, str):
            raise ParamError(value, "source")
        return value

    def _load(self, source: str) -> Dataset | str:
        try:
            if source == "sample":
                return load_mnist_sample(normalize=True)
            return load_mnist(self.path, normalize=True, download=False, progress=False)
        except (DataError, OSError, ValueError) as exc:
            # the library's message names folders and files on the server: it goes to the
            # server's log, and the page gets a message without them
            what = "the bundled MNIST sample" if source == "sample" else "full MNIST"
            log.warning("%s could not be loaded: %s", what, exc)
            return f"{what} is not available on this server (its log says why)"

    def status(self) -> dict[str, Any]:
        """Which sources are loaded or known to be missing (None: not tried yet)."""
        with self._lock:
            return {
                s: (None if s not in self._data else not isinstance(self._data[s], str))
                for s in SOURCES
            }


def _rounded(value: float, digits: int) -> float | None:
    """A JSON-safe rounded float (None for NaN or infinity)."""
    number = finite(value)
    return None if number is None else round(number, digits)


def _decode_image(message: dict[str, Any]) -> np.ndarray:
    """The drawing sent by the page: {"width", "height", "data": base64 of w*h uint8 ink}."""
    image = message.get("image")
    if not isinstance(image, dict):
        raise ParamError(
            "predict needs 'image': {width, height, data (base64 grayscale bytes)}", "image", 400
        )
    w = as_int(image.get("width"), "image.width", 8, 1024)
    h = as_int(image.get("height"), "image.height", 8, 1024)
    data = image.get("data")
    if not isinstance(data, str):
        raise ParamError("image.data must be a base64 string", "image.data", 400)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ParamError("image.data is not valid base64", "image.data", 400) from None
    if len(raw) != w * h:
        raise ParamError(
            f"image.data holds {len(raw)} bytes but width x height is {w * h}", "image.data", 400
        )
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w)


class DigitsSession(ModelSession):
    """One tab of the digits page."""

    kind = "digits"

    def __init__(
        self,
        sid: str,
        settings: Settings,
        compute: threading.Semaphore,
        params: dict[str, Any] | None = None,
        cache: MnistCache | None = None,
    ) -> None:
        super().__init__(sid, settings, compute)
        self.cache = cache or MnistCache(settings.mnist_path)
        self.config: dict[str, Any] = dict(DEFAULTS)
        self.config.update(validate_update(params or {}, FIELDS))
        self.curves = Curves(("train_loss", "test_loss", "train_accuracy", "test_accuracy"))
        self.model_source = "trained here"
        self._visual: dict[str, Any] = {}
        self._visual_version = 0
        self._infer_lock = threading.Lock()
        self._infer: Model | None = None
        with self.lock:
            self._rebuild("data")

    # -- building ----------------------------------------------------------------------------
    def _check_memory(self, config: dict[str, Any], n_train: int) -> None:
        sizes = [784, *config["hidden"], 10]
        need = netinfo.training_bytes(sizes, 0, config["batch_size"], 10_000)
        if need > self.settings.session_memory:
            raise ParamError(
                f"this network would need about {need / 2**20:,.0f} MiB; the server allows "
                f"{self.settings.session_memory / 2**20:,.0f} MiB per session",
                "hidden",
            )

    def _rebuild(self, scope: str) -> None:
        if scope == "data" or not hasattr(self, "data"):
            data = self.cache.get(self.config["source"])
            self.data = data
            self.x_train, self.y_train = data.x_train, data.y_train
            self.x_test, self.y_test = data.x_test, data.y_test
            self.x_probe, self.y_probe = self.x_train[:PROBE_SIZE], self.y_train[:PROBE_SIZE]
            self.x_eval, self.y_eval = self.x_train[:EVAL_TRAIN], self.y_train[:EVAL_TRAIN]
        self._check_memory(self.config, len(self.x_train))
        cfg = self.config
        head = None if cfg["loss"] == "softmax_cross_entropy" else "sigmoid"
        net = mlp(
            [784, *cfg["hidden"], 10],
            cfg["activation"],
            output_activation=head,
            dropout=cfg["dropout"],
            seed=cfg["seed"],
        )
        optimizer = get_optimizer(cfg["optimizer"], learning_rate=cfg["learning_rate"])
        self._set_model(Model(net, loss=cfg["loss"], optimizer=optimizer), "trained here")

    def _set_model(self, model: Model, source: str) -> None:
        self.model = model
        self.model.classifier = True
        self.model_source = source
        self._apply_live()
        self.generation += 1
        self.curves.clear()
        self._record()
        self._refresh_visuals()

    def _apply_live(self) -> None:
        cfg = self.config
        self.model.optimizer.learning_rate = cfg["learning_rate"]
        lam, kind = cfg["reg_rate"], cfg["regularization"]
        self.model.regularizers = (
            [] if kind == "none" or lam == 0 else [L2(lam) if kind == "l2" else L1(lam)]
        )

    # -- commands ----------------------------------------------------------------------------
    def configure(self, params: Any) -> dict[str, Any]:
        self._check_open()
        checked = validate_update(params, FIELDS)
        with self.lock:
            new = {**self.config, **checked}
            changed = {k for k in checked if checked[k] != self.config[k]}
            scope = None
            if "source" in changed:
                scope = "data"
            elif any(not FIELDS[k].live for k in changed):
                scope = "model"
            if scope:
                self._check_memory(new, len(self.x_train))
                if scope == "data":
                    self.cache.get(new["source"])  # fails here, before anything changes
            old = self.config
            self.config = new
            try:
                if scope:
                    self.notice = None
                    self._rebuild(scope)
                else:
                    self._apply_live()
            except ParamError:
                self.config = old
                raise
        self.notify()
        return {"config": dict(self.config), "reset": scope is not None, **self.state()}

    def predict(self, message: dict[str, Any]) -> dict[str, Any]:
        """Class probabilities and every layer's activations for a drawing."""
        self._check_open()
        image = _decode_image(message)
        if int(image.max()) - int(image.min()) < 8:
            return {"type": "prediction", "blank": True}
        try:
            x = mnist_style(image.astype(np.float64), invert=False)
        except InvalidDatasetError as exc:
            raise ParamError(str(exc), "image", 422) from None
        with self._infer_lock:
            model = self._infer
            if model is None:  # closed while this request was on its way
                raise ParamError("this session has been closed; start a new one", status=404)
            outputs = netinfo.layer_outputs(model.network, x.reshape(1, 784))
            raw = outputs[-1][2][0].astype(np.float64)
        if model.loss.classification:
            z = raw - raw.max()
            probs = np.exp(z) / np.exp(z).sum()
        else:
            clipped = np.clip(raw, 1e-6, None)
            probs = clipped / clipped.sum()
        layers = []
        for index, layer, out in outputs:
            values = out[0]
            act = netinfo.activation_name(layer)
            layers.append(
                {
                    "layer": index,
                    "name": layer.describe(),
                    "activation": act,
                    "values": [_rounded(v, 4) for v in values],
                    "range": [finite(values.min()), finite(values.max())],
                }
            )
        return {
            "type": "prediction",
            "blank": False,
            "digit": int(np.argmax(probs)),
            "probabilities": [_rounded(p, 5) for p in probs],
            "input": b64(to_uint8(x, 0.0, 1.0)),
            "layers": layers,
        }

    def upload_model(self, data: bytes, name: str = "model.npz") -> dict[str, Any]:
        """Use an uploaded nnscratch model file (784 inputs, 10 outputs) from now on.

        The file is checked by ``nnscratch.io.archive`` before anything is decompressed, under
        this server's per-session memory bound; messages name the file by its uploaded name,
        never by a path on the server.
        """
        self._check_open()
        limit = self.settings.session_memory
        source = io.BytesIO(data)
        source.name = name  # how error messages name the file
        try:
            info = inspect_archive(source, max_bytes=limit)
            # training holds the parameters, their gradients, the optimizer state and buffers
            if _TRAINING_BYTES_PER_PARAMETER * info.n_parameters > limit:
                raise ParamError("the model is too large for this server", "file", 413)
            source.seek(0)
            model = Model.load(source, max_bytes=limit)
        except ModelFileTooLargeError as exc:
            raise ParamError(
                f"the model is too large for this server: {exc}", "file", 413
            ) from None
        except ModelFileError as exc:
            raise ParamError(f"not a usable nnscratch model file: {exc}", "file") from None
        except MemoryError:
            raise ParamError("the model is too large for this server", "file", 413) from None
        net = model.network
        if net.input_dim != 784 or net.output_dim != 10:
            raise ParamError(
                f"the digits page needs a model with 784 inputs and 10 outputs; this one has "
                f"{net.input_dim} inputs and {net.output_dim} outputs",
                "file",
            )
        dense = [layer for layer in net.layers if isinstance(layer, Dense)]
        hidden = [layer.units for layer in dense[:-1]]
        with self.lock:
            cfg = dict(self.config)
            cfg["hidden"] = hidden
            if dense[:-1] and dense[0].activation.name in ACTIVATIONS:
                cfg["activation"] = dense[0].activation.name
            if model.optimizer.name in OPTIMIZERS:
                cfg["optimizer"] = model.optimizer.name
            if model.loss.name in LOSSES:
                cfg["loss"] = model.loss.name
            cfg["learning_rate"] = min(10.0, float(model.optimizer.learning_rate))
            regs = {r.name: r.lam for r in model.regularizers}
            kind = "l2" if "l2" in regs else "l1" if "l1" in regs else "none"
            cfg["regularization"], cfg["reg_rate"] = kind, min(1000.0, regs.get(kind, 0.0))
            rates = [layer.rate for layer in net.layers if isinstance(layer, Dropout)]
            cfg["dropout"] = min(0.9, rates[0]) if rates else 0.0
            self.config = cfg
            self.notice = None
            self._set_model(model, f"uploaded: {name}")
        self.notify()
        return {"config": dict(self.config), **self.state()}

    def model_bytes(self) -> tuple[bytes, str]:
        self._check_open()
        with self.lock, tempfile.TemporaryDirectory(prefix="nnscratch-web-") as folder:
            path = os.path.join(folder, "model.npz")
            self.model.save(path)
            with open(path, "rb") as handle:
                data = handle.read()
            name = f"digits-{self.config['source']}-epoch{self.model.epoch}.npz"
        return data, name

    def _extra_commands(self) -> dict[str, Any]:
        return {"predict": self.predict}

    # -- training ----------------------------------------------------------------------------
    def _frame_interval(self) -> float:
        return self.settings.digits_frame_interval

    def _train_eval_data(self) -> tuple[Array, Array]:
        return (
            self.x_eval,
            self.y_eval,
        )  # a fixed subset: evaluating all of MNIST each epoch is slow

    def _train_chunk(self, deadline: float) -> bool:
        done = 0
        while self.playing:
            self._one_epoch()
            done += 1
            if time.monotonic() >= deadline:
                break
        return done > 0

    # -- what the page shows -----------------------------------------------------------------
    def _refresh_visuals(self) -> None:
        model = self.model
        predicted = model.predict(self.x_test)
        matrix = confusion_matrix(self.y_test, predicted, 10)
        norms = netinfo.gradient_norms(model, self.x_probe, self.y_probe)
        dead = netinfo.dead_units(model.network, self.x_probe)
        first = next(layer for layer in model.network.layers if isinstance(layer, Dense))
        w = netinfo.dense_weights(first)[0].value[:, :MAX_WEIGHT_IMAGES]
        scale = np.abs(w).max(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        images = to_uint8(w / scale, -1.0, 1.0).T  # one 784-byte image per unit
        self._visual = {
            "confusion": matrix.tolist(),
            "gradients": norms,
            "dead": dead,
            "weights": {
                "units": int(first.units),
                "shown": int(images.shape[0]),
                "images": b64(images),
                "scales": [finite(s) for s in scale],
            },
        }
        self._visual_version += 1
        with self._infer_lock:
            snapshot = Model(model.network.copy(), loss=model.loss, optimizer="sgd")
            self._infer = snapshot

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
            "dataset": self.data.name,
            "model_source": self.model_source,
        }

    def frame(self, cursor: Cursor) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {"type": "frame", **self.status()}
            out["config"] = dict(self.config)
            out["metrics"] = self._metrics()
            if cursor.generation != self.generation:
                cursor.generation = self.generation
                cursor.visual_version = -1
            out["curves"] = self.curves.delta(cursor)
            if cursor.visual_version != self._visual_version:
                out.update(self._visual)
                cursor.visual_version = self._visual_version
            return out

    def _release(self) -> None:
        self._visual = {}
        self._infer = None


def digits_factory(cache: MnistCache) -> SessionFactory:
    """A session factory whose sessions share ``cache``."""

    def make(
        sid: str, settings: Settings, compute: threading.Semaphore, params: dict[str, Any]
    ) -> DigitsSession:
        return DigitsSession(sid, settings, compute, params, cache)

    return make
