"""The commands behind ``nnscratch``; each takes the parsed arguments and returns an exit code."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from ..core.activations import ACTIVATIONS
from ..core.losses import LOSSES
from ..core.network import Sequential, mlp
from ..model import Model
from ..training.callbacks import EarlyStopping
from ..training.metrics import confusion_matrix, precision_recall_f1
from ..training.optimizers import get_optimizer
from ..training.schedules import get_schedule
from . import sources

OUTPUT_HEAD = {"categorical_cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
ADAPTIVE = ("adam", "adamw", "rmsprop")


def _say(text: str = "", quiet: bool = False) -> None:
    if not quiet:
        print(text, flush=True)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _metrics(model: Model, data: sources.Data) -> dict:
    """Test loss and metrics, with per-class scores and the confusion matrix for classifiers."""
    result = {"dataset": data.name, "n_test": int(len(data.x_test))}
    result.update(model.evaluate(data.x_test, _targets(model, data.y_test, data)))
    if model.classifier and model.network.output_dim > 1:
        predicted = model.predict(data.x_test)
        k = model.network.output_dim
        scores = precision_recall_f1(data.y_test, predicted, n_classes=k)
        result.update(
            {
                "macro_precision": scores["macro_precision"],
                "macro_recall": scores["macro_recall"],
                "macro_f1": scores["macro_f1"],
                "per_class": {
                    (data.class_names[c] if data.class_names else str(c)): {
                        "precision": float(scores["precision"][c]),
                        "recall": float(scores["recall"][c]),
                        "f1": float(scores["f1"][c]),
                        "support": int(scores["support"][c]),
                    }
                    for c in range(k)
                },
                "confusion_matrix": confusion_matrix(data.y_test, predicted, k).tolist(),
            }
        )
    return result


def _targets(model: Model, y: np.ndarray, data: sources.Data) -> np.ndarray:
    """Labels as the loss wants them: one-hot rows for the binary cross-entropies."""
    if model.loss.name.startswith("binary") and y.ndim == 1 and model.network.output_dim > 1:
        return np.eye(model.network.output_dim, dtype=np.float32)[y]
    return y


def _check_compatible(model: Model, data: sources.Data, model_path: str) -> None:
    if model.network.input_dim != data.n_features:
        raise ValueError(
            f"the model {model_path} takes {model.network.input_dim} features but the data "
            f"{data.name!r} has {data.n_features}; use data of the kind it was trained on"
        )
    if (
        model.classifier
        and data.y_test.dtype.kind in "iu"
        and data.n_classes > model.network.output_dim
    ):
        raise ValueError(
            f"the data {data.name!r} has {data.n_classes} classes but the model predicts "
            f"{model.network.output_dim}"
        )


def _print_metrics(metrics: dict) -> None:
    keys = [
        k
        for k in ("loss", "accuracy", "macro_precision", "macro_recall", "macro_f1")
        if k in metrics
    ]
    width = max(len(k) for k in keys)
    print(f"test metrics on {metrics['dataset']} ({metrics['n_test']:,} samples)")
    for key in keys:
        print(f"  {key:<{width}}  {metrics[key]:.4f}")
    if "confusion_matrix" in metrics:
        cm = np.array(metrics["confusion_matrix"])
        print("confusion matrix (rows: true class, columns: predicted)")
        cell = max(4, len(str(cm.max())) + 1)
        print("    " + "".join(f"{j:>{cell}}" for j in range(len(cm))))
        for i, row in enumerate(cm):
            print(f"{i:>3} " + "".join(f"{v:>{cell}}" for v in row))


# -- train ------------------------------------------------------------------------------------
def train(args) -> int:
    quiet = args.quiet
    started = time.perf_counter()
    data = sources.load(
        args.data, args.data_dir, seed=args.seed, n_samples=args.samples, noise=args.noise
    )
    regression = data.y_train.dtype.kind == "f"
    loss_name = args.loss.replace("-", "_")
    if regression and LOSSES[loss_name].classification:
        loss_name = "mse"
        _say(f"note: {data.name} is a regression set; using the mse loss", quiet)
    two_d = data.n_features == 2
    hidden = (
        args.hidden if args.hidden is not None else ([32, 32] if data.n_features <= 3 else [128])
    )
    epochs = args.epochs or (200 if two_d else 15)
    n_out = 1 if regression else max(data.n_classes, 2)
    optimizer_name = args.optimizer.replace("-", "_")
    lr = args.lr or (0.001 if optimizer_name in ADAPTIVE else 0.1)
    net = mlp(
        [data.n_features, *hidden, n_out],
        args.activation.replace("-", "_"),
        OUTPUT_HEAD.get(loss_name),
        weight_init=args.init,
        dropout=args.dropout,
        batch_norm=args.batch_norm,
        seed=args.seed,
        dtype=np.dtype(args.dtype),
    )
    model = Model(
        net,
        loss=loss_name,
        optimizer=get_optimizer(optimizer_name, learning_rate=lr),
        l2=args.l2,
        l1=args.l1,
    )
    out = Path(args.out or Path("runs") / f"{data.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    _say(
        f"data: {data.name} ({len(data.x_train):,} training, {len(data.x_test):,} test samples; {data.source})",
        quiet,
    )
    _say(model.summary(print_fn=None), quiet)
    callbacks = [EarlyStopping(patience=args.early_stopping)] if args.early_stopping else []
    schedule = (
        None if args.schedule == "constant" else get_schedule(args.schedule, lr, epochs=epochs)
    )
    model.fit(
        data.x_train,
        _targets(model, data.y_train, data),
        epochs=epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        seed=args.seed,
        callbacks=callbacks,
        schedule=schedule,
        verbose=0 if quiet else 1,
    )
    metrics = _metrics(model, data)
    metrics["train_seconds"] = float(sum(model.history["seconds"]))
    model_path = out / "model.npz"
    model.save(model_path)
    history = {"epochs": model.history.epochs, **model.history.to_dict()["history"]}
    _write_json(out / "history.json", history)
    _write_json(out / "metrics.json", metrics)
    written = [model_path, out / "history.json", out / "metrics.json"]
    if not args.no_plots:
        written += _plots(model, data, out, "png", quiet)
    _say(quiet=quiet)
    _print_metrics(metrics)
    print(f"\nwrote, in {out}/ ({time.perf_counter() - started:.1f}s in all):")
    for path in written:
        print(f"  {path.name}")
    return 0


def _plots(model: Model, data: sources.Data, out: Path, fmt: str, quiet: bool) -> list[Path]:
    try:
        from .. import plots
    except ImportError as exc:  # pragma: no cover - plots package always present
        _say(f"plots skipped: {exc}", quiet)
        return []
    written: list[Path] = []

    def save(fig, name):
        path = out / f"{name}.{fmt}"
        plots.save_figure(fig, path)
        written.append(path)

    try:
        if len(model.history):
            metrics = ("loss", "accuracy") if "accuracy" in model.history else ("loss",)
            save(plots.plot_history(model.history, metrics=metrics), "history")
        if model.classifier and model.network.output_dim > 1:
            predicted = model.predict(data.x_test)
            cm = confusion_matrix(data.y_test, predicted, model.network.output_dim)
            save(plots.plot_confusion_matrix(cm, class_names=data.class_names), "confusion_matrix")
            if data.image_shape is not None:
                save(
                    plots.plot_first_layer_weights(model, shape=data.image_shape),
                    "first_layer_weights",
                )
                if np.any(predicted != data.y_test):
                    save(
                        plots.plot_most_confident_errors(
                            model, data.x_test, data.y_test, shape=data.image_shape
                        ),
                        "most_confident_errors",
                    )
            if data.n_features == 2:
                save(
                    plots.plot_decision_regions(model, data.x_test, data.y_test, title=data.name),
                    "decision_regions",
                )
    except ImportError as exc:
        _say(f"plots skipped: {exc}", quiet)
    return written


# -- evaluate / predict / summary ----------------------------------------------------------
def _load_model(path: str) -> Model:
    return Model.load(path)


def evaluate(args) -> int:
    model = _load_model(args.model)
    data = sources.load(args.data, args.data_dir, seed=args.seed)
    _check_compatible(model, data, args.model)
    metrics = _metrics(model, data)
    _print_metrics(metrics)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "metrics.json", metrics)
        written = _plots(model, data, out, "png", quiet=False)
        print(f"wrote metrics.json{''.join(', ' + p.name for p in written)} in {out}/")
    return 0


def predict(args) -> int:
    model = _load_model(args.model)
    from ..data.images import load_digit_image

    for name in args.inputs:
        path = Path(name)
        suffix = path.suffix.lower()
        if suffix in (".csv", ".npz"):
            if suffix == ".csv":
                x, _ = sources.read_csv(path, labelled=False)
            else:
                with np.load(path, allow_pickle=False) as archive:
                    key = "x" if "x" in archive.files else archive.files[0]
                    x = archive[key].reshape(len(archive[key]), -1)
            labels = [f"{path.name}[{i}]" for i in range(len(x))]
        else:
            if model.network.input_dim != 784:
                raise ValueError(
                    f"{path.name}: images need a model with 784 inputs (28x28); this one takes {model.network.input_dim}"
                )
            x = load_digit_image(path)[None, :]
            labels = [path.name]
        if x.shape[1] != model.network.input_dim:
            raise ValueError(
                f"{path.name} has {x.shape[1]} features per row; the model takes {model.network.input_dim}"
            )
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


def summary(args) -> int:
    model = _load_model(args.model)
    model.summary()
    print(f"trained epochs: {model.epoch}   optimizer steps: {model.optimizer.iterations}")
    last = model.history.last()
    if last:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in last.items() if k not in ("seconds",))
        print(f"last epoch: {shown}")
    return 0


# -- gradcheck -------------------------------------------------------------------------------
def gradcheck(args) -> int:
    from ..core.gradcheck import gradient_check
    from ..core.layers import Dense

    head = {"binary_cross_entropy": "sigmoid", "categorical_cross_entropy": "softmax"}
    activations = (
        [a for a, cls in ACTIVATIONS.items() if cls.differentiable and a != "softmax"]
        if args.activation == "all"
        else [args.activation.replace("-", "_")]
    )
    losses = list(LOSSES) if args.loss == "all" else [args.loss.replace("-", "_")]
    for name in activations:
        if name not in ACTIVATIONS or not ACTIVATIONS[name].differentiable:
            raise ValueError(f"unknown or non-differentiable activation {name!r}")
    for name in losses:
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}")
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.batch_size, args.inputs))
    worst, failures = 0.0, 0
    print(f"{'activation':<12} {'loss':<34} worst relative error")
    for act in activations:
        for loss in losses:
            sizes = [args.inputs, *args.hidden, args.outputs]
            layers = [Dense(w, act) for w in sizes[1:-1]] + [Dense(sizes[-1], head.get(loss))]
            net = Sequential(layers, sizes[0], seed=args.seed, dtype=np.float64)
            for p in net.parameters():  # random biases keep pre-activations off ReLU's kink
                if p.kind == "bias":
                    p.value[...] = rng.normal(scale=0.5, size=p.shape)
            if loss.startswith("binary"):
                y = rng.uniform(size=(args.batch_size, args.outputs))
            elif loss.endswith("cross_entropy"):
                y = rng.integers(0, args.outputs, size=args.batch_size)
            else:
                y = rng.normal(size=(args.batch_size, args.outputs))
            result = gradient_check(net, x, y, loss)
            worst = max(worst, result.max_error)
            failures += not result.passed
            print(
                f"{act:<12} {loss:<34} {result.max_error:.2e}  {'ok' if result.passed else 'FAIL'}"
            )
    print(
        f"{len(activations) * len(losses) - failures} passed, {failures} failed; worst {worst:.2e}"
    )
    return 1 if failures else 0


# -- datasets --------------------------------------------------------------------------------
def datasets(args) -> int:
    from ..data import DATASET_NAMES, load_dataset

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
def plot(args) -> int:
    source = Path(args.source)
    model_path = source / "model.npz" if source.is_dir() else source
    if not model_path.exists():
        raise FileNotFoundError(f"no model found at {model_path}")
    model = _load_model(str(model_path))
    out = Path(args.out) if args.out else (source if source.is_dir() else source.parent)
    out.mkdir(parents=True, exist_ok=True)
    data_name = args.data
    if data_name is None:
        metrics_file = (source if source.is_dir() else source.parent) / "metrics.json"
        if metrics_file.exists():
            data_name = json.loads(metrics_file.read_text()).get("dataset")
    data_name = data_name or ("mnist-sample" if model.network.input_dim == 784 else None)
    if data_name is None:
        raise ValueError(
            "say which dataset to draw with --data (the run folder does not record it)"
        )
    data = sources.load(data_name, args.data_dir)
    _check_compatible(model, data, str(model_path))
    written = _plots(model, data, out, args.format, quiet=False)
    print(f"wrote, in {out}/: {', '.join(p.name for p in written) or 'nothing'}")
    return 0


# -- interfaces built elsewhere --------------------------------------------------------------
def reproduce(args) -> int:
    from ..experiments import run_all

    only = [name.strip() for name in args.only.split(",")] if args.only else None
    return run_all(Path(args.out), fast=args.fast, data_dir=args.data_dir, only=only)


def export(args) -> int:
    from ..onnx import export_model_file

    options = {"output": args.output}
    if args.opset:
        options["opset"] = args.opset
    path = export_model_file(args.model, args.onnx_path, **options)
    print(f"wrote {path}")
    return 0


def playground(args) -> int:
    from ..web import serve

    try:
        serve(host=args.host, port=args.port, open_browser=args.open)
    except KeyboardInterrupt:  # Ctrl+C is how a user stops the server: a normal exit
        print("playground stopped")
    return 0


def bench(args) -> int:
    script = Path(__file__).resolve().parents[3] / "benchmarks" / "bench.py"
    if not script.exists():
        raise FileNotFoundError(
            "the benchmark suite ships with the source tree (benchmarks/bench.py); run it from a clone"
        )
    import runpy

    bench_main = runpy.run_path(str(script), run_name="nnscratch_bench")["main"]
    return bench_main(["--out", args.out] + (["--fast"] if args.fast else []))


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
