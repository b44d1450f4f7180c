"""Dropout (Srivastava et al., 2014; Nielsen's chapter 3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._types import Array
from .base import Layer, Shape, register_layer


@register_layer("Dropout")
class Dropout(Layer):
    """Inverted dropout: in training, each unit is kept with probability p = 1 - rate and scaled
    by 1/p, so the expected activation is unchanged and inference needs no rescaling:

        training:  A = X * M / p,   M_ij ~ Bernoulli(p);   dL/dX = dL/dA * M / p
        inference: A = X (the identity)

    Dropping random units stops neurons from relying on particular others (seed 002). On
    images every value (channel, row, column) is dropped on its own.
    """

    def __init__(self, rate: float, name: str | None = None, seed: int | None = None) -> None:
        super().__init__(name)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.rng: np.random.Generator | None = None
        self._mask: Array | None = None

    def build(
        self, input_shape: int | Shape, rng: np.random.Generator, dtype: npt.DTypeLike = np.float32
    ) -> None:
        super().build(input_shape, rng, dtype)
        self.rng = np.random.default_rng(self.seed) if self.seed is not None else rng.spawn(1)[0]

    def forward(self, x: Array, training: bool = False) -> Array:
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        if self.rng is None:
            raise RuntimeError(f"{self.describe()} is not built yet: call build first")
        keep = 1.0 - self.rate
        mask = self._buffer("mask", x.shape)
        self.rng.random(
            out=mask, dtype=mask.dtype
        )  # U[0, 1) draws, then mask <- 1/p where draw < p, else 0
        np.less(mask, keep, out=mask)
        mask *= 1.0 / keep
        self._mask = mask
        out: Array = np.multiply(x, mask, out=self._buffer("a", x.shape))
        return out

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if not need_input_grad:
            return None
        if self._mask is None:
            return grad_output
        grad_x: Array = np.multiply(
            grad_output, self._mask, out=self._buffer("grad_x", grad_output.shape)
        )
        return grad_x

    def config(self) -> dict[str, Any]:
        return {"rate": self.rate, "name": self.name, "seed": self.seed}

    def describe(self) -> str:
        return f"Dropout({self.rate:g})"
