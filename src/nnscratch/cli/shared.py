"""What several commands share: printing, JSON files, metrics, the model's view of the data
and the pictures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core._types import Array
from ..model import Model
from ..training.metrics import confusion_matrix, precision_recall_f1
from . import sources

if TYPE_CHECKING:
    from matplotlib.figure import Figure


OUTPUT_HEAD = {"categorical_cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
ADAPTIVE = ("adam", "adamw", "rmsprop")


def _say(text: str = "", quiet: bool = False) -> None:
    if not quiet:
        print(text, flush=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _data_spec_of(data: sources.Data) -> str:
    """What reloads ``data`` from any folder: its file's absolute path, else its dataset name.

    A file's ``source`` is its path as given, possibly followed by ": <summary>"."""
    for text in (data.source, data.source.rsplit(": ", 1)[0]):
        path = Path(text)
        if path.suffix.lower() in (".csv", ".npz") and path.stem == data.name and path.is_file():
            return str(path.resolve())
    return data.name


def _built_width(width: int | None) -> int:
    """A network's input or output width, which is None only before ``build``; every network
    the commands meet was trained, loaded or built from a spec, so it is built."""
    if width is None:
        raise RuntimeError("the network is not built")
    return width


def _n_inputs(model: Model) -> int:
    return _built_width(model.network.input_dim)


def _n_outputs(model: Model) -> int:
    return _built_width(model.network.output_dim)


def _metrics(model: Model, data: sources.Data) -> dict[str, Any]:
    """Test loss and metrics, with per-class scores and the confusion matrix for classifiers.

    ``dataset`` is the data's short name; ``data`` is what ``nnscratch plot`` reloads it from."""
    result: dict[str, Any] = {
        "dataset": data.name,
        "data": _data_spec_of(data),
        "n_test": int(len(data.x_test)),
    }
    x_test = _model_x(model, data.x_test)
    result.update(model.evaluate(x_test, _targets(model, data.y_test, data)))
    k = _n_outputs(model)
    if model.classifier and k > 1:
        predicted = model.predict(x_test)
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


def _model_x(model: Model, x: Array) -> Array:
    """Flat rows as the samples the model takes: a view of N x C x H x W for a network of
    images (the data stays flat in memory), ``x`` itself otherwise."""
    shape = model.network.input_shape
    if shape is not None and len(shape) > 1 and x.ndim == 2 and x.shape[1] == np.prod(shape):
        return x.reshape(len(x), *shape)
    return x


def _targets(model: Model, y: Array, data: sources.Data) -> Array:
    """Labels as the loss wants them: one-hot rows for the binary cross-entropies."""
    k = _n_outputs(model)
    if model.loss.name.startswith("binary") and y.ndim == 1 and k > 1:
        one_hot: Array = np.eye(k, dtype=np.float32)[y]
        return one_hot
    return y


def _check_compatible(model: Model, data: sources.Data, model_path: str) -> None:
    if model.network.input_dim != data.n_features:
        raise ValueError(
            f"the model {model_path} takes {model.network.input_dim} features but the data "
            f"{data.name!r} has {data.n_features}; use data of the kind it was trained on"
        )
    if model.classifier and data.y_test.dtype.kind in "iu" and data.n_classes > _n_outputs(model):
        raise ValueError(
            f"the data {data.name!r} has {data.n_classes} classes but the model predicts "
            f"{model.network.output_dim}"
        )


def _print_metrics(metrics: dict[str, Any]) -> None:
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


def _plots(
    model: Model,
    data: sources.Data,
    out: Path,
    fmt: str,
    quiet: bool,
    metrics: dict[str, Any] | None = None,
) -> list[Path]:
    """The run's pictures in ``out``; ``metrics`` (from ``_metrics``) lends its confusion matrix,
    so the test set is not predicted a second time."""
    from ..core.layers import Conv2D

    try:
        from .. import plots
    except ImportError as exc:  # pragma: no cover - plots package always present
        _say(f"plots skipped: {exc}", quiet)
        return []
    written: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        path = out / f"{name}.{fmt}"
        plots.save_figure(fig, path)
        written.append(path)

    try:
        if len(model.history):
            curves = ("loss", "accuracy") if "accuracy" in model.history else ("loss",)
            save(plots.plot_history(model.history, metrics=curves), "history")
        convolutional = any(isinstance(layer, Conv2D) for layer in model.network.layers)
        if convolutional:  # instead of the dense first layer's weights
            label = data.y_test[0] if data.y_test.ndim == 1 else None
            names = data.class_names
            if label is not None and names and data.y_test.dtype.kind in "iu":
                label = names[label] if names[label] == str(label) else f"{label}, {names[label]}"
            save(plots.plot_conv_kernels(model), "conv_kernels")
            save(plots.plot_feature_maps(model, data.x_test[0], label=label), "feature_maps")
        k = _n_outputs(model)
        if model.classifier and k > 1:
            if metrics is not None and "confusion_matrix" in metrics:
                cm = np.array(metrics["confusion_matrix"])
            else:
                predicted = model.predict(_model_x(model, data.x_test))
                cm = confusion_matrix(data.y_test, predicted, k)
            save(plots.plot_confusion_matrix(cm, class_names=data.class_names), "confusion_matrix")
            if data.image_shape is not None:
                if not convolutional:
                    save(
                        plots.plot_first_layer_weights(model, shape=data.image_shape),
                        "first_layer_weights",
                    )
                # the confusion matrix counts a misclassified sample off its diagonal (the
                # predictions themselves are not at hand when it came with ``metrics``)
                if cm.sum() > np.trace(cm):
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
