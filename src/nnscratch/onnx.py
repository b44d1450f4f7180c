"""Export nnscratch networks to ONNX, for inference in onnxruntime and other ONNX runtimes.

>>> import nnscratch as nn
>>> from nnscratch.onnx import export_onnx
>>> model = nn.Model(nn.mlp([4, 8, 3], "relu", seed=0))
>>> export_onnx(model, "model.onnx")  # doctest: +SKIP
'model.onnx'

The graph, at ONNX opset 17 by default (any opset from 13 to the installed ``onnx``'s newest
can be asked for), mirrors the network's inference pass:

* ``Dense``: one ``Gemm`` (X W + b), then its activation;
* activations with an ONNX operator: ``Relu``, ``Sigmoid``, ``Tanh``, ``LeakyRelu(alpha)``,
  ``Elu(alpha)``, ``Selu(alpha, gamma)``, ``Softplus``, ``Softmax(axis=-1)``; the identity adds
  nothing; GELU (nnscratch's tanh form) is written with ``Clip``/``Mul``/``Add``/``Tanh`` in the
  same order of operations as nnscratch, so it matches to float32 rounding;
* ``Dropout``: removed (the identity at inference);
* ``BatchNorm``: folded into the preceding ``Dense`` when that layer has no activation
  (``W' = W * s``, ``b' = (b - mean) * s + beta``, ``s = gamma / sqrt(var + eps)``, computed in
  float64), otherwise exported as a ``BatchNormalization`` operator with the running statistics
  (the running variance is the unbiased one, as in PyTorch; ONNX's ``momentum``, used only in
  training mode, means what ``BatchNorm.momentum`` means, and PyTorch's is 1 minus it);
* the head (``output="probabilities"``, the default): the loss's output function, i.e.
  ``Softmax`` for ``softmax_cross_entropy``, ``Sigmoid`` for
  ``binary_cross_entropy_with_logits`` and nothing for regression losses, so the ONNX output is
  what ``Model.predict_proba`` (classification) or ``Model.predict`` (regression) returns;
  ``output="logits"`` exports the raw network output (``Model.predict_raw``). A bare
  ``Sequential`` has no loss: its raw output is exported.

Convolutional networks (images laid out N x C x H x W, as in nnscratch and ONNX):

* ``Conv2D``: one ``Conv`` (weights (F, C, kh, kw), bias (F,); zeros for ``use_bias=False``)
  with ``strides`` and ``pads`` = [top, left, bottom, right], then its activation. Numeric
  padding is symmetric; ``"same"`` with an even kernel k pads (k - 1) // 2 above/left and
  k // 2 below/right (PyTorch's convention), written out as explicit, asymmetric ``pads``
  (never ``auto_pad``, whose SAME_UPPER/SAME_LOWER a reader would have to decode);
* a ``BatchNorm`` after a ``Conv2D`` without activation is folded into it per output channel
  (``W'[f] = W[f] s[f]``, ``b'[f] = (b[f] - mean[f]) s[f] + beta[f]``), otherwise it is a
  ``BatchNormalization`` operator, which normalises per channel (axis 1) on 4-D tensors;
* ``MaxPool2D``: ``MaxPool`` (padding never wins, as nnscratch's -inf); ``AvgPool2D``:
  ``AveragePool`` with ``count_include_pad=1`` (nnscratch averages over the whole window,
  padding zeros included); both with ``ceil_mode=0`` (sizes rounded down);
* ``GlobalAvgPool2D``: ``GlobalAveragePool`` (N x C x 1 x 1) then ``Flatten`` to N x C;
* ``Flatten``: ``Flatten(axis=1)``, which keeps each sample's values in row-major (C, H, W)
  order as nnscratch does; ``Reshape``: ``Reshape`` to [-1, *output shape];
* element-wise activations (fused or ``ActivationLayer``) apply to tensors of any rank.

The graph's input is ``["batch", *input_shape]``: N x C x H x W for a network of images,
N x n for flat rows (a network that starts with ``Reshape`` takes flat rows, as nnscratch
does); the batch dimension is dynamic. The graph computes in float32: float64 networks are
exported with their parameters rounded to float32. The ``ir_version`` is the lowest one the
opset allows (8 for opset 17), so older onnxruntime releases load the file.

Other layers (user-defined ``Layer`` subclasses), and activations without an ONNX form (the
perceptron's step, user-defined ``Activation`` subclasses), raise a ``ValueError`` naming the
layer's index and type.

``onnx`` (and ``onnxruntime``, to run the result) are optional: ``pip install 'nnscratch[onnx]'``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import __version__
from .core._types import Array
from .core.activations import (
    ELU,
    GELU,
    SELU,
    Activation,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from .core.layers import (
    ActivationLayer,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    Layer,
    MaxPool2D,
    Reshape,
)
from .core.losses import Loss
from .core.network import Sequential
from .model import Model

if TYPE_CHECKING:  # pragma: no cover
    import onnx
    from onnx import ModelProto

__all__ = [
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "SUPPORTED_ACTIVATIONS",
    "export_model_file",
    "export_onnx",
    "to_onnx",
]

#: The opset written by default.
DEFAULT_OPSET = 17
#: The oldest opset whose operators (``Softmax`` over the last axis, ``Clip`` with tensor
#: bounds) have the semantics the exporter relies on.
MIN_OPSET = 13
#: nnscratch activations with an ONNX form (names as in ``nnscratch.ACTIVATIONS``).
SUPPORTED_ACTIVATIONS = (
    "identity",
    "relu",
    "sigmoid",
    "tanh",
    "leaky_relu",
    "elu",
    "selu",
    "softplus",
    "softmax",
    "gelu",
)

_OUTPUTS = ("probabilities", "logits")


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "ONNX export needs the onnx package: pip install 'nnscratch[onnx]'"
        ) from exc
    return onnx


class _GraphBuilder:
    """Collects nodes and initializers with unique, readable names."""

    def __init__(self, onnx_module: Any) -> None:
        self.onnx = onnx_module
        self.helper = onnx_module.helper
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._used: set[str] = set()

    def name(self, base: str) -> str:
        candidate, k = base, 1
        while candidate in self._used:
            k += 1
            candidate = f"{base}_{k}"
        self._used.add(candidate)
        return candidate

    def constant(self, base: str, value: Array | float) -> str:
        array = np.asarray(value, dtype=np.float32)
        name = self.name(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def integers(self, base: str, values: list[int]) -> str:
        """An int64 initializer (the shape input of ``Reshape``)."""
        name = self.name(base)
        array = np.asarray(values, dtype=np.int64)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op_type: str, inputs: list[str], base: str, **attributes: Any) -> str:
        output = self.name(base)
        self.nodes.append(
            self.helper.make_node(
                op_type, inputs, [output], name=self.name(f"{base}/{op_type}"), **attributes
            )
        )
        return output


def _activation(graph: _GraphBuilder, act: Activation, x: str, prefix: str, where: str) -> str:
    """Append the nodes of ``act`` applied to tensor ``x``; return the result's name."""
    kind = type(act)  # exact types: a subclass may compute something else
    if kind is Identity:
        return x
    if kind is ReLU:
        return graph.node("Relu", [x], f"{prefix}/relu")
    if kind is Sigmoid:
        return graph.node("Sigmoid", [x], f"{prefix}/sigmoid")
    if kind is Tanh:
        return graph.node("Tanh", [x], f"{prefix}/tanh")
    # ``type(act) is C`` (not ``kind is C``) lets a type checker see the class's attributes
    if type(act) is LeakyReLU:
        return graph.node("LeakyRelu", [x], f"{prefix}/leaky_relu", alpha=float(act.alpha))
    if type(act) is ELU:
        return graph.node("Elu", [x], f"{prefix}/elu", alpha=float(act.alpha))
    if type(act) is SELU:
        return graph.node(
            "Selu", [x], f"{prefix}/selu", alpha=float(act.alpha), gamma=float(act.scale)
        )
    if kind is Softplus:
        return graph.node("Softplus", [x], f"{prefix}/softplus")
    if kind is Softmax:
        return graph.node("Softmax", [x], f"{prefix}/softmax", axis=-1)
    if type(act) is GELU:
        return _gelu(graph, act, x, f"{prefix}/gelu")
    raise ValueError(
        f"{where}: activation {kind.__name__} ({getattr(act, 'name', '?')!r}) has no ONNX "
        f"export; supported activations: {', '.join(SUPPORTED_ACTIVATIONS)}"
    )


def _gelu(graph: _GraphBuilder, act: GELU, x: str, prefix: str) -> str:
    """nnscratch's tanh-form GELU, step by step in its own order of float32 operations:

    zc = clip(z, -1e4, 1e4);  t = tanh(c (zc + ((k zc) zc) zc));  out = ((t + 1) z) 0.5
    """
    low = graph.constant(f"{prefix}/clip_min", -1e4)
    high = graph.constant(f"{prefix}/clip_max", 1e4)
    k = graph.constant(f"{prefix}/k", act._k)
    c = graph.constant(f"{prefix}/c", act._c)
    one = graph.constant(f"{prefix}/one", 1.0)
    half = graph.constant(f"{prefix}/half", 0.5)
    zc = graph.node("Clip", [x, low, high], f"{prefix}/zc")
    cube = graph.node("Mul", [k, zc], f"{prefix}/k_z")
    cube = graph.node("Mul", [cube, zc], f"{prefix}/k_z2")
    cube = graph.node("Mul", [cube, zc], f"{prefix}/k_z3")
    inner = graph.node("Add", [zc, cube], f"{prefix}/inner")
    u = graph.node("Mul", [c, inner], f"{prefix}/u")
    t = graph.node("Tanh", [u], f"{prefix}/tanh")
    t = graph.node("Add", [t, one], f"{prefix}/one_plus_tanh")
    t = graph.node("Mul", [t, x], f"{prefix}/times_z")
    return graph.node("Mul", [t, half], f"{prefix}/out")


def _batch_norm_to_fold(layers: list[Layer], i: int) -> tuple[int, BatchNorm] | None:
    """(index, layer) of the ``BatchNorm`` that can be folded into layer ``i`` (a ``Dense`` or
    ``Conv2D``): the next layer that is not a ``Dropout`` (the identity at inference), when
    layer ``i`` has no activation; None otherwise."""
    layer = layers[i]
    if not isinstance(layer, (Dense, Conv2D)) or type(layer.activation) is not Identity:
        return None
    following = i + 1
    while following < len(layers) and type(layers[following]) is Dropout:
        following += 1
    if following < len(layers):
        bn = layers[following]
        if type(bn) is BatchNorm:
            return following, bn
    return None


def _fold_batch_norm(weights: Array, bias: Array, bn: BatchNorm, axis: int) -> tuple[Array, Array]:
    """(W', b') for ``bn`` applied after W, b: W' = W s along the output ``axis`` of W,
    b' = (b - mean) s + beta, s = gamma / sqrt(var + eps), in float64."""
    gamma, beta = _built(bn.gamma).value, _built(bn.beta).value
    running_mean, running_var = _built(bn.running_mean), _built(bn.running_var)
    scale = gamma.astype(np.float64) / np.sqrt(running_var.astype(np.float64) + bn.eps)
    shape = [1] * weights.ndim
    shape[axis] = -1
    shift = (bias - running_mean.astype(np.float64)) * scale + beta
    return weights * scale.reshape(shape), shift


def _conv(
    graph: _GraphBuilder, layer: Conv2D, x: str, index: int, fold: tuple[int, BatchNorm] | None
) -> str:
    """Append the ``Conv`` node of ``layer`` (and of ``fold`` = (the index, the BatchNorm)
    folded into it per output channel, in float64) applied to ``x``; return the result's
    name (before the activation)."""
    weights = _built(layer.W).value.astype(np.float64)
    bias = (
        layer.b.value.astype(np.float64)
        if layer.b is not None  # set by build exactly when use_bias
        else np.zeros(layer.channels, dtype=np.float64)
    )
    folded = ""
    if fold is not None:
        bn_index, bn = fold
        weights, bias = _fold_batch_norm(weights, bias, bn, axis=0)
        folded = f"+bn{bn_index}"
    w = graph.constant(f"layer{index}{folded}/W", weights)
    b = graph.constant(f"layer{index}{folded}/b", bias)
    top, bottom, left, right = layer.pads()
    return graph.node(
        "Conv",
        [x, w, b],
        f"layer{index}/conv",
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.stride),
        pads=[top, left, bottom, right],
    )


_T = TypeVar("_T")


def _built(value: _T | None) -> _T:
    """A parameter, array or shape of the built network: ``to_onnx`` refuses a network that
    is not built, and only then are they None."""
    if value is None:
        raise ValueError("the network is not built yet: build it (or fit the model) first")
    return value


def _resolve(obj: object) -> tuple[Sequential, Loss | None, dict[str, str]]:
    """The network, loss and extra metadata of a Model, a Sequential or a fitted estimator."""
    if isinstance(obj, Model):
        return obj.network, obj.loss, {}
    if isinstance(obj, Sequential):
        return obj, None, {}
    model = getattr(obj, "model_", None)
    if isinstance(model, Model):  # a fitted nnscratch.sklearn estimator
        extra = {"nnscratch.estimator": type(obj).__name__}
        classes = getattr(obj, "classes_", None)
        if classes is not None:
            extra["nnscratch.classes"] = json.dumps(np.asarray(classes).tolist(), default=str)
        return model.network, model.loss, extra
    if hasattr(obj, "get_params") and hasattr(obj, "fit"):
        raise ValueError(
            f"this {type(obj).__name__} is not fitted yet (it has no model_); call fit first"
        )
    raise TypeError(
        "export_onnx needs an nnscratch Model, a Sequential network or a fitted "
        f"nnscratch.sklearn estimator, got {type(obj).__name__}"
    )


def _check_name(value: object, label: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{label} must be a non-empty string, got {value!r}")
    return value


def to_onnx(
    model: Model | Sequential | Any,
    *,
    opset: int = DEFAULT_OPSET,
    input_name: str = "input",
    output_name: str = "output",
    output: str = "probabilities",
) -> onnx.ModelProto:
    """Build and check the ONNX model of ``model`` (see the module docstring); return it.

    ``model`` is an ``nnscratch.Model``, a built ``Sequential`` or a fitted
    ``nnscratch.sklearn`` estimator (its ``model_``; the class labels go into the metadata as
    ``nnscratch.classes``, in output-column order).
    """
    onnx = _import_onnx()
    helper = onnx.helper
    network, loss, extra = _resolve(model)
    if not network.built:
        raise ValueError("the network is not built yet: build it (or fit the model) first")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise ValueError(f"opset must be an integer, got {opset!r}")
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"opset must be between {MIN_OPSET} and {newest} (the newest this onnx "
            f"{onnx.__version__} knows), got {opset}"
        )
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
    input_name = _check_name(input_name, "input_name")
    output_name = _check_name(output_name, "output_name")
    if input_name == output_name:
        raise ValueError(f"input_name and output_name must differ, both are {input_name!r}")

    graph = _GraphBuilder(onnx)
    graph.name(input_name)
    graph.name(output_name)
    current = input_name
    layers = network.layers
    i = 0
    while i < len(layers):
        layer = layers[i]
        kind = type(layer)
        where = f"layer {i} ({kind.__name__}: {layer.describe()})"
        # exact types (``type(layer) is C``, which also tells a type checker the class): a
        # subclass may compute something else
        if type(layer) is Dropout:  # the identity at inference
            i += 1
            continue
        if type(layer) is Dense:
            weights = _built(layer.W).value.astype(np.float64)
            bias = _built(layer.b).value.astype(np.float64)
            fold = _batch_norm_to_fold(layers, i)
            folded = ""
            if fold is not None:
                weights, bias = _fold_batch_norm(weights, bias, fold[1], axis=1)
                folded = f"+bn{fold[0]}"
            w = graph.constant(f"layer{i}{folded}/W", weights)
            b = graph.constant(f"layer{i}{folded}/b", bias)
            current = graph.node("Gemm", [current, w, b], f"layer{i}/dense")
            current = _activation(graph, layer.activation, current, f"layer{i}", where)
            i = i + 1 if fold is None else fold[0] + 1
            continue
        if type(layer) is ActivationLayer:
            current = _activation(graph, layer.activation, current, f"layer{i}", where)
        elif type(layer) is BatchNorm:
            inputs = [current]
            for key, array in (
                ("scale", _built(layer.gamma).value),
                ("bias", _built(layer.beta).value),
                ("mean", _built(layer.running_mean)),
                ("var", _built(layer.running_var)),
            ):
                inputs.append(graph.constant(f"layer{i}/bn_{key}", array))
            current = graph.node(
                "BatchNormalization", inputs, f"layer{i}/batch_norm", epsilon=float(layer.eps)
            )
        elif type(layer) is Conv2D:
            fold = _batch_norm_to_fold(layers, i)
            current = _conv(graph, layer, current, i, fold)
            current = _activation(graph, layer.activation, current, f"layer{i}", where)
            i = i + 1 if fold is None else fold[0] + 1
            continue
        elif type(layer) is MaxPool2D or type(layer) is AvgPool2D:
            top, bottom, left, right = layer.pads()
            options = {"count_include_pad": 1} if kind is AvgPool2D else {}
            current = graph.node(
                "MaxPool" if kind is MaxPool2D else "AveragePool",
                [current],
                f"layer{i}/{'max' if kind is MaxPool2D else 'avg'}_pool",
                kernel_shape=list(layer.pool_size),
                strides=list(layer.stride),
                pads=[top, left, bottom, right],
                ceil_mode=0,
                **options,
            )
        elif type(layer) is GlobalAvgPool2D:
            current = graph.node("GlobalAveragePool", [current], f"layer{i}/global_avg_pool")
            current = graph.node("Flatten", [current], f"layer{i}/flatten", axis=1)
        elif type(layer) is Flatten:
            current = graph.node("Flatten", [current], f"layer{i}/flatten", axis=1)
        elif type(layer) is Reshape:
            shape = graph.integers(f"layer{i}/shape", [-1, *_built(layer.output_shape)])
            current = graph.node("Reshape", [current, shape], f"layer{i}/reshape")
        else:
            raise ValueError(
                f"{where} cannot be exported to ONNX: supported layers are Dense, Conv2D, "
                "MaxPool2D, AvgPool2D, GlobalAvgPool2D, Flatten, Reshape, ActivationLayer, "
                "Dropout and BatchNorm"
            )
        i += 1

    produced = output if output == "logits" else "raw"  # what the graph's output holds
    if output == "probabilities" and loss is not None:
        head = _activation(
            graph, loss.output_activation, current, "head", f"the output of loss {loss.name!r}"
        )
        produced = "probabilities" if head != current else produced
        current = head
    if current == input_name:  # nothing to compute (e.g. only dropout): still a valid graph
        current = graph.node("Identity", [current], "identity")
    graph.nodes[-1].output[0] = output_name  # the last node writes the graph's output

    float32 = onnx.TensorProto.FLOAT
    onnx_graph = helper.make_graph(
        graph.nodes,
        "nnscratch",
        [
            helper.make_tensor_value_info(
                input_name, float32, ["batch", *_built(network.input_shape)]
            )
        ],
        [
            helper.make_tensor_value_info(
                output_name, float32, ["batch", *_built(network.output_shape)]
            )
        ],
        initializer=graph.initializers,
    )
    opset_imports = [helper.make_opsetid("", int(opset))]
    proto: ModelProto = helper.make_model(
        onnx_graph,
        opset_imports=opset_imports,
        producer_name="nnscratch",
        producer_version=__version__,
        doc_string=f"nnscratch network {network!r}, loss "
        f"{loss.name if loss is not None else 'none'}, output {produced}",
    )
    proto.ir_version = helper.find_min_ir_version_for(opset_imports)
    helper.set_model_props(
        proto,
        {
            "nnscratch.version": __version__,
            "nnscratch.loss": loss.name if loss is not None else "",
            "nnscratch.output": produced,
            **extra,
        },
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(
    model: Model | Sequential | Any,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    input_name: str = "input",
    output_name: str = "output",
    output: str = "probabilities",
) -> str:
    """Write ``model`` as an ONNX file at ``path`` (atomically); return the path.

    ``output="probabilities"`` (default) ends the graph with the loss's output function
    (softmax / sigmoid for classifiers trained on logits), ``"logits"`` exports the raw
    network output. See ``to_onnx`` and the module docstring for what is supported.
    """
    proto = to_onnx(
        model, opset=opset, input_name=input_name, output_name=output_name, output=output
    )
    _write_atomic(Path(path), proto.SerializeToString())
    return str(path)


def export_model_file(
    model_path: str | os.PathLike[str], onnx_path: str | os.PathLike[str], **options: Any
) -> str:
    """Load an nnscratch model file (``Model.save``) and export it to ``onnx_path``.

    ``options`` are those of ``export_onnx``. Errors: ``ImportError`` without the onnx
    package, ``nnscratch.ModelFileError`` for a missing or invalid model file, ``ValueError``
    for a network or option that cannot be exported. Backs ``nnscratch export``.
    """
    _import_onnx()  # fail on the missing package before reading anything
    unknown = sorted(set(options) - {"opset", "input_name", "output_name", "output"})
    if unknown:
        raise TypeError(f"unknown export option(s): {', '.join(unknown)}")
    model = Model.load(model_path)
    return export_onnx(model, onnx_path, **options)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it over ``path``."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give the path of the .onnx file to write")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    temp = folder / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
