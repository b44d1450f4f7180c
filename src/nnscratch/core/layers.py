"""Layers: small classes with ``forward`` and ``backward``.

Each layer keeps what its backward pass needs from the forward pass, and exposes its trainable
arrays as ``Parameter`` objects (value + gradient) through ``parameters()``: an optimizer updates
any layer through that list without knowing what the layer is.

Shapes follow the articles: a batch is a matrix X of N rows (samples) by n_in columns, and a
dense layer computes Z = X W + b with W of shape n_in x n_out, so a whole batch is one matrix
product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation, Identity, get_activation
from .constants import constant_vector
from .initializers import Initializer, Zeros, default_initializer, get_initializer
from .validation import check_input

Array = np.ndarray


@dataclass(eq=False)
class Parameter:
    """A trainable array and the gradient of the loss with respect to it.

    ``kind`` is ``"weight"`` for arrays that regularization should shrink and ``"bias"`` for the
    ones it should leave alone (biases, batch-norm shifts and scales), as in Nielsen's L2.
    Updates must be made in place (``p.value -= ...``): the arrays may be views into one
    contiguous buffer shared by the whole network.
    """

    name: str
    value: Array
    grad: Array
    kind: str = "weight"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape


class Layer:
    """Base class. Subclasses implement ``build``, ``forward``, ``backward`` and ``config``."""

    #: Whether the layer's output width equals its input width (activations, dropout...).
    keeps_width = True

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.input_dim: int | None = None
        self.output_dim: int | None = None
        self.dtype: np.dtype = np.dtype(np.float32)
        self._buffers: dict[str, Array] = {}

    # -- construction ------------------------------------------------------------------------
    def build(self, input_dim: int, rng: np.random.Generator, dtype=np.float32) -> None:
        """Create parameters for inputs of width ``input_dim``."""
        self.input_dim = int(input_dim)
        self.output_dim = self.input_dim
        self.dtype = np.dtype(dtype)

    @property
    def built(self) -> bool:
        return self.input_dim is not None

    def parameters(self) -> list[Parameter]:
        return []

    def state(self) -> dict[str, Array]:
        """Non-trainable arrays that are part of the model (batch-norm running statistics)."""
        return {}

    def set_state(self, state: dict[str, Array]) -> None:
        for key, value in state.items():
            np.copyto(getattr(self, key), value)

    # -- computation -------------------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        raise NotImplementedError

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        raise NotImplementedError

    #: Attributes that hold what the last forward pass computed (for the backward pass); they
    #: are not part of the model and are dropped when a layer is copied or pickled.
    _TRANSIENT = ("_x", "_z", "_a", "_mask", "_cache")

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_buffers"] = {}
        for key in self._TRANSIENT:
            if key in state:
                state[key] = None
        return state

    def _buffer(self, key: str, shape: tuple[int, ...]) -> Array:
        """A scratch array of ``shape`` reused across calls.

        One allocation serves every batch up to the largest seen so far (a view of its first
        rows is returned), so an epoch's smaller last batch or a final inference chunk does
        not allocate fresh memory, whose first touch costs page faults.
        """
        buf = self._buffers.get(key)
        if buf is None or buf.shape[1:] != shape[1:] or buf.shape[0] < shape[0]:
            buf = np.empty(shape, dtype=self.dtype)
            self._buffers[key] = buf
        return buf[: shape[0]]

    # -- description -------------------------------------------------------------------------
    def config(self) -> dict:
        return {"name": self.name}

    def describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe_args()})"

    def describe_args(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items() if v is not None)


class Dense(Layer):
    """Fully connected layer: Z = X W + b, optionally followed by an activation A = f(Z).

    Backward pass, for the incoming gradient G = dL/dA (N x n_out):
        dL/dZ = G * f'(Z)                  (element-wise; the activation's ``backward``)
        dL/dW = X^T dL/dZ                  (n_in x n_out, summed over the batch)
        dL/db = sum over rows of dL/dZ     (n_out)
        dL/dX = dL/dZ W^T                  (N x n_in, passed to the previous layer)

    Fusing the activation into the layer saves a pass over memory and a Python call per step.
    """

    keeps_width = False

    def __init__(
        self,
        units: int,
        activation: str | Activation | None = None,
        *,
        input_dim: int | None = None,
        weight_init: str | Initializer | float | None = None,
        bias_init: str | Initializer | float = 0.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = get_activation(activation)
        if not self.activation.differentiable:
            raise ValueError(
                f"activation {self.activation.name!r} has no usable gradient and cannot be used "
                "in a trainable Dense layer"
            )
        self.weight_init = (
            default_initializer(self.activation.name)
            if weight_init is None
            else get_initializer(weight_init)
        )
        self.bias_init = (
            Zeros(warn=False)
            if bias_init == 0.0 or bias_init == "zeros"
            else get_initializer(bias_init)
        )
        if hasattr(self.bias_init, "warn"):
            self.bias_init.warn = (
                False  # a constant bias is normal; only weights need symmetry breaking
            )
        self.requested_input_dim = input_dim
        self.W: Parameter | None = None
        self.b: Parameter | None = None
        self._x: Array | None = None
        self._z: Array | None = None
        self._a: Array | None = None

    def build(self, input_dim: int, rng: np.random.Generator, dtype=np.float32) -> None:
        if self.requested_input_dim is not None and self.requested_input_dim != input_dim:
            raise ValueError(
                f"{self.describe()} was declared with input_dim={self.requested_input_dim} but "
                f"receives {input_dim} features from the previous layer"
            )
        super().build(input_dim, rng, dtype)
        self.output_dim = self.units
        shape = (self.input_dim, self.units)
        w = self.weight_init(shape, rng, self.dtype)
        b = self.bias_init((self.units,), rng, self.dtype)
        self.W = Parameter("W", w, np.zeros_like(w), "weight")
        self.b = Parameter("b", b, np.zeros_like(b), "bias")

    @classmethod
    def from_arrays(
        cls,
        weights: Array,
        bias: Array,
        activation: str | Activation | None = None,
        name: str | None = None,
        dtype=None,
    ) -> Dense:
        """A built layer with the given W (n_in x n_out) and b (n_out)."""
        w = np.asarray(weights)
        b = np.asarray(bias)
        if w.ndim != 2:
            raise ValueError(f"weights must be a 2-D (n_in, n_out) array, got shape {w.shape}")
        if b.shape not in ((w.shape[1],), (1, w.shape[1])):
            raise ValueError(
                f"bias has shape {b.shape}, but weights {w.shape} need a bias of shape ({w.shape[1]},)"
            )
        dtype = np.dtype(dtype or (w.dtype if w.dtype.kind == "f" else np.float32))
        layer = cls(w.shape[1], activation, name=name)
        Layer.build(layer, w.shape[0], np.random.default_rng(0), dtype)
        layer.output_dim = layer.units
        w = w.astype(dtype, copy=True)
        b = b.reshape(-1).astype(dtype, copy=True)
        layer.W = Parameter("W", w, np.zeros_like(w), "weight")
        layer.b = Parameter("b", b, np.zeros_like(b), "bias")
        return layer

    def parameters(self) -> list[Parameter]:
        return [self.W, self.b] if self.W is not None else []

    def forward(self, x: Array, training: bool = False) -> Array:
        n = x.shape[0]
        z = np.matmul(x, self.W.value, out=self._buffer("z", (n, self.units)))
        z += self.b.value
        self._x, self._z = x, z
        if isinstance(self.activation, Identity):
            self._a = z
        else:
            self._a = self.activation.forward(z, out=self._buffer("a", z.shape))
        return self._a

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._x is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if isinstance(self.activation, Identity):
            grad_z = grad_output
        else:
            grad_z = self.activation.backward(
                self._z, self._a, grad_output, out=self._buffer("grad_z", self._z.shape)
            )
        return self.backward_from_z(grad_z, need_input_grad)

    def backward_from_z(self, grad_z: Array, need_input_grad: bool = True) -> Array | None:
        """The backward pass from G = dL/dZ, skipping the activation: fills dL/dW = X^T G and
        dL/db = sum of G's rows, returns dL/dX = G W^T (used when the loss is computed from Z,
        e.g. binary cross-entropy from the logits of a final sigmoid)."""
        if self._x is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        np.matmul(self._x.T, grad_z, out=self.W.grad)
        # sum over rows of dL/dZ, written as the product 1^T dL/dZ: BLAS sums the columns 2-3x
        # faster than NumPy's reduction over the batch axis
        np.matmul(constant_vector(1.0, len(grad_z), self.dtype), grad_z, out=self.b.grad)
        if not need_input_grad:
            return None
        return np.matmul(grad_z, self.W.value.T, out=self._buffer("grad_x", self._x.shape))

    def config(self) -> dict:
        return {
            "units": self.units,
            "activation": self.activation.name,
            "activation_config": self.activation.config(),
            "name": self.name,
        }

    def describe(self) -> str:
        act = "" if isinstance(self.activation, Identity) else f", {self.activation.name}"
        return f"Dense({self.units}{act})"


class ActivationLayer(Layer):
    """A stand-alone activation, A = f(X); dL/dX = dL/dA * f'(X)."""

    def __init__(self, activation: str | Activation, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = get_activation(activation)
        self._x: Array | None = None
        self._a: Array | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        self._x = x
        self._a = self.activation.forward(x, out=self._buffer("a", x.shape))
        return self._a

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._x is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if not need_input_grad:
            return None
        return self.activation.backward(
            self._x, self._a, grad_output, out=self._buffer("grad_x", self._x.shape)
        )

    def config(self) -> dict:
        return {
            "activation": self.activation.name,
            "activation_config": self.activation.config(),
            "name": self.name,
        }

    def describe(self) -> str:
        return f"Activation({self.activation.name})"


class Dropout(Layer):
    """Inverted dropout: in training, each unit is kept with probability p = 1 - rate and scaled
    by 1/p, so the expected activation is unchanged and inference needs no rescaling:

        training:  A = X * M / p,   M_ij ~ Bernoulli(p);   dL/dX = dL/dA * M / p
        inference: A = X (the identity)

    Dropping random units stops neurons from relying on particular others (seed 002).
    """

    def __init__(self, rate: float, name: str | None = None, seed: int | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng: np.random.Generator | None = None
        self._mask: Array | None = None

    def build(self, input_dim: int, rng: np.random.Generator, dtype=np.float32) -> None:
        super().build(input_dim, rng, dtype)
        self.rng = np.random.default_rng(self.seed) if self.seed is not None else rng.spawn(1)[0]

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.rate
        mask = self._buffer("mask", x.shape)
        self.rng.random(
            out=mask, dtype=mask.dtype
        )  # U[0, 1) draws, then mask <- 1/p where draw < p, else 0
        np.less(mask, keep, out=mask)
        mask *= 1.0 / keep
        self._mask = mask
        return np.multiply(x, mask, out=self._buffer("a", x.shape))

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if not need_input_grad:
            return None
        if self._mask is None:
            return grad_output
        return np.multiply(grad_output, self._mask, out=self._buffer("grad_x", grad_output.shape))

    def config(self) -> dict:
        return {"rate": self.rate, "name": self.name, "seed": self.seed}

    def describe(self) -> str:
        return f"Dropout({self.rate:g})"


class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy, 2015) over the batch axis.

    training:  mu, var = mean and (biased) variance of the batch;  X^ = (X - mu) / sqrt(var + eps)
               A = gamma X^ + beta
               running_mean <- momentum running_mean + (1 - momentum) mu
               running_var  <- momentum running_var  + (1 - momentum) var N / (N - 1)
    inference: the running statistics replace the batch's.

    The running variance is the unbiased estimate (N / (N - 1) times the batch's), as in
    PyTorch and the original paper. ``momentum`` is the fraction of the running statistics
    *kept* at each step (Keras's meaning); PyTorch's ``momentum`` is the fraction *replaced*, so
    ``BatchNorm(momentum=0.9)`` here behaves as ``torch.nn.BatchNorm1d(momentum=0.1)``
    (torch momentum = 1 - ours).

    Backward (per feature, N rows):
        dL/dgamma = sum(G X^),  dL/dbeta = sum(G)
        dL/dX = gamma / (N sqrt(var + eps)) * (N G - sum(G) - X^ sum(G X^))
    """

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5, name: str | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1), got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"BatchNorm eps must be > 0, got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)
        self.gamma: Parameter | None = None
        self.beta: Parameter | None = None
        self.running_mean: Array | None = None
        self.running_var: Array | None = None
        self._cache: tuple | None = None

    def build(self, input_dim: int, rng: np.random.Generator, dtype=np.float32) -> None:
        super().build(input_dim, rng, dtype)
        ones = np.ones(self.input_dim, dtype=self.dtype)
        zeros = np.zeros(self.input_dim, dtype=self.dtype)
        self.gamma = Parameter("gamma", ones.copy(), zeros.copy(), "bias")
        self.beta = Parameter("beta", zeros.copy(), zeros.copy(), "bias")
        self.running_mean = zeros.copy()
        self.running_var = ones.copy()

    def parameters(self) -> list[Parameter]:
        return [self.gamma, self.beta] if self.gamma is not None else []

    def state(self) -> dict[str, Array]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def forward(self, x: Array, training: bool = False) -> Array:
        if training:
            if x.shape[0] < 2:
                raise ValueError(
                    f"{self.describe()} needs at least 2 samples per training batch to estimate "
                    f"a variance, got a batch of shape {x.shape}"
                )
            mean = x.mean(axis=0)
            var = x.var(axis=0)
            m = self.momentum
            n = x.shape[0]
            self.running_mean *= m
            self.running_mean += (1 - m) * mean
            self.running_var *= m
            self.running_var += ((1 - m) * n / (n - 1)) * var
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = (x - mean) * inv_std
        self._cache = (x_hat, inv_std) if training else None
        return x_hat * self.gamma.value + self.beta.value

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._cache is None:
            raise RuntimeError(
                f"{self.describe()}: backward needs a forward pass with training=True"
            )
        x_hat, inv_std = self._cache
        g = grad_output
        n = g.shape[0]
        sum_g = g.sum(axis=0)
        sum_g_xhat = (g * x_hat).sum(axis=0)
        self.gamma.grad[...] = sum_g_xhat
        self.beta.grad[...] = sum_g
        if not need_input_grad:
            return None
        return (self.gamma.value * inv_std / n) * (n * g - sum_g - x_hat * sum_g_xhat)

    def config(self) -> dict:
        return {"momentum": self.momentum, "eps": self.eps, "name": self.name}

    def describe(self) -> str:
        return "BatchNorm"


LAYER_TYPES: dict[str, type[Layer]] = {
    "Dense": Dense,
    "Activation": ActivationLayer,
    "Dropout": Dropout,
    "BatchNorm": BatchNorm,
}


def layer_config(layer: Layer) -> dict:
    """A JSON-ready description of a layer: its type name plus constructor arguments."""
    kind = next((k for k, v in LAYER_TYPES.items() if type(layer) is v), None)
    if kind is None:
        raise ValueError(f"layer type {type(layer).__name__} cannot be saved: it is not registered")
    return {"type": kind, **layer.config()}


def layer_from_config(config: dict) -> Layer:
    """The inverse of ``layer_config`` (the layer is not built)."""
    config = dict(config)
    kind = config.pop("type", None)
    if kind not in LAYER_TYPES:
        raise ValueError(
            f"unknown layer type {kind!r} in model description; expected one of {sorted(LAYER_TYPES)}"
        )
    act_conf = config.pop("activation_config", None) or {}
    if "activation" in config:
        from .activations import ACTIVATIONS

        name = config["activation"]
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r} in model description")
        config["activation"] = ACTIVATIONS[name](**act_conf)
    return LAYER_TYPES[kind](**config)


__all__ = [
    "Parameter",
    "Layer",
    "Dense",
    "ActivationLayer",
    "Dropout",
    "BatchNorm",
    "layer_config",
    "layer_from_config",
    "check_input",
]
