"""Activation functions, each written once with its derivative beside it.

Every activation ``f`` is applied element-wise to the pre-activation ``z = x W + b`` (softmax is
the exception: it acts on a whole row). Each class offers

* ``forward(z)``            -> ``a = f(z)``
* ``backward(z, a, grad_a)`` -> ``dL/dz = dL/da * f'(z)`` (for softmax the Jacobian-vector
  product, since its Jacobian is not diagonal)
* ``derivative(z)``         -> ``f'(z)`` itself, for plots and teaching.

``backward`` receives both ``z`` and ``a`` so that each derivative can be written in its
cheapest exact form: sigmoid's from its output (``a (1 - a)``), GELU's from its input.

All functions are safe for any finite float input, up to the dtype's largest number
(``np.finfo(dtype).max``): no overflow warnings, no NaN and no inf in the value or the
derivative, because no ``exp`` is ever taken of a large positive number and products that
could leave the dtype's range are scaled first (SELU, whose true value exceeds the range for
the very largest inputs, saturates at that largest number).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._types import Array
from .constants import constant_vector


def _stable_sigmoid(z: Array, out: Array | None = None) -> Array:
    """sigma(z) = 1 / (1 + e^-z), computed from e^-|z| so exp never overflows."""
    e = np.exp(-np.abs(z))
    # z >= 0: 1 / (1 + e^-z);  z < 0: e^z / (1 + e^z). Both equal sigma(z) with e = e^-|z|.
    numerator = np.where(z >= 0, 1.0, e).astype(z.dtype, copy=False)
    e += 1.0
    result: Array = np.divide(numerator, e, out=out)
    return result


def _zeros_to_compare(z: Array) -> Array | int:
    """0 in the form that makes ``np.maximum(z, 0)`` fastest.

    Speed: NumPy's maximum of a float32 matrix and the scalar 0 runs a loop 2-3x slower than
    its maximum with an array; broadcasting one row of zeros gives the same result at the fast
    speed (512 x 256: 18 us instead of 46 us). Narrow rows keep the scalar, whose loop then
    costs less than one call per row.
    """
    if z.ndim < 2 or z.shape[-1] < 64:
        return 0
    return constant_vector(0.0, z.shape[-1], z.dtype)


class Activation:
    """Base class: an element-wise function with its derivative.

    To define your own, subclass ``Activation`` and implement ``forward`` and ``derivative``:
    the default ``backward`` multiplies the incoming gradient by ``derivative``. Several
    built-in classes (sigmoid, tanh, ReLU, identity, softmax) specialise ``backward`` for
    speed, so a subclass of one of *them* that changes the derivative must override
    ``backward`` too.
    """

    name: str = "activation"
    #: False for functions without a useful gradient (the perceptron's step).
    differentiable: bool = True

    def forward(self, z: Array, out: Array | None = None) -> Array:
        raise NotImplementedError

    def backward(self, z: Array, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        """dL/dz = dL/da * f'(z) for element-wise activations."""
        grad_z: Array = np.multiply(grad_a, self.derivative(z, a), out=out)
        return grad_z

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        """f'(z); ``a = f(z)`` may be passed when it is already known."""
        raise NotImplementedError

    def __call__(self, z: Array) -> Array:
        return self.forward(np.asarray(z))

    def config(self) -> dict[str, Any]:
        """The constructor arguments, for saving a model."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class Step(Activation):
    """Heaviside step: f(z) = 1 if z > 0 else 0 (the perceptron's output, seed 004).

    Its derivative is zero almost everywhere, so it cannot be trained by backpropagation;
    ``backward`` refuses rather than silently returning zeros.
    """

    name = "step"
    differentiable = False

    def forward(self, z: Array, out: Array | None = None) -> Array:
        result: Array = np.greater(z, 0)
        if out is None:
            return result.astype(z.dtype if z.dtype.kind == "f" else np.float64)
        out[...] = result
        return out

    def backward(self, z: Array, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        raise ValueError(
            "the step activation has zero gradient almost everywhere and cannot be trained by "
            "backpropagation; use it in a Perceptron, or use sigmoid/ReLU in a network"
        )

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        return np.zeros_like(z)


class Identity(Activation):
    """f(z) = z, f'(z) = 1 (linear output for regression and logits)."""

    name = "identity"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        if out is None:
            return z
        np.copyto(out, z)
        return out

    def backward(self, z: Array, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        if out is None:
            return grad_a
        np.copyto(out, grad_a)
        return out

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        return np.ones_like(z)


class Sigmoid(Activation):
    """f(z) = 1 / (1 + e^-z);  f'(z) = f(z) (1 - f(z))."""

    name = "sigmoid"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        return _stable_sigmoid(z, out=out)

    def backward(self, z: Array, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        # dL/dz = dL/da * a (1 - a), written as two in-place passes without temporaries.
        out = np.subtract(1.0, a, out=out)
        out *= a
        out *= grad_a
        return out

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        a = self.forward(z) if a is None else a
        return a * (1.0 - a)


class Tanh(Activation):
    """f(z) = tanh(z);  f'(z) = 1 - tanh(z)^2."""

    name = "tanh"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        result: Array = np.tanh(z, out=out)
        return result

    def backward(self, z: Array, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        out = np.multiply(a, a, out=out)
        np.subtract(1.0, out, out=out)
        out *= grad_a
        return out

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        a = np.tanh(z) if a is None else a
        result: Array = 1.0 - a * a
        return result


class ReLU(Activation):
    """f(z) = max(0, z);  f'(z) = 1 if z > 0 else 0 (0 is used at z = 0)."""

    name = "relu"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        result: Array = np.maximum(z, _zeros_to_compare(z), out=out)
        return result

    def backward(self, z: Array, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        # Multiplying by the boolean mask is one fused pass; np.where would allocate.
        grad_z: Array = np.multiply(grad_a, z > 0, out=out)
        return grad_z

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        return (z > 0).astype(z.dtype)


class LeakyReLU(Activation):
    """f(z) = z if z > 0 else alpha z;  f'(z) = 1 if z > 0 else alpha."""

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = float(alpha)

    def forward(self, z: Array, out: Array | None = None) -> Array:
        return _assign(out, np.where(z > 0, z, z * self.alpha))

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        return np.where(z > 0, 1.0, self.alpha).astype(z.dtype)

    def config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class ELU(Activation):
    """f(z) = z if z > 0 else alpha (e^z - 1);  f'(z) = 1 if z > 0 else f(z) + alpha.

    ``expm1`` of ``min(z, 0)`` keeps the negative branch accurate near 0 and never overflows.
    """

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)

    def forward(self, z: Array, out: Array | None = None) -> Array:
        negative = np.expm1(np.minimum(z, 0))
        negative *= self.alpha
        return _assign(out, np.where(z > 0, z, negative))

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        a = self.forward(z) if a is None else a
        return np.where(z > 0, 1.0, a + self.alpha).astype(z.dtype)

    def config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class SELU(Activation):
    """Scaled ELU (Klambauer et al., 2017): f(z) = scale * (z if z > 0 else alpha (e^z - 1)).

    With alpha ~ 1.6733 and scale ~ 1.0507 and LeCun-normal weights, activations keep zero mean
    and unit variance through depth ("self-normalising").
    f'(z) = scale if z > 0 else scale * alpha * e^z = f(z) + scale * alpha.

    For z above max / scale (max: the dtype's largest finite number) the true value is beyond
    the dtype's range; f(z) then saturates at max rather than overflowing to inf.
    """

    name = "selu"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def forward(self, z: Array, out: Array | None = None) -> Array:
        negative = np.expm1(np.minimum(z, 0))
        negative *= self.alpha * self.scale
        # scale * z exceeds the dtype's range for z > max / scale; such outputs saturate at
        # the largest finite number instead of overflowing to inf (with a warning).
        top = np.finfo(z.dtype).max / self.scale if z.dtype.kind == "f" else np.inf
        positive = np.clip(z, 0, top)  # the z <= 0 entries are not used: 0 cannot overflow
        positive *= self.scale
        return _assign(out, np.where(z > 0, positive, negative))

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        a = self.forward(z) if a is None else a
        return np.where(z > 0, self.scale, a + self.scale * self.alpha).astype(z.dtype)


class Softplus(Activation):
    """f(z) = ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|);  f'(z) = sigma(z).

    The rewritten form never exponentiates a positive number, so it is exact for large |z|.
    """

    name = "softplus"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        result = np.log1p(np.exp(-np.abs(z)))
        result += np.maximum(z, 0)
        return _assign(out, result)

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        return _stable_sigmoid(z)


class GELU(Activation):
    """Gaussian error linear unit, tanh form (Hendrycks & Gimpel):

    f(z) = z/2 (1 + tanh(u)),  u = sqrt(2/pi) (z + 0.044715 z^3)
    f'(z) = (1 + tanh u)/2 + z/2 (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 z^2)

    NumPy has no ``erf``; the tanh form matches PyTorch's ``gelu(approximate='tanh')`` exactly
    and the erf form to about 1e-3.
    """

    name = "gelu"
    _c = float(np.sqrt(2.0 / np.pi))  # a Python float, so float32 inputs stay float32
    _k = 0.044715

    def _tanh_u(self, z: Array) -> Array:
        # z^3 overflows float32 beyond |z| ~ 7e12, so clip: tanh is already +-1 long before.
        zc = np.clip(z, -1e4, 1e4)
        result: Array = np.tanh(self._c * (zc + self._k * zc * zc * zc))
        return result

    def forward(self, z: Array, out: Array | None = None) -> Array:
        # (1 + tanh u) / 2 lies in [0, 1], so scaling it before multiplying by z keeps
        # f(z) within [min(z, 0), max(z, 0)]: z (1 + tanh u) would overflow for |z| > max/2.
        t = self._tanh_u(z)
        t += 1.0
        t *= 0.5
        t *= z
        return _assign(out, t)

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        t = self._tanh_u(z)
        zc = np.clip(z, -1e4, 1e4)
        du = self._c * (1.0 + 3.0 * self._k * zc * zc)
        result: Array = (0.5 * (1.0 + t) + 0.5 * zc * (1.0 - t * t) * du).astype(
            z.dtype, copy=False
        )
        return result


class Softmax(Activation):
    """softmax(z)_i = e^(z_i - max z) / sum_j e^(z_j - max z), row by row.

    Subtracting the row maximum changes nothing mathematically (it cancels) but keeps every
    exponent <= 0, so softmax([1010, 1000, 990]) works without overflow (seed 004).

    Its Jacobian is ds_i/dz_j = s_i (delta_ij - s_j), so the backward pass is the product
    dL/dz = s * (g - sum_j g_j s_j) for the incoming gradient g = dL/ds.
    Paired with cross-entropy, prefer the fused ``SoftmaxCrossEntropy`` loss: it is cheaper and
    more accurate.
    """

    name = "softmax"

    def forward(self, z: Array, out: Array | None = None) -> Array:
        # A row spanning more than the dtype's range (e.g. [max, -max]) shifts some entries to
        # -inf; their exponential is the exact 0, so the overflow is harmless and not reported.
        with np.errstate(over="ignore"):
            out = np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def backward(self, z: Array, a: Array, grad_a: Array, out: Array | None = None) -> Array:
        dot = np.einsum("ij,ij->i", grad_a, a)[:, None]
        out = np.subtract(grad_a, dot, out=out)
        out *= a
        return out

    def derivative(self, z: Array, a: Array | None = None) -> Array:
        """The diagonal of the Jacobian, s_i (1 - s_i), for plots (not for training)."""
        a = self.forward(z) if a is None else a
        return a * (1.0 - a)


def _assign(out: Array | None, value: Array) -> Array:
    if out is None:
        return value
    np.copyto(out, value)
    return out


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Step, Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, SELU, Softplus, GELU, Softmax)
}
_ALIASES = {
    "linear": "identity",
    "none": "identity",
    "leakyrelu": "leaky_relu",
    "swish_gelu": "gelu",
}


def get_activation(spec: str | Activation | type[Activation] | None) -> Activation:
    """Turn a name (``"relu"``), an instance or ``None`` (identity) into an Activation."""
    if spec is None:
        return Identity()
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, type) and issubclass(spec, Activation):
        return spec()
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in ACTIVATIONS:
            return ACTIVATIONS[key]()
        raise ValueError(f"unknown activation {spec!r}; expected one of {sorted(ACTIVATIONS)}")
    raise TypeError(
        f"activation must be a name, an Activation instance or None, got {type(spec).__name__}"
    )
