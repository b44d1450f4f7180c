"""Fully connected layers: the articles' Z = X W + b, and a stand-alone activation.

A batch is a matrix X of N rows (samples) by n_in columns, and a dense layer computes
Z = X W + b with W of shape n_in x n_out, so a whole batch is one matrix product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._types import Array
from ..activations import Activation, Identity, Softmax, get_activation
from ..constants import constant_vector
from ..initializers import Initializer, Zeros, default_initializer, get_initializer
from ..sparse import SparseRows, is_sparse, sparse_weight_gradient
from .base import Layer, Parameter, Shape, register_layer, shape_text


def bias_initializer(bias_init: str | Initializer | float) -> Initializer:
    """The bias initializer, without the constant-weights warning (a constant bias is normal;
    only weights need symmetry breaking)."""
    init = (
        Zeros(warn=False)
        if bias_init == 0.0 or bias_init == "zeros"
        else get_initializer(bias_init)
    )
    if hasattr(init, "warn"):
        init.warn = False
    return init


def trainable_activation(activation: str | Activation | None, where: str) -> Activation:
    act = get_activation(activation)
    if not act.differentiable:
        raise ValueError(
            f"activation {act.name!r} has no usable gradient and cannot be used in a trainable "
            f"{where} layer"
        )
    return act


class FusedActivationLayer(Layer):
    """A layer that computes Z and applies its own activation A = f(Z) (Dense, Conv2D).

    Fusing the activation into the layer saves a pass over memory and a Python call per step;
    the math is that of a separate activation layer: forward A = f(Z), backward
    dL/dZ = dL/dA * f'(Z) (element-wise), with nothing to do for the identity.
    """

    activation: Activation
    #: what the last forward pass kept for the backward pass: the input X (a SciPy CSR matrix
    #: for sparse rows into a Dense layer), Z and A = f(Z)
    _x: Array | SparseRows | None
    _z: Array | None
    _a: Array | None

    def _activate(self, z: Array) -> Array:
        """A = f(Z), into a reused buffer (Z itself for the identity)."""
        if isinstance(self.activation, Identity):
            return z
        return self.activation.forward(z, out=self._buffer("a", z.shape))

    def _grad_z(self, grad_output: Array) -> Array:
        """dL/dZ = dL/dA * f'(Z), from the Z and A kept by the forward pass."""
        if self._x is None or self._z is None or self._a is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if isinstance(self.activation, Identity):
            return grad_output
        return self.activation.backward(
            self._z, self._a, grad_output, out=self._buffer("grad_z", self._z.shape)
        )


@register_layer("Dense")
class Dense(FusedActivationLayer):
    """Fully connected layer: Z = X W + b, optionally followed by an activation A = f(Z).

    Backward pass, for the incoming gradient G = dL/dA (N x n_out):
        dL/dZ = G * f'(Z)                  (element-wise; the activation's ``backward``)
        dL/dW = X^T dL/dZ                  (n_in x n_out, summed over the batch)
        dL/db = sum over rows of dL/dZ     (n_out)
        dL/dX = dL/dZ W^T                  (N x n_in, passed to the previous layer)

    Fusing the activation into the layer saves a pass over memory and a Python call per step.
    A dense layer takes flat rows: after a convolution or a pooling layer, put ``Flatten()``
    in between.

    Sparse rows. As the network's first layer, a dense layer also takes X as a SciPy CSR
    matrix (``nnscratch.core.sparse``) and computes from its non-zeros only: Z = X W + b
    row by row, Z[i, :] = b + sum over the non-zeros x_ij of row i of x_ij W[j, :], and
    dL/dW = X^T dL/dZ, whose row j sums x_ij dL/dZ[i, :] over the non-zeros of column j (rows
    of W whose feature is absent from the batch get a zero gradient). Z, dL/dZ and dL/dX are
    dense; X is never made dense.
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
        self.activation = trainable_activation(activation, "Dense")
        self.weight_init = (
            default_initializer(self.activation.name)
            if weight_init is None
            else get_initializer(weight_init)
        )
        self.bias_init = bias_initializer(bias_init)
        self.requested_input_dim = input_dim
        self.W: Parameter | None = None
        self.b: Parameter | None = None
        self._x = self._z = self._a = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise ValueError(
                f"{self.describe()} takes flat rows of features, but the previous layer "
                f"produces samples of shape {shape_text(input_shape)} (a batch of "
                f"N x {' x '.join(map(str, input_shape))}); put Flatten() before it"
            )
        if self.requested_input_dim is not None and self.requested_input_dim != input_shape[0]:
            raise ValueError(
                f"{self.describe()} was declared with input_dim={self.requested_input_dim} but "
                f"receives {input_shape[0]} features from the previous layer"
            )
        return (self.units,)

    def weight_shapes(self, input_shape: Shape) -> dict[str, Shape]:
        return {"W": (input_shape[0], self.units), "b": (self.units,)}

    def build(
        self, input_dim: int | Shape, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> None:
        super().build(input_dim, rng, dtype)
        shape = (self._fan_in(), self.units)
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
        dtype: npt.DTypeLike | None = None,
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
        w = w.astype(dtype, copy=True)
        b = b.reshape(-1).astype(dtype, copy=True)
        layer.W = Parameter("W", w, np.zeros_like(w), "weight")
        layer.b = Parameter("b", b, np.zeros_like(b), "bias")
        return layer

    def _fan_in(self) -> int:
        if self.input_dim is None:
            raise RuntimeError(f"{self.describe()} is not built yet")
        return self.input_dim

    def _weights(self) -> tuple[Parameter, Parameter]:
        """(W, b); a RuntimeError for a layer that is not built yet."""
        if self.W is None or self.b is None:
            raise RuntimeError(
                f"{self.describe()} is not built yet; build the network (input_dim=) first"
            )
        return self.W, self.b

    def parameters(self) -> list[Parameter]:
        return [self.W, self.b] if self.W is not None and self.b is not None else []

    def forward(self, x: Array | SparseRows, training: bool = False) -> Array:
        w, b = self._weights()
        n = x.shape[0]
        if is_sparse(x):
            # SciPy's CSR x dense product: per row, the sum of x_ij W[j, :] over its non-zeros
            # (a new dense N x n_out array, in W's dtype since the values were cast to it)
            z = x @ w.value
        else:
            z = np.matmul(x, w.value, out=self._buffer("z", (n, self.units)))
        z += b.value
        self._x, self._z = x, z
        self._a = self._activate(z)
        return self._a

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        return self.backward_from_z(self._grad_z(grad_output), need_input_grad)

    def backward_from_z(self, grad_z: Array, need_input_grad: bool = True) -> Array | None:
        """The backward pass from G = dL/dZ, skipping the activation: fills dL/dW = X^T G and
        dL/db = sum of G's rows, returns dL/dX = G W^T (used when the loss is computed from Z,
        e.g. binary cross-entropy from the logits of a final sigmoid)."""
        w, b = self._weights()
        x = self._x
        if x is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if is_sparse(x):
            sparse_weight_gradient(x, grad_z, w.grad)
        else:
            np.matmul(x.T, grad_z, out=w.grad)
        # sum over rows of dL/dZ, written as the product 1^T dL/dZ: BLAS sums the columns 2-3x
        # faster than NumPy's reduction over the batch axis
        np.matmul(constant_vector(1.0, len(grad_z), self.dtype), grad_z, out=b.grad)
        if not need_input_grad:
            return None
        shape = (x.shape[0], self._fan_in())
        return np.matmul(grad_z, w.value.T, out=self._buffer("grad_x", shape))

    def config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "activation": self.activation.name,
            "activation_config": self.activation.config(),
            "name": self.name,
        }

    def describe(self) -> str:
        act = "" if isinstance(self.activation, Identity) else f", {self.activation.name}"
        return f"Dense({self.units}{act})"


@register_layer("Activation")
class ActivationLayer(Layer):
    """A stand-alone activation, A = f(X); dL/dX = dL/dA * f'(X).

    Element-wise activations apply to samples of any shape (images included); softmax acts
    on a whole row, so it takes flat rows only.
    """

    def __init__(self, activation: str | Activation, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = get_activation(activation)
        self._x: Array | None = None
        self._a: Array | None = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if isinstance(self.activation, Softmax) and len(input_shape) != 1:
            raise ValueError(
                f"{self.describe()} normalises flat rows, but receives samples of shape "
                f"{shape_text(input_shape)}; put Flatten() before it"
            )
        return input_shape

    def forward(self, x: Array, training: bool = False) -> Array:
        self._x = x
        self._a = self.activation.forward(x, out=self._buffer("a", x.shape))
        return self._a

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if self._x is None or self._a is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward")
        if not need_input_grad:
            return None
        return self.activation.backward(
            self._x, self._a, grad_output, out=self._buffer("grad_x", self._x.shape)
        )

    def config(self) -> dict[str, Any]:
        return {
            "activation": self.activation.name,
            "activation_config": self.activation.config(),
            "name": self.name,
        }

    def describe(self) -> str:
        return f"Activation({self.activation.name})"
