"""Callbacks: code that runs at fixed points of training.

A callback subclasses ``Callback`` and overrides any of ``on_train_begin``, ``on_epoch_begin``,
``on_epoch_end`` and ``on_train_end``; each receives the model being trained. Setting
``model.stop_training = True`` ends training after the current epoch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core._types import Array
from .schedules import Schedule

if TYPE_CHECKING:  # the model imports this module: a run-time import would be circular
    from ..model import Model
    from .history import History


class Callback:
    def on_train_begin(self, model: Model) -> None: ...

    def on_epoch_begin(self, model: Model, epoch: int) -> None: ...

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None: ...

    def on_train_end(self, model: Model) -> None: ...


def _better(mode: str, value: float, best: float, min_delta: float) -> bool:
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode_for(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in ("acc", "f1", "r2")) else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (seed 002's "no
    improvement in n epochs"), and restore the weights of the best epoch.

    ``monitor`` is a logged quantity such as ``"val_loss"`` or ``"val_accuracy"``; ``mode`` says
    whether lower or higher is better (guessed from the name by default).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _mode_for(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict[str, Array] | None = None
        self.stopped_epoch: int | None = None
        self._wait = 0
        self._restored = False

    def restore(self, history: History) -> None:
        """Take up the watch of a run resumed from a checkpoint: replay the monitored values of
        its ``history`` (a ``History``), so that ``best``, ``best_epoch`` and the count of epochs
        without improvement are those the uninterrupted run had at that point, and the next
        ``fit`` keeps them instead of starting afresh. The weights of the best epoch are not in
        the history: to have them restored, set ``best_weights`` (``get_weights()`` of the
        model saved at ``best_epoch``). A history that had already run out of patience sets
        ``stopped_epoch``: such a run is over, and ``fit`` should train no further epochs."""
        self._begin()
        values = history.history.get(self.monitor, [])
        for epoch, value in zip(history.epochs, values, strict=False):
            if math.isnan(value):
                continue
            if _better(self.mode, value, self.best, self.min_delta):
                self.best, self.best_epoch, self._wait = value, epoch, 0
            else:
                self._wait += 1
        if self._wait > self.patience:  # the run had already stopped (its end was cut short)
            self.stopped_epoch = history.epochs[-1]
        self._restored = True

    def on_train_begin(self, model: Model) -> None:
        self._begin()

    def _begin(self) -> None:
        """Start a fresh watch, unless ``restore`` has just set one up for this run."""
        if self._restored:
            self._restored = False
            return
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.best_weights, self.stopped_epoch, self._wait = None, None, None, 0

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which training does not log; logged: "
                f"{sorted(logs)} (val_* quantities need validation_data or validation_split)"
            )
        value = logs[self.monitor]
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.best_epoch, self._wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = model.network.get_weights()
        else:
            self._wait += 1
            if self._wait > self.patience:
                self.stopped_epoch = epoch
                model.stop_training = True

    def on_train_end(self, model: Model) -> None:
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch:
            model.network.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (weights, optimizer state, history, random state) at the end of each
    epoch, or only when ``monitor`` improves with ``save_best_only``. The path may contain
    ``{epoch}``. A saved checkpoint resumes training exactly (see ``Model.load``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
    ) -> None:
        self.path = str(path)
        self.monitor, self.save_best_only = monitor, save_best_only
        self.mode = _mode_for(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(
                    f"ModelCheckpoint monitors {self.monitor!r}, not among {sorted(logs)}"
                )
            if not _better(self.mode, logs[self.monitor], self.best, 0.0):
                return
            self.best = logs[self.monitor]
        target = self.path.format(epoch=epoch)
        model.save(target)
        self.saved.append(target)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate from ``schedule(epoch)`` at the start of each epoch
    (epochs counted from 0 over the model's whole life, so a resumed run continues the curve)."""

    def __init__(self, schedule: Schedule | Callable[[int], float]) -> None:
        self.schedule = schedule

    def on_epoch_begin(self, model: Model, epoch: int) -> None:
        rate = float(self.schedule(epoch - 1))
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"the learning-rate schedule gave {rate!r} for epoch {epoch}")
        model.optimizer.learning_rate = rate


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda m, e, logs: ...)``."""

    def __init__(
        self,
        on_train_begin: Callable[[Model], object] | None = None,
        on_epoch_begin: Callable[[Model, int], object] | None = None,
        on_epoch_end: Callable[[Model, int, dict[str, float]], object] | None = None,
        on_train_end: Callable[[Model], object] | None = None,
    ) -> None:
        # each hook's signature is checked by the arguments above; the dict only files them
        self._hooks: dict[str, Callable[..., object] | None] = {
            "on_train_begin": on_train_begin,
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_end": on_train_end,
        }

    def on_train_begin(self, model: Model) -> None:
        hook = self._hooks["on_train_begin"]
        if hook:
            hook(model)

    def on_epoch_begin(self, model: Model, epoch: int) -> None:
        hook = self._hooks["on_epoch_begin"]
        if hook:
            hook(model, epoch)

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        hook = self._hooks["on_epoch_end"]
        if hook:
            hook(model, epoch, logs)

    def on_train_end(self, model: Model) -> None:
        hook = self._hooks["on_train_end"]
        if hook:
            hook(model)
