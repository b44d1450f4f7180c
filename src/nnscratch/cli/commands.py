"""The commands behind ``nnscratch``; each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
from pathlib import Path
from typing import Any, overload

import numpy as np

from ..core._types import Array
from ..core.activations import ACTIVATIONS
from ..core.losses import LOSSES
from ..core.network import Sequential
from ..data import DATASET_NAMES
from ..model import Model
from . import sources
from .shared import (
    _built_width,
    _check_compatible,
    _metrics,
    _model_x,
    _n_inputs,
    _n_outputs,
    _plots,
    _print_metrics,
    _write_json,
)
from .train import train


# -- evaluate / predict / summary ----------------------------------------------------------
def _load_model(path: str) -> Model:
    return Model.load(path)


@overload
def _check_out(out: str) -> Path: ...
@overload
def _check_out(out: None) -> None: ...
@overload
def _check_out(out: str | None) -> Path | None: ...
def _check_out(out: str | None) -> Path | None:
    """The --out folder, refused before any work if a file is in its way or it cannot be
    written; it is created only when there is something to write."""
    if out is None:
        return None
    path = Path(out)
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if existing == path and not path.is_dir():
        raise NotADirectoryError(f"--out {path} is a file, not a folder")
    if not existing.is_dir():
        raise NotADirectoryError(f"--out {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"--out {path}: cannot write in {existing}")
    return path


def _make_out(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the --out folder {path} ({exc.strerror})") from None


def evaluate(args: argparse.Namespace) -> int:
    out = _check_out(args.out)
    model = _load_model(args.model)
    spec, options = _run_data(Path(args.model).parent, args)
    data = sources.load(
        spec or "mnist-sample",
        options["data_dir"],
        seed=args.seed if args.seed is not None else options["seed"],
        n_samples=options.get("n_samples"),
        noise=options.get("noise"),
    )
    _check_compatible(model, data, args.model)
    metrics = _metrics(model, data)
    _print_metrics(metrics)
    if out is not None:
        _make_out(out)
        _write_json(out / "metrics.json", metrics)
        written = _plots(model, data, out, "png", quiet=False, metrics=metrics)
        print(f"wrote metrics.json{''.join(', ' + p.name for p in written)} in {out}/")
    return 0


def _npz_rows(path: Path, n_features: int) -> tuple[str, Array]:
    """The array to predict from an .npz archive: ``x``, or its only array."""
    import zipfile

    expected = f"expected an array x of shape (n, {n_features})"
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a readable .npz archive (not a zip file); {expected}, "
            "saved with numpy.savez"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            key = "x" if "x" in names else (names[0] if len(names) == 1 else None)
            x = None if key is None else np.asarray(archive[key])
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable .npz archive ({exc})") from None
    if not names:
        raise ValueError(f"{path} holds no arrays; {expected}")
    if key is None or x is None:
        raise ValueError(
            f"{path} holds arrays {sorted(names)} but none named x; save the rows to predict as x"
        )
    return key, x


def _check_rows(x: Array, what: str, n_features: int) -> Array:
    """``x`` as rows of ``n_features`` finite numbers, or an error that names ``what``."""
    rows = f"rows of shape (n, {n_features})"
    if x.ndim == 0:
        raise ValueError(f"{what} is a single value (shape ()); expected {rows}")
    if x.ndim == 1:
        raise ValueError(
            f"{what} has shape {x.shape}; expected {rows} (for one row, save x.reshape(1, -1))"
        )
    if len(x) == 0:
        raise ValueError(f"{what} has no rows (shape {x.shape})")
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{what} holds {x.dtype} values, not numbers")
    x = x.reshape(len(x), -1)  # images stacked as (n, height, width) become rows
    bad = int(np.count_nonzero(~np.isfinite(x)))
    if bad:
        raise ValueError(f"{what} holds {bad} NaN or infinite value(s); clean the data first")
    if x.shape[1] != n_features:
        hint = "; if its last column is a label, remove it" if x.shape[1] == n_features + 1 else ""
        raise ValueError(
            f"{what} has {x.shape[1]} features per row; the model takes {n_features}{hint}"
        )
    return x


def _read_inputs(paths: list[str], n_features: int) -> list[tuple[list[str], Array]]:
    """Every input of ``predict`` as (labels, rows), all read and checked before any output."""
    from ..data.images import load_digit_image

    inputs: list[tuple[list[str], Array]] = []
    for name in paths:
        path = Path(name)
        suffix = path.suffix.lower()
        if path.is_dir():
            raise ValueError(f"{path} is a folder, not a data file or image")
        if suffix in (".csv", ".npz"):
            if not path.exists():
                raise FileNotFoundError(f"data file not found: {path}")
            if suffix == ".csv":
                x, _ = sources.read_csv(path, labelled=False)
                x = _check_rows(x, str(path), n_features)
            else:
                key, x = _npz_rows(path, n_features)
                x = _check_rows(x, f"{path}: {key}", n_features)
            inputs.append(([f"{path.name}[{i}]" for i in range(len(x))], x))
        else:
            if n_features != 784:
                raise ValueError(
                    f"{path.name}: images need a model with 784 inputs (28x28); this one takes "
                    f"{n_features}"
                )
            inputs.append(([path.name], load_digit_image(path)[None, :]))
    return inputs


def predict(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    for labels, rows in _read_inputs(args.inputs, _n_inputs(model)):
        x = _model_x(model, rows)
        if model.loss.classification:
            proba = model.predict_proba(x)
            for label, row in zip(labels, proba, strict=True):
                top = np.argsort(row)[::-1][: args.top]
                shown = "  ".join(f"{c}: {row[c]:.3f}" for c in top)
                print(f"{label}: class {top[0]}   ({shown})")
        else:
            for label, row in zip(labels, model.predict(x), strict=True):
                print(f"{label}: {np.array2string(np.atleast_1d(row), precision=4)}")
    return 0


def summary(args: argparse.Namespace) -> int:
    from ..core.spec import format_layers

    model = _load_model(args.model)
    model.summary()
    with contextlib.suppress(ValueError):  # layers written in Python may have no spec
        print(f"layers: {format_layers(model.network)}")
    print(f"trained epochs: {model.epoch}   optimizer steps: {model.optimizer.iterations}")
    last = model.history.last()
    if last:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in last.items() if k not in ("seconds",))
        print(f"last epoch: {shown}")
    return 0


# -- gradcheck -------------------------------------------------------------------------------
#: The convolutional networks of the default gradcheck run: every image layer (conv with
#: padding, stride, "same" and no bias; max-, average- and global pooling; batch norm over
#: channels; reshape and flatten), on 16 random 2x8x8 images; "{out}" is --outputs.
GRADCHECK_SPECS = (
    (
        "reshape:2x8x8,conv:3x3:pad=1,tanh,batchnorm,maxpool:2,conv:4x2,sigmoid,"
        "avgpool:2:stride=1,flatten,dense:{out}",
        (128,),
    ),
    ("conv:4x3:stride=2:pad=1,elu,conv:3x3:same:nobias,softplus,gap,dense:{out}", (2, 8, 8)),
)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _gradcheck_targets(rng: np.random.Generator, loss: str, n: int, outputs: int) -> Array:
    if loss.startswith("binary"):
        return rng.uniform(size=(n, outputs))
    if loss.endswith("cross_entropy"):
        return rng.integers(0, outputs, size=n)
    return rng.normal(size=(n, outputs))


def _random_biases(net: Sequential, rng: np.random.Generator) -> Sequential:
    for p in net.parameters():  # random biases keep pre-activations off ReLU's kink
        if p.kind == "bias":
            p.value[...] = rng.normal(scale=0.5, size=p.shape)
    return net


def _gradcheck_row(
    net: Sequential, x: Array, y: Array, loss: str, label: str
) -> tuple[float, bool]:
    from ..core.gradcheck import gradient_check

    result = gradient_check(net, x, y, loss)
    verdict = "ok" if result.passed else "FAIL"
    print(
        f"{label:<12} {loss:<34} max rel err {result.max_error:.1e} "
        f"(tol {result.tolerance:.0e}) {verdict}"
    )
    return result.max_error, result.passed


def _spec_check_network(spec: str, shape: tuple[int, ...], loss: str, seed: int) -> Sequential:
    """The network of a gradcheck spec, with the loss's output activation; a one-line error
    when the spec does not end with flat outputs (dense:N or gap)."""
    from ..core.spec import build_network

    head = {"binary_cross_entropy": "sigmoid", "categorical_cross_entropy": "softmax"}.get(loss)
    try:
        net = build_network(spec, shape, seed=seed, dtype=np.float64)
        out_shape = net.output_shape or ()  # None only before build, which build_network did
        if len(out_shape) != 1:
            raise ValueError(
                f"the network ends with outputs of shape {'x'.join(map(str, out_shape))}; "
                "a loss needs flat outputs: end the spec with dense:N (or flatten, or gap)"
            )
        if head is not None:
            net = build_network(f"{spec},{head}", shape, seed=seed, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"--layers: {exc}") from None
    return net


def gradcheck(args: argparse.Namespace) -> int:
    from ..core.layers import Dense

    head = {"binary_cross_entropy": "sigmoid", "categorical_cross_entropy": "softmax"}
    if args.layers is not None and args.activation != "all":
        raise ValueError(
            "--activation chooses the activations of the --hidden network; a --layers spec "
            "names its own"
        )
    if args.layers is None and args.input_shape is not None:
        raise ValueError("--input-shape is the sample shape of a --layers network; give --layers")
    activations = (
        [a for a, cls in ACTIVATIONS.items() if cls.differentiable and a != "softmax"]
        if args.activation == "all"
        else [args.activation.replace("-", "_")]
    )
    losses = list(LOSSES) if args.loss == "all" else [args.loss.replace("-", "_")]
    for name in activations:
        if name not in ACTIVATIONS:
            known = sorted(a.replace("_", "-") for a, c in ACTIVATIONS.items() if c.differentiable)
            raise ValueError(f"unknown activation {name!r}; expected 'all' or one of {known}")
        if not ACTIVATIONS[name].differentiable:
            raise ValueError(f"the {name} activation has no derivative to check")
    for name in losses:
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}")
    rng = np.random.default_rng(args.seed)
    if args.layers is not None:
        shape: tuple[int, ...] = args.input_shape or (args.inputs,)
        nets = [_spec_check_network(args.layers, shape, loss, args.seed) for loss in losses]
        x = rng.normal(size=(args.batch_size, *shape))
        print(f"network {args.layers} on {args.batch_size} samples of shape {_shape(shape)}")
        print(f"{'network':<12} {'loss':<34} backpropagation vs finite differences")
        worst, failures = 0.0, 0
        for net, loss in zip(nets, losses, strict=True):
            _random_biases(net, rng)
            y = _gradcheck_targets(rng, loss, args.batch_size, _built_width(net.output_dim))
            error, passed = _gradcheck_row(net, x, y, loss, "--layers")
            worst, failures = max(worst, error), failures + (not passed)
        print(
            f"{len(losses) - failures} passed, {failures} failed; worst relative error {worst:.1e}"
        )
        return 1 if failures else 0
    x = rng.normal(size=(args.batch_size, args.inputs))
    worst, failures, rows = 0.0, 0, 0
    print(f"{'activation':<12} {'loss':<34} backpropagation vs finite differences")
    for act in activations:
        for loss in losses:
            sizes = [args.inputs, *args.hidden, args.outputs]
            layers = [Dense(w, act) for w in sizes[1:-1]] + [Dense(sizes[-1], head.get(loss))]
            net = _random_biases(
                Sequential(layers, sizes[0], seed=args.seed, dtype=np.float64), rng
            )
            y = _gradcheck_targets(rng, loss, args.batch_size, args.outputs)
            error, passed = _gradcheck_row(net, x, y, loss, act)
            worst, failures, rows = max(worst, error), failures + (not passed), rows + 1
    if args.activation == "all":
        for number, (template, shape) in enumerate(GRADCHECK_SPECS, start=1):
            spec = template.format(out=args.outputs)
            print(
                f"convolutional network {number}: {spec} "
                f"on {args.batch_size} samples of shape {_shape(shape)}"
            )
            images = rng.normal(size=(args.batch_size, *shape))
            for loss in losses:
                net = _random_biases(_spec_check_network(spec, shape, loss, args.seed), rng)
                y = _gradcheck_targets(rng, loss, args.batch_size, args.outputs)
                error, passed = _gradcheck_row(net, images, y, loss, f"conv {number}")
                worst, failures, rows = max(worst, error), failures + (not passed), rows + 1
    print(f"{rows - failures} passed, {failures} failed; worst relative error {worst:.1e}")
    return 1 if failures else 0


# -- datasets --------------------------------------------------------------------------------
def datasets(args: argparse.Namespace) -> int:
    from ..data import load_dataset

    if args.action == "list":
        descriptions = {
            "mnist-sample": "5,000 + 1,000 MNIST digits bundled with the package (offline)",
            "mnist": "MNIST, 60,000 + 10,000 handwritten digits (found locally or downloaded)",
            "fashion-mnist": "Fashion-MNIST, 60,000 + 10,000 clothing images",
            "five-clusters": "seed 000's 2-D points in five classes",
            "truth-table": "seed 003's four-row table",
            "noisy-sine": "1-D regression: a noisy sine curve",
        }
        for name in DATASET_NAMES:
            print(f"  {name:<15} {descriptions.get(name, '2-D toy classification set')}")
        return 0
    if args.name is None:
        raise ValueError(
            f"'{args.action}' needs a dataset name: nnscratch datasets {args.action} mnist "
            "(or fashion-mnist)"
        )
    if args.name not in ("mnist", "fashion-mnist"):
        raise ValueError(f"'{args.action}' works on mnist or fashion-mnist, got {args.name!r}")
    ds = load_dataset(
        args.name,
        path=args.data_dir,
        verify=True,
        download=args.action == "download",
        progress=True,
    )
    counts = np.bincount(ds.y_train.astype(np.int64))
    print(f"{args.name}: verified, {len(ds.x_train):,} training and {len(ds.x_test):,} test images")
    print(f"  source: {ds.source}")
    print(f"  training images per class: {' '.join(str(c) for c in counts)}")
    return 0


# -- plot ------------------------------------------------------------------------------------
def _read_record(path: Path) -> dict[str, Any]:
    """A run folder's JSON record, {} when there is none."""
    if not path.exists():
        return {}
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not readable ({exc}); pass the run's data with --data NAME|PATH"
        ) from None
    return record if isinstance(record, dict) else {}


def _run_data(folder: Path, args: argparse.Namespace) -> tuple[str | None, dict[str, Any]]:
    """The data a run was trained on, as ``sources.load`` takes it: the spec and the options.

    run.json (written by ``train``) records the settings; metrics.json the data's path (since
    this version) and its name; --data and --data-dir win over both."""

    record = _read_record(folder / "run.json")
    recorded_settings = record.get("settings")
    settings: dict[str, Any] = recorded_settings if isinstance(recorded_settings, dict) else {}
    metrics = _read_record(folder / "metrics.json")
    options: dict[str, Any] = {"seed": settings.get("seed") or 0}
    data_dir = args.data_dir or record.get("data_dir")
    if args.data is not None:
        return args.data, {**options, "data_dir": data_dir}
    recorded = settings.get("data") or metrics.get("data")
    if recorded is not None:
        options.update(n_samples=settings.get("samples"), noise=settings.get("noise"))
        path = Path(recorded)
        if path.suffix.lower() in (".csv", ".npz") and not path.exists():
            raise FileNotFoundError(
                f"the run's data {recorded} is not there any more; pass it with --data PATH"
            )
        return recorded, {**options, "data_dir": data_dir}
    name = metrics.get("dataset")
    if name is not None and name.strip().lower().replace("_", "-") not in DATASET_NAMES:
        raise ValueError(
            f"the run was trained on {name!r}, which is not a dataset name (the run recorded "
            "only its data file's name); pass the data with --data PATH"
        )
    return name, {**options, "data_dir": data_dir}


def _nothing_to_draw(model: Model) -> str | None:
    """Why ``_plots`` would draw nothing for this model, or None when it draws something."""
    if len(model.history) or (model.classifier and _n_outputs(model) > 1):
        return None
    need, this = (
        ("two or more outputs", "has one output")
        if model.classifier
        else ("a classifier", "is a regressor")
    )
    return (
        "nothing to draw: the model has no training history, and the other pictures (confusion "
        f"matrix, weights, errors, decision regions) need {need}; this model {this} "
        f"(loss {model.loss.name})"
    )


def plot(args: argparse.Namespace) -> int:
    source = Path(args.source)
    out = _check_out(args.out)
    model_path = source / "model.npz" if source.is_dir() else source
    if not model_path.exists():
        checkpoint = source / "checkpoint.npz"
        if source.is_dir() and checkpoint.exists():
            raise FileNotFoundError(
                f"no model found at {model_path}: the run has not finished; plot its last "
                f"epoch with 'nnscratch plot {shlex.quote(str(checkpoint))}', or finish it "
                f"with 'nnscratch train --resume {shlex.quote(str(source))}'"
            )
        raise FileNotFoundError(f"no model found at {model_path}")
    model = _load_model(str(model_path))
    why = _nothing_to_draw(model)
    if why is not None:
        raise ValueError(why)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "nothing drawn: the pictures need matplotlib; install it with "
            "pip install 'nnscratch[plot]'"
        ) from None
    folder = source if source.is_dir() else source.parent
    out = out or folder
    data_name, options = _run_data(folder, args)
    if data_name is None and model.network.input_dim == 784:
        data_name = "mnist-sample"
    if data_name is None:
        raise ValueError(
            "say which dataset to draw with --data NAME|PATH (the run folder does not record it)"
        )
    data = sources.load(
        data_name,
        options["data_dir"],
        seed=options["seed"],
        n_samples=options.get("n_samples"),
        noise=options.get("noise"),
    )
    _check_compatible(model, data, str(model_path))
    _make_out(out)
    written = _plots(model, data, out, args.format, quiet=False)
    if not written:
        raise RuntimeError(f"nothing drawn in {out}: see the note above")
    print(f"wrote, in {out}/: {', '.join(p.name for p in written)}")
    return 0


# -- interfaces built elsewhere --------------------------------------------------------------
def reproduce(args: argparse.Namespace) -> int:
    from ..experiments import run_all

    folder: str = args.out  # it has a default
    lang: str = args.lang  # argparse's choices: "en" or "zh"
    if lang != "en":
        _check_prints(lang)
    out = _check_out(folder)
    return run_all(out, fast=args.fast, data_dir=args.data_dir, only=args.only, lang=lang)


def _check_prints(lang: str) -> None:
    """Refuse, before minutes of training, a ``--lang`` this terminal's encoding cannot print."""
    import sys

    from ..i18n import message

    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        message("run.mode.full", lang).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        raise ValueError(
            f"--lang {lang} needs an output that can show its characters, and stdout's encoding "
            f"is {encoding}; set PYTHONIOENCODING=utf-8 (or a UTF-8 locale) and run again"
        ) from None


def export(args: argparse.Namespace) -> int:
    from ..onnx import export_model_file

    options: dict[str, Any] = {"output": args.output}
    if args.opset:
        options["opset"] = args.opset
    path = export_model_file(args.model, args.onnx_path, **options)
    print(f"wrote {path}")
    return 0


def playground(args: argparse.Namespace) -> int:
    from ..web import serve

    try:
        serve(host=args.host, port=args.port, open_browser=args.open)
    except KeyboardInterrupt:  # Ctrl+C is how a user stops the server: a normal exit
        print("playground stopped")
    return 0


def bench(args: argparse.Namespace) -> int:
    _check_out(args.out)
    script = Path(__file__).resolve().parents[3] / "benchmarks" / "bench.py"
    if not script.exists():
        raise FileNotFoundError(
            "the benchmark suite ships with the source tree (benchmarks/bench.py); run it from a clone"
        )
    import runpy

    bench_main = runpy.run_path(str(script), run_name="nnscratch_bench")["main"]
    # the script's main returns its exit code (0), as ``commands`` do
    return int(bench_main(["--out", args.out] + (["--fast"] if args.fast else [])) or 0)


__all__ = [
    "train",
    "evaluate",
    "predict",
    "summary",
    "gradcheck",
    "datasets",
    "plot",
    "reproduce",
    "export",
    "playground",
    "bench",
]
