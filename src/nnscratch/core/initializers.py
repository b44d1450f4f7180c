"""Weight initializers: how the first weights are drawn, and why the scale matters.

With n_in inputs of unit variance, z = sum_i w_i x_i has variance n_in Var(w). Keeping that near
1 (or near 2 for ReLU, which zeroes half its inputs) stops activations from saturating or
vanishing as depth grows: that is the whole idea behind every scaled rule below (seed 002).

Each initializer is called as ``init(shape, rng, dtype)`` with ``shape = (n_in, n_out)``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from ._types import Array

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """An int seed, an existing Generator or None (fresh entropy) -> a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(
        f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}"
    )


class Initializer:
    name = "initializer"

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> Array:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """Every entry equal to ``value``.

    For weights this is a trap: neurons that start identical receive identical gradients and stay
    identical forever (symmetry is never broken), so a warning is raised. For biases it is the
    usual choice.
    """

    name = "constant"

    def __init__(self, value: float = 0.0, warn: bool = True) -> None:
        self.value = float(value)
        self.warn = warn

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> Array:
        if self.warn and len(shape) == 2 and shape[1] > 1:
            warnings.warn(
                f"initialising a {shape[0]}x{shape[1]} weight matrix to the constant {self.value}: "
                "identical weights get identical gradients and never break symmetry, so all "
                "units in the layer will stay the same; use a random initializer",
                UserWarning,
                stacklevel=4,
            )
        return np.full(shape, self.value, dtype=dtype)

    def config(self) -> dict[str, Any]:
        return {"value": self.value}


class Zeros(Constant):
    name = "zeros"

    def __init__(self, warn: bool = True) -> None:
        super().__init__(0.0, warn)

    def config(self) -> dict[str, Any]:
        return {}


class Normal(Initializer):
    """w ~ N(mean, std^2)."""

    name = "normal"

    def __init__(self, std: float = 0.01, mean: float = 0.0) -> None:
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std, self.mean = float(std), float(mean)

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> Array:
        return rng.normal(self.mean, self.std, size=shape).astype(dtype)

    def config(self) -> dict[str, Any]:
        return {"std": self.std, "mean": self.mean}


class Uniform(Initializer):
    """w ~ U(-scale, scale)."""

    name = "uniform"

    def __init__(self, scale: float = 0.05) -> None:
        if scale < 0:
            raise ValueError(f"scale must be >= 0, got {scale}")
        self.scale = float(scale)

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> Array:
        return rng.uniform(-self.scale, self.scale, size=shape).astype(dtype)

    def config(self) -> dict[str, Any]:
        return {"scale": self.scale}


class _FanScaled(Initializer):
    """Variance = gain / fan, drawn from a normal or a uniform of that variance."""

    gain = 1.0
    default_fan = "fan_in"

    def __init__(self, distribution: str = "normal", fan: str | None = None) -> None:
        if distribution not in ("normal", "uniform"):
            raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
        fan = fan or self.default_fan
        if fan not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"fan must be 'fan_in', 'fan_out' or 'fan_avg', got {fan!r}")
        self.distribution, self.fan = distribution, fan

    def std(self, shape: tuple[int, ...]) -> float:
        fan_in, fan_out = shape[0], shape[-1]
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.fan]
        return math.sqrt(self.gain / max(fan, 1))

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> Array:
        std = self.std(shape)
        if self.distribution == "normal":
            return rng.normal(0.0, std, size=shape).astype(dtype)
        limit = math.sqrt(3.0) * std  # U(-l, l) has variance l^2 / 3
        return rng.uniform(-limit, limit, size=shape).astype(dtype)

    def config(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "fan": self.fan}


class Glorot(_FanScaled):
    """Glorot/Xavier: Var(w) = 2 / (n_in + n_out), balancing forward and backward signals.

    Suited to tanh and sigmoid. ``distribution='uniform'`` gives U(-sqrt(6/(n_in+n_out)), ...).
    """

    name = "glorot"
    gain = 1.0
    default_fan = "fan_avg"


class He(_FanScaled):
    """He/Kaiming: Var(w) = 2 / n_in, making up for ReLU zeroing half of its inputs."""

    name = "he"
    gain = 2.0


class LeCun(_FanScaled):
    """LeCun: Var(w) = 1 / n_in; with SELU it keeps activations self-normalised."""

    name = "lecun"
    gain = 1.0


class Nielsen(Initializer):
    """Nielsen's improved initialisation (seed 002): w ~ N(0, 1/n_in).

    A standard normal for each weight makes z = sum w x have a huge variance (n_in), so sigmoid
    neurons start saturated and learn slowly; dividing the std by sqrt(n_in) fixes that.
    """

    name = "nielsen"

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> Array:
        return (rng.standard_normal(size=shape) / math.sqrt(max(shape[0], 1))).astype(dtype)


class StandardNormal(Initializer):
    """w ~ N(0, 1): Nielsen's *old* initialisation, kept to reproduce its slow learning."""

    name = "standard_normal"

    def __call__(
        self, shape: tuple[int, ...], rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> Array:
        return rng.standard_normal(size=shape).astype(dtype)


INITIALIZERS: dict[str, type[Initializer]] = {
    cls.name: cls
    for cls in (Constant, Zeros, Normal, Uniform, Glorot, He, LeCun, Nielsen, StandardNormal)
}
_ALIASES = {
    "xavier": "glorot",
    "glorot_normal": "glorot",
    "xavier_normal": "glorot",
    "kaiming": "he",
    "he_normal": "he",
    "kaiming_normal": "he",
    "lecun_normal": "lecun",
    "zero": "zeros",
}
#: The initializers that take ``distribution="uniform"``, for the ``*_uniform`` names.
_FAN_SCALED: dict[str, type[_FanScaled]] = {cls.name: cls for cls in (Glorot, He, LeCun)}
_UNIFORM_ALIASES = {
    "glorot_uniform": "glorot",
    "xavier_uniform": "glorot",
    "he_uniform": "he",
    "kaiming_uniform": "he",
    "lecun_uniform": "lecun",
}


def get_initializer(spec: str | Initializer | float) -> Initializer:
    """A name (``"he"``, ``"glorot_uniform"``...), a number (a constant) or an instance."""
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(spec)
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        if key in _UNIFORM_ALIASES:
            return _FAN_SCALED[_UNIFORM_ALIASES[key]](distribution="uniform")
        key = _ALIASES.get(key, key)
        if key in INITIALIZERS:
            return INITIALIZERS[key]()
        raise ValueError(
            f"unknown initializer {spec!r}; expected one of "
            f"{sorted(INITIALIZERS) + sorted(_UNIFORM_ALIASES)}"
        )
    raise TypeError(
        f"initializer must be a name, a number or an Initializer, got {type(spec).__name__}"
    )


def default_initializer(activation_name: str) -> Initializer:
    """The scaled rule that suits an activation: He for the ReLU family, LeCun for SELU,
    Glorot otherwise."""
    if activation_name in ("relu", "leaky_relu", "elu", "gelu"):
        return He()
    if activation_name == "selu":
        return LeCun()
    return Glorot()
