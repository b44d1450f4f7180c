"""The feed-forward network: a stack of layers run forward, then backward (seed 001).

Forward pass:  A_0 = X,  A_l = layer_l(A_{l-1}),  output = A_L.
Backward pass: G_L = dL/dA_L from the loss, then G_{l-1} = layer_l.backward(G_l), which also
fills every parameter's gradient on the way (the chain rule, one layer at a time).

Shapes: the network's input is described per sample, ``input_shape`` = (n,) for rows of n
features (``input_dim=n``) or (C, H, W) for images (``input_shape=(C, H, W)``, a batch being
N x C x H x W); building passes each layer the previous one's ``output_shape``.

Sparse rows: a network whose first layer is ``Dense`` also takes X as a SciPy sparse matrix
(``nnscratch.core.sparse``); that layer computes from the non-zeros, the rest is dense.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ._types import Array
from .activations import Activation, Sigmoid
from .initializers import Initializer, SeedLike, as_generator
from .layers import (
    ActivationLayer,
    BatchNorm,
    Dense,
    Dropout,
    Layer,
    Parameter,
    as_shape,
    layer_config,
    layer_from_config,
    values_per_sample,
)
from .layers.base import Shape, shape_text
from .sparse import SparseRows, check_sparse_input, is_sparse, n_rows
from .validation import cast_checked, check_finite, check_input

#: Rows per chunk at inference: small enough that a chunk's activations stay in the L2 cache
#: (2048 x 256 float32 = 2 MB), large enough that each matrix product runs at full speed;
#: 10,000 rows in one go are about 20% slower.
PREDICT_BATCH = 2048
#: ... and at most this many bytes of activations and scratch per chunk: a convolutional
#: network's im2col matrices take hundreds of values per pixel, so its chunks get fewer rows
#: (a 2048-image chunk of a two-conv-layer MNIST net would hold about 1 GB).
PREDICT_CHUNK_BYTES = 64 << 20


class Sequential:
    """A network of any depth: layers applied one after the other.

    >>> net = Sequential([Dense(30, "sigmoid"), Dense(10)], input_dim=784, seed=0)
    >>> net.predict(np.zeros((2, 784), dtype=np.float32)).shape
    (2, 10)
    >>> from nnscratch.core.layers import Conv2D, Flatten, MaxPool2D
    >>> cnn = Sequential([Conv2D(4, 3, activation="relu"), MaxPool2D(2), Flatten(), Dense(10)],
    ...                  input_shape=(1, 8, 8), seed=0)
    >>> [layer.output_shape for layer in cnn.layers]
    [(4, 6, 6), (4, 3, 3), (36,), (10,)]

    The dtype of the parameters (float32 by default; ``dtype=np.float64`` on request) decides the
    dtype of the whole computation: inputs are cast to it.

    After ``build``, all parameters live in one contiguous array (``flat_parameter``) and every
    layer's W and b are views into it; the same holds for the gradients. An optimizer may update
    the parameters one by one (``parameters()``) or all at once through the flat view, with the
    same result: the flat form just costs fewer NumPy calls per step.
    """

    def __init__(
        self,
        layers: Iterable[Layer],
        input_dim: int | None = None,
        *,
        input_shape: int | Shape | None = None,
        seed: SeedLike = None,
        dtype: npt.DTypeLike = np.float32,
    ) -> None:
        self.layers: list[Layer] = list(layers)
        if not self.layers:
            raise ValueError("a Sequential network needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is a {type(layer).__name__}, not an nnscratch Layer")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = seed
        self.flat_parameter: Parameter | None = None
        if input_dim is not None and input_shape is not None:
            if as_shape(input_shape, "input_shape") != as_shape(input_dim, "input_dim"):
                raise ValueError(
                    f"input_dim={input_dim!r} and input_shape={input_shape!r} disagree; give one"
                )
        if input_shape is None:
            input_shape = input_dim
        if input_shape is None:
            input_shape = getattr(self.layers[0], "requested_input_dim", None)
        if all(layer.built for layer in self.layers):
            self._finish_build()
        elif input_shape is not None:
            self.build(input_shape)

    # -- building ----------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.flat_parameter is not None

    def build(self, input_shape: int | Shape, seed: SeedLike = None) -> Sequential:
        """Create every layer's parameters for samples of ``input_shape``: an int n (rows of n
        features, as ``input_dim``) or a tuple such as (C, H, W) for images.

        Each layer receives the previous layer's output shape (an int for flat rows, so layers
        written for widths keep working); a layer that cannot take it raises a ValueError
        naming its index, itself and the shape."""
        if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
            if input_shape < 1:
                raise ValueError(f"input_dim must be a positive integer, got {input_shape!r}")
        shape = as_shape(input_shape, "input_shape")
        rng = as_generator(self.seed if seed is None else seed)
        for i, layer in enumerate(self.layers):
            try:
                layer.build(shape[0] if len(shape) == 1 else shape, rng, self.dtype)
            except ValueError as exc:
                raise ValueError(f"layer {i}: {exc}") from None
            if layer.output_shape is None:
                raise RuntimeError(f"layer {i} ({layer.describe()}) set no output shape")
            shape = layer.output_shape
        self._finish_build()
        return self

    def _finish_build(self) -> None:
        shape = self.layers[0].input_shape
        self.dtype = self.layers[0].dtype
        for i, layer in enumerate(self.layers):
            if layer.input_shape != shape:
                what = (
                    f"{layer.input_dim} inputs but the previous layer produces {shape[0]}"
                    if shape is not None
                    and layer.input_shape is not None
                    and len(shape) == 1
                    and len(layer.input_shape) == 1
                    else f"samples of shape {layer.input_shape} but the previous layer "
                    f"produces {shape}"
                )
                raise ValueError(f"layer {i} ({layer.describe()}) takes {what}")
            if layer.dtype != self.dtype:
                raise ValueError(
                    f"layer {i} ({layer.describe()}) computes in {layer.dtype} but layer 0 in "
                    f"{self.dtype}; give every layer the same dtype"
                )
            shape = layer.output_shape
        self._pack_parameters()

    def _pack_parameters(self) -> None:
        """Move every parameter (and gradient) into one contiguous array, keeping views."""
        params = self.parameters()
        total = sum(p.value.size for p in params)
        flat_value = np.empty(total, dtype=self.dtype)
        flat_grad = np.zeros(total, dtype=self.dtype)
        offset = 0
        for p in params:
            size = p.value.size
            view = flat_value[offset : offset + size].reshape(p.value.shape)
            view[...] = p.value
            p.value = view
            p.grad = flat_grad[offset : offset + size].reshape(p.value.shape)
            offset += size
        self.flat_parameter = Parameter("all", flat_value, flat_grad, "mixed")

    def __getstate__(self) -> dict[str, Any]:
        # Pickling (and deep-copying) turns the per-layer views into independent arrays, so
        # the flat buffer is left out and rebuilt from the layers on the way back in.
        state = dict(self.__dict__)
        state["flat_parameter"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if all(layer.built for layer in self.layers):
            self._pack_parameters()

    def _shape(self, which: str) -> Shape:
        """``input_shape`` or ``output_shape`` of a built network (a RuntimeError otherwise)."""
        shape: Shape | None = getattr(self, which)
        if shape is None:
            self._require_built(f"read the {which.replace('_', ' ')}")
            raise RuntimeError(f"the network has no {which.replace('_', ' ')}")
        return shape

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise RuntimeError(
                f"cannot {what}: the network is not built yet; pass input_dim= (or "
                "input_shape=(C, H, W) for images) when creating it, or call build()"
            )

    # -- parameters --------------------------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """("<layer index>.<name>", parameter) pairs, e.g. ("0.W", ...)."""
        return [
            (f"{i}.{p.name}", p) for i, layer in enumerate(self.layers) for p in layer.parameters()
        ]

    @property
    def n_parameters(self) -> int:
        return sum(p.value.size for p in self.parameters())

    @property
    def input_dim(self) -> int | None:
        """Values per input sample: n for rows of n features, C*H*W for images."""
        return self.layers[0].input_dim

    @property
    def output_dim(self) -> int | None:
        return self.layers[-1].output_dim

    @property
    def input_shape(self) -> Shape | None:
        """One input sample's shape: (n,) for rows, (C, H, W) for images."""
        return self.layers[0].input_shape

    def values_per_sample(self, training: bool = True) -> int:
        """Values one sample takes on its way through the built network, in training (outputs,
        saved inputs, gradients, scratch) or at inference (see ``layers.values_per_sample``)."""
        self._require_built("values_per_sample")
        rows: list[tuple[Layer, Shape, Shape]] = []
        for layer in self.layers:
            if layer.input_shape is None or layer.output_shape is None:
                raise RuntimeError(f"{layer.describe()} is not built")
            rows.append((layer, layer.input_shape, layer.output_shape))
        return values_per_sample(rows, training)

    @property
    def output_shape(self) -> Shape | None:
        return self.layers[-1].output_shape

    def get_weights(self) -> dict[str, Array]:
        """Copies of every parameter and state array, keyed "<layer>.<name>"."""
        weights = {name: p.value.copy() for name, p in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            for key, value in layer.state().items():
                weights[f"{i}.{key}"] = value.copy()
        return weights

    def set_weights(self, weights: dict[str, Array]) -> None:
        """Copy arrays (as from ``get_weights``) into the network, checking names and shapes."""
        self._require_built("set weights")
        expected = {name: p.value for name, p in self.named_parameters()}
        for i, layer in enumerate(self.layers):
            for key, value in layer.state().items():
                expected[f"{i}.{key}"] = value
        missing = sorted(set(expected) - set(weights))
        extra = sorted(set(weights) - set(expected))
        if missing or extra:
            raise ValueError(
                f"weights do not match the network: missing {missing}, unexpected {extra}"
            )
        for name, target in expected.items():
            value = np.asarray(weights[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"weight {name!r} has shape {value.shape}, expected {target.shape}"
                )
            if not np.isfinite(value).all():
                raise ValueError(f"weight {name!r} contains NaN or infinite values")
            np.copyto(target, value, casting="unsafe")

    # -- computation -------------------------------------------------------------------------
    def check_input(
        self,
        x: object,
        where: str,
        dtype: np.dtype[Any] | type | None = None,
        name: str = "x",
        finite: bool = True,
    ) -> Array | SparseRows:
        """``x`` validated as the network's input (``validation.check_input``) and cast to
        ``dtype``; a SciPy sparse matrix is validated as such and returned as CSR
        (``sparse.check_sparse_input``), for a network whose first layer is ``Dense`` only:
        any other layer would need the dense matrix."""
        if not is_sparse(x):
            return check_input(x, self.input_shape, where, dtype, name=name, finite=finite)
        first = self.layers[0]
        if not isinstance(first, Dense):
            raise ValueError(
                f"{name} passed to {where} is a sparse matrix, which only a network whose first "
                f"layer is Dense can take; {self.describe_layer(0)} would need it dense: pass "
                f"{name}.toarray() if it fits in memory"
            )
        return check_sparse_input(x, self.input_shape, where, dtype, name=name, finite=finite)

    def forward(self, x: Array | SparseRows, training: bool = False) -> Array:
        """The network's raw output for a batch (validated, returned as a new array)."""
        self._require_built("run forward")
        x = self.check_input(x, f"{self.describe_layer(0)} (the network input)", self.dtype)
        out: Array = self._forward(x, training).copy()
        return out

    @property
    def ends_with_sigmoid(self) -> bool:
        """True when the network's last operation is a sigmoid: a ``Dense`` layer with a sigmoid
        activation or a sigmoid ``ActivationLayer``. Its input z is then the output's logits,
        which ``_forward``, ``backward`` and ``predict`` can work with directly (``logits=True``)."""
        last = self.layers[-1]
        return isinstance(last, (Dense, ActivationLayer)) and type(last.activation) is Sigmoid

    def _require_sigmoid_output(self) -> None:
        if not self.ends_with_sigmoid:
            raise ValueError(
                f"logits=True needs a network whose last operation is a sigmoid; its last layer "
                f"is {self.describe_layer(len(self.layers) - 1)}"
            )

    def _forward(
        self, x: Array | SparseRows, training: bool = False, logits: bool = False
    ) -> Array:
        """Forward pass without checks; the result is a buffer reused by the next call.

        ``logits=True`` (for a network that ``ends_with_sigmoid``) returns the final sigmoid's
        input z instead of its output sigma(z). A sparse ``x`` (CSR in the network's dtype, from
        ``check_input``) goes to the first layer, a ``Dense``, which returns a dense array.
        """
        layers = self.layers
        top = layers[-1]
        if logits:
            self._require_sigmoid_output()
            if isinstance(top, ActivationLayer):
                # the output of the layers below a final sigmoid layer is its input z
                layers = layers[:-1]
        h: Array
        if is_sparse(x):
            h = self._sparse_dense(0).forward(x, training)
            layers = layers[1:]
        else:
            h = x
        for layer in layers:
            h = layer.forward(h, training)
        if logits and isinstance(top, Dense):
            if top._z is None:
                raise RuntimeError(f"{top.describe()} kept no z from its forward pass")
            return top._z
        return h

    def _sparse_dense(self, index: int) -> Dense:
        """Layer ``index``, which receives a sparse batch: a ``Dense`` layer, else a ValueError
        naming it (only a dense layer's product can be taken from the non-zeros)."""
        layer = self.layers[index]
        if not isinstance(layer, Dense):
            raise ValueError(
                f"a sparse matrix reached {self.describe_layer(index)}; only a first Dense "
                "layer takes sparse rows: pass x.toarray() if it fits in memory"
            )
        return layer

    def backward(
        self, grad_output: Array, need_input_grad: bool = True, logits: bool = False
    ) -> Array | None:
        """Backpropagate dL/d(output); fills every parameter's ``grad``; returns dL/dX.

        ``need_input_grad=False`` skips the first layer's dL/dX product, which training never
        uses: for MNIST's first layer it is the largest matrix multiply of the backward pass.
        ``logits=True`` (after ``_forward(..., logits=True)``) takes dL/dz for the final
        sigmoid's input z instead, and backpropagates from there without the sigmoid's
        derivative.
        """
        grad: Array | None = grad_output
        last = len(self.layers) - 1
        if logits:
            self._require_sigmoid_output()
            top = self.layers[last]
            if isinstance(top, Dense):
                grad = top.backward_from_z(grad_output, need_input_grad or last > 0)
            last -= 1
        for i in range(last, -1, -1):
            if grad is None:  # only a first layer asked for no input gradient returns None
                raise RuntimeError(f"{self.describe_layer(i + 1)} returned no input gradient")
            grad = self.layers[i].backward(grad, need_input_grad or i > 0)
        return grad

    def predict(
        self, x: Array | SparseRows, batch_size: int | None = PREDICT_BATCH, *, logits: bool = False
    ) -> Array:
        """Raw outputs for any number of samples, computed ``batch_size`` rows at a time (or
        fewer, where a chunk's activations and scratch would pass ``PREDICT_CHUNK_BYTES``).

        ``logits=True`` returns the final sigmoid's input z instead (see ``ends_with_sigmoid``).
        A SciPy sparse ``x`` is checked and cast once (its non-zeros only), then cut into
        chunks of rows, each multiplied in sparse form by the first ``Dense`` layer.
        """
        self._require_built("predict")
        if logits:
            self._require_sigmoid_output()
        where = f"{self.describe_layer(0)} (the network input)"
        sparse = is_sparse(x)
        x = self.check_input(x, where, self.dtype if sparse else None, finite=sparse)
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        n = n_rows(x)
        step = n if batch_size is None else batch_size
        per_row = np.dtype(self.dtype).itemsize * self.values_per_sample(training=False)
        if sparse:  # the chunk's rows are not made dense: only the activations count
            per_row -= np.dtype(self.dtype).itemsize * (self.input_dim or 0)
        step = max(1, min(step, PREDICT_CHUNK_BYTES // max(per_row, 1)))
        out = np.empty((n, *self._shape("output_shape")), dtype=self.dtype)
        for start in range(0, n, step):
            if is_sparse(x):
                out[start : start + step] = self._forward(x[start : start + step], False, logits)
                continue
            chunk = cast_checked(x[start : start + step], self.dtype, "x", where)
            # checked chunk by chunk: the rows are then still in cache for the first product
            check_finite(chunk, "x", where)
            out[start : start + step] = self._forward(chunk, False, logits)
        return out

    __call__ = predict

    # -- description -------------------------------------------------------------------------
    def describe_layer(self, index: int) -> str:
        return f"layer {index} ({self.layers[index].describe()})"

    def summary(self, print_fn: Callable[[str], object] | None = print) -> str:
        """A table of layers, output shapes and parameter counts (printed and returned)."""
        rows = [("#", "layer", "output shape", "parameters")]
        for i, layer in enumerate(self.layers):
            count = sum(p.value.size for p in layer.parameters())
            shape = (
                "(N, " + ", ".join(map(str, layer.output_shape)) + ")"
                if layer.output_shape is not None
                else "?"
            )
            rows.append((str(i), layer.describe(), shape, f"{count:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(widths) + 6)

        def fmt(r: tuple[str, str, str, str]) -> str:
            return "  ".join(
                r[c].ljust(widths[c]) if c < 3 else r[c].rjust(widths[c]) for c in range(4)
            )

        body = [fmt(rows[0]), line, *(fmt(r) for r in rows[1:]), line]
        if self.input_shape is not None and len(self.input_shape) > 1:
            source = f"{shape_text(self.input_shape)} images (N, {', '.join(map(str, self.input_shape))})"
        else:
            source = f"{self.input_dim} features"
        body.append(
            f"input: {source}   parameters: {self.n_parameters:,}   dtype: {self.dtype.name}"
        )
        text = "\n".join(body)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        inner = ", ".join(layer.describe() for layer in self.layers)
        if self.input_shape is not None and len(self.input_shape) > 1:
            return f"{type(self).__name__}([{inner}], input_shape={self.input_shape})"
        return f"{type(self).__name__}([{inner}], input_dim={self.input_dim})"

    # -- copies and conversions --------------------------------------------------------------
    def architecture(self) -> dict[str, Any]:
        """A JSON-ready description from which ``from_architecture`` rebuilds the network.

        ``input_dim`` is the number of values per sample; a network of images also records
        ``input_shape`` ([C, H, W]), which then decides. A network of rows is described
        exactly as in version 0.1.0."""
        arch: dict[str, Any] = {
            "input_dim": self.input_dim,
            "dtype": self.dtype.name,
            "layers": [layer_config(layer) for layer in self.layers],
        }
        if self.input_shape is not None and len(self.input_shape) > 1:
            arch["input_shape"] = list(self.input_shape)
        return arch

    @classmethod
    def from_architecture(
        cls, architecture: dict[str, Any], weights: dict[str, Array] | None = None
    ) -> Sequential:
        layers = [layer_from_config(c) for c in architecture["layers"]]
        shape = architecture.get("input_shape")
        net = Sequential(
            layers,
            input_shape=architecture["input_dim"] if shape is None else tuple(shape),
            seed=0,
            dtype=architecture.get("dtype", "float32"),
        )
        if weights is not None:
            net.set_weights(weights)
        return net

    def astype(self, dtype: npt.DTypeLike) -> Sequential:
        """A copy of the network computing in ``dtype`` (e.g. float64 for gradient checks).

        The layers are deep-copied, so user-defined activations and layers survive.
        """
        self._require_built("convert")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        net = copy.deepcopy(self)
        net.dtype = dtype
        for layer in net.layers:
            layer.dtype = dtype
            layer._buffers = {}
            for p in layer.parameters():
                p.value = p.value.astype(dtype)
                p.grad = p.grad.astype(dtype)
            for key, value in layer.state().items():
                setattr(layer, key, value.astype(dtype))
        net._pack_parameters()
        return net

    def copy(self) -> Sequential:
        return self.astype(self.dtype)

    @classmethod
    def from_arrays(
        cls,
        weights: Sequence[Array],
        biases: Sequence[Array],
        activations: str | Activation | Sequence[str | Activation | None] = "sigmoid",
        output_activation: str | Activation | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> Sequential:
        """A network from existing weight matrices W_k (n_in x n_out) and bias vectors b_k.

        ``activations`` is one name for every hidden layer or one entry per layer;
        ``output_activation`` (default identity) applies to the last layer when a single hidden
        activation name is given.
        """
        if len(weights) != len(biases) or not weights:
            raise ValueError(
                f"need one bias per weight matrix, got {len(weights)} weight matrices and "
                f"{len(biases)} biases"
            )
        if isinstance(activations, (str, Activation)) or activations is None:
            acts = [activations] * (len(weights) - 1) + [output_activation]
        else:
            acts = list(activations)
            if len(acts) != len(weights):
                raise ValueError(f"got {len(acts)} activations for {len(weights)} layers")
        if dtype is None:
            first = np.asarray(weights[0])
            dtype = first.dtype if first.dtype in (np.float32, np.float64) else np.float32
        layers = [
            Dense.from_arrays(w, b, a, dtype=dtype)
            for w, b, a in zip(weights, biases, acts, strict=True)
        ]
        return cls(layers, dtype=dtype)

    @classmethod
    def from_npz(
        cls,
        path: str | os.PathLike[str],
        activations: str | Activation | Sequence[str | Activation | None] = "sigmoid",
        output_activation: str | Activation | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> Sequential:
        """A network from an ``.npz`` holding W1, b1, W2, b2, ... (e.g. Saito's sample weights)."""
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        except FileNotFoundError:
            raise FileNotFoundError(f"weights file not found: {path}") from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a readable .npz archive: {exc}") from None
        count = 0
        while f"W{count + 1}" in arrays:
            count += 1
        if count == 0 or any(f"b{k}" not in arrays for k in range(1, count + 1)):
            raise ValueError(f"{path} must hold arrays W1, b1, W2, b2, ...; found {sorted(arrays)}")
        ws = [arrays[f"W{k}"] for k in range(1, count + 1)]
        bs = [arrays[f"b{k}"] for k in range(1, count + 1)]
        return cls.from_arrays(ws, bs, activations, output_activation, dtype)


def mlp(
    sizes: Sequence[int],
    activation: str | Activation = "relu",
    output_activation: str | Activation | None = None,
    *,
    weight_init: str | Initializer | float | None = None,
    bias_init: str | Initializer | float = 0.0,
    dropout: float = 0.0,
    batch_norm: bool = False,
    seed: SeedLike = None,
    dtype: npt.DTypeLike = np.float32,
) -> Sequential:
    """A multi-layer perceptron from its layer sizes, e.g. ``mlp([784, 30, 10], "sigmoid")``.

    ``sizes[0]`` is the input width, ``sizes[-1]`` the output width; every hidden layer uses
    ``activation`` (optionally followed by batch norm and dropout), the last layer
    ``output_activation`` (identity by default: logits for softmax + cross-entropy).
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes
    ):
        raise ValueError(
            f"sizes must be at least two positive integers (input, ..., output), got {sizes}"
        )
    layers: list[Layer] = []
    for width in sizes[1:-1]:
        if batch_norm:  # normalise Z before the non-linearity, as Ioffe & Szegedy do
            layers += [
                Dense(width, weight_init=weight_init),
                BatchNorm(),
                ActivationLayer(activation),
            ]
        else:
            layers.append(Dense(width, activation, weight_init=weight_init, bias_init=bias_init))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(sizes[-1], output_activation, weight_init=weight_init, bias_init=bias_init))
    return Sequential(layers, sizes[0], seed=seed, dtype=dtype)
