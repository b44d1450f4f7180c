"""``nnscratch train``: a run folder that loses nothing (settings in run.json, a checkpoint
after every epoch, a lock, interrupts that say how to resume, ``--resume`` bitwise), and the
checks made before the first epoch."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from .. import __version__
from ..core._types import Array
from ..core.losses import LOSSES
from ..core.network import Sequential, mlp
from ..data import DATASET_NAMES
from ..model import Model
from ..training.callbacks import Callback, EarlyStopping
from ..training.errors import TrainingDivergedError
from ..training.memory import check_memory, mlp_parameter_count, training_bytes
from ..training.optimizers import get_optimizer
from ..training.schedules import get_schedule
from . import sources

try:
    import fcntl
except ImportError:  # Windows: no flock; the lock file's existence is the lock
    _FLOCK = False
else:
    _FLOCK = True

from .shared import (
    ADAPTIVE,
    OUTPUT_HEAD,
    _metrics,
    _model_x,
    _plots,
    _print_metrics,
    _say,
    _targets,
    _write_json,
)

if TYPE_CHECKING:
    from ..core.layers import Layer
    from ..data.augment import Augmenter

#: A run's settings (flag name -> value, as run.json keeps them) and its run.json record: JSON
#: objects, whose values are of several types.
Settings = dict[str, Any]
Record = dict[str, Any]

# -- train ------------------------------------------------------------------------------------
#: What ``nnscratch train`` uses for a setting the user leaves out. None: decided by the data
#: (hidden sizes, epochs), by the optimizer (learning rate) or not used (init, early stopping).
TRAIN_DEFAULTS: Settings = {
    "data": "mnist-sample",
    "hidden": None,
    "activation": "relu",
    "layers": None,  # a network spec (core.spec) instead of hidden/activation
    "loss": "softmax-cross-entropy",
    "optimizer": "adam",
    "lr": None,
    "schedule": "constant",
    "epochs": None,
    "batch_size": 32,
    "l2": 0.0,
    "l1": 0.0,
    "dropout": 0.0,
    "batch_norm": False,
    "augment": None,  # canonical text of cli.augmentation, or None
    "init": None,
    "validation_split": None,  # 0.1, or 0 for a set too small to hold out a sample
    "early_stopping": None,
    "samples": None,
    "noise": None,
    "dtype": "float32",
    "seed": 0,
}
PLOT_NAMES = (
    "history",
    "confusion_matrix",
    "first_layer_weights",
    "conv_kernels",
    "feature_maps",
    "most_confident_errors",
    "decision_regions",
)
#: Every file a run writes in its folder; ``--overwrite`` removes these and nothing else.
RUN_FILES = (
    "run.json",
    "checkpoint.npz",
    "model.npz",
    "history.json",
    "metrics.json",
    *(f"{name}.{fmt}" for name in PLOT_NAMES for fmt in ("png", "svg")),
)
LOCK_NAME = ".nnscratch-train.lock"
EXIT_INTERRUPTED = 130
EXIT_DIVERGED = 1


class _RunLock:
    """One process per run folder: an exclusive ``flock`` on a lock file inside the folder,
    held for the run's life. The kernel drops the lock when the process dies, however it dies,
    so a killed run never blocks the folder; the file holds the owner's pid for the message.
    Creating the file is also the check that the folder is writable."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.path = folder, folder / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> None:
        flags = os.O_RDWR | os.O_CREAT | (0 if _FLOCK else os.O_EXCL)
        while True:
            try:
                fd = os.open(self.path, flags, 0o644)
            except FileExistsError:
                self._in_use(f"or delete {self.path} if that run crashed")
            except OSError as exc:
                raise OSError(
                    f"the output folder {self.folder} is not writable ({exc.strerror}); "
                    "choose another --out"
                ) from None
            if not _FLOCK:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                self._in_use("wait for it to end or choose another --out")
            # the previous holder may have removed the file between our open and our lock:
            # then we hold a lock on a file nobody else will see, so take the new one
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def _in_use(self, hint: str) -> NoReturn:
        try:
            holder = self.path.read_text().strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise RuntimeError(
            f"{self.folder} is in use by another 'nnscratch train' (pid {holder}); {hint}"
        )

    def release(self) -> None:
        if self.fd is None:
            return
        try:  # removed while still locked, so no other process can lock the old file
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


#: Whether a SIGINT/SIGTERM arrived during this run (see ``_signals_as_interrupt``).
_INTERRUPT = {"pending": False}


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's stop) ends training as Ctrl+C does: KeyboardInterrupt
    in the main thread, so the same code saves the run and says how to resume it. SIGINT is
    set to raise it too, even where the shell started us with SIGINT ignored.

    A handler that happens to run inside a finalizer (``__del__`` of an object collected
    mid-epoch) raises where Python prints and ignores the exception; ``_INTERRUPT`` keeps the
    request, and the run checkpoint raises it again at the end of the epoch."""
    _INTERRUPT["pending"] = False

    def interrupt(signum: int, frame: FrameType | None) -> NoReturn:
        _INTERRUPT["pending"] = True
        raise KeyboardInterrupt

    try:
        previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _RunCheckpoint(Callback):
    """Saves ``checkpoint.npz`` (the exact training state) at the end of every epoch, and
    ``model.npz`` whenever early stopping finds a new best epoch (the weights it would restore).

    ``at_boundary`` is true from the end of an epoch until the next one begins: only then is the
    model in memory a state that a resumed run can continue bitwise, so only then may an
    interrupted run save it."""

    def __init__(
        self, folder: Path, saved_epoch: int, early_stopping: EarlyStopping | None
    ) -> None:
        self.folder, self.saved_epoch, self.early_stopping = folder, saved_epoch, early_stopping
        self.at_boundary = True

    def on_epoch_begin(self, model: Model, epoch: int) -> None:
        self.at_boundary = False

    def on_epoch_end(self, model: Model, epoch: int, logs: dict[str, float]) -> None:
        self.at_boundary = True
        self.save(model)
        if _INTERRUPT["pending"]:  # an interrupt that a finalizer swallowed: stop here
            raise KeyboardInterrupt

    def save(self, model: Model) -> None:
        model.save(self.folder / "checkpoint.npz")
        self.saved_epoch = model.epoch
        if self.early_stopping is not None and self.early_stopping.best_epoch == model.epoch:
            model.save(self.folder / "model.npz")


def _run_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(files a run wrote, other entries) in ``folder``; the lock file is neither."""
    ours: list[Path] = []
    other: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name == LOCK_NAME:
            continue
        stale_tmp = path.name.endswith(".tmp") and any(
            path.name.startswith(f".{name}.") for name in RUN_FILES
        )
        if path.is_file() and (path.name in RUN_FILES or stale_tmp):
            ours.append(path)
        else:
            other.append(path)
    return ours, other


def _names(paths: list[Path], limit: int = 4) -> str:
    shown = ", ".join(p.name for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def _new_run_folder(data_spec: str) -> Path:
    """Create and return runs/<data>-<time>, with -2, -3, ... when that exists already (two
    runs started in the same second); mkdir is atomic, so two runs never get the same one."""
    spec = Path(data_spec)
    name = spec.stem if spec.suffix.lower() in (".csv", ".npz") else data_spec.lower()
    base = Path("runs") / f"{name.replace('_', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = base, 1
    while True:
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
        except OSError as exc:
            raise OSError(f"cannot create the run folder {folder} ({exc.strerror})") from None


def _resolve_settings(settings: Settings, data: sources.Data, quiet: bool) -> Settings:
    """Fill in the settings that depend on the data and the optimizer."""
    s = dict(settings)
    regression = data.y_train.dtype.kind == "f"
    if regression and LOSSES[s["loss"].replace("-", "_")].classification:
        s["loss"] = "mse"
        _say(f"note: {data.name} is a regression set; using the mse loss", quiet)
    if s["hidden"] is None and not s["layers"]:
        s["hidden"] = [32, 32] if data.n_features <= 3 else [128]
    if s["epochs"] is None:
        s["epochs"] = 200 if data.n_features == 2 else 15
    if s["lr"] is None:
        s["lr"] = 0.001 if s["optimizer"].replace("-", "_") in ADAPTIVE else 0.1
    if s["validation_split"] is None:
        # hold out 10%, unless that is not even one sample (seed 003's four-row table)
        s["validation_split"] = 0.1 if round(len(data.x_train) * 0.1) >= 1 else 0.0
        if not s["validation_split"]:
            if s["early_stopping"]:
                raise ValueError(
                    f"--early-stopping watches the validation loss, but {data.name} has only "
                    f"{len(data.x_train)} training samples, too few to hold out a validation set"
                )
            _say(
                f"note: {data.name} has {len(data.x_train)} training samples, too few to hold "
                "out a validation set; training without one",
                quiet,
            )
    if s["hidden"] is not None:
        s["hidden"] = list(s["hidden"])
    if s["augment"] and s["augment"] != "none" and data.image_shape is None:
        raise ValueError(
            f"--augment {s['augment']}: {data.name} is not a set of images (its "
            f"{data.n_features} features are not a square picture); augmentation transforms "
            "images such as mnist or fashion-mnist"
        )
    return s


def _command_line(settings: Settings) -> str:
    """The ``nnscratch train`` command that gives these settings (for run.json)."""
    words = ["nnscratch", "train"]
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False or value == TRAIN_DEFAULTS.get(key, ...):
            continue
        if value is True:
            words.append(flag)
        else:
            words += [flag, _flag_text(value)]
    return " ".join(shlex.quote(w) for w in words)


def _check_train_flags(settings: Settings) -> None:
    if settings["early_stopping"] and settings["validation_split"] == 0:
        raise ValueError(
            "--early-stopping watches the validation loss, but --validation-split is 0: "
            "give a validation split such as 0.1"
        )


RECORD_ORDER = (
    "command",
    "status",
    "nnscratch_version",
    "started",
    "settings",
    "requested",
    "no_plots",
    "data_dir",
    "initial_test_loss",
    "threads",
)


def _write_record(folder: Path, record: Record) -> None:
    """run.json: the run's settings (what --resume reads), its status and its yardsticks."""
    ordered = {key: record[key] for key in RECORD_ORDER if key in record}
    _write_json(folder / "run.json", {**ordered, **record})


def _read_run_record(folder: Path) -> Record:
    path = folder / "run.json"
    if not folder.is_dir():
        raise FileNotFoundError(f"no run folder {folder} to resume")
    if not path.exists():
        raise FileNotFoundError(
            f"{folder} is not a run folder (it has no run.json); start a run there with "
            f"'nnscratch train --out {shlex.quote(str(folder))}'"
        )
    try:
        # only a JSON object gets past record["settings"] (a list, a string or a number
        # raises TypeError there)
        record: Record = json.loads(path.read_text())
        settings = record["settings"]
        if not isinstance(settings, dict):
            raise TypeError("settings is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not readable: {exc}") from None
    record["settings"] = {**TRAIN_DEFAULTS, **settings}
    return record


def _resume_settings(
    args: argparse.Namespace, record: Record, folder: Path, data: sources.Data
) -> Settings:
    """The recorded settings, checked against the flags given with --resume."""
    settings = _resolve_settings(record["settings"], data, quiet=True)
    requested = record.get("requested", {})
    for key in TRAIN_DEFAULTS:
        given = getattr(args, key, None)
        if key == "data" and given is not None:
            given = _data_spec(given)
        if given is None or key == "epochs" or given in (settings[key], requested.get(key)):
            continue
        flag = "--" + key.replace("_", "-")
        raise ValueError(
            f"{flag} {_flag_text(given)} conflicts with the run's own {flag} "
            f"{_flag_text(settings[key])} "
            f"(recorded in {folder / 'run.json'}): a resumed run keeps its settings; "
            "start a new run with --out to change them"
        )
    return settings


def _flag_text(value: object) -> str:
    return ",".join(map(str, value)) or "none" if isinstance(value, list) else str(value)


def _data_spec(spec: str) -> str:
    """A data file as an absolute path, so that --resume finds it from any folder."""
    if spec.strip().lower().replace("_", "-") in DATASET_NAMES:  # names come before files
        return spec
    path = Path(spec)
    if path.suffix.lower() in (".csv", ".npz") or path.exists():
        return str(path.resolve())
    return spec


def _check_memory_for(settings: Settings, data: sources.Data, n_out: int) -> None:
    if settings["layers"]:
        return _check_spec_memory(settings, data)
    sizes = [data.n_features, *settings["hidden"], n_out]
    itemsize = np.dtype(settings["dtype"]).itemsize
    needed = training_bytes(
        mlp_parameter_count(sizes, settings["batch_norm"]),
        data.n_features + 3 * sum(sizes[1:]),
        min(settings["batch_size"], len(data.x_train)),
        itemsize,
        settings["optimizer"].replace("-", "_"),
    )
    check_memory(
        needed,
        f"training the {'-'.join(map(str, sizes))} network",
        "use smaller --hidden layers or a smaller --batch-size",
    )


def _spec_input_shape(spec: str, data: sources.Data) -> tuple[int, ...]:
    """What a --layers network takes: 1 x 28 x 28 images for the MNIST-style sets when the
    spec starts with an image layer (conv, a pooling layer), else the flat rows."""
    from ..core.spec import takes_images

    if takes_images(spec) and data.name in sources.IMAGE_DATASETS and data.image_shape is not None:
        return (1, *data.image_shape)
    return (data.n_features,)


def _spec_rows(
    settings: Settings, data: sources.Data, n_out: int
) -> list[tuple[str, Layer, tuple[int, ...], tuple[int, ...]]]:
    """The --layers network's (token, layer, input shape, output shape) rows, checked: every
    layer fits the one before, and the last is the output layer dense:n_out."""
    from ..core.layers import Dense
    from ..core.spec import layer_shapes

    spec = settings["layers"]
    try:
        rows = layer_shapes(spec, _spec_input_shape(spec, data))
    except ValueError as exc:
        raise ValueError(f"--layers: {exc}") from None
    token, last, _, out = rows[-1]
    what = "regression target" if n_out == 1 and data.y_train.dtype.kind == "f" else "classes"
    count = 1 if what == "regression target" else n_out
    if not isinstance(last, Dense):
        raise ValueError(
            f"--layers: the spec must end with the output layer dense:{n_out} ({data.name} has "
            f"{count} {what}), but it ends with {token!r}"
        )
    if last.units != n_out:
        raise ValueError(
            f"--layers: the output layer {token!r} gives {last.units} outputs but {data.name} "
            f"has {count} {what}; end the spec with dense:{n_out}"
        )
    head = OUTPUT_HEAD.get(settings["loss"].replace("-", "_"))
    if last.activation.name not in ("identity", head):
        raise ValueError(
            f"--layers: the output layer dense:{n_out} is followed by "
            f"{last.activation.name}, but the loss {settings['loss']} "
            + (f"adds {head} itself" if head else "takes the layer's raw outputs")
            + f"; end the spec with dense:{n_out}"
        )
    return rows


def _run_threads(
    args: argparse.Namespace, record: Record, model: Model, batch_size: int, n_train: int
) -> int:
    """The BLAS thread count of the run, fixed once and kept in run.json: different counts
    round differently (by about 1e-6), so a resumed run takes the count it started with to
    stay bitwise identical, whatever the machine's load is then (``--threads N`` overrides)."""
    from ..training.threads import choose_threads, largest_product

    requested = getattr(args, "threads", "auto")
    recorded = record.get("threads")
    if requested == "auto" and isinstance(recorded, int) and recorded >= 1:
        return recorded
    product = largest_product(model.network, min(batch_size, n_train))
    count = choose_threads(requested, product).count
    record["threads"] = count
    return count


def _check_spec_memory(settings: Settings, data: sources.Data) -> None:
    """The estimate of ``training.memory`` for a --layers network, its shapes walked without
    allocating (per sample: ``values_per_sample``, which counts each convolution's im2col
    matrix and the other image layers' scratch)."""
    from ..core.layers import values_per_sample

    rows = _spec_rows(settings, data, _n_out(data))
    n_parameters = sum(
        int(np.prod(shape))
        for _, layer, shape_in, _ in rows
        for shape in layer.weight_shapes(shape_in).values()
    )
    per_sample = values_per_sample([(layer, i, o) for _, layer, i, o in rows], training=True)
    needed = training_bytes(
        n_parameters,
        per_sample,
        min(settings["batch_size"], len(data.x_train)),
        np.dtype(settings["dtype"]).itemsize,
        settings["optimizer"].replace("-", "_"),
    )
    check_memory(
        needed, "training the --layers network", "use fewer channels or a smaller --batch-size"
    )


def _n_out(data: sources.Data) -> int:
    return 1 if data.y_train.dtype.kind == "f" else max(data.n_classes, 2)


def _spec_network(settings: Settings, data: sources.Data, n_out: int) -> Sequential:
    """The --layers network, built, with the loss's output activation fused into its last layer."""
    from ..core.layers import Dense
    from ..core.spec import build_network

    rows = _spec_rows(settings, data, n_out)
    spec = settings["layers"]
    head = OUTPUT_HEAD.get(settings["loss"].replace("-", "_"))
    last = rows[-1][1]
    if not isinstance(last, Dense):  # _spec_rows refuses a spec that ends otherwise
        raise TypeError(f"--layers: the spec ends with {type(last).__name__}, not dense")
    if head is not None and last.activation.name != head:
        spec = f"{spec},{head}"
    if settings["init"] is not None:
        from ..core.initializers import get_initializer

        get_initializer(settings["init"])  # a bad --init is its own error, not the spec's
    try:
        return build_network(
            spec,
            rows[0][2],
            seed=settings["seed"],
            dtype=np.dtype(settings["dtype"]),
            weight_init=settings["init"],
        )
    except ValueError as exc:
        raise ValueError(f"--layers: {exc}") from None


#: flags that describe a --hidden network, which a --layers spec replaces
SPEC_CONFLICTS = ("hidden", "activation", "dropout", "batch_norm")


def _check_layers_flags(requested: Settings) -> None:
    if "layers" not in requested:
        return
    given = [k for k in SPEC_CONFLICTS if k in requested]
    if given:
        flags = " and ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(
            f"--layers describes the whole network, so {flags} cannot be given with it; write "
            "the hidden layers, activations, dropout:R and batchnorm into the spec"
        )


def train(args: argparse.Namespace) -> int:
    """Train into a run folder that no other run shares, and never lose a finished epoch.

    The folder (``--out``, or a new ``runs/<data>-<time>``) must be empty, or hold a run that
    ``--overwrite`` may replace (only a run's own files are removed). It is locked for the
    run's life. Everything that can be checked is checked before the first epoch: flags, the
    folder, the data, the memory the network needs. It then holds:

    - ``run.json``: the settings in full, the command that gives them, the status (running,
      interrupted, diverged, early-stopped, finished) and the untrained weights' test loss;
    - ``checkpoint.npz``: the exact training state after the last finished epoch, written
      atomically at the end of every epoch;
    - at the end: ``model.npz`` (with early stopping, also whenever the validation loss
      improves: the best model so far), ``history.json``, ``metrics.json`` and the plots.

    Ctrl+C or SIGTERM exits 130 and says how to go on: ``nnscratch train --resume DIR`` reads
    the settings from run.json and continues from the checkpoint, bitwise as if never stopped;
    with ``--epochs N`` it also trains a finished run further (not a cosine schedule, laid over
    the original epochs, nor a run that stopped early). A diverged run exits 1 and keeps the
    last good checkpoint; a finished model worse than its untrained weights is warned about.
    """
    quiet = args.quiet
    started = time.perf_counter()
    resume = args.resume is not None
    if resume:
        folder = Path(args.resume)
        if args.out is not None and Path(args.out).resolve() != folder.resolve():
            raise ValueError("--resume names the run folder; leave out --out")
        if args.overwrite:
            raise ValueError(
                "--resume continues a run and --overwrite replaces it: give one of them"
            )
        record = _read_run_record(folder)
        settings = record["settings"]
    else:
        requested = {k: getattr(args, k) for k in TRAIN_DEFAULTS if getattr(args, k) is not None}
        if "data" in requested:
            requested["data"] = _data_spec(requested["data"])
        _check_layers_flags(requested)
        settings = {**TRAIN_DEFAULTS, **requested}
        record = {"requested": requested, "no_plots": bool(args.no_plots)}
    _check_train_flags(settings)
    if resume or args.out:
        folder = Path(args.resume or args.out)
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"{folder} is a file, not a folder")
        created = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot create the output folder {folder} ({exc.strerror})") from None
    else:
        folder, created = _new_run_folder(settings["data"]), True
    lock = _RunLock(folder)
    try:
        with _signals_as_interrupt():
            lock.acquire()
            return _train_in(args, folder, record, settings, quiet, started)
    except KeyboardInterrupt:  # before the epochs began, or after the results were written
        if (folder / "run.json").exists():
            print(
                f"nnscratch: interrupted; continue with: nnscratch train --resume "
                f"{shlex.quote(str(folder))}",
                file=sys.stderr,
            )
        else:
            print(
                "nnscratch: interrupted before the run began; nothing was written", file=sys.stderr
            )
        return EXIT_INTERRUPTED
    finally:
        lock.release()
        if created:  # a run that stopped before writing anything leaves no empty folder
            with contextlib.suppress(OSError):
                folder.rmdir()


def _train_in(
    args: argparse.Namespace,
    folder: Path,
    record: Record,
    settings: Settings,
    quiet: bool,
    started: float,
) -> int:
    """The run itself, with ``folder`` locked: every check first, then the epochs."""
    resume = args.resume is not None
    ours, other = _run_files(folder)
    if resume:
        record = _read_run_record(folder)  # again: the run may have ended while we waited
        settings = record["settings"]
        if record.get("status") == "diverged":
            raise ValueError(
                f"the run in {folder} diverged; resuming it would diverge again: start a new "
                "run with a lower --lr"
            )
        for path in ours:  # temporary files of a run killed while writing
            if path.name.startswith("."):
                path.unlink()
    elif (ours or other) and not args.overwrite:
        has_run = (folder / "run.json").exists()
        finished = has_run and _read_run_record(folder).get("status") == "finished"
        again = f"nnscratch train --resume {shlex.quote(str(folder))}"
        hint = (
            f"train it further with '{again} --epochs N', "
            if finished
            else f"continue it with '{again}', "
        )
        raise FileExistsError(
            f"{folder} already holds {'a run' if has_run else 'files'} "
            f"({_names(ours + other)}); {hint if has_run else ''}replace "
            f"{'it' if has_run else 'them'} with --overwrite, or choose another --out"
        )

    data = sources.load(
        settings["data"],
        args.data_dir or record.get("data_dir"),
        seed=settings["seed"],
        n_samples=settings["samples"],
        noise=settings["noise"],
    )
    if args.data_dir:
        record["data_dir"] = str(Path(args.data_dir).resolve())
    if resume:
        settings = _resume_settings(args, record, folder, data)
    else:
        settings = _resolve_settings(settings, data, quiet)
    n_out = _n_out(data)
    loss_name = settings["loss"].replace("-", "_")
    optimizer_name = settings["optimizer"].replace("-", "_")
    _check_memory_for(settings, data, n_out)

    checkpoint = folder / "checkpoint.npz"
    if resume and checkpoint.exists():
        model = Model.load(checkpoint)
        if model.network.input_dim != data.n_features or model.network.output_dim != n_out:
            raise ValueError(f"{checkpoint} does not match the data {data.name!r}")
    else:
        net = (
            _spec_network(settings, data, n_out)
            if settings["layers"]
            else mlp(
                [data.n_features, *settings["hidden"], n_out],
                settings["activation"].replace("-", "_"),
                OUTPUT_HEAD.get(loss_name),
                weight_init=settings["init"],
                dropout=settings["dropout"],
                batch_norm=settings["batch_norm"],
                seed=settings["seed"],
                dtype=np.dtype(settings["dtype"]),
            )
        )
        model = Model(
            net,
            loss=loss_name,
            optimizer=get_optimizer(optimizer_name, learning_rate=settings["lr"]),
            l2=settings["l2"],
            l1=settings["l1"],
        )
    epochs = _epochs_to_run(args, folder, record, settings, model)
    if epochs is None:
        return 0
    # the test labels are checked here, before any epoch; the untrained weights' test loss is
    # the yardstick for "training made the model worse"
    x_test = _model_x(model, data.x_test)
    initial_loss = model.evaluate(x_test, _targets(model, data.y_test, data))["loss"]
    if model.epoch == 0:
        record["initial_test_loss"] = initial_loss
    if not resume and ours:
        for path in ours:
            path.unlink()
        print(f"--overwrite: removed {_names(ours, limit=len(ours))} from {folder}")
    if not resume and other:
        print(f"--overwrite: kept {_names(other)} in {folder} (not written by a run)")
    record.update(
        {
            "nnscratch_version": __version__,
            "status": "running",
            "settings": settings,
            "command": _command_line(settings),
        }
    )
    record.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    threads = _run_threads(args, record, model, settings["batch_size"], len(data.x_train))
    _write_record(folder, record)

    _say(
        f"data: {data.name} ({len(data.x_train):,} training, {len(data.x_test):,} test samples; {data.source})",
        quiet,
    )
    _say(model.summary(print_fn=None), quiet)
    if resume:
        _say(f"resuming {folder} after epoch {model.epoch} of {settings['epochs']}", quiet)
    early = None
    if settings["early_stopping"]:
        early = EarlyStopping(patience=settings["early_stopping"])
        if model.epoch:
            early.restore(model.history)
            early.best_weights = _best_weights(folder, model, early.best_epoch)
            if early.stopped_epoch:  # it stopped, but was killed before it could say so
                epochs = 0
    saver = _RunCheckpoint(folder, model.epoch, early)
    schedule = (
        None
        if settings["schedule"] == "constant"
        else get_schedule(settings["schedule"], settings["lr"], epochs=settings["epochs"])
    )
    try:
        model.fit(
            _model_x(model, data.x_train),
            _targets(model, data.y_train, data),
            epochs=epochs,
            batch_size=settings["batch_size"],
            validation_split=settings["validation_split"],
            seed=settings["seed"],
            callbacks=[early, saver] if early is not None else [saver],
            schedule=schedule,
            verbose=0 if quiet else 1,
            augment=_augmenter(settings, data),
            threads=threads,
        )
        no_plots = bool(args.no_plots or record.get("no_plots"))
        return _finish_run(model, data, folder, record, early, started, no_plots, quiet)
    except KeyboardInterrupt:
        if saver.at_boundary and saver.saved_epoch < model.epoch:
            saver.save(model)  # the interrupt came while the finished epoch was being saved
        record["status"] = "interrupted"
        _write_record(folder, record)
        done = saver.saved_epoch
        kept = (
            f"the {done} finished epoch{'s' if done > 1 else ''} {'are' if done > 1 else 'is'} "
            f"saved in {checkpoint}"
            if done
            else "no epoch had finished"
        )
        print(
            f"nnscratch: interrupted ({done} of {settings['epochs']} epochs done); {kept}; "
            f"continue with: nnscratch train --resume {shlex.quote(str(folder))}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except TrainingDivergedError as exc:
        record["status"] = "diverged"
        _write_record(folder, record)
        done = saver.saved_epoch
        kept = (
            f"the last good checkpoint, after epoch {done}, is {checkpoint}"
            if done
            else "no epoch had finished, so nothing was saved but run.json"
        )
        print(f"nnscratch: error: {exc} {kept[0].upper()}{kept[1:]}.", file=sys.stderr)
        return EXIT_DIVERGED
    except Exception:
        if not resume and saver.saved_epoch == 0:  # refused before any epoch: leave no run
            (folder / "run.json").unlink(missing_ok=True)
        raise


def _augmenter(settings: Settings, data: sources.Data) -> Augmenter | None:
    """The --augment transform for the data's images (one channel), or None."""
    from .augmentation import build_augment

    if not settings["augment"] or settings["augment"] == "none":
        return None
    if data.image_shape is None:  # _resolve_settings refuses --augment for such data
        raise ValueError(f"--augment: {data.name} is not a set of images")
    height, width = data.image_shape
    return build_augment(settings["augment"], (1, height, width))


def _epochs_to_run(
    args: argparse.Namespace, folder: Path, record: Record, settings: Settings, model: Model
) -> int | None:
    """How many more epochs to train; None when a resumed run has nothing left to do."""
    total: int = settings["epochs"]
    if args.resume is None:
        return total
    if args.epochs is not None:
        if args.epochs < model.epoch:
            raise ValueError(
                f"--epochs {args.epochs}: the run in {folder} has already trained {model.epoch}"
            )
        if args.epochs != total and settings["schedule"] == "cosine":
            raise ValueError(
                f"the cosine schedule of {folder} anneals over its {total} epochs; it cannot "
                f"change to --epochs {args.epochs}: start a new run"
            )
        total = args.epochs
    settings["epochs"] = total
    if record.get("status") == "early-stopped":
        print(
            f"nothing to resume: {folder} stopped early at epoch {model.epoch} (its validation "
            "loss had stopped improving)"
        )
        return None
    if model.epoch >= total and record.get("status") == "finished":
        print(
            f"nothing to resume: {folder} finished all {total} epochs; give --epochs N "
            f"(more than {total}) to train it further"
        )
        return None
    return total - model.epoch


def _best_weights(folder: Path, model: Model, best: int | None) -> dict[str, Array] | None:
    """The weights of early stopping's best epoch so far: the checkpoint's when that epoch is
    the last one, else those ``model.npz`` was given when the epoch was reached."""
    if best is None or best == model.epoch:
        return model.network.get_weights()
    path = folder / "model.npz"
    saved = Model.load(path) if path.exists() else None
    if saved is None or saved.epoch != best:
        raise ValueError(
            f"cannot resume the early stopping of {folder}: {path} should hold the model of "
            f"epoch {best}, its best so far"
        )
    return saved.network.get_weights()


def _finish_run(
    model: Model,
    data: sources.Data,
    folder: Path,
    record: Record,
    early: EarlyStopping | None,
    started: float,
    no_plots: bool,
    quiet: bool,
) -> int:
    """Metrics, model, history and plots of a run that trained all its epochs (or stopped
    early); warns when the trained model is worse than its untrained start."""
    metrics = _metrics(model, data)
    metrics["train_seconds"] = float(sum(model.history["seconds"]))
    model_path = folder / "model.npz"
    model.save(model_path)
    history = {"epochs": model.history.epochs, **model.history.to_dict()["history"]}
    _write_json(folder / "history.json", history)
    _write_json(folder / "metrics.json", metrics)
    written = [model_path, folder / "history.json", folder / "metrics.json"]
    if not no_plots:
        written += _plots(model, data, folder, "png", quiet, metrics)
    record["status"] = "early-stopped" if early is not None and early.stopped_epoch else "finished"
    _write_record(folder, record)
    _say(quiet=quiet)
    _print_metrics(metrics)
    print(f"\nwrote, in {folder}/ ({time.perf_counter() - started:.1f}s in all):")
    for path in [folder / "run.json", folder / "checkpoint.npz", *written]:
        print(f"  {path.name}")
    initial = record.get("initial_test_loss")
    if initial is not None and not metrics["loss"] <= initial:
        print(
            f"nnscratch: warning: training made the model worse: its test loss is "
            f"{metrics['loss']:.4g}, its untrained weights' was {initial:.4g}; try a lower --lr",
            file=sys.stderr,
        )
    return 0
