"""Sessions: one per browser tab, each with its own model, data and training thread.

A :class:`Session` owns everything one tab works on. Its model and data are guarded by one
lock (``session.lock``); training runs in a worker thread of its own while the session is
playing, one chunk of epochs at a time, so a request to that session waits at most for the
current chunk and requests to other sessions never wait for it. A server-wide semaphore limits
how many sessions compute at the same moment (``Settings.training_workers``), so many playing
tabs share the cores instead of thrashing them.

The :class:`SessionManager` bounds the number of sessions, closes idle ones (its ``reap`` is
called by a background task) and makes room for new tabs by closing the least recently used
session that has no open connection.
"""

from __future__ import annotations

import base64
import copy
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core._types import Array
from ..training.errors import TrainingDivergedError
from ..training.history import History
from .settings import MAX_EPOCHS_PER_STEP, Settings
from .validation import ParamError, as_int

if TYPE_CHECKING:
    from ..model import Model

log = logging.getLogger("nnscratch.web")


# -- small helpers shared by the session kinds -----------------------------------------------
def finite(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities (a diverged loss) become ``None``."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def b64(array: Array) -> str:
    """Base64 of a uint8 array's bytes (how images and heatmaps travel in JSON)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


def to_uint8(values: Array, lo: float, hi: float) -> Array:
    """Map ``values`` from [lo, hi] to 0..255 (clipped); a flat range maps to 128."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo < 1e-12:
        return np.full(values.shape, 128, dtype=np.uint8)
    scaled = (np.nan_to_num(values, nan=lo) - lo) * (255.0 / (hi - lo))
    pixels: Array = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return pixels


@dataclass
class EpochProgress:
    """An epoch trained in chunks of batches, possibly over several steps."""

    #: The epoch under way (the model's ``epoch`` + 1).
    epoch: int
    #: The model and training rows it belongs to (a rebuilt model or new data drops it).
    model: Model
    x: Array
    #: The epoch's order of the training rows.
    order: Array
    rows_done: int = 0
    batches_done: int = 0
    #: Data loss so far: the sum of the batches' losses times their rows (or of their sums,
    #: for a loss summed over the batch); and correct predictions, for the accuracy.
    loss_sum: float = 0.0
    correct: float = 0.0
    seconds: float = 0.0


@dataclass
class Cursor:
    """What one connection has already received, so frames carry only what is new."""

    generation: int = -1
    curve_version: int = -1
    sent: int = 0
    visual_version: int = -1


class Curves:
    """Per-epoch series (losses, accuracies) with bounded memory.

    Past ``max_points`` points, every other point is dropped and only epochs that are multiples
    of the doubled stride are recorded from then on: a session that trains for a million epochs
    keeps a few thousand evenly spaced points. ``version`` changes when points are dropped, so
    clients know to fetch the series again instead of appending.
    """

    def __init__(self, names: tuple[str, ...], max_points: int = 4000) -> None:
        self.names = names
        self.max_points = max_points
        self.clear()

    def clear(self) -> None:
        self.epochs: list[int] = []
        self.values: dict[str, list[float | None]] = {n: [] for n in self.names}
        self.stride = 1
        self.version = getattr(self, "version", 0) + 1
        #: The values last added, kept even when thinning leaves their epoch out of the series.
        self.latest: dict[str, float | None] = {}

    def add(self, epoch: int, **values: float | None) -> None:
        self.latest = {name: finite(values.get(name)) for name in self.names}
        if epoch % self.stride and self.epochs:
            return
        self.epochs.append(int(epoch))
        for name in self.names:
            self.values[name].append(finite(values.get(name)))
        if len(self.epochs) > self.max_points:
            self.stride *= 2
            keep = [i for i, e in enumerate(self.epochs) if e % self.stride == 0 or i == 0]
            self.epochs = [self.epochs[i] for i in keep]
            for name in self.names:
                self.values[name] = [self.values[name][i] for i in keep]
            self.version += 1

    def last(self, name: str) -> float | None:
        """The value last added (the latest epoch's, even one the thinned series skips)."""
        return self.latest.get(name)

    def delta(self, cursor: Cursor) -> dict[str, Any]:
        """The points ``cursor`` has not seen (all of them after a reset or a thinning)."""
        reset = cursor.curve_version != self.version
        start = 0 if reset else min(cursor.sent, len(self.epochs))
        cursor.curve_version, cursor.sent = self.version, len(self.epochs)
        out: dict[str, Any] = {"reset": reset, "epochs": self.epochs[start:]}
        for name in self.names:
            out[name] = self.values[name][start:]
        return out


# -- the session base class ------------------------------------------------------------------
class Session:
    """A tab's state and its training worker. Subclasses implement the ``_``-hooks."""

    kind = "session"

    def __init__(self, sid: str, settings: Settings, compute: threading.Semaphore) -> None:
        self.id = sid
        self.settings = settings
        self.created = self.last_seen = time.monotonic()
        self.sockets = 0
        #: Guards the model, the data and the curves.
        self.lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._wake = threading.Event()
        self._compute = compute
        self._thread: threading.Thread | None = None
        self._listeners: dict[int, Callable[[], None]] = {}
        self._next_listener = 0
        self.playing = False
        self.closed = False
        #: A message for the user about the last thing that went wrong (divergence...).
        self.notice: str | None = None
        #: Increases each time the data or the model is rebuilt (clients redraw everything).
        self.generation = 0

    # -- activity ----------------------------------------------------------------------------
    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def idle_for(self, now: float) -> float:
        return 0.0 if self.sockets else now - self.last_seen

    def attended(self, now: float) -> bool:
        return self.sockets > 0 or now - self.last_seen < self.settings.unattended_timeout

    def add_listener(self, callback: Callable[[], None]) -> int:
        """Call ``callback`` (from any thread) whenever the session has something new."""
        with self._state_lock:
            self._next_listener += 1
            self._listeners[self._next_listener] = callback
            return self._next_listener

    def remove_listener(self, token: int) -> None:
        with self._state_lock:
            self._listeners.pop(token, None)

    def notify(self) -> None:
        with self._state_lock:
            callbacks = list(self._listeners.values())
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a listener whose loop is gone must not stop training
                log.debug("session %s: a listener failed", self.id, exc_info=True)

    # -- commands ----------------------------------------------------------------------------
    def command(self, message: dict[str, Any], *, arrived: float | None = None) -> dict[str, Any]:
        """Run one client command (``{"type": ..., ...}``) and return its result.

        ``arrived``: when the message came in (a ``time.monotonic()`` value); a step's time
        limit counts from then.
        """
        kind = message.get("type")
        if kind == "config":
            if "params" not in message:
                raise ParamError("a config message needs 'params': {name: value, ...}", status=400)
            return self.configure(message["params"])
        if kind == "control":
            return self.control(message.get("action"), message, arrived=arrived)
        if kind == "state":
            return self.state()
        handler = self._extra_commands().get(kind) if isinstance(kind, str) else None
        if handler is None:
            known = ["config", "control", "state", *self._extra_commands()]
            raise ParamError(
                f"unknown message type {kind!r}; expected one of {', '.join(known)}", "type", 400
            )
        return handler(message)

    def _extra_commands(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {}

    def control(
        self, action: Any, message: dict[str, Any] | None = None, *, arrived: float | None = None
    ) -> dict[str, Any]:
        """``play``, ``pause``, ``step`` (``epochs``: how many, 1 by default) or ``reset``.

        ``arrived``: when the request came in (``time.monotonic()``; now if None).
        """
        message = message or {}
        if action == "play":
            self.play()
        elif action == "pause":
            self.pause()
        elif action == "step":
            epochs = as_int(message.get("epochs", 1), "epochs", 1, MAX_EPOCHS_PER_STEP)
            self.pause()
            self.step(epochs, arrived=arrived)
        elif action == "reset":
            self.reset()
        else:
            raise ParamError(
                f"action must be one of play, pause, step, reset; got {action!r}", "action", 400
            )
        return self.state()

    def reset(self) -> None:
        """Rebuild the model from the configuration (new weights from the seed, epoch 0).

        All or nothing (``_all_or_nothing``): when the rebuild fails part way, the session
        keeps its configuration, data, model, curves and what the page shows, and the error
        (a ParamError, answered as a one-line message) says that nothing changed.
        """
        self._check_open()
        unchanged = "the session is unchanged"
        try:
            with self.lock, self._all_or_nothing():
                self._rebuild("model")
        except ParamError as exc:
            message = f"reset failed: {exc.message}; {unchanged}"
            raise ParamError(message, exc.field, exc.status) from None
        except MemoryError:
            raise ParamError(
                f"reset failed: not enough memory on the server to build a new model; {unchanged}",
                status=503,
            ) from None
        except Exception:
            log.exception("session %s: reset failed", self.id)
            raise ParamError(
                f"reset failed by an internal error (see the server log); {unchanged}", status=500
            ) from None
        self.notice = None
        self.notify()

    #: Attributes that other threads change without holding ``self.lock`` (connections, the
    #: worker thread, play and pause, listeners): a failed change leaves them as those threads
    #: set them.
    _UNGUARDED = frozenset(
        {
            "last_seen",
            "sockets",
            "playing",
            "closed",
            "notice",
            "_thread",
            "_listeners",
            "_next_listener",
        }
    )

    @contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """Run a change of the experiment (with ``self.lock`` held) so that it applies whole or
        not at all: if anything in it raises, every attribute it set (the configuration, the
        data, the model, the curves, what the page is shown...) is put back as it was, and the
        error goes on to the caller.

        A rebuild never modifies the previous model object (it makes a new one), so putting
        the attributes back restores it exactly; the curves are changed in place and are
        copied."""
        saved = {k: v for k, v in vars(self).items() if k not in self._UNGUARDED}
        series = getattr(self, "curves", None)  # a Curves object, for a session that plots
        curves = copy.deepcopy(vars(series)) if series is not None else None
        try:
            yield
        except BaseException:
            for key in [k for k in vars(self) if k not in self._UNGUARDED and k not in saved]:
                delattr(self, key)  # set by the failed change only (the class default is back)
            for key, value in saved.items():
                setattr(self, key, value)
            if series is not None and curves is not None:
                series.__dict__.clear()
                series.__dict__.update(curves)
            raise

    def play(self) -> None:
        self._check_open()
        with self._state_lock:
            self.playing = True
            self.notice = None
            self._on_play()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"nnscratch-train-{self.id[:8]}", daemon=True
                )
                self._thread.start()
        self.notify()

    def pause(self, notice: str | None = None) -> None:
        with self._state_lock:
            was_playing = self.playing
            self.playing = False
            if notice:
                self.notice = notice
        self._wake.set()
        if was_playing or notice:
            self.notify()

    def step(self, epochs: int = 1, *, arrived: float | None = None) -> None:
        """Train ``epochs`` epochs now (in the caller's thread), then publish a frame.

        The whole step, from ``arrived`` (the request's arrival, a ``time.monotonic()`` value;
        now if None) to its answer, keeps within ``Settings.max_step_seconds``: the wait for a
        compute slot counts, and training stops early enough to leave the time that the work
        after it (refreshing what the page shows) took last time (``_step_reserve``).
        """
        self._check_open()
        start = time.monotonic() if arrived is None else arrived
        deadline = start + self.settings.max_step_seconds
        with self._compute, self.lock:
            self.notice = None
            self._guarded(partial(self._train_epochs, epochs, deadline))
            self._finish_step()
        self.notify()

    def _finish_step(self) -> None:
        """The work of a step after training: refresh what the page shows."""
        self._refresh_visuals()

    def _step_reserve(self) -> float:
        """Seconds a step keeps, out of its limit, for ``_finish_step``."""
        return 0.0

    def close(self) -> None:
        """Stop training and release the session (idempotent)."""
        with self._state_lock:
            if self.closed:
                return
            self.closed = True
            self.playing = False
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.notify()
        with self._state_lock:
            self._listeners.clear()
        with self.lock:
            self._release()

    def _check_open(self) -> None:
        if self.closed:
            raise ParamError("this session has been closed; start a new one", status=404)

    # -- the worker thread -------------------------------------------------------------------
    def _run(self) -> None:
        interval = self._frame_interval()
        while True:
            with self._state_lock:
                if not self.playing or self.closed:
                    self._thread = None
                    return
            self._wake.clear()
            if not self.attended(time.monotonic()):
                self.pause(
                    f"paused: no client for {self.settings.unattended_timeout:g} s "
                    "(press play to go on)"
                )
                continue
            started = time.monotonic()
            changed = False
            try:
                with self._compute, self.lock:
                    if self.playing and not self.closed:
                        changed = self._guarded(partial(self._train_chunk, started + interval))
                        if changed:
                            self._refresh_visuals()
            except Exception:  # never leave a session hung: report and pause
                log.exception("session %s: training failed", self.id)
                self.pause("training stopped by an internal error (see the server log)")
            if changed:
                self.notify()
            delay = max(0.005, interval - (time.monotonic() - started))
            self._wake.wait(delay)

    def _guarded(self, work: Callable[[], bool | None]) -> bool:
        """Run training work; a divergence pauses the session with the library's message."""
        try:
            return bool(work())
        except TrainingDivergedError as exc:
            with self._state_lock:
                self.playing = False
                self.notice = str(exc)
            return True

    def _frame_interval(self) -> float:
        return self.settings.frame_interval

    # -- hooks -------------------------------------------------------------------------------
    def _on_play(self) -> None:
        """Called (under the state lock) when play starts."""

    def _train_chunk(self, deadline: float) -> bool:
        """Train while playing until ``deadline``; return whether anything changed."""
        raise NotImplementedError

    def _train_epochs(self, epochs: int, deadline: float) -> bool:
        """Train ``epochs`` epochs, stopping in time for the step to answer by ``deadline``.

        The limit (``Settings.max_step_seconds``) is hard: training stops at a batch boundary
        (chunks of batches shrink to the time left, down to one batch), in the middle of an
        epoch if need be, ``_step_reserve()`` seconds before ``deadline``, and the notice says
        how far the step got. A step always trains one chunk (``CHUNK_SECONDS`` of work, at
        least one batch), so every step makes progress: when the wait for a compute slot used
        up the limit, the step overruns it by that chunk and the work after training.
        """
        limit = self.settings.max_step_seconds
        deadline -= self._step_reserve()
        done = 0
        while done < epochs:
            if not self._advance_epoch(deadline, at_least_one=done == 0):
                progress = self._epoch_progress()
                if progress is None:  # stopped before the next epoch's first batch
                    self.notice = (
                        f"step stopped after {done} of {epochs} epochs: one step may take at "
                        f"most {limit:g} s on this server"
                    )
                    break
                self.notice = (
                    f"step stopped after {progress.get('batches_done')} of "
                    f"{progress.get('batches')} batches of epoch {progress.get('epoch')} "
                    f"({done} of {epochs} epochs completed): one step may take at most "
                    f"{limit:g} s on this server; the next step continues this epoch. "
                    f"Loss and accuracy are measured when an epoch ends: those shown are of "
                    f"epoch {progress.get('measured_epoch')}"
                )
                break
            done += 1
            if done < epochs and time.monotonic() > deadline:
                self.notice = (
                    f"step stopped after {done} of {epochs} epochs: one step may take at most "
                    f"{limit:g} s on this server"
                )
                break
        return True

    def _advance_epoch(self, deadline: float | None, *, at_least_one: bool = True) -> bool:
        """Train the current epoch until it ends (return True) or, past ``deadline`` (a
        ``time.monotonic()`` value), stop at a chunk boundary and return False; with
        ``at_least_one``, train at least one chunk whatever the time."""
        self._one_epoch()
        return True

    def _epoch_progress(self) -> dict[str, int] | None:
        """How far an epoch left unfinished by a step got: ``{"epoch", "batches_done",
        "batches"}``, or None when no epoch is under way."""
        return None

    def _one_epoch(self) -> None:
        """Train one epoch and record its losses (called with the lock held)."""
        raise NotImplementedError

    def _refresh_visuals(self) -> None:
        """Recompute what frames show after the model changed (called with the lock held)."""

    def _rebuild(self, scope: str) -> None:
        """Rebuild the data (``"data"``) or only the model (``"model"``); resets training."""
        raise NotImplementedError

    def _release(self) -> None:
        """Drop large arrays when the session closes."""

    def configure(self, params: Any) -> dict[str, Any]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def frame(self, cursor: Cursor) -> dict[str, Any]:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        """The fields every state and frame carries."""
        return {
            "session": self.id,
            "kind": self.kind,
            "playing": self.playing,
            "closed": self.closed,
            "notice": self.notice,
            "generation": self.generation,
            "epoch_progress": self._epoch_progress(),
        }


class ModelSession(Session):
    """A session that trains an ``nnscratch.Model`` (``self.model``) one epoch at a time on
    ``self.x_train`` / ``self.y_train`` and plots train and test curves."""

    # set by the subclass (its ``__init__`` and ``_rebuild``)
    model: Model
    config: dict[str, Any]
    curves: Curves
    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array

    def _metrics(self) -> dict[str, Any]:
        """The numbers a state shows (loss, accuracy, epoch...)."""
        raise NotImplementedError

    def model_bytes(self) -> tuple[bytes, str]:
        """The trained model as an nnscratch ``.npz`` file's bytes, and its file name."""
        raise NotImplementedError

    def _train_eval_data(self) -> tuple[Any, Any]:
        """The training samples whose loss is plotted (all of them unless overridden)."""
        return self.x_train, self.y_train

    def status(self) -> dict[str, Any]:
        """The common fields, and on how many images the losses and accuracies are measured
        (the training ones may be a fixed subset of the training set)."""
        return {
            **super().status(),
            "metrics_rows": {
                "train": len(self._train_eval_data()[0]),
                "test": len(self.x_test),
            },
        }

    #: Wall time one chunk of batches aims at while a step has a deadline (at least one batch):
    #: a step overshoots its limit by about this much at most.
    CHUNK_SECONDS = 0.1
    #: Speed assumed for the first chunk, before one has been timed (floating-point operations
    #: per second; a training step costs about 6 per parameter and sample): low, so that the
    #: first chunk of a large network is short.
    ASSUMED_FLOPS = 1e9
    #: Rows one chunk gathers at most: each chunk copies its rows (in the epoch's order), and
    #: this keeps that copy small (25 MB of MNIST) instead of a copy of the whole training set.
    MAX_CHUNK_ROWS = 8192

    #: A step keeps this many times the measured time of the work after its training (a
    #: margin for a machine whose load changes between two steps: on 2 busy cores, the same
    #: refresh was seen to take up to twice as long as the one before).
    RESERVE_FACTOR = 2.0

    _progress: EpochProgress | None = None
    _rows_per_second: tuple[Model, float] | None = None
    #: Seconds the last ``_record`` and the last refresh after a step took, and on which model.
    _record_seconds: tuple[Model, float] | None = None
    _refresh_seconds: tuple[Model, float] | None = None

    def _one_epoch(self) -> None:
        self._advance_epoch(None)

    def _epoch_progress(self) -> dict[str, int] | None:
        progress = self._current_progress()
        if progress is None or progress.rows_done == 0:
            return None
        batch_size = min(self.config["batch_size"], len(self.x_train))
        left = len(self.x_train) - progress.rows_done
        return {
            "epoch": progress.epoch,
            "batches_done": progress.batches_done,
            "batches": progress.batches_done + -(-left // batch_size),
            # the loss and accuracy shown are those measured at the end of this epoch (the
            # batches done since are measured when their epoch ends)
            "measured_epoch": int(self.model.epoch),
        }

    def _current_progress(self) -> EpochProgress | None:
        """The epoch under way, if it still belongs to this model and this data."""
        progress = self._progress
        if progress is None:
            return None
        if (
            progress.model is not self.model
            or progress.x is not self.x_train
            or progress.epoch != self.model.epoch + 1
        ):
            self._progress = None  # the model or the data was rebuilt: that epoch is gone
            return None
        return progress

    def _advance_epoch(self, deadline: float | None, *, at_least_one: bool = True) -> bool:
        """Train the current epoch in chunks of batches (``Model.fit`` on the chunk's rows, in
        the epoch's order) until the epoch ends or ``deadline`` has passed.

        One epoch is one pass over the training set in an order drawn for it (from the seed and
        the epoch number); a step stopped by its deadline keeps that order and the number of
        rows done, and the next call continues from there, so every sample is still seen once
        per epoch. Each chunk is exactly the batches ``fit`` would have made over the whole
        epoch: regularization keeps its full-epoch scale (lambda/n over the n training rows),
        the epoch counts once, when it ends, and its history entry is the whole epoch's.
        """
        model, x = self.model, self.x_train
        n = len(x)
        progress = self._current_progress()
        if progress is None:
            epoch = model.epoch + 1
            order = np.random.default_rng([self.config["seed"], epoch]).permutation(n)
            progress = EpochProgress(epoch, model, x, order)
            self._progress = progress
        first = at_least_one
        while True:
            batch_size = min(self.config["batch_size"], n)
            start = progress.rows_done
            rows = self.MAX_CHUNK_ROWS
            left = math.inf if deadline is None else deadline - time.monotonic()
            if deadline is not None:
                # the step's first chunk is a whole one (CHUNK_SECONDS of work) even when
                # little time is left, so that every step makes progress; the next ones fit in
                # the time left, down to one batch
                seconds = self.CHUNK_SECONDS if first else min(self.CHUNK_SECONDS, left)
                rows = min(rows, int(self._speed() * max(0.0, seconds)))
            stop = min(n, start + max(batch_size, rows // batch_size * batch_size))
            if n - stop < batch_size:
                # the epoch's last, short batch goes with the chunk before it, as in fit (which
                # folds a one-sample last batch into the previous one under batch norm)
                stop = n
            if stop == n and not first:
                # ending the epoch also measures it (``_record``): when the rest of the epoch
                # and that measurement do not fit in the time left, train up to the epoch's
                # last full batch but one and leave the end to a later step
                need = (n - start) / self._speed() + (self._measured(self._record_seconds) or 0.0)
                if need > left:
                    stop = start + (n - batch_size - start) // batch_size * batch_size
                    if stop <= start:
                        return False
            first = False
            started = time.monotonic()
            self._fit_rows(progress, start, stop, batch_size)
            elapsed = time.monotonic() - started
            if elapsed > 0:
                self._rows_per_second = (model, (stop - start) / elapsed)
            if progress.rows_done >= n:
                self._finish_epoch(progress)
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def _measured(self, entry: tuple[Model, float] | None) -> float | None:
        """A time measured on this model (``_record_seconds``...), or None if there is none."""
        return entry[1] if entry is not None and entry[0] is self.model else None

    def _finish_step(self) -> None:
        started = time.monotonic()
        self._refresh_visuals()
        self._refresh_seconds = (self.model, time.monotonic() - started)

    def _step_reserve(self) -> float:
        """``RESERVE_FACTOR`` times the time the page's refresh took after the last step on
        this model; before the first, times the time of the model's last measurement
        (``_record``), which makes a forward pass over the same test set as the refresh."""
        seconds = self._measured(self._refresh_seconds)
        if seconds is None:
            seconds = self._measured(self._record_seconds)
        return self.RESERVE_FACTOR * (seconds or 0.0)

    def _speed(self) -> float:
        """Training rows per second: measured on the last chunk, or assumed for a new model."""
        if self._rows_per_second is not None and self._rows_per_second[0] is self.model:
            return self._rows_per_second[1]
        return self.ASSUMED_FLOPS / (6.0 * max(1, self.model.network.n_parameters))

    def _fit_rows(self, progress: EpochProgress, start: int, stop: int, batch_size: int) -> None:
        model, n = self.model, len(self.x_train)
        rows = stop - start
        idx = progress.order[start:stop]
        regularizers, history, epoch = model.regularizers, model.history, model.epoch
        # fit scales regularization by the rows it is given; scaled by rows / n, each batch
        # gets the gradient (and the loss the penalty) of the whole training set
        model.regularizers = [type(r)(r.lam * rows / n) for r in regularizers]
        model.history = History()
        try:
            logs = model.fit(
                self.x_train[idx],
                self.y_train[idx],
                epochs=1,
                batch_size=batch_size,
                shuffle=False,
                seed=self.config["seed"],
                verbose=0,
            ).last()
        except TrainingDivergedError as exc:
            self._progress = None
            # fit numbers the batches of its chunk; the user counts those of the epoch
            skip = progress.batches_done
            message = re.sub(
                r"(epoch \d+, batch )(\d+)", lambda m: f"{m[1]}{int(m[2]) + skip}", str(exc)
            )
            raise TrainingDivergedError(message) from None
        finally:
            model.regularizers, model.history, model.epoch = regularizers, history, epoch
        penalty = model._penalty(n)  # the model's own regularizers are back in place
        data_loss = logs["loss"] - penalty
        progress.loss_sum += data_loss if model.loss.sums_over_batch else data_loss * rows
        if model.metric_name and model.metric_name in logs:
            progress.correct += logs[model.metric_name] * rows
        progress.seconds += logs.get("seconds", 0.0)
        progress.rows_done = stop
        progress.batches_done += -(-rows // batch_size)

    def _finish_epoch(self, progress: EpochProgress) -> None:
        model, n = self.model, len(self.x_train)
        self._progress = None
        penalty = model._penalty(n)
        data_loss = progress.loss_sum if model.loss.sums_over_batch else progress.loss_sum / n
        logs = {"loss": data_loss + penalty}
        if model.metric_name:
            logs[model.metric_name] = progress.correct / n
        logs["lr"] = model.optimizer.learning_rate
        logs["seconds"] = progress.seconds
        model.epoch = progress.epoch
        model.history.append(progress.epoch, logs)
        self._record()

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                **self.status(),
                "config": dict(self.config),
                "metrics": self._metrics(),
                "architecture": self.model.network.summary(print_fn=None),
            }

    def _record(self) -> None:
        started = time.monotonic()
        train = self.model.evaluate(*self._train_eval_data())
        test = self.model.evaluate(self.x_test, self.y_test)
        self.curves.add(
            self.model.epoch,
            train_loss=train["loss"],
            test_loss=test["loss"],
            train_accuracy=train.get("accuracy"),
            test_accuracy=test.get("accuracy"),
        )
        self._record_seconds = (self.model, time.monotonic() - started)


SessionFactory = Callable[[str, Settings, threading.Semaphore, dict[str, Any]], Session]


class SessionManager:
    """Creates, finds, bounds and expires sessions."""

    def __init__(self, settings: Settings, factories: dict[str, SessionFactory]) -> None:
        self.settings = settings
        self.factories = factories
        self.compute = threading.BoundedSemaphore(settings.training_workers)
        self._sessions: dict[str, Session] = {}
        #: Sessions being built (their factory is running): they count against the bound.
        self._pending = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def create(self, kind: Any, params: Any = None) -> Session:
        """A new session of ``kind`` configured with ``params`` (validated first)."""
        if not isinstance(kind, str) or kind not in self.factories:
            raise ParamError(
                f"kind must be one of {', '.join(self.factories)}; got {kind!r}", "kind"
            )
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ParamError("params must be a JSON object", "params", 400)
        self._reserve_slot()
        try:
            sid = secrets.token_urlsafe(18)
            session = self.factories[kind](sid, self.settings, self.compute, params)
        except BaseException:
            with self._lock:
                self._pending -= 1
            raise
        with self._lock:
            self._pending -= 1
            self._sessions[sid] = session
            count = len(self._sessions)
        log.info("session %s (%s) created; %d open", sid[:8], kind, count)
        return session

    def _reserve_slot(self) -> None:
        """Count a session being created against ``max_sessions``, closing the least recently
        used unconnected session if that is needed to stay within it.

        The check and the reservation are one step under the lock, and sessions still being
        built count as open: many tabs created at the same moment cannot together exceed the
        bound (building one takes long enough for others to pass a check made apart).
        """
        with self._lock:
            victim = None
            if len(self._sessions) + self._pending >= self.settings.max_sessions:
                idle = [s for s in self._sessions.values() if s.sockets == 0]
                if not idle:
                    raise ParamError(
                        f"the server is full ({self.settings.max_sessions} sessions, all in "
                        "use); close a tab or try again later",
                        status=503,
                    )
                victim = min(idle, key=lambda s: s.last_seen)
                del self._sessions[victim.id]
            self._pending += 1
        if victim is not None:
            log.info("session %s closed to make room", victim.id[:8])
            victim.close()

    def get(self, sid: str) -> Session:
        with self._lock:
            session = self._sessions.get(sid)
        if session is None or session.closed:
            raise ParamError(
                "no such session (it may have expired); reload the page to start a new one",
                status=404,
            )
        session.touch()
        return session

    def delete(self, sid: str) -> None:
        with self._lock:
            session = self._sessions.pop(sid, None)
        if session is None:
            raise ParamError("no such session", status=404)
        session.close()

    def reap(self, now: float | None = None) -> list[str]:
        """Close sessions idle for longer than ``idle_timeout``; return their ids."""
        now = time.monotonic() if now is None else now
        with self._lock:
            expired = [
                s
                for s in self._sessions.values()
                if s.closed or s.idle_for(now) > self.settings.idle_timeout
            ]
            for s in expired:
                del self._sessions[s.id]
        for s in expired:
            log.info("session %s expired", s.id[:8])
            s.close()
        return [s.id for s in expired]

    def close_all(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            s.close()
