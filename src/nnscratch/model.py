"""``Model``: a network together with its loss and optimizer, trained by mini-batch gradient
descent (seed 001's forward pass, backward pass, update; repeated over shuffled mini-batches).

>>> import numpy as np, nnscratch as nn
>>> model = nn.Model(nn.mlp([2, 8, 2], "tanh", seed=0), loss="softmax_cross_entropy",
...                  optimizer=nn.Adam(0.05))
>>> x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32); y = np.array([0, 1, 1, 0])
>>> history = model.fit(x, y, epochs=200, batch_size=4, seed=0, verbose=0)
>>> model.predict(x).tolist()
[0, 1, 1, 0]
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from . import __version__
from .core._types import Array
from .core.activations import Identity
from .core.initializers import SeedLike, as_generator
from .core.layers import BatchNorm, Dropout, Layer, Parameter
from .core.losses import BinaryCrossEntropy, Loss, get_loss
from .core.network import PREDICT_BATCH, Sequential
from .core.sparse import SparseRows, is_sparse, n_rows
from .io.archive import ModelFileError, ModelSource, read_archive, source_name, write_archive
from .training.callbacks import Callback, LearningRateScheduler
from .training.errors import TrainingDivergedError
from .training.history import History
from .training.memory import OPTIMIZER_SLOTS, check_memory
from .training.metrics import accuracy
from .training.optimizers import Optimizer, get_optimizer, optimizer_from_config
from .training.progress import Progress
from .training.regularizers import L1, L2, Regularizer, apply_max_norm
from .training.schedules import Schedule
from .training.threads import (
    Threads,
    blas_threads,
    check_threads,
    largest_product,
    predict_product,
)

if TYPE_CHECKING:
    from .data.augment import Augmenter


class Model:
    """A trainable network: ``Sequential`` + loss + optimizer + regularization + history.

    Parameters
    ----------
    network:   a ``Sequential`` (or a list of layers, with ``input_dim``, or ``input_shape``
               (C, H, W) for images).
    loss:      a name (``"softmax_cross_entropy"``, ``"mse"``, ...) or a ``Loss``.
    optimizer: a name or an ``Optimizer`` (``Adam()`` by default).
    l2, l1:    Nielsen's penalties lambda/(2n) sum w^2 and lambda/n sum |w|, n = training size.
    max_norm:  cap on the norm of each unit's incoming weights, applied after every update.
    clip_norm: rescale the whole gradient when its global L2 norm exceeds this value.
    """

    def __init__(
        self,
        network: Sequential | Sequence[Layer],
        loss: str | Loss = "softmax_cross_entropy",
        optimizer: str | Optimizer = "adam",
        *,
        input_dim: int | None = None,
        input_shape: tuple[int, ...] | None = None,
        l2: float = 0.0,
        l1: float = 0.0,
        max_norm: float | None = None,
        clip_norm: float | None = None,
        seed: SeedLike = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        if not isinstance(network, Sequential):
            network = Sequential(
                network, input_dim, input_shape=input_shape, seed=seed, dtype=dtype
            )
        self.network = network
        self.loss = get_loss(loss)
        self.optimizer = get_optimizer(optimizer)
        self.regularizers: list[Regularizer] = [r for r in (L2(l2), L1(l1)) if r.lam > 0]
        for value, label in ((max_norm, "max_norm"), (clip_norm, "clip_norm")):
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{label} must be a finite number > 0 or None, got {value!r}")
        self.max_norm, self.clip_norm = max_norm, clip_norm
        self.history = History()
        self.epoch = 0  # completed epochs over the model's life
        self.stop_training = False
        self._rng: np.random.Generator | None = None
        #: A classifier predicts class labels and reports accuracy: any classification loss,
        #: or a regression loss (MSE, as in seed 000) trained on integer class labels.
        self.classifier = self.loss.classification
        if (
            self.loss.classification
            and network.built
            and network.output_dim == 1
            and self.loss.name == "softmax_cross_entropy"
        ):
            raise ValueError(
                "softmax_cross_entropy needs at least 2 output units; use "
                "binary_cross_entropy_with_logits for a single output"
            )

    # -- conveniences ------------------------------------------------------------------------
    @property
    def metric_name(self) -> str | None:
        return "accuracy" if self.classifier and self._n_outputs > 1 else None

    @property
    def _n_outputs(self) -> int:
        return self.network.output_dim or 0

    def _flat(self) -> Parameter:
        """Every parameter of the built network in one array (``Sequential.flat_parameter``)."""
        flat = self.network.flat_parameter
        if flat is None:
            raise RuntimeError("the network is not built yet; give it input_dim= or fit it")
        return flat

    def summary(self, print_fn: Callable[[str], object] | None = print) -> str:
        text = self.network.summary(print_fn=None)
        text += f"\nloss: {self.loss.name}   optimizer: {self.optimizer!r}"
        if self.regularizers:
            text += "   regularization: " + ", ".join(map(repr, self.regularizers))
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        return f"Model({self.network!r}, loss={self.loss.name!r}, optimizer={self.optimizer!r})"

    # -- training ----------------------------------------------------------------------------
    def fit(
        self,
        x: Array | SparseRows,
        y: Array,
        *,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data: tuple[Array | SparseRows, Array] | None = None,
        validation_split: float = 0.0,
        shuffle: bool = True,
        seed: SeedLike = None,
        callbacks: Sequence[Callback] = (),
        schedule: Schedule | None = None,
        verbose: int | str = "auto",
        threads: Threads = "auto",
        augment: Augmenter | None = None,
    ) -> History:
        """Train for ``epochs`` more epochs of mini-batch gradient descent; return the History.

        Each epoch is one full pass over the training set in a fresh random order (every sample
        exactly once, no sampling with replacement). ``seed`` starts the random stream that
        orders the batches and draws dropout masks on the first call; later calls, and a model
        resumed from a checkpoint, continue that stream, so an interrupted run that is resumed
        ends bitwise-identical to an uninterrupted one.

        ``validation_split`` holds out the *last* fraction of the samples, before any
        shuffling, as Keras does: shuffle the data first if it is ordered by class.

        Logged per epoch: ``loss`` (mean over the epoch's batches, or their sum for a summed
        cost such as SSE, plus the regularization penalty), the metric (``accuracy`` for
        classifiers; like the loss, a running value over the epoch's batches while the weights
        change, so it differs slightly from ``evaluate`` after the epoch), ``val_loss`` / ``val_<metric>``
        with validation data, ``lr`` and ``seconds`` (wall-clock time of the epoch).

        Before the first epoch, a run whose optimizer state and batch buffers would not fit in
        the memory available now is refused with a ``MemoryError`` that gives the figure. A
        batch loss that is NaN, infinite, or over 1000 times the first batch's (and over 100)
        ends training with ``TrainingDivergedError``, the weights back in the finite state they
        had at most 16 batches earlier.

        ``threads``: how many threads the BLAS library runs the matrix products on; ``"auto"``
        picks 1 for small products or a busy machine (``nnscratch.training.threads``).

        ``augment``: a random image transform from ``nnscratch.data.augment`` (``RandomShift``,
        ``RandomRotation``, ``RandomAffine``, ``Compose``), applied afresh to every training
        batch after it is gathered; validation data and ``evaluate`` see the images as they
        are. It draws from the model's random stream, after the epoch's shuffle, so a seeded
        run is reproducible and a resumed one (given the same ``augment``) continues bitwise.
        For flat rows its ``image_shape`` must hold exactly the input's width.

        Sparse input: ``x`` (and ``validation_data``'s x) may be a SciPy sparse matrix or array
        when the network's first layer is ``Dense``. CSR is used as it is, any other format is
        converted to CSR once; values are cast to the network's dtype once (a copy of the
        non-zeros, only when their dtype differs). Each batch gathers its rows from the CSR
        matrix and the first layer computes from their non-zeros, so the matrix is never made
        dense (see ``nnscratch.core.sparse``); the result equals training on ``x.toarray()``
        up to rounding. ``validation_split`` copies the rows it keeps for training.
        """
        net = self.network
        threads = check_threads(threads)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        if validation_data is not None and validation_split:
            raise ValueError("give either validation_data or validation_split, not both")

        if not is_sparse(x):
            x = np.asarray(x)
        if not net.built:
            if x.ndim < 2:
                raise ValueError(
                    f"x must be 2-D (n_samples, n_features) or a batch of images "
                    f"(n_samples, C, H, W), got shape {x.shape}"
                )
            net.build(x.shape[1] if x.ndim == 2 else x.shape[1:])
        x = net.check_input(x, f"fit ({net.describe_layer(0)})", net.dtype)
        if augment is not None:
            from .data.augment import Augmenter

            if not isinstance(augment, Augmenter):
                raise ValueError(
                    "augment must be a transform of nnscratch.data.augment (RandomShift, "
                    f"RandomRotation, RandomAffine, Compose) or None, got {type(augment).__name__}"
                )
            if is_sparse(x):
                raise ValueError(
                    "fit augment transforms images, but x is a sparse matrix; pass augment=None"
                )
            augment.check_sample_shape(x.shape[1:], "fit augment")
        y_all = np.asarray(y)
        n_targets = len(y_all) if y_all.ndim else 0
        n = n_rows(x)
        if n_targets != n:
            raise ValueError(f"x has {n} samples but y has {n_targets}: they must match")
        if validation_split:
            n_val = int(round(n * validation_split))
            if n_val < 1 or n_val >= n:
                raise ValueError(
                    f"validation_split={validation_split} leaves {n_val} validation samples out of {n}"
                )
            validation_data = (x[-n_val:], y_all[-n_val:])
            x, y_all = x[:-n_val], y_all[:-n_val]
        y_train = self._prepare_targets(x, y_all, "y")
        labels_for_regression = not self.loss.classification and self._n_outputs > 1
        if labels_for_regression and y_all.ndim == 1 and y_all.dtype.kind in "iu":
            # class labels, even under a regression loss (seed 000); a classification loss
            # leaves the flag as set (scikit-learn's estimators turn the per-batch accuracy off)
            self.classifier = True
        labels = self._labels(y_train)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val)")
            x_val = net.check_input(validation_data[0], "validation_data", net.dtype, name="x_val")
            y_val = np.asarray(validation_data[1])
            self._prepare_targets(x_val, y_val, "y_val")  # validate now, not after an epoch

        self._check_training_memory(x, batch_size)
        if self._rng is None:
            self._rng = as_generator(seed)
            for i, layer in enumerate(net.layers):  # dropout masks follow the same seed
                if isinstance(layer, Dropout) and layer.seed is None:
                    layer.rng = np.random.default_rng(self._rng.integers(1 << 63) + i)
        callbacks = list(callbacks)
        if schedule is not None:
            callbacks.insert(0, LearningRateScheduler(schedule))
        progress = Progress(verbose)
        run = _EpochRunner(self, x, y_train, labels, batch_size, shuffle, progress, augment)
        last_epoch = self.epoch + epochs
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin(self)
        try:
            # the BLAS thread count for this run, restored when it ends
            with blas_threads(threads, largest_product(net, min(batch_size, n_rows(x)))):
                for epoch in range(self.epoch + 1, last_epoch + 1):
                    for cb in callbacks:
                        cb.on_epoch_begin(self, epoch)
                    started = time.perf_counter()
                    progress.start_epoch(epoch, last_epoch, n_rows(x))
                    logs = run.epoch(epoch)
                    if validation_data is not None:
                        for key, value in self.evaluate(x_val, y_val).items():
                            logs[f"val_{key}"] = value
                    logs["lr"] = self.optimizer.learning_rate
                    logs["seconds"] = time.perf_counter() - started
                    self.epoch = epoch
                    self.history.append(epoch, logs)
                    progress.end_epoch(epoch, last_epoch, logs)
                    for cb in callbacks:
                        cb.on_epoch_end(self, epoch, logs)
                    if self.stop_training:
                        break
        finally:
            progress.close()
        for cb in callbacks:
            cb.on_train_end(self)
        return self.history

    def _check_training_memory(self, x: Array | SparseRows, batch_size: int) -> None:
        """Refuse, before the first epoch, a run whose optimizer state and batch buffers cannot
        fit in the memory available now (the estimate of ``nnscratch.training.memory``, less
        the parameters and gradients, which exist already; per sample, ``values_per_sample``:
        every layer's output, saved input and gradient, and the image layers' scratch).

        For sparse ``x`` a batch is no dense buffer of rows but its CSR rows, twice (the rows,
        and their transpose in the first layer's backward pass): per sample, the mean number
        of non-zeros per row times a value and a column index."""
        net = self.network
        itemsize = np.dtype(net.dtype).itemsize
        n_params = self._flat().value.size
        slots = 0 if self.optimizer._state else OPTIMIZER_SLOTS.get(self.optimizer.name, 1)
        per_sample = itemsize * net.values_per_sample(training=True)
        if is_sparse(x):
            nonzeros = math.ceil(int(x.indptr[-1]) / max(n_rows(x), 1))
            per_sample += 2 * nonzeros * (itemsize + x.indices.dtype.itemsize)
            per_sample -= itemsize * (net.input_dim or 0)
        batch = min(batch_size, n_rows(x))
        needed = itemsize * n_params * slots + batch * per_sample
        check_memory(
            needed,
            f"training this {n_params:,}-parameter network with {self.optimizer.name}",
            "use a smaller network or batch size",
        )

    def _prepare_targets(self, x: Array | SparseRows, y: Array, name: str) -> Array:
        shape_stub = np.broadcast_to(
            np.zeros((), dtype=self.network.dtype), (n_rows(x), self._n_outputs)
        )
        try:
            return self.loss.prepare_target(shape_stub, y)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None

    def _labels(self, prepared: Array) -> Array | None:
        if self.metric_name is None:
            return None
        return prepared if prepared.ndim == 1 else prepared.argmax(axis=1)

    def _penalty(self, n: int) -> float:
        return sum(r.penalty(self.network.parameters(), n) for r in self.regularizers)

    @property
    def _fused_sigmoid(self) -> bool:
        """Whether training and ``evaluate`` compute the loss from the final sigmoid's input:
        binary cross-entropy after a sigmoid, as Keras does, so that saturated outputs still
        get the gradient sigma(z) - y (see ``BinaryCrossEntropy``)."""
        return isinstance(self.loss, BinaryCrossEntropy) and self.network.ends_with_sigmoid

    def _compute_loss(
        self, output: Array, target: Array, need_gradient: bool = True
    ) -> tuple[float, Array | None]:
        """(L, gradient) for an output of ``network._forward(..., logits=self._fused_sigmoid)``;
        the gradient is what ``network.backward(..., logits=self._fused_sigmoid)`` takes."""
        loss = self.loss
        if isinstance(loss, BinaryCrossEntropy) and self.network.ends_with_sigmoid:
            return loss.compute_from_logits(output, target, need_gradient)
        return loss.compute(output, target, need_gradient)

    # -- inference ---------------------------------------------------------------------------
    def predict_raw(
        self, x: Array | SparseRows, batch_size: int = PREDICT_BATCH, *, threads: Threads = "auto"
    ) -> Array:
        """The network's raw output (logits for losses computed from logits). ``threads`` as in
        ``fit`` (``"auto"`` reuses the last look at the other processes instead of waiting).
        ``x`` may be a SciPy sparse matrix, as in ``fit``; it is predicted in chunks of rows
        and never made dense."""
        product = predict_product(self.network, x, batch_size)
        with blas_threads(threads, product, probe=False):
            return self.network.predict(x, batch_size)

    def predict_proba(
        self, x: Array | SparseRows, batch_size: int = PREDICT_BATCH, *, threads: Threads = "auto"
    ) -> Array:
        """Class probabilities (softmax or sigmoid of the logits, as the loss defines them)."""
        if not self.loss.classification:
            raise ValueError(
                f"predict_proba needs a classification loss, this model uses {self.loss.name}"
            )
        raw = self.predict_raw(x, batch_size, threads=threads)
        act = self.loss.output_activation
        return raw if isinstance(act, Identity) else act.forward(raw, out=raw)

    def predict(
        self, x: Array | SparseRows, batch_size: int = PREDICT_BATCH, *, threads: Threads = "auto"
    ) -> Array:
        """Class labels for classifiers (argmax, or threshold 0.5 for one output); the raw
        output for regression. ``threads`` as in ``predict_raw``."""
        if not self.classifier:
            return self.predict_raw(x, batch_size, threads=threads)
        proba = (
            self.predict_proba(x, batch_size, threads=threads)
            if self.loss.classification
            else self.predict_raw(x, batch_size, threads=threads)
        )
        if proba.shape[1] == 1:
            return (proba[:, 0] > 0.5).astype(np.int64)
        labels: Array = proba.argmax(axis=1)
        return labels

    def evaluate(
        self,
        x: Array | SparseRows,
        y: Array,
        batch_size: int = PREDICT_BATCH,
        *,
        threads: Threads = "auto",
    ) -> dict[str, float]:
        """Loss (without the regularization penalty, which depends on the training set's size)
        and metric on a dataset. ``threads`` as in ``predict_raw``."""
        with blas_threads(threads, predict_product(self.network, x, batch_size), probe=False):
            raw = self.network.predict(x, batch_size, logits=self._fused_sigmoid)
        target = self._prepare_targets(raw, y, "y")
        value, _ = self._compute_loss(raw, target, need_gradient=False)
        result = {"loss": value}
        labels = self._labels(target)
        if self.metric_name and labels is not None:
            result[self.metric_name] = accuracy(labels, raw)
        return result

    # -- saving ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the model to one ``.npz`` file: architecture, weights, optimizer state,
        history, random state, library version. Atomic and checksummed (see ``nnscratch.io``)."""
        net = self.network
        if not net.built:
            raise RuntimeError("cannot save a model whose network is not built yet")
        opt_state = self.optimizer.state_dict()
        metadata = {
            "library_version": __version__,
            "architecture": net.architecture(),
            "loss": {"name": self.loss.name, "config": self.loss.config()},
            "optimizer": {
                "name": self.optimizer.name,
                "config": opt_state["config"],
                "iterations": opt_state["iterations"],
            },
            "regularization": {
                "l2": next((r.lam for r in self.regularizers if r.name == "l2"), 0.0),
                "l1": next((r.lam for r in self.regularizers if r.name == "l1"), 0.0),
                "max_norm": self.max_norm,
                "clip_norm": self.clip_norm,
            },
            "epoch": self.epoch,
            "classifier": self.classifier,
            "history": self.history.to_dict(),
            "rng_state": None if self._rng is None else self._rng.bit_generator.state,
            "dropout_rng_states": {
                str(i): layer.rng.bit_generator.state
                for i, layer in enumerate(net.layers)
                if isinstance(layer, Dropout) and layer.rng is not None
            },
        }
        arrays = {f"weights/{k}": v for k, v in net.get_weights().items()}
        arrays.update({f"optimizer/{k}": v for k, v in opt_state["arrays"].items()})
        write_archive(path, metadata, arrays)
        return str(path)

    @classmethod
    def load(cls, path: ModelSource, *, max_bytes: int | None = None) -> Model:
        """Read a model written by ``save``; training can continue exactly where it stopped.

        ``path`` is a file name or an open binary file. The file is checked before anything is
        decompressed, and refused if its arrays would take more than ``max_bytes`` (by default
        ``nnscratch.io.archive.DEFAULT_MAX_BYTES``) or more than its architecture implies.
        Every failure is a ModelFileError (a ValueError) with a one-line message.
        """
        metadata, arrays = read_archive(path, max_bytes=max_bytes)
        try:
            weights = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("weights/")}
            net = Sequential.from_architecture(metadata["architecture"], weights)
            opt_meta = metadata["optimizer"]
            optimizer = optimizer_from_config(opt_meta["name"], opt_meta["config"])
            optimizer.load_state_dict(
                {
                    "iterations": opt_meta["iterations"],
                    "arrays": {
                        k.split("/", 1)[1]: v
                        for k, v in arrays.items()
                        if k.startswith("optimizer/")
                    },
                }
            )
            loss_meta = metadata["loss"]
            reg = metadata.get("regularization", {})
            model = cls(
                net,
                loss=get_loss(loss_meta["name"]).__class__(**loss_meta["config"]),
                optimizer=optimizer,
                l2=reg.get("l2", 0.0),
                l1=reg.get("l1", 0.0),
                max_norm=reg.get("max_norm"),
                clip_norm=reg.get("clip_norm"),
            )
            model.epoch = int(metadata["epoch"])
            model.classifier = bool(metadata.get("classifier", model.loss.classification))
            model.history = History.from_dict(metadata["history"])
            if metadata.get("rng_state") is not None:
                model._rng = np.random.default_rng()
                model._rng.bit_generator.state = metadata["rng_state"]
            for index, state in metadata.get("dropout_rng_states", {}).items():
                layer = net.layers[int(index)]
                if not isinstance(layer, Dropout):
                    raise ValueError(f"a dropout random state for layer {index}, not a Dropout")
                layer.rng = np.random.default_rng()
                layer.rng.bit_generator.state = state
        except ModelFileError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            IndexError,
            AttributeError,
            OverflowError,
            StopIteration,
            RecursionError,
        ) as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(
                f"{source_name(path)}: the model description is invalid ({text})"
            ) from None
        return model


class _EpochRunner:
    """One training epoch: shuffled mini-batches of forward, loss, backward and update.

    Holds what is reused across batches and epochs of one ``fit`` call: the batch buffer, the
    parameter snapshot of the divergence guard, and the last finite loss.

    The divergence guard checks every batch's loss; when it is NaN or infinite, or exploding
    (above ``GROWTH_LIMIT`` times the first batch's loss of the ``fit`` call and above
    ``LOSS_FLOOR``: a ratio, so it holds for costs summed over the batch such as SSE; a floor, so
    that a tiny starting loss does not make a small rise count), the weights go back to the
    snapshot, which is taken every ``SNAPSHOT_EVERY`` batches just before an update
    whose loss was finite. Copying every parameter at every batch would cost 2-3% of an MNIST
    epoch; a snapshot at most 16 batches old serves as well to stop in a finite state.

    Speed: gathering the next batch on a helper thread while the optimizer runs was measured
    and dropped: the two memory-bound passes slow each other down, and the epoch at batch 512
    took 3-7% longer than gathering in turn.
    """

    SNAPSHOT_EVERY = 16
    #: a batch loss this many times the first one is divergence, not noise: training that works
    #: lowers the loss, and a learning rate too large for the problem multiplies it by 1e10+
    GROWTH_LIMIT = 1e3
    #: ... provided it is also above this (a per-sample cross-entropy of 100 means a probability
    #: of e^-100 for the true class)
    LOSS_FLOOR = 100.0

    def __init__(
        self,
        model: Model,
        x: Array | SparseRows,
        y: Array,
        labels: Array | None,
        batch_size: int,
        shuffle: bool,
        progress: Progress,
        augment: Augmenter | None = None,
    ) -> None:
        self.model, self.x, self.y, self.labels = model, x, y, labels
        self.shuffle, self.progress = shuffle, progress
        net = model.network
        self.flat = model._flat()
        self.layer_params = net.parameters()
        self.snapshot = self.flat.value.copy()
        # which batch the snapshot precedes
        self.snapshot_label = f"epoch {model.epoch + 1}, batch 1"
        n = n_rows(x)
        starts = list(range(0, n, batch_size))
        if (
            n % batch_size == 1
            and len(starts) > 1
            and any(isinstance(layer, BatchNorm) for layer in net.layers)
        ):
            # a last batch of one sample has no variance for batch norm: fold it into the
            # previous batch, so every sample is still seen once per epoch
            starts.pop()
        self.batches = list(zip(starts, starts[1:] + [n], strict=True))
        largest = max(stop - start for start, stop in self.batches)
        # sparse rows are gathered into a new small CSR matrix per batch instead
        self.buffer = np.empty((0 if is_sparse(x) else largest, *x.shape[1:]), dtype=net.dtype)
        # the augmented batch: a second buffer, since a transform reads its whole input
        self.augment = augment
        self.augmented = None if augment is None else np.empty_like(self.buffer)
        self.last_finite_loss = math.nan
        self.first_loss, self.loss_limit = math.nan, math.inf

    def epoch(self, epoch: int) -> dict[str, float]:
        model, net, x, n = self.model, self.model.network, self.x, n_rows(self.x)
        rng = model._rng
        if rng is None:
            raise RuntimeError("fit sets the model's random stream before the first epoch")
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        logits = model._fused_sigmoid  # fixed for the fit call: looked up once, not per batch
        loss_sum, correct, batch = 0.0, 0, 0
        # Overflow is caught and reported by the divergence guard, so NumPy's warnings about it
        # would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            for batch, (start, stop) in enumerate(self.batches):
                idx = order[start:stop]
                # the batch's rows, copied into one reused buffer: no copy of the dataset.
                # Speed: with out= and the default mode="raise", np.take copies through a
                # hidden buffer (a second pass); "clip" writes straight into ours and cannot
                # change anything, since idx comes from a permutation of range(n)
                # (512 x 784 float32: 0.26 ms instead of 0.49 ms)
                xb: Array | SparseRows
                if is_sparse(x):
                    xb = x[idx]  # CSR row gather: the batch's non-zeros only
                else:
                    xb = np.take(x, idx, axis=0, out=self.buffer[: stop - start], mode="clip")
                    if self.augment is not None and self.augmented is not None:
                        xb = self.augment(xb, rng, out=self.augmented[: stop - start])
                output = net._forward(xb, training=True, logits=logits)
                if self.labels is not None:
                    correct += int(np.count_nonzero(output.argmax(axis=1) == self.labels[idx]))
                value, grad = model._compute_loss(output, self.y[idx])
                if not math.isfinite(value) or value > self.loss_limit:
                    self._diverged(epoch, batch + 1, value)
                if self.loss_limit == math.inf:  # the first batch of the fit call sets the scale
                    self.first_loss = value
                    self.loss_limit = max(self.GROWTH_LIMIT * abs(value), self.LOSS_FLOOR)
                self.last_finite_loss = value
                loss_sum += value if model.loss.sums_over_batch else value * len(idx)
                if batch % self.SNAPSHOT_EVERY == 0:
                    np.copyto(self.snapshot, self.flat.value)  # a finite state
                    self.snapshot_label = f"epoch {epoch}, batch {batch + 1}"
                if grad is None:
                    raise RuntimeError(f"the {model.loss.name} loss returned no gradient")
                net.backward(grad, need_input_grad=False, logits=logits)
                self._update(n)
                self.progress.update(
                    len(idx),
                    loss_sum if model.loss.sums_over_batch else loss_sum / stop,
                    model.metric_name,
                    correct / stop if self.labels is not None else None,
                )
            if not np.isfinite(self.flat.value).all():
                self._diverged(epoch, batch + 1, math.nan)
        data_loss = loss_sum if model.loss.sums_over_batch else loss_sum / n
        logs = {"loss": data_loss + model._penalty(n)}
        if model.metric_name:
            logs[model.metric_name] = correct / n
        return logs

    def _update(self, n: int) -> None:
        """Regularization, clipping, the optimizer step and constraints, after backward."""
        model = self.model
        for reg in model.regularizers:
            reg.add_gradient(self.layer_params, n)
        if model.clip_norm is not None:
            g = self.flat.grad
            # torch.nn.utils.clip_grad_norm_'s rule, 1e-6 included: scale by
            # clip_norm / (norm + 1e-6) whenever that is below 1
            scale = model.clip_norm / (math.sqrt(float(np.dot(g, g))) + 1e-6)
            if scale < 1.0:
                g *= scale
        # one flat array: a few NumPy calls per step; the next backward pass overwrites every
        # gradient, so the optimizer may use them as scratch space
        model.optimizer.step([self.flat], consume_grads=True)
        if model.max_norm is not None:
            apply_max_norm(self.layer_params, model.max_norm)

    def _diverged(self, epoch: int, batch: int, value: float) -> None:
        model = self.model
        np.copyto(self.flat.value, self.snapshot)
        hint = (
            "the quadratic cost with a linear output can explode: use softmax_cross_entropy for "
            "classification, or lower the learning rate"
            if model.loss.name in ("mse", "sse", "quadratic")
            else "lower the learning rate or add gradient clipping (clip_norm)"
        )
        became = (
            f"{value:.6g}, over {self.GROWTH_LIMIT:g} times the first batch's {self.first_loss:.6g}"
            if math.isfinite(value)
            else str(value)
        )
        raise TrainingDivergedError(
            f"training diverged at epoch {epoch}, batch {batch}: the loss became {became} "
            f"(last finite loss {self.last_finite_loss:.6g}, learning rate "
            f"{model.optimizer.learning_rate:g}); {hint}. The model was left in the finite "
            f"state it had before {self.snapshot_label}."
        )
