"""Layers that only change how each sample is laid out: no arithmetic, no parameters.

``Flatten`` turns images (C, H, W) into rows of C*H*W features, in C-major order (channel,
then row, then column; PyTorch's ``flatten``), so a dense layer can follow a convolution.
``Reshape`` goes the other way, e.g. ``Reshape((1, 28, 28))`` lets a convolutional network
take MNIST's flat 784-pixel rows. Backward, the gradient is laid out back as the input was.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._types import Array
from .base import Layer, Shape, register_layer, shape_text


@register_layer("Flatten")
class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...); dL/dX is dL/dA laid out as X."""

    keeps_width = False

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def forward(self, x: Array, training: bool = False) -> Array:
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if not need_input_grad:
            return None
        return grad_output.reshape(grad_output.shape[0], *self.built_shapes()[0])

    def describe(self) -> str:
        return "Flatten"


@register_layer("Reshape")
class Reshape(Layer):
    """Each sample laid out as ``shape`` (one entry may be -1: whatever the rest leaves), in
    row-major order; the number of values per sample must not change."""

    keeps_width = False

    def __init__(self, shape: tuple[int, ...] | list[int], name: str | None = None) -> None:
        super().__init__(name)
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        bad = (
            not dims
            or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in dims)
            or any(d < 1 and d != -1 for d in dims)
            or sum(d == -1 for d in dims) > 1
        )
        if bad:
            raise ValueError(
                f"Reshape shape must be a tuple of positive integers (one may be -1), got {shape!r}"
            )
        self.shape = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        size = math.prod(input_shape)
        known = math.prod(d for d in self.shape if d != -1)
        if -1 in self.shape:
            if size % known:
                raise ValueError(
                    f"{self.describe()} cannot lay out samples of shape {shape_text(input_shape)} "
                    f"({size} values) as {self.shape}: {size} is not a multiple of {known}"
                )
            return tuple(size // known if d == -1 else d for d in self.shape)
        if known != size:
            raise ValueError(
                f"{self.describe()} cannot lay out samples of shape {shape_text(input_shape)} "
                f"({size} values) as {shape_text(self.shape)} ({known} values)"
            )
        return self.shape

    def forward(self, x: Array, training: bool = False) -> Array:
        return x.reshape(x.shape[0], *self.built_shapes()[1])

    def backward(self, grad_output: Array, need_input_grad: bool = True) -> Array | None:
        if not need_input_grad:
            return None
        return grad_output.reshape(grad_output.shape[0], *self.built_shapes()[0])

    def config(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "name": self.name}

    def describe(self) -> str:
        return f"Reshape({shape_text(self.shape)})"
